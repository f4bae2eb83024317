import "fake-indexeddb/auto";
import { beforeEach, describe, expect, it } from "vitest";
import { uploadQueueInWorker, type WorkerPassOptions } from "../src/background-upload";
import {
  allEntries,
  deleteEntry,
  deleteSetting,
  getEntry,
  itemBlob,
  setSetting,
  type QueueEntry,
} from "../src/db";
import { entryLockName } from "../src/entry-lock";
import { photoEntry, storeEntry } from "./entries";
import { FakeLocks } from "./fake-locks";
import { bytes, decodeMetadata, error, FakeTusServer, json, ORIGIN, sha256Hex } from "./fake-tus";

const OFFICER = 7;

/** Where and by whom these photos were taken: what the upload's metadata must carry. */
const TAKEN: Partial<QueueEntry> = {
  userId: OFFICER,
  caseId: 3,
  caseNumber: "N3",
  stage: "investigation",
  activity: "onsite_inspection",
  deviceId: "pwa-test",
  startedAt: "2026-01-01T08:00:00.000+08:00",
  endedAt: "2026-01-01T08:00:01.000+08:00",
  geo: "ok",
  latitude: 31.23,
  longitude: 121.47,
  accuracyM: 12,
};

/** A captured item on the phone: the entry and its bytes in two recorded slices. */
async function queued(id: string, data: Uint8Array, fields: Partial<QueueEntry> = {}) {
  const half = Math.floor(data.length / 2);
  await storeEntry(photoEntry(id, { ...TAKEN, ...fields }), data.slice(0, half), data.slice(half));
}

function pass(server: FakeTusServer, extra: Partial<WorkerPassOptions> = {}) {
  return uploadQueueInWorker({
    origin: ORIGIN,
    deadline: Date.now() + 10_000,
    fetch: server.fetch,
    locks: new FakeLocks(),
    chunkBytes: 16,
    verifyDelaysMs: [1, 1],
    lockWaitMs: 20,
    ...extra,
  });
}

beforeEach(async () => {
  for (const e of await allEntries()) await deleteEntry(e.id);
  await deleteSetting("pause_on_metered");
  await setSetting("session", {
    token: "tok",
    expires_at: new Date(Date.now() + 3600_000).toISOString(),
    user: { id: OFFICER },
  });
});

