/**
 * 位置图: where a case's items were recorded, drawn as a small SVG "position plot".
 *
 * No map service is needed: evidence positions must not leave the deployment, and the console
 * works without internet. Points are projected with Web Mercator (EPSG:3857) into a box fitted
 * to them; each gets its accuracy circle in metres, a label (time and kind) and a link to the
 * item; a scale bar (1/2/5×10ⁿ m) and a north arrow make distances readable. Background tiles
 * are drawn only when the deployment names its own tile server (`VITE_MAP_TILE_URL`, see
 * pwa/README.md); otherwise a light grid at the scale bar's spacing.
 *
 * The maths (projection, fitting, scale bar, tiles) are pure functions, tested in
 * test/map.test.ts; `positionPlot` only turns their result into SVG.
 */
import { t, type Key } from "./i18n";

/** WGS 84 semi-major axis, the sphere Web Mercator projects onto. */
export const EARTH_RADIUS_M = 6378137;
/** Web Mercator's square world stops here (y = ±πR). */
export const MAX_LATITUDE = 85.0511287798;
const HALF_WORLD = Math.PI * EARTH_RADIUS_M;
const DEG = Math.PI / 180;

export interface LatLon {
  latitude: number;
  longitude: number;
}

/** Projected metres (EPSG:3857): x east, y north. */
export interface Projected {
  x: number;
  y: number;
}

export function mercator(latitude: number, longitude: number): Projected {
  const lat = Math.max(-MAX_LATITUDE, Math.min(MAX_LATITUDE, latitude)) * DEG;
  return {
    x: EARTH_RADIUS_M * longitude * DEG,
    y: EARTH_RADIUS_M * Math.log(Math.tan(Math.PI / 4 + lat / 2)),
  };
}

export function inverseMercatorLatitude(y: number): number {
  return (2 * Math.atan(Math.exp(y / EARTH_RADIUS_M)) - Math.PI / 2) / DEG;
}

/** Great-circle distance in metres (haversine on the same sphere). */
export function groundDistance(a: LatLon, b: LatLon): number {
  const dLat = (b.latitude - a.latitude) * DEG;
  const dLon = (b.longitude - a.longitude) * DEG;
  const s =
    Math.sin(dLat / 2) ** 2 +
    Math.cos(a.latitude * DEG) * Math.cos(b.latitude * DEG) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(s)));
}

export interface FitOptions {
  width: number;
  height: number;
  /** Pixels kept free on every side (for markers and labels). */
  padding: number;
  /** The box spans at least this many metres each way, so one point is not a whole world. */
  minSpanM: number;
}

/** A fitted box: projected metres → pixels (y down), and the ground scale at its centre. */
export interface View {
  width: number;
  height: number;
  /** The box's centre in projected metres. */
  centre: Projected;
  /** Pixels per projected metre. */
  scale: number;
  /** Ground metres per pixel at the centre's latitude (Mercator stretches by 1/cos φ). */
  metresPerPx: number;
  centreLatitude: number;
}

export const DEFAULT_FIT: FitOptions = { width: 640, height: 360, padding: 36, minSpanM: 200 };

export function fitView(points: LatLon[], options: Partial<FitOptions> = {}): View {
  const o = { ...DEFAULT_FIT, ...options };
  const projected = points.map((p) => mercator(p.latitude, p.longitude));
  const xs = projected.map((p) => p.x);
  const ys = projected.map((p) => p.y);
  const [minX, maxX] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 0];
  const [minY, maxY] = ys.length ? [Math.min(...ys), Math.max(...ys)] : [0, 0];
  const centre = { x: (minX + maxX) / 2, y: (minY + maxY) / 2 };
  const centreLatitude = inverseMercatorLatitude(centre.y);
  // A ground metre is 1/cos φ projected metres here.
  const stretch = 1 / Math.cos(centreLatitude * DEG);
  const minSpan = o.minSpanM * stretch;
  const innerW = Math.max(1, o.width - 2 * o.padding);
  const innerH = Math.max(1, o.height - 2 * o.padding);
  const scale = Math.min(
    innerW / Math.max(maxX - minX, minSpan),
    innerH / Math.max(maxY - minY, minSpan),
  );
  return {
    width: o.width,
    height: o.height,
    centre,
    scale,
    metresPerPx: 1 / (scale * stretch),
    centreLatitude,
  };
}

export function toPixels(view: View, p: LatLon): { x: number; y: number } {
  const m = mercator(p.latitude, p.longitude);
  return {
    x: view.width / 2 + (m.x - view.centre.x) * view.scale,
    y: view.height / 2 - (m.y - view.centre.y) * view.scale,
  };
}

