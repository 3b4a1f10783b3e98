// The preparation wizard of a draft contract (/contracts/{id} while it is a draft): 1. its PDFs
// (dropped or chosen, several at once, each uploaded with a progress bar), 2. its parties (users
// of the organisation found as you type, outside parties by name and email; role, step and
// signature kind, with why a certificate signature is not available), 3. the fields placed on
// the rendered pages (a palette per party: dragged with the mouse or a finger, moved and resized,
// or placed and moved with the keyboard), 4. the options and sending. Every change is one call
// to the contracts' JSON API, so the draft is saved as you go and a reload shows the same.
//
// Field rectangles are PDF points in the page's user space (pdfpages.mjs converts to and from the
// screen, on turned pages and pages of any size); the API checks them again.

import { mark, Refused, reporter, sayer } from "./api.mjs";
import { configure, PdfPages } from "./pdfpages.mjs";
import { centredBox, follow, paged, stepped, toRect } from "./placing.mjs";

const root = document.getElementById("prepare");
const contractId = root.dataset.contract;
const csrf = root.dataset.csrf;
const maxBytes = Number(root.dataset.maxBytes);
const messages = JSON.parse(root.dataset.messages || "{}");
const state = JSON.parse(root.dataset.state || "{}");
state.parties ??= [];
state.documents ??= [];
state.fields ??= [];
configure({ module: root.dataset.pdfjs, worker: root.dataset.pdfjsWorker });

const $ = (id) => document.getElementById(id);
const STEPS = ["documents", "parties", "fields", "review"];
const COLOURS = 6;
/** Field sizes when placed, in points as they show on the page: width, height. */
const SIZES = {
  signature: [120, 60],
  date_signed: [110, 20],
  text: [160, 20],
  checkbox: [14, 14],
  name: [120, 20],
};
/** The API's smallest fields, in the page's own points. */
const MIN_SIGNATURE = [36, 18];
const MIN_FIELD = [8, 8];

/** The text for `key`, with `{name}` placeholders filled. */
function t(key, vars = {}) {
  let text = messages[key] ?? key;
  for (const [name, value] of Object.entries(vars)) text = text.replaceAll(`{${name}}`, String(value));
  return text;
}

/** The message for an API refusal code, in the page's language (the API's English otherwise). */
const say = sayer(messages, { prefix: "error.", otherwise: t("prepare.error") });
/** Shows a refusal next to the fields it names, the rest on `near` or the page's summary. */
const report = reporter({ say, summary: $("prepare-error") });

async function api(method, path, body) {
  const headers = { Accept: "application/json", "X-CSRF-Token": csrf };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch {
    throw new Refused(0, { error: "network" });
  }
  let data = null;
  if (response.status !== 204) {
    try {
      data = await response.json();
    } catch {
      data = null;
    }
  }
  if (!response.ok) throw new Refused(response.status, data);
  return data;
}

const base = `/api/contracts/${contractId}`;

// Saving as you go: the status line says what happens.

const saveStatus = $("save-status");
let saving = 0;

/** Runs a change against the API with the status line saying so; rethrows a refusal. */
async function saved(work) {
  saving++;
  saveStatus.textContent = t("prepare.saving");
  saveStatus.classList.remove("failed");
  try {
    const result = await work();
    saving--;
    if (!saving) {
      const now = new Date();
      const time = `${String(now.getHours()).padStart(2, "0")}:${String(now.getMinutes()).padStart(2, "0")}`;
      saveStatus.textContent = t("prepare.saved", { time });
    }
    return result;
  } catch (e) {
    saving--;
    saveStatus.textContent = t("prepare.not_saved");
    saveStatus.classList.add("failed");
    throw e;
  }
}

function clearError(line) {
  line.textContent = "";
  line.hidden = true;
}

// Parties: their colours and names.

function partyOf(id) {
  return state.parties.find((p) => p.id === id);
}

function colourOf(party) {
  return ((party?.position ?? 0) % COLOURS + COLOURS) % COLOURS;
}

function signers() {
  return state.parties.filter((p) => p.role === "signer");
}

function sortParties() {
  state.parties.sort((a, b) => a.step - b.step || a.position - b.position);
}

// The steps.

function currentStep() {
  const wanted = location.hash.slice(1);
  if (STEPS.includes(wanted)) return wanted;
  if (!state.documents.length) return "documents";
  if (!state.parties.length) return "parties";
  return "fields";
}

function showStep(step, { focus = false } = {}) {
  for (const section of document.querySelectorAll(".wizard-step")) section.hidden = section.dataset.step !== step;
  for (const tab of document.querySelectorAll(".wizard-steps a")) {
    if (tab.dataset.step === step) tab.setAttribute("aria-current", "step");
    else tab.removeAttribute("aria-current");
  }
  root.dataset.step = step;
  if (step === "fields") openDocuments();
  if (step === "review") renderReview();
  if (focus) $(`step-${step}-title`).focus();
}

window.addEventListener("hashchange", () => showStep(currentStep(), { focus: true }));

// 1. Documents.

function formatSize(bytes) {
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  return `${Math.max(1, Math.round(bytes / 1024))} KB`;
}

