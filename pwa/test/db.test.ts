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
} from "../src/db";
import { recordingEntry } from "./entries";

describe("db", () => {
  it("keeps one device id per install", async () => {
    const first = await deviceId();
    expect(first).toMatch(/^[A-Za-z0-9._:-]{1,64}$/);
    expect(await deviceId()).toBe(first);
  });

  it("appends slices in order and counts their bytes", async () => {
    await putEntry(recordingEntry("a", { geo: "pending" }));
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