/** Ground metres as pixels at a latitude (for accuracy circles). */
export function metresToPixels(view: View, metres: number, latitude: number): number {
  return (metres * view.scale) / Math.cos(latitude * DEG);
}

export function formatDistance(metres: number): string {
  const clean = (n: number) => String(Number(n.toPrecision(12)));
  return metres >= 1000 ? `${clean(metres / 1000)} km` : `${clean(metres)} m`;
}

export interface ScaleBar {
  metres: number;
  px: number;
  label: string;
}

/** The longest bar of 1, 2 or 5 × 10ⁿ metres that fits in `maxPx`. */
export function scaleBar(metresPerPx: number, maxPx: number): ScaleBar {
  const maxM = maxPx * metresPerPx;
  const power = 10 ** Math.floor(Math.log10(maxM) + 1e-9);
  const metres = Number(
    (([5, 2, 1].find((f) => f * power <= maxM * (1 + 1e-9)) ?? 1) * power).toPrecision(12),
  );
  return { metres, px: metres / metresPerPx, label: formatDistance(metres) };
}

// --- optional tiles ----------------------------------------------------------------------------

/** The deployment's tile URL template (`…/{z}/{x}/{y}.png`), or null: then no tiles at all. */
export function tileTemplate(): string | null {
  const env = (import.meta as { env?: Record<string, unknown> }).env;
  const value = env?.VITE_MAP_TILE_URL;
  return typeof value === "string" && value.trim() ? value.trim() : null;
}

export interface Tile {
  url: string;
  x: number;
  y: number;
  size: number;
}

const TILE_PX = 256;
const MAX_ZOOM = 19;
const MAX_TILES = 64;

/** The zoom level whose tiles are closest to the view's scale. */
export function tileZoom(view: View): number {
  const z = Math.round(Math.log2((view.scale * 2 * HALF_WORLD) / TILE_PX));
  return Math.max(0, Math.min(MAX_ZOOM, z));
}

/** The slippy-map tiles that cover the view, placed in its pixels. */
export function tilesFor(view: View, template: string): Tile[] {
  const z = tileZoom(view);
  const n = 2 ** z;
  const tileM = (2 * HALF_WORLD) / n;
  const size = tileM * view.scale;
  const halfW = view.width / 2 / view.scale;
  const halfH = view.height / 2 / view.scale;
  const x0 = Math.floor((view.centre.x - halfW + HALF_WORLD) / tileM);
  const x1 = Math.floor((view.centre.x + halfW + HALF_WORLD) / tileM);
  const y0 = Math.max(0, Math.floor((HALF_WORLD - (view.centre.y + halfH)) / tileM));
  const y1 = Math.min(n - 1, Math.floor((HALF_WORLD - (view.centre.y - halfH)) / tileM));
  const tiles: Tile[] = [];
  for (let ty = y0; ty <= y1; ty++) {
    for (let tx = x0; tx <= x1; tx++) {
      if (tiles.length >= MAX_TILES) return tiles;
      const wrapped = ((tx % n) + n) % n;
      tiles.push({
        url: template
          .replace("{z}", String(z))
          .replace("{x}", String(wrapped))
          .replace("{y}", String(ty)),
        x: view.width / 2 + (-HALF_WORLD + tx * tileM - view.centre.x) * view.scale,
        y: view.height / 2 - (HALF_WORLD - ty * tileM - view.centre.y) * view.scale,
        size,
      });
    }
  }
  return tiles;
}

// --- the plot ------------------------------------------------------------------------------------

/** What the plot needs of a media item (MediaSummary and MediaDetail both fit). */
export interface PlotItem {
  id: string;
  kind: string;
  captured_at: string;
  latitude: number | null;
  longitude: number | null;
  accuracy_m: number | null;
  location_status?: string | null;
}

type Positioned = PlotItem & LatLon;

export function hasPosition(item: PlotItem): item is Positioned {
  return (
    typeof item.latitude === "number" &&
    typeof item.longitude === "number" &&
    Number.isFinite(item.latitude) &&
    Number.isFinite(item.longitude)
  );
}

/** Items without a position, by why: `refused`, `unavailable` or `none` (not recorded). */
export function missingByStatus(items: PlotItem[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) {
    if (hasPosition(item)) continue;
    const why =
      item.location_status === "refused" || item.location_status === "unavailable"
        ? item.location_status
        : "none";
    counts.set(why, (counts.get(why) ?? 0) + 1);
  }
  return counts;
}

const TIME_ZONE = "Asia/Shanghai";

function dayOf(iso: string): string {
  return new Date(iso).toLocaleDateString("en-CA", { timeZone: TIME_ZONE });
}

