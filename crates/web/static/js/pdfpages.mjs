// A PDF's pages in the browser, on PDF.js: each page fitted to the container's width, rendered
// when it comes near the screen (the first at once), with an overlay on which rectangles given in
// PDF user-space points are drawn, and the way back from a rectangle on the screen to points.
//
// Rectangles are as the contract API stores fields: { page (from 1), x, y, width, height } in
// the page's default user space (origin at the lower left, before /Rotate; the crop box may start
// anywhere). PDF.js's viewport maps that space to the screen with the page's rotation and crop
// box, so the same conversion serves drawing (toScreen) and placing (toPdf), for pages turned by
// /Rotate 90, 180 or 270 and for pages of different sizes in one file.
//
//   const doc = await PdfPages.open(container, "/api/…/pdf", { label: "契約書" });
//   await doc.ready;                       // the first page is painted
//   await doc.laidOut;                     // every page has its size
//   const el = doc.draw({ page: 1, x: 60, y: 60, width: 180, height: 70 }, { className: "mine" });
//   doc.toPdf(1, { left, top, width, height })  // CSS pixels within the page → points
//   doc.shown(rect)                        // points → where it shows, in points from the top left

const here = import.meta.url;
const urls = {
  module: new URL("../vendor/pdfjs/pdf.min.mjs", here).href,
  worker: new URL("../vendor/pdfjs/pdf.worker.min.mjs", here).href,
  cmaps: new URL("../vendor/pdfjs/cmaps/", here).href,
};
let library = null;
/** One worker parses every document of the page. */
let worker = null;

/** Where PDF.js is (a page passes its versioned URLs, which browsers cache for long). */
export function configure({ module, worker, cmaps } = {}) {
  if (library) throw new Error("PDF.js is loaded already");
  Object.assign(urls, Object.fromEntries(
    Object.entries({ module, worker, cmaps }).filter(([, v]) => v),
  ));
}

/** PDF.js, loaded on first use. */
export function pdfjs() {
  library ??= import(urls.module).then((lib) => {
    lib.GlobalWorkerOptions.workerSrc = urls.worker;
    return lib;
  });
  return library;
}

/** A rectangle in points → a box { left, top, width, height } in the viewport's pixels. */
export function toViewport(viewport, rect) {
  const [x1, y1] = viewport.convertToViewportPoint(rect.x, rect.y);
  const [x2, y2] = viewport.convertToViewportPoint(rect.x + rect.width, rect.y + rect.height);
  return {
    left: Math.min(x1, x2),
    top: Math.min(y1, y2),
    width: Math.abs(x2 - x1),
    height: Math.abs(y2 - y1),
  };
}

/** A box in the viewport's pixels → a rectangle { x, y, width, height } in points. */
export function fromViewport(viewport, box) {
  const [x1, y1] = viewport.convertToPdfPoint(box.left, box.top);
  const [x2, y2] = viewport.convertToPdfPoint(box.left + box.width, box.top + box.height);
  return {
    x: Math.min(x1, x2),
    y: Math.min(y1, y2),
    width: Math.abs(x2 - x1),
    height: Math.abs(y2 - y1),
  };
}

/** Canvases no larger than this many pixels (phones refuse huge ones). */
const MAX_PIXELS = 8_000_000;
/** Pages this far outside the screen are rendered ahead, and beyond it their canvas is freed. */
const AHEAD = "150% 0px";

/** One document's pages in a container. */
export class PdfPages {
  /**
   * Loads the PDF at `source` (its URL, or its bytes as a Uint8Array) into `container`
   * (emptied). Resolves once the document is open;
   * `ready` then waits for the first page's paint and `laidOut` for every page's size.
   * `label` names the document in the pages' accessible names.
   */
  static async open(container, source, { label = "", pageLabel = (n, total) => `${n} / ${total}` } = {}) {
    const lib = await pdfjs();
    worker ??= new lib.PDFWorker({ name: "inkan-pdf" });
    const task = lib.getDocument({
      ...(source instanceof Uint8Array ? { data: source } : { url: source }),
      worker,
      cMapUrl: urls.cmaps,
      cMapPacked: true,
      useWasm: false,
      verbosity: lib.VerbosityLevel.ERRORS,
    });
    const pdf = await task.promise;
    return new PdfPages(container, pdf, { label, pageLabel });
  }