function renderDocuments() {
  const list = $("document-list");
  list.replaceChildren();
  for (const doc of state.documents) {
    const item = document.createElement("li");
    item.className = "document-item";
    item.dataset.document = doc.id;
    const name = document.createElement("span");
    name.className = "document-name";
    name.textContent = `${doc.name}.pdf`;
    const facts = document.createElement("span");
    facts.className = "hint";
    facts.textContent = `${t("prepare.pages", { n: doc.pages })} · ${formatSize(doc.original_size)}`;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "link danger-link";
    remove.textContent = t("prepare.remove");
    remove.setAttribute("aria-label", `${t("prepare.remove")}: ${doc.name}.pdf`);
    remove.addEventListener("click", () => removeDocument(doc, remove));
    item.append(name, " ", facts, " ", remove);
    list.append(item);
  }
  $("documents-empty").hidden = state.documents.length > 0;
}

async function removeDocument(doc, button) {
  button.disabled = true;
  try {
    await saved(() => api("DELETE", `${base}/documents/${doc.id}`));
    state.documents = state.documents.filter((d) => d.id !== doc.id);
    state.fields = state.fields.filter((f) => f.document_id !== doc.id);
    forgetViewer(doc.id);
    renderDocuments();
    $("file-input").focus();
  } catch (e) {
    button.disabled = false;
    report(e, { near: $("upload-error") });
  }
}

const uploadQueue = [];
let uploading = false;

/** Whether the file starts like a PDF (`%PDF-` within its first kilobyte, as readers allow). */
async function looksLikePdf(file) {
  const head = new Uint8Array(await file.slice(0, 1024).arrayBuffer());
  const text = String.fromCharCode(...head);
  return text.includes("%PDF-");
}

/** Adds `files` to the uploads, each with its line, progress bar and outcome. */
async function enqueue(files) {
  clearError($("upload-error"));
  const list = $("uploads");
  for (const done of list.querySelectorAll(".upload.done")) done.remove();
  for (const file of files) {
    const item = document.createElement("li");
    item.className = "upload";
    const name = document.createElement("span");
    name.className = "upload-name";
    name.textContent = file.name;
    const progress = document.createElement("progress");
    progress.max = 100;
    progress.value = 0;
    progress.setAttribute("aria-label", t("prepare.upload.progress", { name: file.name }));
    const status = document.createElement("span");
    status.className = "upload-status";
    status.textContent = t("prepare.upload.waiting");
    item.append(name, progress, status);
    list.append(item);
    let refusal = null;
    if (file.size > maxBytes) refusal = t("prepare.upload.too_large");
    else if (!(await looksLikePdf(file))) refusal = t("prepare.upload.not_pdf");
    if (refusal) {
      failUpload(item, file, refusal);
      continue;
    }
    uploadQueue.push({ file, item, progress, status });
  }
  if (!uploading) drain();
}

function failUpload(item, file, message) {
  item.classList.add("failed");
  item.querySelector(".upload-status").textContent = message;
  item.querySelector("progress").hidden = true;
  const line = $("upload-error");
  const text = `${file.name}: ${message}`;
  line.textContent = line.hidden || !line.textContent ? text : `${line.textContent} ${text}`;
  line.hidden = false;
}

async function drain() {
  uploading = true;
  while (uploadQueue.length) {
    const job = uploadQueue.shift();
    job.status.textContent = t("prepare.upload.sending");
    try {
      const doc = await saved(() => upload(job.file, job.progress));
      state.documents.push(doc);
      renderDocuments();
      job.progress.value = 100;
      job.item.classList.add("done");
      job.status.textContent = t("prepare.upload.done");
    } catch (e) {
      failUpload(job.item, job.file, uploadRefusal(e));
    }
  }
  uploading = false;
}

/** Sends one PDF with XMLHttpRequest, whose upload events drive the progress bar. */
function upload(file, progress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", `${base}/documents?name=${encodeURIComponent(file.name)}`);
    request.setRequestHeader("Content-Type", "application/pdf");
    request.setRequestHeader("Accept", "application/json");
    request.setRequestHeader("X-CSRF-Token", csrf);
    request.responseType = "json";
    request.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) progress.value = Math.round((100 * e.loaded) / e.total);
    });
    request.addEventListener("load", () => {
      if (request.status === 201) resolve(request.response);
      else reject(new Refused(request.status, request.response));
    });
    request.addEventListener("error", () => reject(new Refused(0, { error: "network" })));
    request.send(file);
  });
}

/** Why the server refused a PDF, in the page's language. */
function uploadRefusal(error) {
  if (!(error instanceof Refused)) return t("prepare.error");
  const { error: code, message = "", fields = {} } = error.body;
  if (error.status === 413) return t("prepare.upload.too_large");
  if (code === "pdf") {
    if (/encrypted/i.test(message)) return t("prepare.upload.encrypted");
    if (/not a PDF/i.test(message)) return t("prepare.upload.not_pdf");
    return t("prepare.upload.unreadable");
  }
  const first = Object.values(fields)[0];
  if (first) return say(first.code, first.message);
  return say(code, message);
}

const dropzone = $("dropzone");
for (const name of ["dragenter", "dragover"]) {
  dropzone.addEventListener(name, (e) => {
    e.preventDefault();
    dropzone.classList.add("over");
  });
}
for (const name of ["dragleave", "drop"]) {
  dropzone.addEventListener(name, () => dropzone.classList.remove("over"));
}
dropzone.addEventListener("drop", (e) => {
  e.preventDefault();
  const files = [...(e.dataTransfer?.files || [])];
  if (files.length) enqueue(files);
});
$("file-input").addEventListener("change", (e) => {
  const files = [...e.target.files];
  e.target.value = "";
  if (files.length) enqueue(files);
});

// 2. Parties.

const form = $("party-form");
let chosen = null;
let options = [];
let active = -1;
let searchTimer = null;
let searchSerial = 0;

function partyType() {
  return form.querySelector("input[name=party-type]:checked").value;
}

