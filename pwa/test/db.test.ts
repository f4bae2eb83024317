import "fake-indexeddb/auto";
import { describe, expect, it } from "vitest";
import {
  addSlice,
  allEntries,
  deleteSlices,
  deviceId,
  getEntry,
  itemBlob,
  putEntry,
  updateEntry,
  type QueueEntry,
} from "../src/db";

function entry(id: string): QueueEntry {
  return {
    id,
    userId: 1,
    kind: "video",
    caseId: 1,
    caseNumber: "N1",
    stage: "filing",
    activity: "other",
    contentType: "video/webm",
    filename: "v.webm",
    deviceId: "d",
    startedAt: "2026-01-01T00:00:00.000+08:00",
    endedAt: null,
    finished: false,
    slices: 0,
    size: 0,
    sha256: null,
    geo: "pending",
    latitude: null,
    longitude: null,
    accuracyM: null,
    state: "recording",
    percent: 0,
    uploadUrl: null,
    mediaId: null,
    resent: false,
    error: null,
    createdAt: Date.now(),
    verifiedAt: null,
  };
}

describe("db", () => {
  it("keeps one device id per install", async () => {
    const first = await deviceId();
    expect(first).toMatch(/^[A-Za-z0-9._:-]{1,64}$/);
    expect(await deviceId()).toBe(first);
  });

  it("appends slices in order and counts their bytes", async () => {
    await putEntry(entry("a"));
    await addSlice({ itemId: "a", seq: 0, data: new Blob(["one-"]) });
    await addSlice({ itemId: "a", seq: 1, data: new Blob(["two"]) });
    const stored = await getEntry("a");
    expect(stored).toMatchObject({ slices: 2, size: 7 });
    expect(await (await itemBlob("a", "video/webm")).text()).toBe("one-two");

    await updateEntry("a", { finished: true, state: "on_phone" });
    expect((await allEntries()).map((e) => e.state)).toEqual(["on_phone"]);

    await deleteSlices("a");
    expect((await itemBlob("a", "video/webm")).size).toBe(0);
  });
});