  constructor(container, pdf, { label, pageLabel }) {
    this.container = container;
    this.pdf = pdf;
    this.count = pdf.numPages;
    this.pages = [];
    container.replaceChildren();
    container.classList.add("pdf-pages");
    for (let n = 1; n <= this.count; n++) {
      const element = document.createElement("div");
      element.className = "pdf-page";
      element.dataset.page = String(n);
      const canvas = document.createElement("canvas");
      canvas.setAttribute("role", "img");
      canvas.setAttribute("aria-label", `${label} ${pageLabel(n, this.count)}`.trim());
      const overlay = document.createElement("div");
      overlay.className = "pdf-overlay";
      element.append(canvas, overlay);
      container.append(element);
      // `base` is the page's viewport at scale 1: its size in points, turned by /Rotate.
      this.pages.push({ n, element, canvas, overlay, proxy: null, base: null, task: null, painted: 0, done: null, failed: null });
    }
    this.visible = new Set();
    this.observer = new IntersectionObserver((entries) => this.#seen(entries), { rootMargin: AHEAD });
    this.resizing = new ResizeObserver(() => this.#resized());
    this.width = container.clientWidth;
    let firstLaidOut;
    const first = new Promise((resolve) => { firstLaidOut = resolve; });
    this.laidOut = this.#layout(firstLaidOut);
    this.ready = Promise.race([first, this.laidOut]).then(() => this.#paint(this.pages[0]));
    this.resizing.observe(container);
  }

  /** Every page's size, the first first (so it paints at once), then the others in order. */
  async #layout(firstLaidOut) {
    for (const page of this.pages) {
      page.proxy = await this.pdf.getPage(page.n);
      page.base = page.proxy.getViewport({ scale: 1 });
      page.element.style.aspectRatio = `${page.base.width} / ${page.base.height}`;
      page.element.style.setProperty("--page-width", String(page.base.width));
      this.observer.observe(page.element);
      if (page.n === 1) {
        // Until their sizes are known the others take the first's shape, so the scrollbar
        // barely moves.
        for (const other of this.pages.slice(1)) {
          other.element.style.aspectRatio = page.element.style.aspectRatio;
        }
        firstLaidOut();
      }
    }
  }

  #seen(entries) {
    for (const entry of entries) {
      const page = this.pages[Number(entry.target.dataset.page) - 1];
      if (entry.isIntersecting) {
        this.visible.add(page);
        this.#paint(page);
      } else if (this.visible.delete(page)) {
        // Only a page leaving the screen's reach is freed: the observer's first report on a
        // page that was never near it must not cancel a render(n) asked for meanwhile.
        this.#free(page);
      }
    }
  }

  #resized() {
    const width = this.container.clientWidth;
    if (Math.abs(width - this.width) < 1) return;
    this.width = width;
    clearTimeout(this.repaint);
    this.repaint = setTimeout(() => {
      for (const page of this.pages) page.painted = 0;
      for (const page of this.visible) this.#paint(page);
    }, 150);
  }

