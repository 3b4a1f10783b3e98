// The signing page (/sign/{token}): the one-time code, the documents rendered in the page with
// the party's own fields drawn on them, the guide that takes the party from field to field
// (「次へ」), their inputs, seal and PIN, 「署名する」, approving, declining and forwarding. Every
// action is a call to the parties' JSON API; a refusal is shown next to the field it is about,
// in the page's language (the texts come with the page: the API's own messages are English).

import { mark, Refused, reporter, sayer } from "./api.mjs";
import { configure, PdfPages } from "./pdfpages.mjs";

const root = document.getElementById("party");
const token = root.dataset.token;
const csrf = root.dataset.csrf;
const messages = JSON.parse(root.dataset.messages || "{}");
configure({ module: root.dataset.pdfjs, worker: root.dataset.pdfjsWorker });

const $ = (id) => document.getElementById(id);

async function call(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (csrf) headers["X-CSRF-Token"] = csrf;
  const response = await fetch(`/api/party/${token}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) throw new Refused(response.status, data);
  return { status: response.status, data };
}

/** The message for an API code, in the page's language; the API's English one otherwise. */
const say = sayer(messages, { otherwise: messages["party.error"] });
/**
 * Shows a refusal where it belongs: each field problem next to its field, anything else next to
 * `near` (the action's own error line) or in the summary.
 */
const report = reporter({ say, summary: $("party-error"), centre: true });

function clearErrors(scope) {
  for (const e of scope.querySelectorAll(".field-error")) mark(null, e, "");
  for (const i of scope.querySelectorAll("[aria-invalid]")) mark(i, null, "");
  const summary = $("party-error");
  summary.hidden = true;
  summary.textContent = "";
}

/** Runs `action` for the form's submit (or a button's click), with the button disabled meanwhile. */
function on(id, event, action) {
  const element = $(id);
  if (!element) return;
  element.addEventListener(event, async (e) => {
    e.preventDefault();
    const button = event === "submit" ? element.querySelector("[type=submit]") : element;
    if (button?.disabled) return;
    if (button) button.disabled = true;
    try {
      await action();
    } finally {
      if (button) button.disabled = false;
    }
  });
}

// The one-time code (outside parties).
on("send-code", "click", async () => {
  try {
    await call("POST", "/code", {});
    $("code-sent").hidden = false;
    $("code").focus();
  } catch (e) {
    report(e, { targets: { code: [$("code"), $("code-error")] }, near: $("code-error") });
  }
});
on("code-form", "submit", async () => {
  const input = $("code");
  const code = input.value.trim();
  clearErrors($("code-form"));
  if (!/^[0-9]{6}$/.test(code)) {
    mark(input, $("code-error"), say(code ? "code_wrong" : "required"));
    input.focus();
    return;
  }
  try {
    await call("POST", "/code/confirm", { code });
    location.reload();
  } catch (e) {
    const here = [input, $("code-error")];
    report(e, { targets: { code: here, code_wrong: here, code_expired: here, code_used_up: here } });
  }
});

// The documents, each rendered into its place; the party's fields drawn once laid out.
const steps = [...document.querySelectorAll("#steps .step")];
const fieldSteps = steps.filter((s) => s.dataset.field);
const viewers = new Map();
const boxes = new Map();

function rectOf(step) {
  const d = step.dataset;
  return { page: Number(d.page), x: Number(d.x), y: Number(d.y), width: Number(d.width), height: Number(d.height) };
}

function drawFields(documentId, viewer) {
  for (const step of fieldSteps.filter((s) => s.dataset.document === documentId)) {
    const index = steps.indexOf(step);
    const box = viewer.draw(rectOf(step), { tag: "button", className: `field-box kind-${step.dataset.kind}` });
    box.type = "button";
    box.tabIndex = -1;
    box.dataset.field = step.dataset.field;
    box.setAttribute("aria-label", step.querySelector(".step-count").textContent);
    const number = document.createElement("span");
    number.className = "field-number";
    number.textContent = String(index + 1);
    const value = document.createElement("span");
    value.className = "field-value";
    value.textContent = step.dataset.preview || "";
    box.append(number, value);
    box.addEventListener("click", () => go(steps.indexOf(step)));
    boxes.set(step.dataset.field, box);
    if (step.classList.contains("current")) box.classList.add("current");
  }
}

/**
 * Puts a document's fields in the order the party sees them: by page, then from the top of the
 * page as it shows down, then left to right. The server orders them by the page's own
 * coordinates, which on a page turned by /Rotate run another way. The steps are renumbered (their
 * `.step-number`); their elements stay where they are, as only the current one shows.
 */
function order(documentId, viewer) {
  const mine = steps.filter((s) => s.dataset.document === documentId);
  if (!mine.length) return;
  const place = new Map(mine.map((s) => [s, viewer.shown(rectOf(s))]));
  const sorted = [...mine].sort((a, b) =>
    Number(a.dataset.page) - Number(b.dataset.page) ||
    place.get(a).top - place.get(b).top ||
    place.get(a).left - place.get(b).left);
  const was = steps[current];
  // The server lists a document's fields together.
  steps.splice(steps.indexOf(mine[0]), mine.length, ...sorted);
  steps.forEach((s, i) => {
    const number = s.querySelector(".step-number");
    if (number) number.textContent = String(i + 1);
  });
  // Before the party has done anything the guide starts at the (new) first field; after, it
  // stays on the field they are at.
  const untouched = current === 0 && !was.contains(document.activeElement);
  go(untouched ? 0 : steps.indexOf(was), { focus: false });
}

async function openDocuments() {
  const pageOf = (n, total) => (messages["party.page_of"] || "{n} / {total}").replace("{n}", n).replace("{total}", total);
  // One after another: the first document's first page comes first.
  for (const article of document.querySelectorAll(".document")) {
    const container = article.querySelector(".pdf-pages");
    try {
      const viewer = await PdfPages.open(container, article.dataset.url, { label: article.dataset.name, pageLabel: pageOf });
      viewers.set(article.dataset.document, viewer);
      await viewer.ready;
      viewer.laidOut.then(() => {
        order(article.dataset.document, viewer);
        drawFields(article.dataset.document, viewer);
      });
    } catch (e) {
      console.error(e);
      const p = document.createElement("p");
      p.className = "pdf-status field-error";
      p.textContent = messages["party.loading_failed"] || "";
      container.replaceChildren(p);
    }
  }
  root.dataset.rendered = "true";
}

if (document.querySelector(".document")) openDocuments();

// The guide: one step per field, then the signature.
let current = Math.max(0, steps.findIndex((s) => s.classList.contains("current")));

function go(index, { focus = true } = {}) {
  if (!steps.length) return;
  current = Math.min(Math.max(index, 0), steps.length - 1);
  const step = steps[current];
  for (const s of steps) s.classList.toggle("current", s === step);
  for (const [field, box] of boxes) box.classList.toggle("current", field === step.dataset.field);
  $("guide-prev").disabled = current === 0;
  const last = current === steps.length - 1;
  $("guide-next").textContent = last ? $("guide-next").dataset.last : $("guide-next").dataset.next;
  if (!focus) return;
  if (step.dataset.field) {
    const viewer = viewers.get(step.dataset.document);
    if (viewer) viewer.reveal(rectOf(step));
    const target = step.querySelector(".field-input") || step.querySelector("[tabindex]");
    target?.focus({ preventScroll: true });
  } else {
    toSignature();
  }
}

function toSignature() {
  const box = $("sign-box");
  box.scrollIntoView({ block: "center", behavior: "smooth" });
  const first = box.querySelector("input[name=seal]:checked, #pin, #sign");
  first?.focus({ preventScroll: true });
}

if ($("guide")) {
  const next = $("guide-next");
  next.dataset.next = next.textContent;
  next.dataset.last = messages["party.to_sign"] || next.textContent;
  $("guide-prev").addEventListener("click", () => go(current - 1));
  next.addEventListener("click", () => (current === steps.length - 1 ? toSignature() : go(current + 1)));
  go(current, { focus: false });
  for (const input of document.querySelectorAll("#steps .field-input")) {
    const box = () => boxes.get(input.dataset.field);
    const show = () => {
      const value = box()?.querySelector(".field-value");
      if (value) value.textContent = input.type === "checkbox" ? (input.checked ? "✓" : "") : input.value;
      if (input.value.trim() || input.type === "checkbox") mark(input, $(`${input.id}-error`), "");
    };
    input.addEventListener("input", show);
    input.addEventListener("change", show);
    // Enter goes on to the next field rather than signing.
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && input.type !== "checkbox") {
        e.preventDefault();
        go(current + 1);
      }
    });
    input.addEventListener("focus", () => {
      const index = steps.indexOf(input.closest(".step"));
      if (index !== current) go(index, { focus: false });
    });
  }
}

// Signing.
on("sign-form", "submit", async () => {
  const form = $("sign-form");
  clearErrors(form);
  const fields = {};
  let missing = null;
  for (const input of form.querySelectorAll(".field-input")) {
    if (input.type === "checkbox") {
      fields[input.dataset.field] = input.checked;
    } else {
      fields[input.dataset.field] = input.value;
      if (!input.value.trim()) {
        mark(input, $(`${input.id}-error`), say("required"));
        missing ??= input;
      }
    }
  }
  const pin = $("pin");
  if (pin && !pin.value) {
    mark(pin, $("pin-error"), say("pin_required"));
    missing ??= pin;
  }
  if (missing) {
    const step = missing.closest(".step");
    if (step) go(steps.indexOf(step));
    else {
      missing.scrollIntoView({ block: "center" });
      missing.focus({ preventScroll: true });
    }
    return;
  }
  const seal = form.querySelector("input[name=seal]:checked");
  const pinTarget = [pin, $("pin-error")];
  try {
    const { status } = await call("POST", "/sign", {
      fields,
      seal: seal && seal.value ? seal.value : null,
      pin: pin ? pin.value : null,
    });
    if (status === 202) await untilSigned();
    location.reload();
  } catch (e) {
    report(e, {
      targets: {
        pin: pinTarget,
        pin_wrong: pinTarget,
        pin_locked: pinTarget,
        pin_required: pinTarget,
        seal: [form.querySelector("input[name=seal]"), $("seal-error")],
        fields: [null, $("fields-error")],
      },
      near: $("fields-error"),
    });
  }
});

/** Waits while the signature is being made (the page then shows how it ended). */
async function untilSigned() {
  const line = $("fields-error");
  line.textContent = messages["party.signing"] || "";
  line.hidden = false;
  line.classList.remove("field-error");
  for (let i = 0; i < 60; i++) {
    await new Promise((resolve) => setTimeout(resolve, 2000));
    try {
      const { data } = await call("GET", "");
      if (data.stage !== "signing") return;
    } catch {
      return;
    }
  }
}

if (root.dataset.stage === "signing") {
  untilStageChanges();
}

async function untilStageChanges() {
  for (let i = 0; i < 60; i++) {
    await new Promise((resolve) => setTimeout(resolve, 3000));
    try {
      const { data } = await call("GET", "");
      if (data.stage !== "signing") {
        location.reload();
        return;
      }
    } catch {
      return;
    }
  }
}

// Approving, declining, forwarding.
on("approve", "click", async () => {
  try {
    await call("POST", "/approve", {});
    location.reload();
  } catch (e) {
    report(e);
  }
});
on("decline-form", "submit", async () => {
  const reason = $("reason");
  clearErrors($("decline-form"));
  if (!reason.value.trim()) {
    mark(reason, $("reason-error"), say("required"));
    reason.focus();
    return;
  }
  try {
    await call("POST", "/decline", { reason: reason.value });
    location.reload();
  } catch (e) {
    report(e, { targets: { reason: [reason, $("reason-error")] }, near: $("reason-error") });
  }
});
on("forward-form", "submit", async () => {
  const email = $("forward-email");
  clearErrors($("forward-form"));
  if (!email.value.trim()) {
    mark(email, $("forward-email-error"), say("required"));
    email.focus();
    return;
  }
  try {
    await call("POST", "/forward", {
      email: email.value,
      name: $("forward-name").value,
      reason: $("forward-reason").value,
    });
    location.reload();
  } catch (e) {
    report(e, { targets: { email: [email, $("forward-email-error")] }, near: $("forward-email-error") });
  }
});
