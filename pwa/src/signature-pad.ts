/**
 * The on-screen signature pad: a canvas the party or the officer signs with a finger, a stylus
 * or a mouse (pointer events), a 清除 button, and a PNG data URL for
 * `POST /documents/<id>/signatures`.
 *
 * Strokes are kept as points in a fixed design space (DESIGN_WIDTH units across, whatever the
 * pad's size on screen), so a rotation or resize redraws the same signature at the new size,
 * sharp at the device pixel ratio. The canvas is redrawn from the points at most once a frame,
 * through quadratic curves between the midpoints of successive samples (smooth, no corners).
 *
 *     const pad = createSignaturePad({ onChange: (empty) => (ok.disabled = empty) });
 *     form.append(pad.element);
 *     …
 *     const image = pad.toDataURL(); // "data:image/png;base64,…"
 */
import { h } from "./dom";
import { t } from "./i18n";

/** Width of the design space the strokes are stored in; y uses the same unit. */
export const DESIGN_WIDTH = 1000;
/** The server refuses signature images larger than 2000×1000 px. */
export const MAX_BACKING = { width: 2000, height: 1000 } as const;
/** Samples closer than this (design units) to the previous one add nothing but noise. */
export const MIN_STEP = 1.5;
/** Line width in design units: about 3 CSS px on a 340 px wide phone pad. */
export const LINE_WIDTH = 9;

export interface PadPoint {
  x: number;
  y: number;
}
export type Stroke = PadPoint[];

/** One drawing step of a stroke: move, line, quadratic curve (control, end) or a dot. */
export type DrawOp =
  | { op: "move"; x: number; y: number }
  | { op: "line"; x: number; y: number }
  | { op: "curve"; cx: number; cy: number; x: number; y: number }
  | { op: "dot"; x: number; y: number };

/**
 * The smooth path through a stroke's samples: a curve from midpoint to midpoint with each
 * sample as the control point, straight to the first midpoint and from the last one.
 */
export function strokeOps(points: readonly PadPoint[]): DrawOp[] {
  if (points.length === 0) return [];
  const [first] = points;
  if (points.length === 1) return [{ op: "dot", x: first.x, y: first.y }];
  const mid = (a: PadPoint, b: PadPoint) => ({ x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 });
  const last = points[points.length - 1];
  if (points.length === 2) {
    return [
      { op: "move", x: first.x, y: first.y },
      { op: "line", x: last.x, y: last.y },
    ];
  }
  const ops: DrawOp[] = [{ op: "move", x: first.x, y: first.y }];
  const m0 = mid(points[0], points[1]);
  ops.push({ op: "line", x: m0.x, y: m0.y });
  for (let i = 1; i < points.length - 1; i++) {
    const m = mid(points[i], points[i + 1]);
    ops.push({ op: "curve", cx: points[i].x, cy: points[i].y, x: m.x, y: m.y });
  }
  ops.push({ op: "line", x: last.x, y: last.y });
  return ops;
}

/**
 * The canvas's backing store for a CSS size at a device pixel ratio: sharp on the screen, never
 * larger than the server accepts. `scale` is backing pixels per CSS pixel.
 */
export function backingSize(
  cssWidth: number,
  cssHeight: number,
  dpr: number,
): { width: number; height: number; scale: number } {
  const wanted = dpr > 0 && Number.isFinite(dpr) ? dpr : 1;
  const scale = Math.min(
    wanted,
    MAX_BACKING.width / Math.max(cssWidth, 1),
    MAX_BACKING.height / Math.max(cssHeight, 1),
  );
  return {
    width: Math.max(1, Math.floor(cssWidth * scale)),
    height: Math.max(1, Math.floor(cssHeight * scale)),
    scale,
  };
}

type RectLike = Pick<DOMRect, "left" | "top" | "width" | "height">;

interface ActiveStroke {
  pointerId: number;
  stroke: Stroke;
  /** The canvas's position when the stroke began (the page does not scroll while signing). */
  rect: RectLike;
}

export interface SurfaceOptions {
  /** Ink colour (near-black: a signature must stand out on any paper). */
  ink?: string;
  /** Line width in design units. */
  lineWidth?: number;
  /** Called whenever the pad goes from empty to signed or back. */
  onChange?: (empty: boolean) => void;
}

