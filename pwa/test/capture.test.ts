/**
 * Recording into IndexedDB (capture.ts) with a fake MediaRecorder: a slice that cannot be
 * stored (storage full) stops the recording and is reported, without taking the later slices
 * along; the recording's lock; where and when an item was captured.
 */
import "fake-indexeddb/auto";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeLocks } from "./fake-locks";
import { FakeRecorder, recorders } from "./fake-recorder";

const failing = vi.hoisted(() => ({ seqs: new Set<number>(), all: false }));

vi.mock("../src/db", async (orig) => {
  const real = await orig<typeof import("../src/db")>();
  return {
    ...real,
    addSlice: vi.fn(async (slice: import("../src/db").Slice) => {
      if (failing.all || failing.seqs.has(slice.seq)) {
        throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
      }
      return real.addSlice(slice);
    }),
  };
});

import {
  GEO_WAIT_AFTER_CAPTURE_MS,
  isStorageFull,
  largestSize,
  startRecording,
  storePickedFile,
  type CaptureTarget,
} from "../src/capture";
import { allEntries, getEntry, itemBlob } from "../src/db";
import { recordingLockName } from "../src/entry-lock";
import { isoWithOffset } from "../src/time";
import { uploadMetadata } from "../src/upload-rules";

type Fix = (pos: { coords: { latitude: number; longitude: number; accuracy: number } }) => void;
const geo = { hold: false, asked: 0, late: [] as Fix[] };
const locks = new FakeLocks();

vi.stubGlobal("MediaRecorder", FakeRecorder);
vi.stubGlobal("navigator", {
  onLine: true,
  locks,
  geolocation: {
    getCurrentPosition(ok: Fix, err: (e: unknown) => void) {
      geo.asked++;
      if (geo.hold)
        geo.late.push(ok); // the officer has not answered the prompt yet
      else err({ code: 1, PERMISSION_DENIED: 1 });
    },
  },
});

const TARGET: CaptureTarget = {
  userId: 1,
  caseId: 1,
  caseNumber: "N1",
  stage: "filing",
  activity: "other",
};
/** a task later: IndexedDB (fake-indexeddb) answers on setImmediate */
const tick = () => new Promise((resolve) => setImmediate(resolve));
async function until(condition: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await condition()) return;
    await tick();
  }
  throw new Error("timed out");
}

beforeEach(() => {
  failing.seqs.clear();
  failing.all = false;
  geo.hold = false;
  geo.asked = 0;
  geo.late = [];
});
afterEach(() => {
  vi.useRealTimers();
});

