/**
 * Start-up recovery (queue.recoverInterrupted) with two tabs of the app: a recording still
 * running in one tab holds its Web Lock and is left alone by the other; one whose tab is gone
 * is offered. And a hash taken before a slice was added is dropped.
 */
import "fake-indexeddb/auto";
import { describe, expect, it, vi } from "vitest";
import { recordingEntry } from "./entries";
import { FakeLocks } from "./fake-locks";
import { FakeRecorder, recorders } from "./fake-recorder";

const locks = new FakeLocks();
vi.stubGlobal("MediaRecorder", FakeRecorder);
vi.stubGlobal("navigator", {
  onLine: true,
  locks,
  geolocation: {
    getCurrentPosition: (_ok: unknown, err: (e: unknown) => void) =>
      err({ code: 1, PERMISSION_DENIED: 1 }),
  },
});

import { startRecording } from "../src/capture";
import { addSlice, getEntry, putEntry, updateEntry } from "../src/db";
import { recordingLockName } from "../src/entry-lock";
import { recoverInterrupted } from "../src/queue";

const TARGET = { userId: 1, caseId: 1, caseNumber: "N1", stage: "filing", activity: "other" };
const tick = () => new Promise((resolve) => setImmediate(resolve));

/** A recording whose tab is gone or still going, with `slices` written. */
const unfinished = (id: string, slices: number) => recordingEntry(id, { slices });

describe("recoverInterrupted", () => {
  it("leaves a recording alone while another tab still records it", async () => {
    // tab A records
    const rec = await startRecording("video", {} as MediaStream, TARGET);
    recorders[0].emit("first.");
    recorders[0].emit("second.");
    for (let i = 0; i < 20; i++) await tick();
    expect(locks.isHeld(recordingLockName(rec.entry.id))).toBe(true);

    // tab B opens the app (main.ts) meanwhile: nothing to recover, nothing to offer
    expect(await recoverInterrupted()).toBe(0);
    expect((await getEntry(rec.entry.id))?.state).toBe("recording");

    // tab A goes on and stops normally: the whole recording is one finished item
    recorders[0].emit("third.");
    await rec.stop();
    expect(await getEntry(rec.entry.id)).toMatchObject({
      finished: true,
      state: "on_phone",
      size: "first.second.third.".length,
    });
    expect(await recoverInterrupted()).toBe(0);
  });

  it("offers a recording whose tab is gone, and drops one that never stored a slice", async () => {
    await putEntry(unfinished("crashed", 2));
    await putEntry(unfinished("empty", 0));
    expect(await recoverInterrupted()).toBe(1);
    expect((await getEntry("crashed"))?.state).toBe("interrupted");
    expect(await getEntry("empty")).toBeUndefined();
  });

  it("does not drop a just-started recording of another tab (no slice yet, lock held)", async () => {
    await putEntry(unfinished("starting", 0));
    const release = await locks.hold(recordingLockName("starting"));
    expect(await recoverInterrupted()).toBe(0);
    expect((await getEntry("starting"))?.state).toBe("recording");
    release();
  });
});

describe("addSlice", () => {
  it("drops a SHA-256 taken before the slice was added", async () => {
    await putEntry(unfinished("hashed", 0));
    await addSlice({ itemId: "hashed", seq: 0, data: new Blob(["one."]) });
    await updateEntry("hashed", { sha256: "a".repeat(64) }); // hashed with one slice
    await addSlice({ itemId: "hashed", seq: 1, data: new Blob(["two."]) });
    expect(await getEntry("hashed")).toMatchObject({ sha256: null, slices: 2, size: 8 });
  });
});
