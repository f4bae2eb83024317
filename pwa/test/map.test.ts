import { afterEach, describe, expect, it } from "vitest";
import { setLang } from "../src/i18n";
import {
  EARTH_RADIUS_M,
  filePositionText,
  fitView,
  formatDistance,
  groundDistance,
  inverseMercatorLatitude,
  mercator,
  metresToPixels,
  missingByStatus,
  pointTime,
  scaleBar,
  tileZoom,
  tilesFor,
  toPixels,
} from "../src/map";

const SHANGHAI = { latitude: 31.2304, longitude: 121.4737 };
/** 640×360 with 36 px padding: the points get a 568×288 px box. */
const BOX = { width: 640, height: 360, padding: 36, minSpanM: 200 };
/** Metres → degrees near Shanghai, on the same sphere as the projection. */
const M_PER_DEG_LAT = (Math.PI / 180) * EARTH_RADIUS_M;
const mPerDegLon = (lat: number) => M_PER_DEG_LAT * Math.cos((lat * Math.PI) / 180);

const dist = (a: { x: number; y: number }, b: { x: number; y: number }) =>
  Math.hypot(a.x - b.x, a.y - b.y);

describe("Web Mercator", () => {
  it("projects known coordinates", () => {
    expect(mercator(0, 0).x).toBe(0);
    expect(mercator(0, 0).y).toBeCloseTo(0, 6);
    expect(mercator(0, 180).x).toBeCloseTo(20037508.34, 1);
    expect(mercator(85.0511287798, 0).y).toBeCloseTo(20037508.34, 0);
    expect(mercator(45, -90)).toEqual({
      x: expect.closeTo(-10018754.17, 1),
      y: expect.closeTo(5621521.49, 1), // 45°N in EPSG:3857
    });
    const p = mercator(SHANGHAI.latitude, SHANGHAI.longitude);
    expect(p.x).toBeCloseTo((SHANGHAI.longitude / 180) * 20037508.342789, 2);
    expect(inverseMercatorLatitude(p.y)).toBeCloseTo(SHANGHAI.latitude, 9);
  });
});

describe("fitting the points into the box", () => {
  it("fills the box's height with two points 1 km apart north–south", () => {
    const north = { latitude: SHANGHAI.latitude + 1000 / M_PER_DEG_LAT, longitude: 121.4737 };
    const view = fitView([SHANGHAI, north], BOX);
    const a = toPixels(view, SHANGHAI);
    const b = toPixels(view, north);
    expect(Math.abs(a.x - b.x)).toBeLessThan(1);
    expect(Math.abs(a.y - b.y - 288)).toBeLessThan(1); // north is up
    // the ground scale agrees: 1 km is 288 px
    expect(Math.abs(groundDistance(SHANGHAI, north) / view.metresPerPx - 288)).toBeLessThan(1);
    // centred in the box
    expect(Math.abs((a.y + b.y) / 2 - 180)).toBeLessThan(1);
    expect(Math.abs(a.x - 320)).toBeLessThan(1);
  });

  it("fills the box's width with two points 500 m apart east–west", () => {
    const east = {
      latitude: SHANGHAI.latitude,
      longitude: SHANGHAI.longitude + 500 / mPerDegLon(SHANGHAI.latitude),
    };
    const view = fitView([SHANGHAI, east], BOX);
    const a = toPixels(view, SHANGHAI);
    const b = toPixels(view, east);
    expect(Math.abs(b.x - a.x - 568)).toBeLessThan(1);
    expect(Math.abs(a.y - b.y)).toBeLessThan(1);
    expect(Math.abs(500 / view.metresPerPx - 568)).toBeLessThan(1);
  });

  it("puts known distances at the expected pixel distances", () => {
    // 120 m north and 90 m east: 150 m on the ground, inside the 200 m minimum span
    const other = {
      latitude: SHANGHAI.latitude + 120 / M_PER_DEG_LAT,
      longitude: SHANGHAI.longitude + 90 / mPerDegLon(SHANGHAI.latitude),
    };
    const view = fitView([SHANGHAI, other], BOX);
    // min span 200 m over the 288 px height
    expect(view.metresPerPx).toBeCloseTo(200 / 288, 3);
    const px = dist(toPixels(view, SHANGHAI), toPixels(view, other));
    expect(Math.abs(px - 150 / (200 / 288))).toBeLessThan(1);
    expect(Math.abs(px - groundDistance(SHANGHAI, other) / view.metresPerPx)).toBeLessThan(1);
    // a 50 m accuracy circle is 72 px
    expect(Math.abs(metresToPixels(view, 50, SHANGHAI.latitude) - 72)).toBeLessThan(1);
  });

  it("keeps the scale true at high latitude (Mercator stretch)", () => {
    const oslo = { latitude: 59.9139, longitude: 10.7522 };
    const north = { latitude: oslo.latitude + 1000 / M_PER_DEG_LAT, longitude: oslo.longitude };
    const view = fitView([oslo, north], BOX);
    expect(Math.abs(1000 / view.metresPerPx - 288)).toBeLessThan(1);
    expect(Math.abs(metresToPixels(view, 1000, oslo.latitude) - 288)).toBeLessThan(1);
  });

  it("centres one point in a box of the minimum span", () => {
    const view = fitView([SHANGHAI], BOX);
    const p = toPixels(view, SHANGHAI);
    expect(p.x).toBeCloseTo(320, 6);
    expect(p.y).toBeCloseTo(180, 6);
    expect(view.metresPerPx).toBeCloseTo(200 / 288, 6);
  });
});

