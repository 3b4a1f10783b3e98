// Placing a rectangle on a page shown by pdfpages.mjs: the pointer moves it (or resizes it from
// its `.resize-handle`), the arrow keys step it, and every result is a rectangle in the page's
// points kept inside its crop box and no smaller than a minimum. Shared by the preparation
// wizard (a contract's fields) and the signing screen (the seal's place).
//
// `min` is the smallest [width, height] in the page's own points (as the contract API checks
// them); on a page turned by /Rotate 90 or 270 they show swapped.

/** Rounding to 0.01 pt, inwards: down for sizes, up for corners. */
export const down = (v) => Math.floor(v * 100 + 1e-6) / 100;
export const up = (v) => Math.ceil(v * 100 - 1e-6) / 100;

/** Page `n`'s crop box in points, and the smallest size as it shows on the screen. */
export function limits(viewer, n, min) {
  const viewport = viewer.viewport(n);
  const turned = viewport.rotation % 180 !== 0;
  return { box: viewport.viewBox, min: turned ? [min[1], min[0]] : [min[0], min[1]] };
}

/**
 * A box on page `n` in CSS pixels → a rectangle in points: inside the page's crop box, at least
 * `min`, at 0.01 pt (rounded inwards, so that it stays on the page).
 */
export function toRect(viewer, n, box, min) {
  const rect = viewer.toPdf(n, box);
  const { box: [llx, lly, urx, ury] } = limits(viewer, n, min);
  const [min_w, min_h] = min;
  let width = Math.min(Math.max(rect.width, min_w), urx - llx);
  let height = Math.min(Math.max(rect.height, min_h), ury - lly);
  let x = Math.min(Math.max(rect.x, llx), urx - width);
  let y = Math.min(Math.max(rect.y, lly), ury - height);
  x = up(x);
  y = up(y);
  width = down(Math.min(width, urx - x - 0.001));
  height = down(Math.min(height, ury - y - 0.001));
  return { page: n, x, y, width, height };
}

/** `rect` moved to `box` (CSS pixels): its place from the box, its size as it was. */
export function moved(viewer, rect, box, min) {
  const at = toRect(viewer, rect.page, box, min);
  const { box: [llx, lly, urx, ury] } = limits(viewer, rect.page, min);
  const x = up(Math.min(Math.max(at.x, llx), urx - rect.width - 0.001));
  const y = up(Math.min(Math.max(at.y, lly), ury - rect.height - 0.001));
  return { page: rect.page, x, y, width: rect.width, height: rect.height };
}

/** Keeps a box (CSS pixels) inside its page element. */
export function clampBox(box, element) {
  const w = element.clientWidth;
  const h = element.clientHeight;
  const width = Math.min(box.width, w);
  const height = Math.min(box.height, h);
  return {
    left: Math.min(Math.max(box.left, 0), w - width),
    top: Math.min(Math.max(box.top, 0), h - height),
    width,
    height,
  };
}

/** A box of `width` × `height` points centred at a point of page `n` (CSS pixels), kept on the page. */
export function centredBox(viewer, n, left, top, [width, height]) {
  const element = viewer.element(n);
  const scale = element.clientWidth / viewer.viewport(n).width;
  return clampBox({
    left: left - (width * scale) / 2,
    top: top - (height * scale) / 2,
    width: width * scale,
    height: height * scale,
  }, element);
}

/**
 * Follows the pointer from `e` (a pointerdown on `element`, the rectangle drawn over `rect`):
 * moves the element with it, or resizes it when `e` started on its `.resize-handle`; when the
 * pointer is let go, calls `done` with the new rectangle (not when it barely moved). With
 * `across`, a move let go over another page lands there, as it was held.
 */
export function follow(e, { viewer, rect, element, min, done, across = false }) {
  const page = viewer.element(rect.page);
  const resizing = e.target.classList.contains("resize-handle");
  const shown = viewer.toScreen(rect);
  const start = { x: e.clientX, y: e.clientY, ...shown };
  const pageAt = page.getBoundingClientRect();
  /** Where the box was taken hold of, from its top left corner (CSS pixels). */
  const held = [start.x - pageAt.left - shown.left, start.y - pageAt.top - shown.top];
  const { min: least } = limits(viewer, rect.page, min);
  const scale = page.clientWidth / viewer.viewport(rect.page).width;
  let box = null;
  element.setPointerCapture(e.pointerId);
  element.classList.add("moving");
  const move = (m) => {
    const dx = m.clientX - start.x;
    const dy = m.clientY - start.y;
    if (!box && Math.hypot(dx, dy) < 2) return;
    box = resizing
      ? {
          left: start.left,
          top: start.top,
          width: Math.min(Math.max(start.width + dx, least[0] * scale), page.clientWidth - start.left),
          height: Math.min(Math.max(start.height + dy, least[1] * scale), page.clientHeight - start.top),
        }
      : clampBox({ left: start.left + dx, top: start.top + dy, width: start.width, height: start.height }, page);
    element.style.left = `${box.left}px`;
    element.style.top = `${box.top}px`;
    element.style.width = `${box.width}px`;
    element.style.height = `${box.height}px`;
  };
  const release = (r) => {
    element.removeEventListener("pointermove", move);
    element.removeEventListener("pointerup", release);
    element.removeEventListener("pointercancel", release);
    element.classList.remove("moving");
    if (!box) return;
    const there = across && r.type === "pointerup" && !resizing ? viewer.locate(r.clientX, r.clientY) : null;
    if (there && there.page !== rect.page) {
      // Held at the same spot of the box, and the same size in points as it shows.
      const other = viewer.element(there.page);
      const ratio = other.clientWidth / viewer.viewport(there.page).width / scale;
      const landed = clampBox({
        left: there.left - held[0] * ratio,
        top: there.top - held[1] * ratio,
        width: shown.width * ratio,
        height: shown.height * ratio,
      }, other);
      done(toRect(viewer, there.page, landed, min));
      return;
    }
    done(resizing ? toRect(viewer, rect.page, box, min) : moved(viewer, rect, box, min));
  };
  element.addEventListener("pointermove", move);
  element.addEventListener("pointerup", release);
  element.addEventListener("pointercancel", release);
}

const ARROWS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

/**
 * An arrow key on the rectangle: moved by a point (Shift: 10), resized with Alt. Answers the new
 * rectangle (the key's default prevented), or null for any other key.
 */
export function stepped(e, viewer, rect, min) {
  const arrow = ARROWS[e.key];
  if (!arrow) return null;
  e.preventDefault();
  const page = viewer.element(rect.page);
  const scale = page.clientWidth / viewer.viewport(rect.page).width;
  const step = (e.shiftKey ? 10 : 1) * scale;
  const box = viewer.toScreen(rect);
  if (e.altKey) {
    const { min: least } = limits(viewer, rect.page, min);
    return toRect(viewer, rect.page, {
      left: box.left,
      top: box.top,
      width: Math.min(Math.max(box.width + arrow[0] * step, least[0] * scale), page.clientWidth - box.left),
      height: Math.min(Math.max(box.height + arrow[1] * step, least[1] * scale), page.clientHeight - box.top),
    }, min);
  }
  const next = clampBox({ left: box.left + arrow[0] * step, top: box.top + arrow[1] * step, width: box.width, height: box.height }, page);
  return moved(viewer, rect, next, min);
}
