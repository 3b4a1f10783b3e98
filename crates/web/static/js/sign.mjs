// The signing screen (/sign): the chosen PDF's pages drawn in the page from the file itself (no
// upload before signing), and the seal's box placed on them with the pointer (drag to move, the
// corner to resize, a click on a page to move it there) or the keyboard (arrows; Shift: 10
// points; Alt: resize; PageUp, PageDown: to another page). The place goes to the server in the
// hidden `visible` input as PAGE,X,Y,WIDTH,HEIGHT in the page's points, as
// `pdf_sign::Placement::parse` reads it; an invisible signature sends it empty.

import { mark as markNext, Refused } from "./api.mjs";
import { configure, PdfPages } from "./pdfpages.mjs";
import { centredBox, follow, paged, stepped, toRect } from "./placing.mjs";

const form = document.getElementById("sign-form");
const $ = (id) => document.getElementById(id);
const messages = JSON.parse(form.dataset.messages || "{}");
configure({ module: form.dataset.pdfjs, worker: form.dataset.pdfjsWorker });

/** The seal's size when first placed, and its smallest, in points. */
const SIZE = [120, 60];
const MIN = [36, 18];

function t(key, vars = {}) {
  let text = messages[key] ?? key;
  for (const [name, value] of Object.entries(vars)) text = text.replaceAll(`{${name}}`, String(value));
  return text;
}

const input = $("pdf");
const pages = $("sign-pages");
const hidden = $("visible");
const area = $("place-area");
const empty = $("pages-empty");
let viewer = null;
/** The seal's rectangle { page, x, y, width, height } in points, once placed. */
let rect = null;
let box = null;
/** Which file is shown (a newer choice wins over a slower older one). */
let opened = 0;
/** The file being opened, until its pages and the box are shown. */
let loading = null;

/** Shows (or, with an empty message, clears) the error next to a field ("pdf" or "visible"). */
function mark(field, message) {
  const error = $(`${field}-error`);
  const control = field === "pdf" ? input : area;
  if (message) control.setAttribute("aria-describedby", error.id);
  markNext(control, error, message);
}

const visible = () => $("mode-visible").checked;

/**
 * The hidden input (the page's own points) and the position line (as the page shows, from its
 * top left corner) follow the rectangle and the choice of mode.
 */
function publish() {
  const on = visible() && rect && viewer;
  const r = (v) => Math.round(v * 100) / 100;
  hidden.value = on ? [rect.page, r(rect.x), r(rect.y), r(rect.width), r(rect.height)].join(",") : "";
  area.hidden = !visible();
  const at = on && viewer.shown(rect);
  $("seal-position").textContent = on
    ? t("sign.position", {
        page: rect.page,
        x: Math.round(at.left * 10) / 10,
        y: Math.round(at.top * 10) / 10,
        width: Math.round(at.width * 10) / 10,
        height: Math.round(at.height * 10) / 10,
      })
    : "";
}

/** The chosen seal's picture, shown inside the box. */
function sealImage() {
  const chosen = form.querySelector('input[name="seal"]:checked');
  return chosen?.closest("label")?.querySelector("img")?.src ?? "";
}

function drawBox() {
  if (!box) {
    box = document.createElement("div");
    box.id = "seal-box";
    box.className = "placed kind-signature seal-box pdf-rect";
    box.tabIndex = 0;
    box.setAttribute("role", "button");
    box.setAttribute("aria-label", t("sign.seal_box"));
    box.setAttribute("aria-describedby", "place-hint seal-position");
    const image = document.createElement("img");
    image.alt = "";
    image.className = "seal-box-image";
    const handle = document.createElement("span");
    handle.className = "resize-handle";
    handle.setAttribute("aria-hidden", "true");
    box.append(image, handle);
    box.addEventListener("pointerdown", (e) => {
      if (e.button !== 0 || !viewer) return;
      e.preventDefault();
      e.stopPropagation();
      box.focus({ preventScroll: true });
      follow(e, { viewer, rect, element: box, min: MIN, across: true, done: set });
    });
    box.addEventListener("keydown", (e) => {
      const next = viewer && (stepped(e, viewer, rect, MIN) ?? paged(e, viewer, rect, MIN));
      if (!next) return;
      const away = next.page !== rect.page;
      set(next);
      // On another page it is out of sight: brought there, as a pointer would have.
      if (away) viewer.reveal(next);
    });
  }
  box.querySelector("img").src = sealImage();
  // Moved to another page, the box leaves one overlay for another, which takes its focus.
  const focused = document.activeElement === box;
  viewer.place(box, rect);
  if (focused && document.activeElement !== box) box.focus({ preventScroll: true });
}

function set(next) {
  rect = next;
  drawBox();
  publish();
  mark("visible", "");
}

/** The seal's size as it shows now, in points (the page may be turned). */
function shownSize() {
  if (!rect) return SIZE;
  const { width, height } = viewer.shown(rect);
  return [width, height];
}

/** A click on a page (not on the box) moves the box there, centred. */
pages.addEventListener("click", (e) => {
  if (!viewer || !visible() || e.target.closest("#seal-box")) return;
  const spot = viewer.locate(e.clientX, e.clientY);
  if (!spot) return;
  set(toRect(viewer, spot.page, centredBox(viewer, spot.page, spot.left, spot.top, shownSize()), MIN));
  box.focus({ preventScroll: true });
});