/** The certificate option, enabled or not with why, for the person being added. */
function updateKinds() {
  const signer = $("party-role").value === "signer";
  $("party-kind").hidden = !signer;
  const why = partyType() === "outside" ? "error.outside_party_simple_only" : chosen?.certificate_refusal ?? null;
  const certificate = $("kind-certificate");
  certificate.disabled = Boolean(why);
  const line = $("kind-certificate-why");
  line.hidden = !why;
  line.textContent = why ? whyText(why) : "";
  if (why && certificate.checked) $("kind-simple").checked = true;
  if (!why && partyType() === "user" && chosen) certificate.checked = true;
}

/** Why a certificate signature is not available, as the wizard says it. */
function whyText(key) {
  const code = key.replace(/^error\./, "");
  return messages[`prepare.why.${code}`] || messages[key] || key;
}

function showType() {
  const outside = partyType() === "outside";
  $("person-field").hidden = outside;
  $("outside-fields").hidden = !outside;
  updateKinds();
}

for (const radio of form.querySelectorAll("input[name=party-type]")) radio.addEventListener("change", showType);
$("party-role").addEventListener("change", updateKinds);

const search = $("person-search");
const listbox = $("person-options");

function closeOptions() {
  listbox.hidden = true;
  search.setAttribute("aria-expanded", "false");
  search.removeAttribute("aria-activedescendant");
  active = -1;
}

function renderOptions() {
  listbox.replaceChildren();
  if (!options.length) {
    const none = document.createElement("li");
    none.className = "combo-none";
    none.textContent = t("prepare.party.no_match");
    listbox.append(none);
  }
  options.forEach((person, i) => {
    const option = document.createElement("li");
    option.id = `person-${person.id}`;
    option.className = "combo-option";
    option.setAttribute("role", "option");
    option.setAttribute("aria-selected", String(i === active));
    option.dataset.index = String(i);
    const name = document.createElement("span");
    name.className = "combo-name";
    name.textContent = person.name;
    const email = document.createElement("span");
    email.className = "hint";
    email.textContent = person.email;
    const kind = document.createElement("span");
    kind.className = `combo-kind ${person.certificate_refusal ? "unavailable" : "available"}`;
    kind.textContent = person.certificate_refusal
      ? `${t("prepare.party.simple_only")}: ${whyText(person.certificate_refusal)}`
      : t("prepare.party.certificate_ok");
    option.append(name, " ", email, kind);
    option.addEventListener("pointerdown", (e) => e.preventDefault());
    option.addEventListener("click", () => choose(person));
    listbox.append(option);
  });
  listbox.hidden = false;
  search.setAttribute("aria-expanded", "true");
  if (active >= 0) search.setAttribute("aria-activedescendant", `person-${options[active].id}`);
  else search.removeAttribute("aria-activedescendant");
}

async function find() {
  const serial = ++searchSerial;
  try {
    const found = await api("GET", `/api/people?q=${encodeURIComponent(search.value.trim())}&limit=8`);
    if (serial !== searchSerial) return;
    options = found;
    active = options.length ? 0 : -1;
    renderOptions();
  } catch (e) {
    if (serial === searchSerial) report(e, { near: $("person-error") });
  } finally {
    if (serial === searchSerial) listbox.removeAttribute("aria-busy");
  }
}

/** Asks the server after `delay` ms; until it answers, the list says it is being updated. */
function findSoon(delay) {
  clearTimeout(searchTimer);
  listbox.setAttribute("aria-busy", "true");
  searchTimer = setTimeout(find, delay);
}

function choose(person) {
  chosen = person;
  search.value = person.name;
  const line = $("person-chosen");
  line.textContent = `${t("prepare.party.chosen")}: ${person.name} <${person.email}>`;
  line.hidden = false;
  mark(search, $("person-error"), "");
  closeOptions();
  updateKinds();
}

search.addEventListener("input", () => {
  chosen = null;
  $("person-chosen").hidden = true;
  updateKinds();
  // What is shown already narrows at once; the server's answer follows.
  const typed = search.value.trim().toLowerCase();
  options = options.filter((p) => `${p.name} ${p.email}`.toLowerCase().includes(typed));
  active = options.length ? 0 : -1;
  searchSerial++;
  if (!listbox.hidden) renderOptions();
  findSoon(150);
});
search.addEventListener("focus", () => {
  if (!chosen) findSoon(0);
});
search.addEventListener("blur", () => setTimeout(closeOptions, 150));
search.addEventListener("keydown", (e) => {
  if (e.isComposing) return;
  if (e.key === "ArrowDown" || e.key === "ArrowUp") {
    e.preventDefault();
    if (listbox.hidden) {
      find();
      return;
    }
    if (!options.length) return;
    active = (active + (e.key === "ArrowDown" ? 1 : -1) + options.length) % options.length;
    renderOptions();
    $(`person-${options[active].id}`)?.scrollIntoView({ block: "nearest" });
  } else if (e.key === "Enter" && !listbox.hidden && active >= 0) {
    e.preventDefault();
    choose(options[active]);
  } else if (e.key === "Escape" && !listbox.hidden) {
    e.preventDefault();
    closeOptions();
  }
});

/** Why a certificate signature is not available to a party just added (null: it is, or unknown). */
async function refusalFor(party) {
  if (!party.user_id) return "error.outside_party_simple_only";
  if (chosen?.id === party.user_id) return chosen.certificate_refusal ?? null;
  // An address typed as an outside party's that turned out to be a user's.
  try {
    const found = await api("GET", `/api/people?q=${encodeURIComponent(party.email)}&limit=1`);
    return found[0]?.id === party.user_id ? found[0].certificate_refusal ?? null : null;
  } catch {
    return null;
  }
}

