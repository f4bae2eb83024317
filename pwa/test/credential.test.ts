import { describe, expect, it } from "vitest";
import { needsRefresh, secondsLeft, svgDataUrl } from "../src/credential";

describe("credential", () => {
  it("counts down whole seconds, never below zero", () => {
    const now = Date.parse("2026-11-27T08:00:00Z");
    expect(secondsLeft("2026-11-27T08:02:00Z", now)).toBe(120);
    expect(secondsLeft("2026-11-27T08:00:00.900Z", now)).toBe(0);
    expect(secondsLeft("2026-11-27T07:59:00Z", now)).toBe(0);
  });

  it("refreshes every 90 s and whenever the token is about to expire", () => {
    const now = Date.parse("2026-11-27T08:00:00Z");
    const later = "2026-11-27T08:01:30Z";
    expect(needsRefresh(now - 10_000, later, now)).toBe(false);
    expect(needsRefresh(now - 90_000, later, now)).toBe(true);
    expect(needsRefresh(now - 10_000, "2026-11-27T08:00:20Z", now)).toBe(true);
  });

  it("makes the server's inline SVG a standalone data: URL (UTF-8 title kept)", () => {
    const url = svgDataUrl('<svg viewBox="0 0 8 8"><title>二维码</title></svg>');
    expect(url.startsWith("data:image/svg+xml;base64,")).toBe(true);
    const bytes = Uint8Array.from(atob(url.split(",")[1]), (c) => c.charCodeAt(0));
    const text = new TextDecoder().decode(bytes);
    expect(text).toBe(
      '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 8 8"><title>二维码</title></svg>',
    );
    expect(svgDataUrl('<svg xmlns="http://www.w3.org/2000/svg"/>')).toBe(
      `data:image/svg+xml;base64,${btoa('<svg xmlns="http://www.w3.org/2000/svg"/>')}`,
    );
  });
});