async function show(file) {
  const mine = ++opened;
  viewer?.destroy();
  viewer = null;
  rect = null;
  box = null;
  publish();
  mark("pdf", "");
  if (!file) {
    pages.replaceChildren(empty);
    return;
  }
  const loading = document.createElement("p");
  loading.className = "hint";
  loading.textContent = t("sign.loading");
  pages.replaceChildren(loading);
  try {
    const bytes = new Uint8Array(await file.arrayBuffer());
    if (String.fromCharCode(...bytes.subarray(0, 5)) !== "%PDF-") throw new Error("not a PDF");
    const shown = await PdfPages.open(pages, bytes, {
      label: file.name,
      pageLabel: (n, total) => `${n} / ${total}`,
    });
    if (mine !== opened) {
      shown.destroy();
      return;
    }
    viewer = shown;
    await viewer.ready;
    // The first place: the lower right of the first page as it shows.
    const first = viewer.element(1);
    const scale = first.clientWidth / viewer.viewport(1).width;
    const [w, h] = SIZE;
    set(toRect(viewer, 1, centredBox(viewer, 1, first.clientWidth - (w / 2 + 36) * scale, first.clientHeight - (h / 2 + 36) * scale, SIZE), MIN));
    form.dataset.ready = "true";
  } catch (e) {
    if (mine !== opened) return;
    console.warn("the PDF could not be shown:", e);
    pages.replaceChildren();
    mark("pdf", t("sign.not_pdf"));
  }
}

function choose(file) {
  const done = show(file);
  loading = done;
  done.finally(() => {
    if (loading === done) loading = null;
  });
}

input.addEventListener("change", () => choose(input.files[0]));
for (const radio of form.querySelectorAll('input[name="mode"]')) radio.addEventListener("change", publish);
for (const radio of form.querySelectorAll('input[name="seal"]')) {
  radio.addEventListener("change", () => box && drawBox());
}

form.addEventListener("submit", (e) => {
  if (!input.files.length) {
    e.preventDefault();
    mark("pdf", t("error.required"));
    input.focus();
    return;
  }
  if (visible() && !hidden.value && loading) {
    // Submitted before the pages showed: sent once the box is placed.
    e.preventDefault();
    loading.then(() => hidden.value && form.requestSubmit());
    return;
  }
  if (visible() && !hidden.value) {
    e.preventDefault();
    mark(viewer ? "visible" : "pdf", viewer ? t("error.placement") : t("sign.not_pdf"));
    return;
  }
  // Signed through the API, so that a refusal (a wrong PIN) keeps the chosen file, its pages
  // and the seal's place; the signed file is then saved as a download.
  e.preventDefault();
  signNow();
});

/** The error line under a field of the page's own form, made when the page has none yet. */
function errorOf(inputId) {
  let error = $(`${inputId}-error`);
  if (!error) {
    error = document.createElement("p");
    error.className = "field-error";
    error.id = `${inputId}-error`;
    $(inputId).insertAdjacentElement("afterend", error);
  }
  $(inputId).setAttribute("aria-describedby", error.id);
  return error;
}

/** What the API's refusal means on this page: next to the PIN, the file, the place, or below. */
async function refused(error) {
  const body = error instanceof Refused ? error.body : {};
  const fields = body.fields || {};
  const pin = $("pin");
  if (pin && (fields.pin || body.error === "pin_locked")) {
    const code = fields.pin?.code || body.error;
    let text = messages[`error.${code}`] || fields.pin?.message || body.message;
    if (code === "pin_wrong") {
      // How many tries are left before signing locks.
      const status = await fetch("/api/me/pin", { credentials: "same-origin" }).then((r) => r.ok ? r.json() : null).catch(() => null);
      const max = Number(form.dataset.pinMax || 0);
      if (status && max) text = t("sign.pin_wrong_left", { left: Math.max(max - status.failures, 0) });
    }
    markNext(pin, errorOf("pin"), text);
    pin.value = "";
    pin.focus();
    return;
  }
  const field = fields.visible ? "visible" : fields.pdf ? "pdf" : null;
  if (field) {
    mark(field, messages[`error.${fields[field].code}`] || fields[field].message);
    return;
  }
  $("sign-status").textContent =
    (body.error && messages[`error.${body.error}`]) || body.message || messages["error.internal"] || "";
}

async function signNow() {
  const status = $("sign-status");
  status.textContent = t("sign.signing");
  if ($("pin")) markNext($("pin"), $("pin-error"), "");
  mark("pdf", "");
  const query = new URLSearchParams();
  if (hidden.value) query.set("visible", hidden.value);
  const reason = $("reason").value.trim();
  if (reason) query.set("reason", reason);
  const seal = form.querySelector('input[name="seal"]:checked')?.value;
  if (seal && hidden.value) query.set("seal", seal);
  const headers = {
    "Content-Type": "application/pdf",
    "X-CSRF-Token": form.querySelector('input[name="csrf"]').value,
  };
  if ($("pin")?.value) headers["X-Inkan-Signing-Pin"] = $("pin").value;
  $("sign-submit").disabled = true;
  try {
    const answer = await fetch(`/api/me/sign?${query}`, {
      method: "POST", credentials: "same-origin", headers, body: input.files[0],
    });
    if (!answer.ok) {
      throw new Refused(answer.status, await answer.json().catch(() => ({})));
    }
    const signed = await answer.blob();
    const link = document.createElement("a");
    link.href = URL.createObjectURL(signed);
    link.download = `${input.files[0].name.replace(/\.pdf$/i, "")}-signed.pdf`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
    status.textContent = t("sign.done");
    if ($("pin")) $("pin").value = "";
  } catch (error) {
    status.textContent = "";
    await refused(error);
  } finally {
    $("sign-submit").disabled = false;
  }
}

// A file chosen before the script ran (the browser's back button keeps it).
if (input.files.length) choose(input.files[0]);
publish();