/** "14:03", or "05-12 14:03" when the points span more than one day (Asia/Shanghai). */
export function pointTime(iso: string, withDate: boolean): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const time = d.toLocaleTimeString("en-GB", {
    hour: "2-digit",
    minute: "2-digit",
    hour12: false,
    timeZone: TIME_ZONE,
  });
  return withDate ? `${dayOf(iso).slice(5)} ${time}` : time;
}

export interface PlotOptions extends Partial<FitOptions> {
  /** Markers open their item (`#/console/media/<id>`); off for the item page's own plot. */
  link?: boolean;
  /** Tile template; defaults to the deployment's (`tileTemplate()`). */
  tiles?: string | null;
}

const SVG = "http://www.w3.org/2000/svg";

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number> = {},
  ...children: (Node | string)[]
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  el.append(...children);
  return el;
}

const round = (n: number) => Math.round(n * 10) / 10;

/** Rough width of a label at 12 px: CJK glyphs are square, Latin ones about half. */
function labelWidth(text: string): number {
  let w = 0;
  for (const ch of text) w += /[\u2e80-\u9fff\uff00-\uffef]/.test(ch) ? 12 : 7;
  return w;
}

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

const overlaps = (a: Box, b: Box) =>
  a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

/**
 * The plot of the `items` that have a position, and a note counting those that have none (by
 * why: refused, unavailable, not recorded). With no positioned item there is only the note.
 */
export function positionPlot(items: PlotItem[], options: PlotOptions = {}): HTMLElement {
  const fit = { ...DEFAULT_FIT, ...options };
  const link = options.link ?? true;
  const template = options.tiles === undefined ? tileTemplate() : options.tiles;
  const placed = items.filter(hasPosition);
  const figure = document.createElement("figure");
  figure.className = "position-plot";
  figure.dataset.testid = "position-plot";
  if (placed.length) figure.append(plotSvg(placed, fit, link, template));
  const missing = missingByStatus(items);
  const total = [...missing.values()].reduce((a, b) => a + b, 0);
  if (total) {
    const parts = [...missing].map(
      ([why, n]) => `${t(`map_why_${why}` as Key)}${t("in_parens", { text: n })}`,
    );
    const note = document.createElement("figcaption");
    note.className = "hint";
    note.dataset.testid = "plot-missing";
    note.textContent = `${t("map_missing", { n: total })}${t("colon")}${parts.join(t("list_sep"))}`;
    figure.append(note);
  }
  return figure;
}

