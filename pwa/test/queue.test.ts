import { describe, expect, it } from "vitest";
import { afterServerStatus, isMetered, overallPercent } from "../src/queue";

describe("afterServerStatus", () => {
  it("drops the phone copy only when the server verified the item", () => {
    const verified = afterServerStatus({ resent: false }, "verified", null, "m1");
    expect(verified.dropBytes).toBe(true);
    expect(verified.change.state).toBe("verified");
    expect(verified.change.mediaId).toBe("m1");

    const received = afterServerStatus({ resent: false }, "received", null, "m1");
    expect(received.dropBytes).toBe(false);
    expect(received.change.state).toBe("received");
  });

  it("re-sends once after a hash mismatch, then reports the error", () => {
    const first = afterServerStatus({ resent: false }, "hash_mismatch", "differs", "m1");
    expect(first.dropBytes).toBe(false);
    expect(first.retryNow).toBe(true);
    expect(first.change).toMatchObject({ state: "on_phone", resent: true, uploadUrl: null });

    const second = afterServerStatus({ resent: true }, "hash_mismatch", "differs", "m2");
    expect(second.dropBytes).toBe(false);
    expect(second.retryNow).toBe(false);
    expect(second.change).toMatchObject({ state: "error", error: "differs" });
  });
});

describe("overallPercent", () => {
  it("is 100 when nothing waits", () => {
    expect(overallPercent([])).toBe(100);
    expect(overallPercent([{ state: "verified", percent: 100, size: 10 }])).toBe(100);
  });

  it("weighs items by size and counts an upload fully only once verified", () => {
    const pct = overallPercent([
      { state: "verified", percent: 100, size: 100 },
      { state: "uploading", percent: 100, size: 100 },
      { state: "on_phone", percent: 0, size: 200 },
    ]);
    expect(pct).toBeGreaterThan(25);
    expect(pct).toBeLessThan(50);
  });
});

describe("isMetered", () => {
  it("pauses on cellular, data saver and 2g only", () => {
    const net = (info: object) => Object.assign(new EventTarget(), info);
    expect(isMetered(undefined)).toBe(false);
    expect(isMetered(net({ type: "wifi", effectiveType: "4g" }))).toBe(false);
    expect(isMetered(net({ type: "cellular" }))).toBe(true);
    expect(isMetered(net({ saveData: true }))).toBe(true);
    expect(isMetered(net({ effectiveType: "2g" }))).toBe(true);
  });
});