describe("scale bar", () => {
  it("picks the longest 1, 2 or 5 × 10ⁿ metres that fits", () => {
    expect(scaleBar(1, 120)).toEqual({ metres: 100, px: 100, label: "100 m" });
    expect(scaleBar(1, 100)).toEqual({ metres: 100, px: 100, label: "100 m" });
    expect(scaleBar(0.5, 120)).toMatchObject({ metres: 50, px: 100, label: "50 m" });
    expect(scaleBar(3, 120)).toMatchObject({ metres: 200, label: "200 m" });
    expect(scaleBar(3, 120).px).toBeCloseTo(66.67, 2);
    expect(scaleBar(50, 160)).toMatchObject({ metres: 5000, px: 100, label: "5 km" });
    expect(scaleBar(0.004, 160)).toMatchObject({ metres: 0.5, label: "0.5 m" });
    expect(scaleBar(200 / 288, 160)).toMatchObject({ metres: 100, label: "100 m" });
    expect(scaleBar(200 / 288, 160).px).toBeCloseTo(144, 6);
  });

  it("is always 1, 2 or 5 × 10ⁿ, fits, and is more than 40 % of the room", () => {
    for (let mpp = 0.001; mpp < 5000; mpp *= 1.37) {
      const bar = scaleBar(mpp, 150);
      const mantissa = Number((bar.metres / 10 ** Math.floor(Math.log10(bar.metres))).toFixed(6));
      expect([1, 2, 5]).toContain(mantissa);
      expect(bar.px).toBeLessThanOrEqual(150 + 1e-6);
      expect(bar.px).toBeGreaterThan(150 * 0.4);
    }
  });

  it("writes distances in m and km", () => {
    expect(formatDistance(100)).toBe("100 m");
    expect(formatDistance(2000)).toBe("2 km");
    expect(formatDistance(0.2)).toBe("0.2 m");
  });
});

describe("optional tiles", () => {
  it("chooses the zoom of the view's scale and places tiles on it", () => {
    // 2 px per tile pixel at zoom 0 → zoom 1, tiles of 256 px; (0,0) is where four tiles meet
    const scale = 512 / (2 * Math.PI * EARTH_RADIUS_M);
    const view = {
      width: 640,
      height: 360,
      centre: { x: 0, y: 0 },
      scale,
      metresPerPx: 1 / scale,
      centreLatitude: 0,
    };
    expect(tileZoom(view)).toBe(1);
    const tiles = tilesFor(view, "/tiles/{z}/{x}/{y}.png");
    // the view is wider than the world at this zoom: tile x=1 shows twice (at -192 and 320 px)
    const se = tiles.find((tile) => tile.url === "/tiles/1/1/1.png" && tile.x > 0);
    expect(se).toBeDefined();
    expect(se!.x).toBeCloseTo(320, 6);
    expect(se!.y).toBeCloseTo(180, 6);
    expect(se!.size).toBeCloseTo(256, 6);
    // x wraps round the world; y stops at the poles
    expect(tiles.every((tile) => /^\/tiles\/1\/[01]\/[01]\.png$/.test(tile.url))).toBe(true);
  });

  it("uses deep zoom for a street-sized view", () => {
    expect(tileZoom(fitView([SHANGHAI], BOX))).toBe(18);
  });
});

describe("items without a position", () => {
  it("are counted by why", () => {
    const base = { kind: "photo", captured_at: "2026-05-12T06:03:00Z", accuracy_m: null };
    const missing = missingByStatus([
      { ...base, id: "a", latitude: 31.2, longitude: 121.4 },
      { ...base, id: "b", latitude: null, longitude: null, location_status: "refused" },
      { ...base, id: "c", latitude: null, longitude: null, location_status: "unavailable" },
      { ...base, id: "d", latitude: null, longitude: null, location_status: "refused" },
      { ...base, id: "e", latitude: null, longitude: null },
    ]);
    expect(Object.fromEntries(missing)).toEqual({ refused: 2, unavailable: 1, none: 1 });
  });

  it("labels points with the Beijing time", () => {
    expect(pointTime("2026-05-12T06:03:00Z", false)).toBe("14:03");
    expect(pointTime("2026-05-12T06:03:00Z", true)).toBe("05-12 14:03");
  });
});

describe("the file's own position", () => {
  afterEach(() => setLang("zh-CN"));

  it("is said next to the device's, with how far apart they are", () => {
    const location = {
      file: { lat: 31.2304, lon: 121.4737, alt: 10, accuracy_m: 5 },
      device: { lat: 39.9042, lon: 116.4074, accuracy_m: 12 },
      distance_m: 1067321.4,
      allowed_m: 212,
    };
    expect(filePositionText(location)).toBe("31.23040, 121.47370 ±5 m，距设备上报位置 1067.3 km");
    expect(filePositionText({ ...location, distance_m: 12.4 })).toContain("距设备上报位置 12 m");
    expect(filePositionText(null)).toBe("文件内未记录位置");
    setLang("en");
    expect(filePositionText({ file: location.file, device: null })).toBe(
      "31.23040, 121.47370 ±5 m",
    );
    expect(filePositionText(location)).toBe(
      "31.23040, 121.47370 ±5 m, 1067.3 km from the device's",
    );
  });
});
