import { describe, expect, it } from "vitest";
import { caseQuery, normalizePeaks, stripTimes } from "../src/console-api";

describe("console api helpers", () => {
  it("sends only the filters that are set, trimmed, with paging", () => {
    expect(caseQuery({ number: " 2026-0001 ", stage: "", flag: "gap" }, 2, 25)).toBe(
      "page=2&per_page=25&flag=gap&number=2026-0001",
    );
  });

  it("clamps waveform peaks and ignores junk", () => {
    expect(normalizePeaks({ peaks: [0.5, 2, -1, "x", null] })).toEqual([0.5, 1, 0, 0, 0]);
    expect(normalizePeaks(null)).toEqual([]);
    expect(normalizePeaks({ peaks: "nope" })).toEqual([]);
  });

  it("places strip tiles like the pipeline (middle of each tenth)", () => {
    expect(stripTimes(10, 10)).toEqual([0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5]);
  });
});
