// A contract's page (/contracts/{id} once sent, and any contract an administrator reads): each
// document's preview, rendered with pdfpages.mjs when its 「プレビュー」 is opened, with the
// parties' fields drawn in their colours; and, while the contract is with its parties, the
// parties' statuses kept current (asked again every 15 seconds; the page reloads when the
// contract itself moves on, to show its downloads).

import { configure, PdfPages } from "./pdfpages.mjs";

const root = document.getElementById("contract");
const contractId = root.dataset.contract;
const messages = JSON.parse(root.dataset.messages || "{}");
const fields = JSON.parse(root.dataset.fields || "[]");
const colours = JSON.parse(root.dataset.parties || "{}");
configure({ module: root.dataset.pdfjs, worker: root.dataset.pdfjsWorker });

const t = (key, vars = {}) =>
  Object.entries(vars).reduce((text, [k, v]) => text.replaceAll(`{${k}}`, String(v)), messages[key] ?? key);

for (const preview of document.querySelectorAll("details.preview")) {
  let opened = false;
  preview.addEventListener("toggle", async () => {
    if (!preview.open || opened) return;
    opened = true;
    const container = preview.querySelector(".pdf-pages");
    try {
      const viewer = await PdfPages.open(container, preview.dataset.url, {
        label: preview.dataset.name,
        pageLabel: (n, total) => t("party.page_of", { n, total }),
      });
      await viewer.laidOut;
      // Outlines in the parties' colours (the PDF, once sent, draws the fields itself; a
      // completed one its signatures).
      if (root.dataset.status !== "completed") {
        for (const field of fields.filter((f) => f.document_id === preview.dataset.document)) {
          const box = viewer.draw(field, { className: `placed readonly outline kind-${field.kind} party-c${colours[field.party_id] ?? 0}` });
          box.title = field.label || t(`party.field_kind.${field.kind}`);
          box.setAttribute("aria-hidden", "true");
        }
      }
      preview.dataset.rendered = "true";
    } catch (e) {
      console.error(e);
      opened = false;
      const p = document.createElement("p");
      p.className = "pdf-status field-error";
      p.textContent = t("party.loading_failed");
      container.replaceChildren(p);
    }
  });
}

async function refresh() {
  let contract;
  try {
    const response = await fetch(`/api/contracts/${contractId}`, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) return true;
    contract = await response.json();
  } catch {
    return true;
  }
  if (contract.status !== root.dataset.status) {
    location.reload();
    return false;
  }
  let changed = false;
  for (const party of contract.parties) {
    const cell = document.getElementById(`party-status-${party.id}`);
    if (!cell || cell.classList.contains(`status-${party.status}`)) continue;
    cell.className = `party-status status-${party.status}`;
    cell.textContent = t(`party.status.${party.status}`);
    changed = true;
  }
  if (changed) document.getElementById("live-note").textContent = t("contract.live_updated");
  return true;
}

if (root.dataset.status === "sent") {
  const timer = setInterval(async () => {
    if (document.hidden) return;
    if (!(await refresh())) clearInterval(timer);
  }, 15000);
}
