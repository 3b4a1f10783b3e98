// What the pages' scripts do with a refusal of Inkan's JSON API: the error that carries it, its
// wording in the page's language (the API's own messages are English; the page hands its script
// the texts), and where it is shown — each field problem next to its field, the rest on the
// action's own error line or the page's summary, with the focus on the first. Shared by the
// preparation wizard (prepare.mjs), the signing page (party.mjs) and self-signing (sign.mjs).

/** A refusal of the API: its status and JSON body ({ error, message, fields }). */
export class Refused extends Error {
  constructor(status, body) {
    super(body?.message || String(status));
    this.status = status;
    this.body = body || {};
  }
}

/**
 * `say(code, fallback)` for a page: the text of an API code from the page's `messages` (found
 * under `prefix` + code), else the API's English `fallback`, else `otherwise`.
 */
export function sayer(messages, { prefix = "", otherwise }) {
  return (code, fallback) => messages[`${prefix}${code}`] || fallback || otherwise;
}

/** Shows (or, with an empty message, hides) an error next to `input`. */
export function mark(input, errorElement, message) {
  if (errorElement) {
    errorElement.textContent = message || "";
    errorElement.hidden = !message;
  }
  if (input) {
    if (message) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
    input.closest(".field")?.classList.toggle("has-error", Boolean(message));
  }
}

/**
 * A page's `report(error, { targets, near })`: shows a refusal where it belongs — each field
 * problem next to its field (`targets`: API field name → [input, error element]), a refusal about
 * one of them without field details (a wrong code, a locked PIN) next to it, anything else on
 * `near` (the action's own error line) or on `summary` — and focuses the first place it wrote
 * to. With `centre` that place is first scrolled to the middle of the screen; without, focusing
 * scrolls only as far as needed (the wizard's error lines sit in its sticky palette, already in
 * view).
 */
export function reporter({ say, summary, centre = false }) {
  return (error, { targets = {}, near = summary } = {}) => {
    if (!(error instanceof Refused)) {
      console.error(error);
      error = new Refused(0, {});
    }
    const { fields = {}, error: code, message } = error.body;
    let first = null;
    const rest = [];
    for (const [name, problem] of Object.entries(fields)) {
      const target = targets[name];
      const text = say(problem.code, problem.message);
      if (target) {
        mark(target[0], target[1], text);
        first ??= target[0] || target[1];
      } else {
        rest.push(text);
      }
    }
    const direct = targets[code];
    if (!Object.keys(fields).length && direct) {
      mark(direct[0], direct[1], say(code, message));
      first = direct[0] || direct[1];
    } else if (rest.length || !Object.keys(fields).length) {
      near.textContent = rest.length ? rest.join(" ") : say(code, message);
      near.hidden = false;
      first ??= near;
    }
    if (!first) return;
    if (!first.matches("input, select, textarea, button")) first.setAttribute("tabindex", "-1");
    if (centre) first.scrollIntoView({ block: "center" });
    first.focus({ preventScroll: centre });
  };
}