  /** Renders `page` at the width it is shown, unless it is already; resolves when painted. */
  #paint(page) {
    if (!page.base) return Promise.resolve();
    const ratio = Math.min(window.devicePixelRatio || 1, 2);
    let width = Math.max(1, Math.round(page.element.clientWidth * ratio));
    let height = Math.round((width * page.base.height) / page.base.width);
    if (width * height > MAX_PIXELS) {
      const shrink = Math.sqrt(MAX_PIXELS / (width * height));
      width = Math.floor(width * shrink);
      height = Math.floor(height * shrink);
    }
    if (page.painted === width) return page.done;
    page.task?.cancel();
    page.painted = width;
    page.failed = null;
    // Painted off screen, then swapped in: a canvas resized in place blinks white.
    const canvas = document.createElement("canvas");
    canvas.width = width;
    canvas.height = height;
    const viewport = page.proxy.getViewport({ scale: width / page.base.width });
    const task = page.proxy.render({ canvas, viewport });
    page.task = task;
    page.done = task.promise.then(
      () => {
        for (const name of ["role", "aria-label"]) canvas.setAttribute(name, page.canvas.getAttribute(name));
        page.canvas.replaceWith(canvas);
        page.canvas = canvas;
        page.element.classList.add("painted");
      },
      (e) => {
        if (e?.name === "RenderingCancelledException") return;
        page.painted = 0;
        page.failed = e;
        console.error(`page ${page.n}:`, e);
      },
    ).finally(() => {
      if (page.task === task) page.task = null;
    });
    return page.done;
  }

  /** A page far from the screen gives back its canvas's memory. */
  #free(page) {
    page.task?.cancel();
    if (!page.painted) return;
    page.painted = 0;
    page.canvas.width = 0;
    page.canvas.height = 0;
    page.element.classList.remove("painted");
  }

  /** Renders page `n` now, wherever it is (resolves when painted). */
  async render(n) {
    await this.laidOut;
    const page = this.pages[n - 1];
    // A paint cancelled on the way (the width changed, the page was freed) resolves unpainted:
    // paint again until the page shows at its current width.
    for (;;) {
      const done = this.#paint(page);
      await done;
      if (page.failed) throw page.failed;
      if (page.done === done && !page.task && page.painted) return;
    }
  }

  /** The page's viewport at scale 1, once laid out. */
  viewport(n) {
    const page = this.pages[n - 1];
    if (!page?.base) throw new RangeError(`no page ${n} (or not laid out yet)`);
    return page.base;
  }

  /** The page's element (its overlay is `.pdf-overlay` inside). */
  element(n) {
    return this.pages[n - 1]?.element;
  }

  /** A rectangle in points → its box in CSS pixels within the page as shown now. */
  toScreen(rect) {
    const scale = this.element(rect.page).clientWidth / this.viewport(rect.page).width;
    const box = toViewport(this.viewport(rect.page), rect);
    return { left: box.left * scale, top: box.top * scale, width: box.width * scale, height: box.height * scale };
  }

  /**
   * Where a rectangle in points shows: { left, top, width, height } in points from the top left
   * corner of its page as shown (turned by /Rotate, from the crop box), whatever the zoom.
   */
  shown(rect) {
    return toViewport(this.viewport(rect.page), rect);
  }

  /** A box in CSS pixels within page `n` as shown now → a rectangle { page, x, y, width, height } in points. */
  toPdf(n, box) {
    const scale = this.element(n).clientWidth / this.viewport(n).width;
    const points = fromViewport(this.viewport(n), {
      left: box.left / scale,
      top: box.top / scale,
      width: box.width / scale,
      height: box.height / scale,
    });
    return { page: n, ...points };
  }

  /** A point of the window (a pointer event's clientX/Y) → the page under it and the point there in CSS pixels, or null. */
  locate(clientX, clientY) {
    for (const page of this.pages) {
      const r = page.element.getBoundingClientRect();
      if (clientX >= r.left && clientX <= r.right && clientY >= r.top && clientY <= r.bottom) {
        return { page: page.n, left: clientX - r.left, top: clientY - r.top };
      }
    }
    return null;
  }

  /**
   * Puts `element` over the rectangle (in points) on its page's overlay, placed in percentages of
   * the page so that it stays in place when the page is shown at another width.
   */
  place(element, rect) {
    const base = this.viewport(rect.page);
    const box = toViewport(base, rect);
    element.style.left = `${(100 * box.left) / base.width}%`;
    element.style.top = `${(100 * box.top) / base.height}%`;
    element.style.width = `${(100 * box.width) / base.width}%`;
    element.style.height = `${(100 * box.height) / base.height}%`;
    const overlay = this.element(rect.page).querySelector(".pdf-overlay");
    if (element.parentNode !== overlay) overlay.append(element);
    return element;
  }

  /** A new element (`tag`, default a div, with `className`) drawn over the rectangle. */
  draw(rect, { tag = "div", className = "" } = {}) {
    const element = document.createElement(tag);
    if (className) element.className = className;
    element.classList.add("pdf-rect");
    return this.place(element, rect);
  }

  /** Scrolls so that the rectangle is in the middle of the screen. */
  reveal(rect, { smooth = true } = {}) {
    const element = this.element(rect.page);
    const box = this.toScreen(rect);
    const top = element.getBoundingClientRect().top + window.scrollY + box.top + box.height / 2;
    window.scrollTo({ top: Math.max(0, top - window.innerHeight / 2), behavior: smooth ? "smooth" : "auto" });
  }

  /** Stops observing and lets PDF.js go. */
  destroy() {
    this.observer.disconnect();
    this.resizing.disconnect();
    for (const page of this.pages) page.task?.cancel();
    this.pdf.destroy();
  }
}