describe("uploadQueueInWorker", () => {
  it("hashes, creates the upload, sends it in chunks, and drops the copy once verified", async () => {
    const server = new FakeTusServer();
    const data = bytes(40);
    await queued("a", data);
    const storedBeforeBytes: (string | null | undefined)[] = [];
    server.once((call) => {
      if (call.method !== "PATCH") return undefined;
      void getEntry("a").then((e) => storedBeforeBytes.push(e?.uploadUrl));
      return undefined; // observe only
    });
    let changes = 0;

    const result = await pass(server, { onChange: () => changes++ });

    expect(result).toEqual({ verified: 1, waiting: 0, retry: false, reason: "done" });
    // the last GET: the receipt, kept beside the entry
    expect(server.methods()).toEqual(["GET", "POST", "PATCH", "PATCH", "PATCH", "GET", "GET"]);
    const meta = decodeMetadata(server.calls[1].headers["upload-metadata"]);
    expect(meta).toMatchObject({
      sha256: sha256Hex(data),
      case_id: "3",
      stage: "investigation",
      activity: "onsite_inspection",
      device_id: "pwa-test",
      captured_at: "2026-01-01T08:00:00.000+08:00",
      latitude: "31.23",
      accuracy_m: "12",
      location_status: "ok",
    });
    expect(server.uploads.get("u1")!.bytes).toEqual(data);
    const entry = await getEntry("a");
    expect(entry).toMatchObject({ state: "verified", percent: 100, sha256: sha256Hex(data) });
    expect(entry!.mediaId).toBe(server.uploads.get("u1")!.mediaId);
    expect((await itemBlob("a", "image/jpeg")).size).toBe(0); // the phone copy is gone
    expect(entry!.receiptFingerprint).toMatch(/^[0-9a-f]{4}( [0-9a-f]{4}){3}$/); // 已存证
    expect(JSON.parse(entry!.receipt!).receipt.item_id).toBe(entry!.mediaId);
    expect(changes).toBeGreaterThan(3);
    expect(storedBeforeBytes[0]).toBe(`${ORIGIN}/api/v1/uploads/u1`); // stored before PATCH 1
  });

  it("writes the upload URL before the first byte and the percent after each chunk", async () => {
    const server = new FakeTusServer();
    const data = bytes(40);
    await queued("a", data);
    const seen: [string | null, number][] = [];
    await pass(server, {
      onChange: () => void getEntry("a").then((e) => e && seen.push([e.uploadUrl, e.percent])),
    });
    await new Promise((r) => setTimeout(r, 10));
    expect(seen.some(([url, percent]) => url !== null && percent === 40)).toBe(true);
    expect(seen.some(([, percent]) => percent === 80)).toBe(true);
  });

  it("keeps the phone copy while the server has only received the item", async () => {
    const server = new FakeTusServer();
    server.verifyAfterPolls = 10;
    const data = bytes(20);
    await queued("a", data);

    const first = await pass(server);
    expect(first).toMatchObject({ waiting: 1, retry: true, reason: "awaiting_verification" });
    const received = await getEntry("a");
    expect(received).toMatchObject({ state: "received", percent: 100 });
    expect(received!.mediaId).toBeTruthy();
    expect((await itemBlob("a", "image/jpeg")).size).toBe(20);

    server.verifyAfterPolls = 0; // the server's job has run; the next sync settles it
    const calls = server.calls.length;
    expect(await pass(server)).toMatchObject({ verified: 1, retry: false });
    expect(server.calls.slice(calls).map((c) => c.path)).toEqual([
      `/api/v1/media/${received!.mediaId}`,
      `/api/v1/media/${received!.mediaId}/receipt`,
    ]);
    expect((await itemBlob("a", "image/jpeg")).size).toBe(0);
  });

  it("stops on a network failure with the entry on the phone, then resumes from the offset", async () => {
    const server = new FakeTusServer();
    const data = bytes(40);
    await queued("a", data);
    await queued("b", bytes(10, 3), { createdAt: Date.now() + 1 });
    server.once((call) => (call.method === "PATCH" && call.offset === 16 ? "network" : undefined));

    const first = await pass(server);
    expect(first).toMatchObject({ waiting: 2, retry: true, reason: "offline" });
    const stopped = await getEntry("a");
    expect(stopped).toMatchObject({ state: "on_phone", uploadUrl: `${ORIGIN}/api/v1/uploads/u1` });
    expect(server.calls.some((c) => c.path.includes("sha256=" + sha256Hex(bytes(10, 3))))).toBe(
      false, // the pass stopped: b waits for the next attempt
    );

    const calls = server.calls.length;
    expect(await pass(server)).toMatchObject({ verified: 2, waiting: 0, retry: false });
    const again = server.calls.slice(calls);
    expect(again.filter((c) => c.method === "POST")).toHaveLength(1); // only b's
    expect(again[0]).toMatchObject({ method: "HEAD" });
    expect(again[1]).toMatchObject({ method: "PATCH", offset: 16 });
    expect(server.uploads.get("u1")!.bytes).toEqual(data);
  });

  it("sends a mismatching item once more, then it is verified", async () => {
    const server = new FakeTusServer();
    server.corruptNextPatch = true;
    const data = bytes(20);
    await queued("a", data);
    expect(await pass(server)).toMatchObject({ verified: 1, retry: false });
    expect(server.methods().filter((m) => m === "POST")).toHaveLength(2);
    expect(await getEntry("a")).toMatchObject({ state: "verified", resent: true });
    expect([...server.media.values()].map((m) => m.status)).toEqual(["hash_mismatch", "verified"]);
  });

  it("marks a refused item as an error and goes on with the next", async () => {
    const server = new FakeTusServer();
    await queued("a", bytes(20));
    await queued("b", bytes(20, 9), { createdAt: Date.now() + 1 });
    server.once((call) =>
      call.method === "POST" ? json(403, error("not_assigned", "你未被指派到此案件")) : undefined,
    );
    const result = await pass(server);
    expect(result).toMatchObject({ verified: 1, waiting: 0, retry: false });
    expect(await getEntry("a")).toMatchObject({ state: "error", error: "你未被指派到此案件" });
    expect((await itemBlob("a", "image/jpeg")).size).toBe(20); // an error keeps the bytes
    expect(await getEntry("b")).toMatchObject({ state: "verified" });
  });

  it("leaves an entry a page is sending, and takes it when the page lets go", async () => {
    const server = new FakeTusServer();
    const locks = new FakeLocks();
    await queued("a", bytes(20));
    await queued("b", bytes(20, 5), { createdAt: Date.now() + 1 });
    const release = await locks.hold(entryLockName("a"));

    const result = await pass(server, { locks, lockWaitMs: 20 });
    expect(result).toMatchObject({ verified: 1, waiting: 1, retry: true, reason: "busy" });
    expect(await getEntry("a")).toMatchObject({ state: "on_phone", uploadUrl: null });

    const waiting = pass(server, { locks, lockWaitMs: 5_000 });
    setTimeout(release, 20); // the page was closed
    expect(await waiting).toMatchObject({ verified: 1, waiting: 0, retry: false });
  });

  it("sends only the signed-in officer's finished items", async () => {
    const server = new FakeTusServer();
    await queued("mine", bytes(20));
    await queued("theirs", bytes(20, 1), { userId: OFFICER + 1 });
    await queued("recording", bytes(20, 2), { finished: false, state: "recording" });
    expect(await pass(server)).toMatchObject({ verified: 1, waiting: 0 });
    expect((await getEntry("theirs"))!.state).toBe("on_phone");
    expect((await getEntry("recording"))!.state).toBe("recording");
  });

  it("does nothing without a valid session, and retries nothing", async () => {
    const server = new FakeTusServer();
    await queued("a", bytes(20));
    await setSetting("session", {
      token: "tok",
      expires_at: new Date(Date.now() - 1000).toISOString(),
      user: { id: OFFICER },
    });
    expect(await pass(server)).toMatchObject({ retry: false, reason: "signed_out" });
    await deleteSetting("session");
    expect(await pass(server)).toMatchObject({ retry: false, reason: "signed_out" });
    expect(server.calls).toEqual([]);
  });

  it("waits for Wi-Fi when the officer chose so", async () => {
    const server = new FakeTusServer();
    await queued("a", bytes(20));
    await setSetting("pause_on_metered", true);
    const cellular = Object.assign(new EventTarget(), { type: "cellular" });
    expect(await pass(server, { connection: cellular })).toMatchObject({
      waiting: 1,
      retry: true,
      reason: "paused",
    });
    expect(server.calls).toEqual([]);
    const wifi = Object.assign(new EventTarget(), { type: "wifi" });
    expect(await pass(server, { connection: wifi })).toMatchObject({ verified: 1 });
  });

  it("stops by its deadline and leaves the rest resumable", async () => {
    const server = new FakeTusServer();
    // One PATCH fits before the deadline, the second does not; the slack before the first
    // (creation, IndexedDB) is wide enough for a loaded CI machine.
    server.patchLatencyMs = 500;
    await queued("a", bytes(40));
    const result = await pass(server, { deadline: Date.now() + 800 });
    expect(result).toMatchObject({ waiting: 1, retry: true, reason: "time_up" });
    expect(await getEntry("a")).toMatchObject({
      state: "on_phone",
      percent: 40,
      uploadUrl: `${ORIGIN}/api/v1/uploads/u1`,
    });
    expect(server.uploads.get("u1")!.bytes).toHaveLength(16);
  });
});