function nextStep() {
  return state.parties.length ? Math.min(50, Math.max(...state.parties.map((p) => p.step)) + 1) : 1;
}

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const button = $("add-party");
  if (button.disabled) return;
  for (const line of form.querySelectorAll(".field-error")) mark(null, line, "");
  for (const input of form.querySelectorAll("[aria-invalid]")) mark(input, null, "");
  const outside = partyType() === "outside";
  const role = $("party-role").value;
  const body = {
    role,
    step: Number($("party-step").value),
    signature_kind: role === "signer" ? form.querySelector("input[name=party-kind]:checked")?.value ?? null : null,
    email: outside ? $("party-email").value.trim() : chosen?.email ?? "",
    name: outside ? $("party-name").value.trim() : "",
  };
  if (!outside && !chosen) {
    mark(search, $("person-error"), t("prepare.party.choose_someone"));
    search.focus();
    return;
  }
  const emailTarget = outside ? [$("party-email"), $("party-email-error")] : [search, $("person-error")];
  button.disabled = true;
  try {
    const party = await saved(() => api("POST", `${base}/parties`, body));
    state.parties.push({ ...party, certificate_refusal: await refusalFor(party) });
    sortParties();
    renderParties();
    renderPalette();
    chosen = null;
    search.value = "";
    $("person-chosen").hidden = true;
    $("party-name").value = "";
    $("party-email").value = "";
    $("party-step").value = String(nextStep());
    updateKinds();
    (outside ? $("party-name") : search).focus();
  } catch (error) {
    report(error, {
      targets: {
        email: emailTarget,
        name: [$("party-name"), $("party-name-error")],
        role: [$("party-role"), $("party-role-error")],
        step: [$("party-step"), $("party-step-error")],
        signature_kind: [$("kind-certificate"), $("party-kind-error")],
      },
      near: $("party-kind-error"),
    });
  } finally {
    button.disabled = false;
  }
});

function option(value, label, selected) {
  const o = document.createElement("option");
  o.value = value;
  o.textContent = label;
  o.selected = selected;
  return o;
}

function renderParties() {
  const table = $("party-list");
  const body = table.querySelector("tbody");
  body.replaceChildren();
  for (const party of state.parties) {
    const row = document.createElement("tr");
    row.id = `party-row-${party.id}`;
    row.dataset.party = party.id;

    const who = document.createElement("td");
    const swatch = document.createElement("span");
    swatch.className = `swatch party-c${colourOf(party)}`;
    swatch.setAttribute("aria-hidden", "true");
    const email = document.createElement("span");
    email.className = "hint";
    email.textContent = party.user_id ? party.email : `${party.email} (${t("contract.outside")})`;
    who.append(swatch, " ", party.name, document.createElement("br"), email);

    const roleCell = document.createElement("td");
    const role = document.createElement("select");
    role.id = `role-${party.id}`;
    role.setAttribute("aria-label", `${t("prepare.party.role_of", { name: party.name })}`);
    for (const r of ["signer", "approver", "copy_recipient"]) role.append(option(r, t(`party.role.${r}`), party.role === r));
    roleCell.append(role);

    const stepCell = document.createElement("td");
    const step = document.createElement("input");
    step.type = "number";
    step.min = "1";
    step.max = "50";
    step.inputMode = "numeric";
    step.className = "step-input";
    step.id = `step-${party.id}`;
    step.value = String(party.step);
    step.setAttribute("aria-label", t("prepare.party.step_of", { name: party.name }));
    stepCell.append(step);

    const kindCell = document.createElement("td");
    if (party.role === "signer") {
      const kind = document.createElement("select");
      kind.id = `kind-${party.id}`;
      kind.setAttribute("aria-label", t("prepare.party.kind_of", { name: party.name }));
      const certificate = option("certificate", t("party.kind.certificate"), party.signature_kind === "certificate");
      certificate.disabled = Boolean(party.certificate_refusal) && party.signature_kind !== "certificate";
      kind.append(certificate, option("simple", t("party.kind.simple"), party.signature_kind === "simple"));
      kindCell.append(kind);
      kind.addEventListener("change", () => changeParty(party, { signature_kind: kind.value }, row));
      if (party.certificate_refusal) {
        const why = document.createElement("p");
        why.className = `why${party.signature_kind === "certificate" ? " problem" : ""}`;
        why.id = `why-${party.id}`;
        why.textContent = whyText(party.certificate_refusal);
        kindCell.append(why);
      }
    } else {
      kindCell.textContent = "—";
    }
    const error = document.createElement("p");
    error.className = "field-error";
    error.id = `party-error-${party.id}`;
    error.setAttribute("role", "alert");
    error.hidden = true;
    kindCell.append(error);

    const removeCell = document.createElement("td");
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "link danger-link";
    remove.textContent = t("prepare.remove");
    remove.setAttribute("aria-label", `${t("prepare.remove")}: ${party.name}`);
    remove.addEventListener("click", () => removeParty(party, remove));
    removeCell.append(remove);

    role.addEventListener("change", () => {
      const change = { role: role.value };
      if (role.value === "signer" && !party.signature_kind) change.signature_kind = party.certificate_refusal ? "simple" : "certificate";
      changeParty(party, change, row);
    });
    step.addEventListener("change", () => changeParty(party, { step: Number(step.value) }, row));
    row.append(who, roleCell, stepCell, kindCell, removeCell);
    body.append(row);
  }
  table.hidden = !state.parties.length;
  $("parties-empty").hidden = state.parties.length > 0;
}