function plotSvg(
  placed: Positioned[],
  fit: FitOptions,
  link: boolean,
  template: string | null,
): SVGSVGElement {
  const view = fitView(placed, fit);
  const { width: W, height: H } = view;
  const bar = scaleBar(view.metresPerPx, Math.min(160, W / 3));
  const root = svg("svg", {
    viewBox: `0 0 ${W} ${H}`,
    width: W,
    height: H,
    role: "img",
    "aria-label": t("map_title"),
    class: "plot",
    "data-testid": "plot-svg",
  });
  root.append(svg("rect", { class: "plot-bg", x: 0, y: 0, width: W, height: H }));

  if (template) {
    const tiles = svg("g", { class: "plot-tiles" });
    for (const tile of tilesFor(view, template)) {
      tiles.append(
        svg("image", {
          href: tile.url,
          x: round(tile.x),
          y: round(tile.y),
          width: round(tile.size) + 0.5,
          height: round(tile.size) + 0.5,
          preserveAspectRatio: "none",
        }),
      );
    }
    root.append(tiles);
  } else {
    // A light grid at the scale bar's spacing, on round projected coordinates.
    const grid = svg("g", { class: "plot-grid" });
    const step = bar.metres / Math.cos(view.centreLatitude * DEG);
    const left = view.centre.x - W / 2 / view.scale;
    const top = view.centre.y + H / 2 / view.scale;
    for (let gx = Math.ceil(left / step) * step; ; gx += step) {
      const px = (gx - left) * view.scale;
      if (px > W) break;
      grid.append(svg("line", { x1: round(px), y1: 0, x2: round(px), y2: H }));
    }
    for (let gy = Math.floor(top / step) * step; ; gy -= step) {
      const py = (top - gy) * view.scale;
      if (py > H) break;
      grid.append(svg("line", { x1: 0, y1: round(py), x2: W, y2: round(py) }));
    }
    root.append(grid);
  }

  const circles = svg("g", { class: "plot-accuracy" });
  const points = svg("g", { class: "plot-points" });
  const withDate = new Set(placed.map((p) => dayOf(p.captured_at))).size > 1;
  const taken: Box[] = [];
  // Oldest first: it keeps the spot beside its point; later labels at the same spot move down.
  const ordered = [...placed].sort((a, b) => Date.parse(a.captured_at) - Date.parse(b.captured_at));
  for (const item of ordered) {
    const { x, y } = toPixels(view, item);
    if (item.accuracy_m && item.accuracy_m > 0) {
      circles.append(
        svg("circle", {
          cx: round(x),
          cy: round(y),
          r: round(metresToPixels(view, item.accuracy_m, item.latitude)),
          "data-testid": "plot-accuracy",
        }),
      );
    }
    const text = `${pointTime(item.captured_at, withDate)} ${t(`kind_${item.kind}` as Key)}`;
    const w = labelWidth(text);
    const right = x + 9 + w <= W - 4;
    const lx = right ? x + 9 : x - 9;
    let box: Box = { x: right ? lx : lx - w, y: y - 9, w, h: 14 };
    for (const dy of [0, 14, -14, 28, -28, 42, -42]) {
      const tryBox = { ...box, y: y - 9 + dy };
      if (!taken.some((b) => overlaps(b, tryBox))) {
        box = tryBox;
        break;
      }
    }
    taken.push(box);
    const marker = svg(
      link ? "a" : "g",
      {
        class: `plot-point kind-${item.kind}`,
        "data-testid": "plot-point",
        "data-media-id": item.id,
        ...(link ? { href: `#/console/media/${encodeURIComponent(item.id)}` } : {}),
      },
      svg("title", {}, `${text} · ${item.latitude.toFixed(5)}, ${item.longitude.toFixed(5)}`),
      svg("circle", { class: "plot-dot", cx: round(x), cy: round(y), r: 6 }),
      svg(
        "text",
        {
          class: "plot-label",
          x: round(lx),
          y: round(box.y + 11),
          "text-anchor": right ? "start" : "end",
        },
        text,
      ),
    );
    points.append(marker);
  }
  root.append(circles, points);

  // Scale bar, bottom left.
  const sx = 12;
  const sy = H - 14;
  root.append(
    svg(
      "g",
      { class: "plot-scale" },
      svg("rect", { class: "plot-chip", x: sx - 6, y: sy - 20, width: bar.px + 12, height: 28 }),
      svg("path", {
        d: `M${sx} ${sy - 5}V${sy}H${round(sx + bar.px)}V${sy - 5}`,
      }),
      svg("text", { x: sx, y: sy - 8, "data-testid": "plot-scale" }, bar.label),
    ),
  );
  // North arrow, top right: Web Mercator keeps north straight up.
  const nx = W - 20;
  root.append(
    svg(
      "g",
      { class: "plot-north", "data-testid": "plot-north" },
      svg("rect", { class: "plot-chip", x: nx - 12, y: 4, width: 24, height: 40 }),
      svg("path", { d: `M${nx} 10L${nx + 7} 28L${nx} 23L${nx - 7} 28Z` }),
      svg("text", { x: nx, y: 40, "text-anchor": "middle" }, t("map_north")),
    ),
  );
  return root;
}

/** The position a file records about itself, next to the device's (the pipeline's
 * ``probe.location``: media_pipeline/probe.py). */
export interface FileLocation {
  file?: { lat: number; lon: number; alt?: number | null; accuracy_m?: number } | null;
  device?: { lat: number; lon: number; accuracy_m: number | null } | null;
  distance_m?: number;
  allowed_m?: number;
}

function distanceText(metres: number): string {
  return metres >= 1000 ? `${(metres / 1000).toFixed(1)} km` : `${Math.round(metres)} m`;
}

/** "31.23041, 121.47368 ±5 m, 12 m from the device's": where the file says it was made. */
export function filePositionText(location: FileLocation | null | undefined): string {
  const file = location?.file;
  if (!file) return t("gps_file_none");
  const acc = file.accuracy_m == null ? "" : ` ±${Math.round(file.accuracy_m)} m`;
  const position = `${file.lat.toFixed(5)}, ${file.lon.toFixed(5)}${acc}`;
  if (location?.distance_m == null) return position;
  return t("gps_file_distance", { position, distance: distanceText(location.distance_m) });
}

/** "31.23040, 121.47370 ±9 m" for text next to the plot. */
export function positionText(item: PlotItem): string {
  if (!hasPosition(item)) {
    const why = item.location_status;
    return why === "refused" || why === "unavailable" ? t(`gps_${why}`) : t("gps_none");
  }
  const acc = item.accuracy_m === null ? "" : ` ±${Math.round(item.accuracy_m)} m`;
  return `${item.latitude.toFixed(5)}, ${item.longitude.toFixed(5)}${acc}`;
}
