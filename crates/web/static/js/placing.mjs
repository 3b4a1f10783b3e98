// Placing a rectangle on a page shown by pdfpages.mjs: the pointer moves it (or resizes it from
// its `.resize-handle`), the arrow keys step it, PageUp and PageDown take it to another page, and
// every result is a rectangle in the page's points kept inside its crop box and no smaller than a
// minimum. Shared by the preparation wizard (a contract's fields) and the signing screen (the
// seal's place).
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

/** CSS pixels per point on page `n` as it is shown now. */
function scaleOf(viewer, n) {
  return viewer.element(n).clientWidth / viewer.viewport(n).width;
}

/**
 * The box (CSS pixels of page `n`) that `rect` takes on page `n` with its top left corner at
 * (`left`, `top`): the same size in points as it shows on its own page, kept on page `n`.
 */
function carried(viewer, rect, n, left, top) {
  const shown = viewer.toScreen(rect);
  const ratio = scaleOf(viewer, n) / scaleOf(viewer, rect.page);
  return clampBox({ left, top, width: shown.width * ratio, height: shown.height * ratio }, viewer.element(n));
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
  const scale = scaleOf(viewer, n);
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
 * `across`, a move held over another page shows there and, let go, lands there as it was held.
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
  const scale = scaleOf(viewer, rect.page);
  let box = null;
  element.setPointerCapture(e.pointerId);
  element.classList.add("moving");
  /** With `across`, the other page under the pointer and the box there, held at the same spot. */
  const elsewhere = (m) => {
    if (!across || resizing) return null;
    const there = viewer.locate(m.clientX, m.clientY);
    if (!there || there.page === rect.page) return null;
    const ratio = scaleOf(viewer, there.page) / scale;
    return { page: there.page, box: carried(viewer, rect, there.page, there.left - held[0] * ratio, there.top - held[1] * ratio) };
  };
  const show = ({ left, top, width, height }) => {
    element.style.left = `${left}px`;
    element.style.top = `${top}px`;
    element.style.width = `${width}px`;
    element.style.height = `${height}px`;
  };
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
    const away = elsewhere(m);
    if (!away) {
      show(box);
      return;
    }
    // Still in its own page's overlay (moving it would lose the pointer capture), so placed
    // from there over the other page.
    const from = page.getBoundingClientRect();
    const to = viewer.element(away.page).getBoundingClientRect();
    show({ ...away.box, left: away.box.left + to.left - from.left, top: away.box.top + to.top - from.top });
  };
  const release = (r) => {
    element.removeEventListener("pointermove", move);
    element.removeEventListener("pointerup", release);
    element.removeEventListener("pointercancel", release);
    element.classList.remove("moving");
    if (!box) return;
    const away = r.type === "pointerup" ? elsewhere(r) : null;
    if (away) done(toRect(viewer, away.page, away.box, min));
    else done(resizing ? toRect(viewer, rect.page, box, min) : moved(viewer, rect, box, min));
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
  const scale = scaleOf(viewer, rect.page);
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

const PAGE_KEYS = { PageUp: -1, PageDown: 1 };

/**
 * PageUp or PageDown on the rectangle: moved to the previous or next page, to the same place
 * from the top left corner of the page as it shows and at the same size as it shows (kept on
 * the page). Answers the new rectangle, or null for any other key and on the first or last page
 * (whose key still does not scroll the window away from the field).
 */
export function paged(e, viewer, rect, min) {
  const step = PAGE_KEYS[e.key];
  if (!step || e.altKey || e.ctrlKey || e.metaKey) return null;
  e.preventDefault();
  const n = rect.page + step;
  if (n < 1 || n > viewer.count) return null;
  const shown = viewer.toScreen(rect);
  const ratio = scaleOf(viewer, n) / scaleOf(viewer, rect.page);
  return toRect(viewer, n, carried(viewer, rect, n, shown.left * ratio, shown.top * ratio), min);
}