async function changeParty(party, change, row) {
  const error = row.querySelector(".field-error");
  mark(null, error, "");
  try {
    const updated = await saved(() => api("PATCH", `${base}/parties/${party.id}`, change));
    Object.assign(party, updated);
    if (party.role !== "signer") {
      for (const f of state.fields.filter((f) => f.party_id === party.id)) undraw(f.id);
      state.fields = state.fields.filter((f) => f.party_id !== party.id);
    }
    sortParties();
    renderParties();
    renderPalette();
    const again = Object.keys(change)[0];
    const focus = { role: `role-${party.id}`, step: `step-${party.id}`, signature_kind: `kind-${party.id}` }[again];
    $(focus)?.focus();
  } catch (e) {
    renderParties();
    const line = $(`party-error-${party.id}`);
    report(e, { near: line });
  }
}

async function removeParty(party, button) {
  button.disabled = true;
  try {
    await saved(() => api("DELETE", `${base}/parties/${party.id}`));
    for (const f of state.fields.filter((f) => f.party_id === party.id)) undraw(f.id);
    state.fields = state.fields.filter((f) => f.party_id !== party.id);
    state.parties = state.parties.filter((p) => p.id !== party.id);
    renderParties();
    renderPalette();
    search.focus();
  } catch (e) {
    button.disabled = false;
    report(e, { near: $(`party-error-${party.id}`) });
  }
}

// 3. Fields on the pages.

const viewers = new Map();
const placedElements = new Map();
let selected = null;
let opening = null;

function renderPalette() {
  const select = $("palette-party");
  const previous = select.value;
  select.replaceChildren();
  for (const party of signers()) {
    select.append(option(party.id, `${party.name}（${t(`party.kind.${party.signature_kind}`)}）`, party.id === previous));
  }
  const none = !signers().length;
  $("palette-empty").hidden = !none;
  $("palette-tools").hidden = none;
  paintTools();
  const legend = $("legend");
  legend.replaceChildren();
  for (const party of signers()) {
    const item = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = `swatch party-c${colourOf(party)}`;
    swatch.setAttribute("aria-hidden", "true");
    const mine = state.fields.filter((f) => f.party_id === party.id);
    const count = document.createElement("span");
    count.className = "hint";
    count.textContent = t("prepare.fields.count", { n: mine.length });
    item.append(swatch, " ", party.name, " ", count);
    if (!mine.some((f) => f.kind === "signature")) {
      const warn = document.createElement("span");
      warn.className = "why problem";
      warn.textContent = t("prepare.fields.no_signature");
      item.append(" ", warn);
    }
    legend.append(item);
  }
}

function paintTools() {
  const party = partyOf($("palette-party").value);
  for (const tool of document.querySelectorAll(".tool")) {
    tool.className = `tool party-c${colourOf(party)}`;
    tool.setAttribute("aria-label", `${tool.textContent.trim()}（${party?.name ?? ""}）`);
  }
}

$("palette-party").addEventListener("change", paintTools);

function forgetViewer(documentId) {
  const viewer = viewers.get(documentId);
  if (viewer) viewer.destroy?.();
  viewers.delete(documentId);
  document.querySelector(`#field-documents .document[data-document="${documentId}"]`)?.remove();
}

/** Renders every document not yet shown (the first time step 3 opens, and after uploads). */
async function openDocuments() {
  if (opening) return opening;
  opening = (async () => {
    const area = $("field-documents");
    $("fields-no-documents").hidden = state.documents.length > 0;
    for (const doc of state.documents) {
      if (viewers.has(doc.id)) continue;
      const article = document.createElement("article");
      article.className = "document";
      article.dataset.document = doc.id;
      const heading = document.createElement("h3");
      heading.className = "document-title";
      heading.textContent = `${doc.name}.pdf`;
      const container = document.createElement("div");
      container.className = "pdf-pages";
      const loading = document.createElement("p");
      loading.className = "pdf-status";
      loading.textContent = t("prepare.loading");
      container.append(loading);
      article.append(heading, container);
      area.append(article);
      try {
        const viewer = await PdfPages.open(container, `${base}/documents/${doc.id}/pdf`, {
          label: doc.name,
          pageLabel: (n, total) => t("party.page_of", { n, total }),
        });
        viewers.set(doc.id, viewer);
        await viewer.laidOut;
        for (const field of state.fields.filter((f) => f.document_id === doc.id)) draw(field);
        container.addEventListener("pointerdown", (e) => {
          if (e.target.closest(".placed")) return;
          select(null);
        });
      } catch (e) {
        console.error(e);
        container.replaceChildren();
        const p = document.createElement("p");
        p.className = "pdf-status field-error";
        p.textContent = t("party.loading_failed");
        container.append(p);
      }
    }
    root.dataset.rendered = "true";
  })();
  try {
    await opening;
  } finally {
    opening = null;
  }
  // Documents uploaded meanwhile.
  if (state.documents.some((d) => !viewers.has(d.id)) && root.dataset.step === "fields") openDocuments();
}

function kindLabel(kind) {
  return t(`prepare.kind.${kind}`);
}

function describe(field) {
  const party = partyOf(field.party_id);
  const doc = state.documents.find((d) => d.id === field.document_id);
  return t("prepare.fields.describe", {
    kind: field.label || kindLabel(field.kind),
    party: party?.name ?? "",
    document: doc ? `${doc.name}.pdf` : "",
    page: field.page,
  });
}