/**
 * The drawing logic on a canvas: pointer input, strokes, redraw, resize, export. One pointer at
 * a time draws (a resting palm or a second finger is ignored); `touch-action: none` on the
 * canvas keeps the page from scrolling while signing.
 */
export class SignatureSurface {
  private strokes: Stroke[] = [];
  private active: ActiveStroke | null = null;
  private css = { width: 0, height: 0 };
  private scale = 1;
  private frame: number | null = null;
  private wasEmpty = true;
  private readonly ink: string;
  private readonly lineWidth: number;
  private readonly listeners: [string, (e: PointerEvent) => void][];

  constructor(
    readonly canvas: HTMLCanvasElement,
    private readonly options: SurfaceOptions = {},
  ) {
    this.ink = options.ink ?? "#0a0a0a";
    this.lineWidth = options.lineWidth ?? LINE_WIDTH;
    this.listeners = [
      ["pointerdown", (e) => this.down(e)],
      ["pointermove", (e) => this.move(e)],
      ["pointerup", (e) => this.up(e, true)],
      ["pointercancel", (e) => this.up(e, false)],
      ["lostpointercapture", (e) => this.up(e, false)],
    ];
    for (const [type, fn] of this.listeners) canvas.addEventListener(type, fn as EventListener);
  }

  /** Size the backing store for the canvas's CSS size and redraw what is signed so far. */
  resize(cssWidth: number, cssHeight: number, dpr: number): void {
    if (cssWidth <= 0 || cssHeight <= 0) return; // not laid out (yet)
    const { width, height, scale } = backingSize(cssWidth, cssHeight, dpr);
    this.css = { width: cssWidth, height: cssHeight };
    this.scale = scale;
    if (this.canvas.width !== width) this.canvas.width = width;
    if (this.canvas.height !== height) this.canvas.height = height;
    this.redraw();
  }

  isEmpty(): boolean {
    return this.strokes.length === 0;
  }

  strokeCount(): number {
    return this.strokes.length;
  }

  /** The strokes in design units (a copy). */
  getStrokes(): Stroke[] {
    return this.strokes.map((s) => s.map((p) => ({ ...p })));
  }

  clear(): void {
    this.strokes = [];
    this.active = null;
    this.redraw();
    this.notify();
  }

  /** The signature as `data:image/png;base64,…` (transparent background, dark ink). */
  toDataURL(): string {
    this.redraw(); // a frame may still be pending
    return this.canvas.toDataURL("image/png");
  }

  destroy(): void {
    for (const [type, fn] of this.listeners) {
      this.canvas.removeEventListener(type, fn as EventListener);
    }
    if (this.frame !== null && typeof cancelAnimationFrame === "function") {
      cancelAnimationFrame(this.frame);
    }
    this.frame = null;
  }

  // --- pointer input ---------------------------------------------------------------------------

  private down(e: PointerEvent): void {
    if (this.active) return; // one writer at a time: ignore a second finger or a palm
    if (e.pointerType === "mouse" && e.button !== 0) return;
    e.preventDefault();
    try {
      this.canvas.setPointerCapture?.(e.pointerId);
    } catch {
      // the pointer may already be gone; drawing works without capture
    }
    const rect = this.canvas.getBoundingClientRect();
    const stroke: Stroke = [this.toDesign(e, rect)];
    this.active = { pointerId: e.pointerId, stroke, rect };
    this.strokes.push(stroke);
    this.schedule();
    this.notify();
  }

  private move(e: PointerEvent): void {
    const active = this.active;
    if (!active || e.pointerId !== active.pointerId) return;
    e.preventDefault();
    // Coalesced events carry the samples the browser merged into this one (fast strokes).
    const samples = e.getCoalescedEvents?.() ?? [];
    for (const sample of samples.length ? samples : [e]) this.add(sample, active);
    this.schedule();
  }

  private up(e: PointerEvent, addLast: boolean): void {
    const active = this.active;
    if (!active || e.pointerId !== active.pointerId) return;
    if (addLast) this.add(e, active);
    this.active = null;
    this.schedule();
  }

