import { describe, expect, it, vi } from "vitest";
import {
  DESIGN_WIDTH,
  LINE_WIDTH,
  SignatureSurface,
  backingSize,
  strokeOps,
} from "../src/signature-pad";

type Call = [string, ...unknown[]];

/** A canvas stand-in: records the 2D calls and lets the test fire pointer events. */
function fakeCanvas(rect = { left: 10, top: 20, width: 300, height: 150 }) {
  const calls: Call[] = [];
  const record =
    (name: string) =>
    (...args: unknown[]) =>
      calls.push([name, ...args]);
  const ctx = {
    setTransform: record("setTransform"),
    clearRect: record("clearRect"),
    beginPath: record("beginPath"),
    moveTo: record("moveTo"),
    lineTo: record("lineTo"),
    quadraticCurveTo: record("quadraticCurveTo"),
    stroke: record("stroke"),
    arc: record("arc"),
    fill: record("fill"),
    lineWidth: 0,
    lineCap: "",
    lineJoin: "",
    strokeStyle: "",
    fillStyle: "",
  };
  const listeners = new Map<string, (e: unknown) => void>();
  const captured: number[] = [];
  const exported: string[] = [];
  const canvas = {
    width: 300,
    height: 150,
    getContext: () => ctx,
    getBoundingClientRect: () => rect,
    toDataURL: (type: string) => {
      exported.push(type);
      return `data:${type};base64,iVBORw0KGgo=`;
    },
    addEventListener: (type: string, fn: (e: unknown) => void) => listeners.set(type, fn),
    removeEventListener: (type: string) => listeners.delete(type),
    setPointerCapture: (id: number) => captured.push(id),
  };
  /** Fire a pointer event at page coordinates (x, y); returns the event. */
  const fire = (type: string, x: number, y: number, init: Record<string, unknown> = {}) => {
    const event = {
      pointerId: 1,
      pointerType: "touch",
      isPrimary: true,
      button: 0,
      clientX: x,
      clientY: y,
      preventDefault: vi.fn(),
      ...init,
    };
    listeners.get(type)?.(event);
    return event;
  };
  return {
    canvas: canvas as unknown as HTMLCanvasElement,
    raw: canvas,
    ctx,
    calls,
    listeners,
    captured,
    exported,
    fire,
  };
}

describe("strokeOps", () => {
  it("draws a tap as a dot and two samples as a line", () => {
    expect(strokeOps([])).toEqual([]);
    expect(strokeOps([{ x: 5, y: 6 }])).toEqual([{ op: "dot", x: 5, y: 6 }]);
    expect(
      strokeOps([
        { x: 0, y: 0 },
        { x: 10, y: 0 },
      ]),
    ).toEqual([
      { op: "move", x: 0, y: 0 },
      { op: "line", x: 10, y: 0 },
    ]);
  });

  it("curves from midpoint to midpoint with each sample as the control point", () => {
    const ops = strokeOps([
      { x: 0, y: 0 },
      { x: 10, y: 0 },
      { x: 10, y: 10 },
      { x: 20, y: 10 },
    ]);
    expect(ops).toEqual([
      { op: "move", x: 0, y: 0 },
      { op: "line", x: 5, y: 0 },
      { op: "curve", cx: 10, cy: 0, x: 10, y: 5 },
      { op: "curve", cx: 10, cy: 10, x: 15, y: 10 },
      { op: "line", x: 20, y: 10 },
    ]);
  });
});

describe("backingSize", () => {
  it("is sharp at the device pixel ratio", () => {
    expect(backingSize(340, 170, 3)).toEqual({ width: 1020, height: 510, scale: 3 });
    expect(backingSize(340, 170, 1)).toEqual({ width: 340, height: 170, scale: 1 });
  });

  it("never exceeds what the server accepts (2000×1000)", () => {
    const big = backingSize(900, 450, 3);
    expect(big.width).toBeLessThanOrEqual(2000);
    expect(big.height).toBeLessThanOrEqual(1000);
    expect(big.width).toBe(2000);
  });

  it("treats a missing or odd ratio as 1", () => {
    expect(backingSize(300, 150, 0).scale).toBe(1);
    expect(backingSize(300, 150, Number.NaN).scale).toBe(1);
  });
});