/** Draws `field` on its page (again, when it is already drawn). */
function draw(field) {
  const viewer = viewers.get(field.document_id);
  if (!viewer) return null;
  let element = placedElements.get(field.id);
  if (!element) {
    element = document.createElement("div");
    element.dataset.field = field.id;
    element.tabIndex = 0;
    element.setAttribute("role", "button");
    element.setAttribute("aria-describedby", "placed-help");
    const label = document.createElement("span");
    label.className = "placed-label";
    const who = document.createElement("span");
    who.className = "placed-party";
    const handle = document.createElement("span");
    handle.className = "resize-handle";
    handle.setAttribute("aria-hidden", "true");
    element.append(label, " ", who, handle);
    element.addEventListener("pointerdown", (e) => grab(e, field.id));
    element.addEventListener("keydown", (e) => keyed(e, field.id));
    element.addEventListener("focus", () => select(fieldOf(field.id), { focus: false }));
    placedElements.set(field.id, element);
  }
  const party = partyOf(field.party_id);
  element.className = `placed pdf-rect kind-${field.kind} party-c${colourOf(party)}${selected === field.id ? " selected" : ""}`;
  element.querySelector(".placed-label").textContent = field.label || kindLabel(field.kind);
  element.querySelector(".placed-party").textContent = party?.name ?? "";
  element.setAttribute("aria-label", describe(field));
  element.setAttribute("aria-pressed", String(selected === field.id));
  // Moved to another page, the element leaves one overlay for another, which takes its focus.
  const focused = document.activeElement === element;
  viewer.place(element, field);
  if (focused && document.activeElement !== element) element.focus({ preventScroll: true });
  return element;
}

function undraw(fieldId) {
  placedElements.get(fieldId)?.remove();
  placedElements.delete(fieldId);
  if (selected === fieldId) select(null);
}

function fieldOf(id) {
  return state.fields.find((f) => f.id === id);
}

function select(field, { focus = false } = {}) {
  const previous = selected;
  selected = field?.id ?? null;
  for (const id of [previous, selected]) {
    const f = id && fieldOf(id);
    if (f) draw(f);
  }
  const panel = $("field-panel");
  panel.hidden = !field;
  if (!field) return;
  showPosition(field);
  const label = $("field-label");
  label.value = field.label;
  mark(label, $("field-label-error"), "");
  $("field-label-field").hidden = !["text", "checkbox"].includes(field.kind);
  if (focus) placedElements.get(field.id)?.focus();
}

/**
 * The selected field's page and place as the user sees them: from the top left corner of the page
 * as it shows (the API's points are the page's own, which read swapped on a turned page).
 */
function showPosition(field) {
  // A save answered late may be of a field no longer selected.
  if (selected !== field.id) return;
  const r = (v) => Math.round(v * 10) / 10;
  const at = viewers.get(field.document_id).shown(field);
  $("field-summary").textContent = describe(field);
  $("field-position").textContent = t("prepare.fields.position", {
    x: r(at.left),
    y: r(at.top),
    width: r(at.width),
    height: r(at.height),
  });
}

/** The smallest size of a field of `kind`, in the page's own points. */
const minOf = (kind) => (kind === "signature" ? MIN_SIGNATURE : MIN_FIELD);

/** Places a new field of `kind` for the palette's party, centred at a point of a page (CSS pixels). */
async function create(kind, documentId, n, left, top) {
  const party = $("palette-party").value;
  const viewer = viewers.get(documentId);
  if (!party || !viewer) return;
  const rect = toRect(viewer, n, centredBox(viewer, n, left, top, SIZES[kind]), minOf(kind));
  const error = $("fields-error");
  clearError(error);
  try {
    const field = await saved(() =>
      api("POST", `${base}/fields`, { document: documentId, party, kind, label: "", ...rect }),
    );
    state.fields.push(field);
    draw(field);
    select(field, { focus: true });
    renderPalette();
  } catch (e) {
    report(e, { near: error });
  }
}

/** The page most in view (its document and number), for fields placed from the keyboard. */
function pageInView() {
  let best = null;
  let most = 0;
  for (const [documentId, viewer] of viewers) {
    for (let n = 1; n <= viewer.count; n++) {
      const r = viewer.element(n).getBoundingClientRect();
      const seen = Math.max(0, Math.min(r.bottom, innerHeight) - Math.max(r.top, 0));
      if (seen > most) {
        most = seen;
        best = { documentId, n, r };
      }
    }
  }
  return best;
}

