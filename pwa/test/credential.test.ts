import { describe, expect, it } from "vitest";
import { ApiError } from "../src/api";
import {
  credentialQuery,
  needsRefresh,
  refreshAfterS,
  refreshMarginS,
  secondsLeft,
  standingOf,
  svgDataUrl,
  type CredentialDisplay,
} from "../src/credential";

describe("credential", () => {
  it("counts down whole seconds, never below zero", () => {
    const now = Date.parse("2026-11-27T08:00:00Z");
    expect(secondsLeft("2026-11-27T08:02:00Z", now)).toBe(120);
    expect(secondsLeft("2026-11-27T08:00:00.900Z", now)).toBe(0);
    expect(secondsLeft("2026-11-27T07:59:00Z", now)).toBe(0);
  });

  it("replaces a 60 s token after 40 s, or when it has 20 s left on the server's clock", () => {
    expect(refreshMarginS(60)).toBe(20);
    expect(refreshAfterS(60)).toBe(40);
    expect(refreshMarginS(9)).toBe(3); // a short-lived token keeps two thirds of its life
    expect(refreshAfterS(9)).toBe(6);
    const now = Date.parse("2026-11-27T08:00:00Z");
    const expires = "2026-11-27T08:00:59Z"; // fetched a second ago
    expect(needsRefresh(now - 1_000, expires, 60, now)).toBe(false);
    expect(needsRefresh(now - 39_000, expires, 60, now)).toBe(false);
    expect(needsRefresh(now - 40_000, expires, 60, now)).toBe(true);
    expect(needsRefresh(now - 1_000, "2026-11-27T08:00:20Z", 60, now)).toBe(true);
    expect(needsRefresh(now - 1_000, "2026-11-27T08:00:21Z", 60, now)).toBe(false);
  });

  it("judges the token on the server's clock, whatever the phone's says", () => {
    const server = Date.parse("2026-11-27T08:00:00Z");
    const expires = "2026-11-27T08:01:00Z"; // fresh
    for (const skew of [-300_000, -30_000, 0, 30_000, 300_000]) {
      const phone = server + skew; // the phone's clock is off by `skew`
      expect(needsRefresh(phone, expires, 60, phone, server), `skew ${skew}`).toBe(false);
      expect(needsRefresh(phone - 40_000, expires, 60, phone, server)).toBe(true);
      expect(needsRefresh(phone, expires, 60, phone, server + 41_000)).toBe(true);
    }
  });

  it("keeps a valid token on screen: slow answers and a failed attempt included", () => {
    const RETRY_S = 10; // credential.ts RETRY_AFTER_MS
    for (const latency of [0, 1, 3, 5, 8]) {
      for (const failFirst of [false, true]) {
        // one tick a second, as the screen does; times in seconds, server and phone agree
        let shownExpires = 60;
        let fetchedAt = 0;
        let lastAttempt = 0;
        let inFlight: { done: number; fails: boolean } | null = null;
        let failed = false;
        for (let now = 0; now <= 600; now++) {
          if (inFlight && now >= inFlight.done) {
            if (!inFlight.fails) {
              shownExpires = now - latency / 2 + 60; // the server minted it mid-way
              fetchedAt = now;
            }
            inFlight = null;
          }
          const left = secondsLeft(new Date(shownExpires * 1000).toISOString(), now * 1000);
          expect(left, `latency ${latency}, fail ${failFirst}, t=${now}`).toBeGreaterThan(0);
          const due = needsRefresh(
            fetchedAt * 1000,
            new Date(shownExpires * 1000).toISOString(),
            60,
            now * 1000,
          );
          if (!inFlight && due && now - lastAttempt >= RETRY_S) {
            const fails = failFirst && !failed;
            failed ||= fails;
            inFlight = { done: now + latency, fails };
            lastAttempt = now;
          }
        }
      }
    }
  });

  it("asks with the case, the phone's key and where it is, only what is known", () => {
    expect(credentialQuery()).toBe("");
    expect(credentialQuery(12)).toBe("?case_id=12");
    expect(
      credentialQuery(12, 5, { latitude: 31.2304, longitude: 121.4737, accuracy_m: 8.46 }),
    ).toBe("?case_id=12&device_key_id=5&latitude=31.2304&longitude=121.4737&accuracy_m=8.5");
    expect(credentialQuery(12, null, { latitude: 31.5, longitude: 121.5 })).toBe(
      "?case_id=12&latitude=31.5&longitude=121.5",
    );
    expect(credentialQuery(12, null, { latitude: NaN, longitude: 121.5, accuracy_m: 3 })).toBe(
      "?case_id=12",
    );
    expect(credentialQuery(null, null, null)).toBe("");
  });

  it("reads the officer's standing (持证上岗) from the server's answer", () => {
    const at = 1_000;
    const refused = (details: Record<string, unknown>) =>
      new ApiError("no", 404, "no_active_credential", details);
    for (const reason of ["no_credential", "expired", "suspended", "revoked"]) {
      expect(standingOf(refused({ reason }), at)).toEqual({ valid: false, reason, checkedAt: at });
    }
    expect(standingOf(refused({}), at)).toEqual({ valid: false, reason: "unknown", checkedAt: at });
    expect(standingOf(new ApiError("offline", 0, "network"), at)).toBeNull();
    expect(standingOf(new ApiError("boom", 500, "internal_error"), at)).toBeNull();
    const shown = { status: "active" } as CredentialDisplay;
    expect(standingOf(shown, at)).toEqual({ valid: true, reason: null, checkedAt: at });
    expect(standingOf({ status: "suspended" } as CredentialDisplay, at)?.reason).toBe("suspended");
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