  private add(e: { clientX: number; clientY: number }, active: ActiveStroke): void {
    const point = this.toDesign(e, active.rect);
    const last = active.stroke[active.stroke.length - 1];
    if (last && Math.hypot(point.x - last.x, point.y - last.y) < MIN_STEP) return;
    active.stroke.push(point);
  }

  private toDesign(e: { clientX: number; clientY: number }, rect: RectLike): PadPoint {
    const unit = DESIGN_WIDTH / Math.max(rect.width, 1);
    const maxY = rect.height * unit;
    const clamp = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);
    return {
      x: clamp((e.clientX - rect.left) * unit, DESIGN_WIDTH),
      y: clamp((e.clientY - rect.top) * unit, maxY),
    };
  }

  private notify(): void {
    const empty = this.isEmpty();
    if (empty === this.wasEmpty) return;
    this.wasEmpty = empty;
    this.options.onChange?.(empty);
  }

  // --- drawing -------------------------------------------------------------------------------

  private schedule(): void {
    if (typeof requestAnimationFrame !== "function") {
      this.redraw();
      return;
    }
    if (this.frame !== null) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = null;
      this.redraw();
    });
  }

  private redraw(): void {
    const ctx = this.canvas.getContext("2d");
    if (!ctx) return;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    if (this.css.width <= 0) return;
    const k = (this.scale * this.css.width) / DESIGN_WIDTH;
    ctx.setTransform(k, 0, 0, k, 0, 0);
    ctx.lineWidth = this.lineWidth;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.strokeStyle = this.ink;
    ctx.fillStyle = this.ink;
    for (const stroke of this.strokes) {
      ctx.beginPath();
      for (const step of strokeOps(stroke)) {
        if (step.op === "dot") {
          ctx.arc(step.x, step.y, this.lineWidth / 2, 0, Math.PI * 2);
          ctx.fill();
        } else if (step.op === "move") {
          ctx.moveTo(step.x, step.y);
        } else if (step.op === "line") {
          ctx.lineTo(step.x, step.y);
        } else {
          ctx.quadraticCurveTo(step.cx, step.cy, step.x, step.y);
        }
      }
      if (stroke.length > 1) ctx.stroke();
    }
  }
}

export interface SignaturePad {
  element: HTMLElement;
  surface: SignatureSurface;
  isEmpty(): boolean;
  clear(): void;
  toDataURL(): string;
  /** Stop observing the size; call when the pad leaves the page. */
  destroy(): void;
}

/** A signing area (framed canvas with a baseline and a hint) and its 清除 button. */
export function createSignaturePad({
  label = t("sig_area"),
  onChange,
}: { label?: string; onChange?: (empty: boolean) => void } = {}): SignaturePad {
  const canvas = h("canvas", {
    class: "sig-canvas",
    role: "img",
    "aria-label": label,
    "data-testid": "sig-canvas",
  });
  const hint = h("span", { class: "sig-hint", "aria-hidden": "true" }, t("sig_hint"));
  const frame = h("div", { class: "sig-frame" }, hint, canvas);
  const clearButton = h(
    "button",
    { type: "button", class: "btn sig-clear", "data-testid": "sig-clear", disabled: true },
    t("sig_clear"),
  );
  const surface = new SignatureSurface(canvas, {
    onChange: (empty) => {
      hint.hidden = !empty;
      clearButton.disabled = empty;
      onChange?.(empty);
    },
  });
  clearButton.addEventListener("click", () => surface.clear());
  const fit = () => surface.resize(frame.clientWidth, frame.clientHeight, devicePixelRatio);
  const observer = typeof ResizeObserver === "function" ? new ResizeObserver(fit) : null;
  observer?.observe(frame);
  // The pixel ratio changes without a size change when the page is zoomed.
  window.addEventListener("resize", fit);
  const element = h("div", { class: "sig-pad" }, frame, h("div", { class: "row" }, clearButton));
  return {
    element,
    surface,
    isEmpty: () => surface.isEmpty(),
    clear: () => surface.clear(),
    toDataURL: () => surface.toDataURL(),
    destroy: () => {
      observer?.disconnect();
      window.removeEventListener("resize", fit);
      surface.destroy();
    },
  };
}