// Dragging a tool from the palette onto a page; a click (or Enter) places it on the page in view.
for (const tool of document.querySelectorAll(".tool")) {
  let drag = null;
  tool.addEventListener("pointerdown", (e) => {
    if (e.button !== 0 || !$("palette-party").value) return;
    drag = { id: e.pointerId, x: e.clientX, y: e.clientY, ghost: null };
    tool.setPointerCapture(e.pointerId);
  });
  tool.addEventListener("pointermove", (e) => {
    if (!drag || e.pointerId !== drag.id) return;
    if (!drag.ghost && Math.hypot(e.clientX - drag.x, e.clientY - drag.y) < 5) return;
    if (!drag.ghost) {
      drag.ghost = document.createElement("div");
      drag.ghost.className = `ghost kind-${tool.dataset.kind} ${tool.className.replace("tool", "")}`;
      drag.ghost.textContent = tool.textContent;
      document.body.append(drag.ghost);
    }
    const spot = spotUnder(e.clientX, e.clientY);
    const scale = spot ? spot.scale : 1;
    const [w, h] = SIZES[tool.dataset.kind];
    drag.ghost.style.width = `${w * scale}px`;
    drag.ghost.style.height = `${h * scale}px`;
    drag.ghost.style.left = `${e.clientX - (w * scale) / 2}px`;
    drag.ghost.style.top = `${e.clientY - (h * scale) / 2}px`;
    drag.ghost.classList.toggle("over-page", Boolean(spot));
  });
  const end = (e, cancelled) => {
    if (!drag || e.pointerId !== drag.id) return;
    const { ghost } = drag;
    drag = null;
    if (!ghost) return;
    ghost.remove();
    // The click that follows this pointerup is the drag's, not a placement of its own.
    tool.dataset.dragged = "true";
    setTimeout(() => delete tool.dataset.dragged, 0);
    const spot = cancelled ? null : spotUnder(e.clientX, e.clientY);
    if (spot) create(tool.dataset.kind, spot.documentId, spot.page, spot.left, spot.top);
  };
  tool.addEventListener("pointerup", (e) => end(e, false));
  tool.addEventListener("pointercancel", (e) => end(e, true));
  tool.addEventListener("click", () => {
    if (tool.dataset.dragged) {
      delete tool.dataset.dragged;
      return;
    }
    const spot = pageInView();
    if (!spot) return;
    const viewer = viewers.get(spot.documentId);
    const element = viewer.element(spot.n);
    const visibleTop = Math.max(0, -spot.r.top);
    const visibleBottom = Math.min(element.clientHeight, innerHeight - spot.r.top);
    create(tool.dataset.kind, spot.documentId, spot.n, element.clientWidth / 2, (visibleTop + visibleBottom) / 2);
  });
}

/** The page under a point of the window: its document, number, the point within it and its scale. */
function spotUnder(x, y) {
  for (const [documentId, viewer] of viewers) {
    const found = viewer.locate(x, y);
    if (found) {
      const scale = viewer.element(found.page).clientWidth / viewer.viewport(found.page).width;
      return { documentId, ...found, scale };
    }
  }
  return null;
}

/** Moving or resizing a placed field with the pointer. */
function grab(e, fieldId) {
  if (e.button !== 0) return;
  const field = fieldOf(fieldId);
  const element = placedElements.get(fieldId);
  const viewer = viewers.get(field.document_id);
  if (!field || !element || !viewer) return;
  e.preventDefault();
  select(field);
  element.focus({ preventScroll: true });
  follow(e, { viewer, rect: field, element, min: minOf(field.kind), across: true, done: (rect) => change(field, rect) });
}

const pendingSaves = new Map();

/** Moves `field` to `rect` on the screen now, and saves it (keyboard moves: once the keys rest). */
function change(field, rect, { later = false } = {}) {
  const before = { x: field.x, y: field.y, width: field.width, height: field.height, page: field.page };
  Object.assign(field, rect);
  draw(field);
  showPosition(field);
  if (field.page !== before.page) $("fields-live").textContent = describe(field);
  clearTimeout(pendingSaves.get(field.id)?.timer);
  const pending = pendingSaves.get(field.id) ?? { before };
  const save = async () => {
    pendingSaves.delete(field.id);
    const body = { page: field.page, x: field.x, y: field.y, width: field.width, height: field.height };
    try {
      const updated = await saved(() => api("PATCH", `${base}/fields/${field.id}`, body));
      Object.assign(field, updated);
      draw(field);
      showPosition(field);
    } catch (e) {
      Object.assign(field, pending.before);
      draw(field);
      showPosition(field);
      report(e, { near: $("fields-error") });
    }
  };
  if (later) {
    pending.timer = setTimeout(save, 400);
    pendingSaves.set(field.id, pending);
  } else {
    save();
  }
}

/**
 * Arrow keys move the field (Shift: 10 points), Alt + arrows resize it, PageUp and PageDown take it
 * to the previous or next page; Delete removes it.
 */
function keyed(e, fieldId) {
  const field = fieldOf(fieldId);
  const viewer = field && viewers.get(field.document_id);
  if (!viewer) return;
  if (e.key === "Delete" || e.key === "Backspace") {
    e.preventDefault();
    removeField(field);
    return;
  }
  if (e.key === "Escape") {
    select(null);
    return;
  }
  const min = minOf(field.kind);
  const rect = stepped(e, viewer, field, min) ?? paged(e, viewer, field, min);
  if (!rect) return;
  const away = rect.page !== field.page;
  change(field, rect, { later: true });
  // On another page it is out of sight: brought there, as a pointer would have.
  if (away) viewer.reveal(rect);
}

async function removeField(field) {
  const error = $("fields-error");
  clearError(error);
  try {
    await saved(() => api("DELETE", `${base}/fields/${field.id}`));
    state.fields = state.fields.filter((f) => f.id !== field.id);
    undraw(field.id);
    renderPalette();
    document.querySelector(`.tool[data-kind="${field.kind}"]`)?.focus();
  } catch (e) {
    report(e, { near: error });
  }
}

$("field-delete").addEventListener("click", () => {
  const field = selected && fieldOf(selected);
  if (field) removeField(field);
});
$("field-label").addEventListener("change", async () => {
  const field = selected && fieldOf(selected);
  if (!field) return;
  const input = $("field-label");
  mark(input, $("field-label-error"), "");
  try {
    const updated = await saved(() => api("PATCH", `${base}/fields/${field.id}`, { label: input.value }));
    Object.assign(field, updated);
    draw(field);
    $("field-summary").textContent = describe(field);
  } catch (e) {
    report(e, { targets: { label: [input, $("field-label-error")] }, near: $("field-label-error") });
  }
});

// 4. Review and send.