describe("recording", () => {
  it("a failed slice write stops the recording and is reported; the other slices are kept", async () => {
    failing.seqs.add(2); // storage full for one slice
    const writeErrors: unknown[] = [];
    const rec = await startRecording("video", {} as MediaStream, TARGET, {
      onWriteError: (err) => writeErrors.push(err),
    });
    const recorder = recorders.at(-1)!;
    const lock = recordingLockName(rec.entry.id);
    expect(locks.isHeld(lock)).toBe(true); // held while recording
    for (const s of ["s0.", "s1.", "s2.", "s3.", "s4."]) recorder.emit(s);
    await until(() => writeErrors.length > 0);
    expect(writeErrors).toHaveLength(1);
    expect(isStorageFull(writeErrors[0])).toBe(true);
    expect(rec.failure()).toBe(writeErrors[0]);
    expect(recorder.state).toBe("inactive"); // stopped by itself

    let reported: unknown = null;
    await rec.stop().catch((err: unknown) => (reported = err));
    expect(isStorageFull(reported)).toBe(true); // for the screen to say so
    expect(rec.bytes()).toBe(12); // only what was written counts
    const stored = await (await itemBlob(rec.entry.id, "video/webm")).text();
    expect(stored).toBe("s0.s1.s3.s4."); // a later slice is not dropped with the failed one
    const entry = await getEntry(rec.entry.id);
    expect(entry).toMatchObject({ finished: true, state: "on_phone", size: 12, sha256: null });
    expect(locks.isHeld(lock)).toBe(false);
    // a second stop (the officer's button after the automatic one) changes nothing
    await expect(rec.stop()).rejects.toBe(reported);
  });

  it("nothing stored at all: no empty entry is left in the queue", async () => {
    failing.all = true;
    const rec = await startRecording("audio", {} as MediaStream, TARGET);
    recorders.at(-1)!.emit("a0.");
    await until(() => rec.failure() !== null);
    await expect(rec.stop()).rejects.toMatchObject({ name: "QuotaExceededError" });
    expect(await getEntry(rec.entry.id)).toBeUndefined();
    expect(locks.isHeld(recordingLockName(rec.entry.id))).toBe(false);
  });

  it("keeps the last slice flushed at stop", async () => {
    const rec = await startRecording("video", {} as MediaStream, TARGET);
    const recorder = recorders.at(-1)!;
    recorder.emit("a.");
    recorder.tail = "z.";
    await expect(rec.stop()).resolves.toBe(rec.entry.id);
    expect(await (await itemBlob(rec.entry.id, "video/webm")).text()).toBe("a.z.");
    expect(rec.bytes()).toBe(4);
  });

  it("ends when stopped, not after the position wait; a late position is ignored", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    vi.setSystemTime(Date.parse("2026-11-27T08:00:00Z"));
    geo.hold = true;
    const rec = await startRecording("video", {} as MediaStream, TARGET);
    recorders.at(-1)!.emit("v0.");
    await until(async () => (await getEntry(rec.entry.id))?.size === 3);
    vi.setSystemTime(Date.parse("2026-11-27T08:00:10Z"));
    const stoppedAt = isoWithOffset();
    let done = false;
    const stopping = rec.stop().then(() => (done = true));
    for (let waited = 0; !done && waited < GEO_WAIT_AFTER_CAPTURE_MS * 2; waited += 100) {
      await tick();
      await vi.advanceTimersByTimeAsync(100);
    }
    await stopping;
    const entry = (await getEntry(rec.entry.id))!;
    expect(entry.endedAt).toBe(stoppedAt); // not 4 s later
    expect(entry.geo).toBe("unavailable");

    // the officer answers the prompt after the item may have gone without a position
    geo.late[0]({ coords: { latitude: 31.2, longitude: 121.5, accuracy: 10 } });
    for (let i = 0; i < 20; i++) await tick();
    expect(await getEntry(rec.entry.id)).toMatchObject({
      geo: "unavailable",
      latitude: null,
      longitude: null,
    });
  });
});

describe("picked files", () => {
  it("are not located: the phone's position now says nothing of the file", async () => {
    const made = Date.parse("2026-11-20T09:30:00Z");
    const file = new File(["jpeg"], "scene.jpg", { type: "image/jpeg", lastModified: made });
    const id = await storePickedFile(file, TARGET);
    expect(geo.asked).toBe(0);
    const entry = (await getEntry(id))!;
    expect(entry).toMatchObject({ geo: "none", latitude: null, finished: true, state: "on_phone" });
    expect(entry.startedAt).toBe(isoWithOffset(new Date(made)));
    expect(entry.endedAt).toBe(entry.startedAt);
    const meta = uploadMetadata({ ...entry, sha256: "0".repeat(64) });
    expect(meta).not.toHaveProperty("location_status"); // the server keeps: not recorded
    expect(meta).not.toHaveProperty("latitude");
    expect(locks.isHeld(recordingLockName(id))).toBe(false);
  });

  it("storage full: the failure is passed on and nothing half-stored is left", async () => {
    const before = (await allEntries()).length;
    failing.all = true;
    const file = new File(["jpeg"], "scene.jpg", { type: "image/jpeg" });
    await expect(storePickedFile(file, TARGET)).rejects.toSatisfy(isStorageFull);
    expect((await allEntries()).length).toBe(before);
  });
});

describe("photos at the camera's full resolution", () => {
  it("the largest size a track offers", () => {
    expect(largestSize({ width: { max: 3840 }, height: { max: 2160 } })).toEqual({
      width: 3840,
      height: 2160,
    });
    expect(largestSize({ width: { max: 3840 } })).toBeNull();
    expect(largestSize({})).toBeNull();
  });

  it("how a photo was taken travels as the upload's capture metadata", async () => {
    const file = new File(["jpeg"], "scene.jpg", { type: "image/jpeg" });
    const entry = (await getEntry(await storePickedFile(file, TARGET)))!;
    expect(uploadMetadata({ ...entry, sha256: "0".repeat(64) })).not.toHaveProperty("capture");
    const capture = JSON.stringify({ method: "image_capture", width: 4000, height: 3000 });
    const meta = uploadMetadata({ ...entry, capture, sha256: "0".repeat(64) });
    expect(JSON.parse(meta.capture)).toEqual({
      method: "image_capture",
      width: 4000,
      height: 3000,
    });
  });
});