describe("SignatureSurface", () => {
  it("draws a touch stroke in design units, scaled for the pixel ratio", () => {
    const f = fakeCanvas();
    const changes: boolean[] = [];
    const pad = new SignatureSurface(f.canvas, { onChange: (empty) => changes.push(empty) });
    pad.resize(300, 150, 2);
    expect([f.raw.width, f.raw.height]).toEqual([600, 300]);
    expect(pad.isEmpty()).toBe(true);

    const down = f.fire("pointerdown", 10 + 30, 20 + 30);
    expect(down.preventDefault).toHaveBeenCalled(); // no scrolling or mouse emulation
    expect(f.captured).toEqual([1]);
    expect(pad.isEmpty()).toBe(false);
    expect(changes).toEqual([false]);

    // a fast move: the browser merged two samples into one event
    f.fire("pointermove", 10 + 90, 20 + 60, {
      getCoalescedEvents: () => [
        { clientX: 10 + 60, clientY: 20 + 45 },
        { clientX: 10 + 90, clientY: 20 + 60 },
      ],
    });
    f.fire("pointermove", 10 + 150, 20 + 60);
    f.fire("pointerup", 10 + 180, 20 + 90);

    const unit = DESIGN_WIDTH / 300;
    expect(pad.getStrokes()).toEqual([
      [
        { x: 30 * unit, y: 30 * unit },
        { x: 60 * unit, y: 45 * unit },
        { x: 90 * unit, y: 60 * unit },
        { x: 150 * unit, y: 60 * unit },
        { x: 180 * unit, y: 90 * unit },
      ],
    ]);
    // drawn with curves, at 2 backing pixels per CSS pixel
    const k = (2 * 300) / DESIGN_WIDTH;
    expect(f.calls).toContainEqual(["setTransform", k, 0, 0, k, 0, 0]);
    expect(f.calls.filter((c) => c[0] === "quadraticCurveTo")).not.toHaveLength(0);
    expect(f.ctx.lineWidth).toBe(LINE_WIDTH);
    expect(f.ctx.lineCap).toBe("round");
  });

  it("lets one pointer write at a time and ignores the mouse's other buttons", () => {
    const f = fakeCanvas();
    const pad = new SignatureSurface(f.canvas);
    pad.resize(300, 150, 1);
    f.fire("pointerdown", 50, 50, { pointerType: "mouse", button: 2 });
    expect(pad.isEmpty()).toBe(true);

    f.fire("pointerdown", 50, 50);
    f.fire("pointerdown", 200, 100, { pointerId: 2 }); // a palm or a second finger
    f.fire("pointermove", 220, 120, { pointerId: 2 });
    f.fire("pointermove", 80, 60);
    f.fire("pointerup", 220, 120, { pointerId: 2 });
    f.fire("pointerup", 90, 70);
    expect(pad.strokeCount()).toBe(1);
    expect(pad.getStrokes()[0]).toHaveLength(3);

    // after a cancel (e.g. a system gesture) the next touch starts a new stroke
    f.fire("pointerdown", 100, 100, { pointerId: 3 });
    f.fire("pointercancel", 100, 100, { pointerId: 3 });
    f.fire("pointerdown", 120, 100, { pointerId: 4 });
    expect(pad.strokeCount()).toBe(3);
  });

  it("drops jitter smaller than a step and clamps to the pad", () => {
    const f = fakeCanvas();
    const pad = new SignatureSurface(f.canvas);
    pad.resize(300, 150, 1);
    f.fire("pointerdown", 40, 50);
    f.fire("pointermove", 40.1, 50.1);
    f.fire("pointermove", 900, -40); // off the pad while captured
    const [stroke] = pad.getStrokes();
    expect(stroke).toHaveLength(2);
    expect(stroke[1]).toEqual({ x: DESIGN_WIDTH, y: 0 });
  });

  it("clears, reports empty again and exports a PNG data URL", () => {
    const f = fakeCanvas();
    const changes: boolean[] = [];
    const pad = new SignatureSurface(f.canvas, { onChange: (e) => changes.push(e) });
    pad.resize(300, 150, 1);
    f.fire("pointerdown", 40, 50);
    f.fire("pointerup", 40, 50);
    expect(pad.toDataURL()).toMatch(/^data:image\/png;base64,/);
    expect(f.exported).toEqual(["image/png"]);
    // a tap is a dot
    expect(f.calls.some((c) => c[0] === "arc")).toBe(true);

    f.calls.length = 0;
    pad.clear();
    expect(pad.isEmpty()).toBe(true);
    expect(changes).toEqual([false, true]);
    expect(f.calls).toContainEqual(["clearRect", 0, 0, 300, 150]);
    expect(f.calls.some((c) => c[0] === "arc" || c[0] === "stroke")).toBe(false);
  });

  it("redraws the same signature when the pad is resized", () => {
    const f = fakeCanvas();
    const pad = new SignatureSurface(f.canvas);
    pad.resize(300, 150, 1);
    f.fire("pointerdown", 40, 50);
    f.fire("pointermove", 100, 80);
    f.fire("pointermove", 160, 60);
    f.fire("pointerup", 200, 90);
    const before = pad.getStrokes();

    f.calls.length = 0;
    pad.resize(600, 300, 3); // rotated to landscape on a dense screen
    expect([f.raw.width, f.raw.height]).toEqual([1800, 900]);
    expect(pad.getStrokes()).toEqual(before);
    const k = (3 * 600) / DESIGN_WIDTH;
    expect(f.calls).toContainEqual(["setTransform", k, 0, 0, k, 0, 0]);
    expect(f.calls.filter((c) => c[0] === "stroke")).toHaveLength(1);

    pad.resize(0, 0, 3); // hidden: keep everything as it is
    expect([f.raw.width, f.raw.height]).toEqual([1800, 900]);
  });

  it("stops listening when destroyed", () => {
    const f = fakeCanvas();
    const pad = new SignatureSurface(f.canvas);
    expect(f.listeners.size).toBe(5);
    pad.destroy();
    expect(f.listeners.size).toBe(0);
  });
});