const optionsForm = $("options-form");
for (const input of optionsForm.querySelectorAll("input, textarea")) {
  input.addEventListener("change", async () => {
    const name = input.name;
    const value = input.type === "checkbox" ? input.checked : input.type === "number" ? Number(input.value) : input.value;
    const error = $(`opt-${name}-error`);
    mark(input, error, "");
    if (input.type === "number" && (input.value.trim() === "" || !Number.isInteger(value))) {
      mark(input, error, t("prepare.review.number"));
      return;
    }
    try {
      const contract = await saved(() => api("PATCH", base, { [name]: value }));
      Object.assign(state.contract, {
        title: contract.title,
        message: contract.message,
        expiry_days: contract.expiry_days,
        reminder_days: contract.reminder_days,
        max_reminders: contract.max_reminders,
        allow_forwarding: contract.allow_forwarding,
      });
      $("contract-title").textContent = contract.title;
      document.title = document.title.replace(/^[^|]*\|/, `${contract.title} |`);
    } catch (e) {
      report(e, { targets: { [name]: [input, error] }, near: error });
    }
  });
}

/** What sending needs, checked here as the server will (it says so again if anything is missing). */
function problems() {
  const found = [];
  if (!state.documents.length) found.push({ step: "documents", text: say("contract_no_documents") });
  if (!state.parties.some((p) => p.role !== "copy_recipient")) found.push({ step: "parties", text: say("contract_no_signers") });
  for (const party of signers()) {
    if (!state.fields.some((f) => f.party_id === party.id && f.kind === "signature")) {
      found.push({ step: "fields", text: t("prepare.review.no_signature_field", { name: party.name }) });
    }
    if (party.signature_kind === "certificate" && party.certificate_refusal) {
      found.push({ step: "parties", text: `${party.name}: ${whyText(party.certificate_refusal)}` });
    }
  }
  return found;
}

function checkItem(ok, text, step) {
  const item = document.createElement("li");
  item.className = ok ? "ok" : "problem";
  const mark = document.createElement("span");
  mark.className = "check-mark";
  mark.setAttribute("aria-hidden", "true");
  mark.textContent = ok ? "✓" : "!";
  item.append(mark, " ", text);
  if (!ok && step) {
    const link = document.createElement("a");
    link.href = `#${step}`;
    link.textContent = t("prepare.review.fix", { step: t(`prepare.step.${step}`) });
    item.append(" ", link);
  }
  return item;
}

function renderReview() {
  const list = $("checklist");
  list.replaceChildren();
  const pages = state.documents.reduce((n, d) => n + d.pages, 0);
  list.append(
    checkItem(
      state.documents.length > 0,
      state.documents.length
        ? t("prepare.review.documents", { n: state.documents.length, pages, names: state.documents.map((d) => `${d.name}.pdf`).join("、") })
        : say("contract_no_documents"),
      "documents",
    ),
  );
  if (!state.parties.length) list.append(checkItem(false, say("contract_no_signers"), "parties"));
  for (const party of state.parties) {
    const mine = state.fields.filter((f) => f.party_id === party.id);
    const kind = party.signature_kind ? ` · ${t(`party.kind.${party.signature_kind}`)}` : "";
    const text = t("prepare.review.party", { step: party.step, name: party.name, role: t(`party.role.${party.role}`) }) + kind +
      (party.role === "signer" ? ` · ${t("prepare.fields.count", { n: mine.length })}` : "");
    let ok = true;
    let step = null;
    let why = "";
    if (party.role === "signer" && !mine.some((f) => f.kind === "signature")) {
      ok = false;
      step = "fields";
      why = t("prepare.fields.no_signature");
    } else if (party.signature_kind === "certificate" && party.certificate_refusal) {
      ok = false;
      step = "parties";
      why = whyText(party.certificate_refusal);
    }
    list.append(checkItem(ok, why ? `${text} — ${why}` : text, step));
  }
  if (problems().length) $("send").setAttribute("aria-describedby", "checklist");
  else $("send").removeAttribute("aria-describedby");
}

$("send").addEventListener("click", async () => {
  const button = $("send");
  const errors = $("send-error");
  errors.replaceChildren();
  errors.hidden = true;
  const found = problems();
  if (found.length) {
    showSendProblems(found);
    return;
  }
  button.disabled = true;
  button.textContent = t("prepare.review.sending");
  try {
    await api("POST", `${base}/send`);
    location.assign(`/contracts/${contractId}`);
  } catch (e) {
    button.disabled = false;
    button.textContent = t("prepare.review.send");
    const fields = e instanceof Refused ? e.body.fields || {} : {};
    const steps = { documents: "documents", parties: "parties", fields: "fields" };
    const listed = Object.entries(fields).map(([name, problem]) => ({ step: steps[name] ?? null, text: say(problem.code, problem.message) }));
    if (!listed.length) listed.push({ step: null, text: e instanceof Refused ? say(e.body.error, e.body.message) : t("prepare.error") });
    showSendProblems(listed);
  }
});

function showSendProblems(found) {
  const errors = $("send-error");
  errors.replaceChildren();
  for (const { step, text } of found) {
    const item = document.createElement("li");
    item.textContent = text;
    if (step) {
      const link = document.createElement("a");
      link.href = `#${step}`;
      link.textContent = t("prepare.review.fix", { step: t(`prepare.step.${step}`) });
      item.append(" ", link);
    }
    errors.append(item);
  }
  errors.hidden = false;
  errors.focus();
}

// Start.

sortParties();
renderDocuments();
renderParties();
renderPalette();
$("party-step").value = String(nextStep());
showType();
showStep(currentStep());
root.dataset.ready = "true";
