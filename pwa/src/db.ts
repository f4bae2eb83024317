/**
 * The one IndexedDB schema of the app.
 *
 * - `queue`:    one entry per captured item (photo, video, audio), from the first recorded
 *               slice until the server has verified it; `finished: false` marks a recording
 *               still running (or interrupted by a crash or a closed tab).
 * - `slices`:   the bytes, keyed `[itemId, seq]`; a recording writes one slice per second, a
 *               photo or a picked file is a single slice. Deleted only after verification.
 * - `settings`: key/value: device id, session, language, recently used cases.
 */

import { isoWithOffset } from "./time";

export const DB_NAME = "fieldtrace";
export const DB_VERSION = 1;

export type Kind = "photo" | "video" | "audio";
export type ItemState =
  "recording" | "interrupted" | "on_phone" | "uploading" | "received" | "verified" | "error";
/** `none`: not recorded (a picked file: where the phone is now says nothing about it). */
export type GeoStatus = "ok" | "refused" | "unavailable" | "pending" | "none";

export interface QueueEntry {
  id: string;
  /** the officer who captured it; only their session uploads it */
  userId: number;
  kind: Kind;
  caseId: number;
  caseNumber: string;
  stage: string;
  activity: string;
  contentType: string;
  filename: string;
  deviceId: string;
  startedAt: string; // device time, ISO 8601 with offset
  endedAt: string | null;
  finished: boolean;
  slices: number;
  size: number;
  sha256: string | null;
  geo: GeoStatus;
  latitude: number | null;
  longitude: number | null;
  accuracyM: number | null;
  state: ItemState;
  percent: number;
  uploadUrl: string | null;
  mediaId: string | null;
  resent: boolean;
  error: string | null;
  /** The server's `error.code` of a refusal, so the queue says it in the UI's language. */
  errorCode?: string | null;
  createdAt: number;
  verifiedAt: number | null;
  /** How a photo was taken (capture.ts CaptureInfo as JSON), sent as the upload's `capture`. */
  capture?: string;
  /** The server's signed receipt (receipt.ts), kept after the phone copy is released. */
  receipt?: string | null;
  /** Its short fingerprint, shown beside 「已存证」. */
  receiptFingerprint?: string | null;
}

export interface Slice {
  itemId: string;
  seq: number;
  data: Blob;
}

let opening: Promise<IDBDatabase> | null = null;

export function openDb(factory: IDBFactory = indexedDB): Promise<IDBDatabase> {
  if (opening) return opening;
  opening = new Promise((resolve, reject) => {
    const req = factory.open(DB_NAME, DB_VERSION);
    req.onupgradeneeded = (event) => {
      const db = req.result;
      // Versioned migrations: add a branch per version, never edit an old one.
      if (event.oldVersion < 1) {
        db.createObjectStore("queue", { keyPath: "id" });
        db.createObjectStore("slices", { keyPath: ["itemId", "seq"] });
        db.createObjectStore("settings", { keyPath: "key" });
      }
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  return opening;
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error("transaction aborted"));
  });
}

function result<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function sliceRange(itemId: string): IDBKeyRange {
  return IDBKeyRange.bound([itemId, 0], [itemId, Number.MAX_SAFE_INTEGER]);
}

export async function putEntry(entry: QueueEntry): Promise<void> {
  const tx = (await openDb()).transaction("queue", "readwrite");
  tx.objectStore("queue").put(entry);
  await done(tx);
}

export async function getEntry(id: string): Promise<QueueEntry | undefined> {
  const tx = (await openDb()).transaction("queue");
  return result(tx.objectStore("queue").get(id) as IDBRequest<QueueEntry | undefined>);
}

/**
 * Read-modify-write in one transaction, so concurrent updates of other fields are kept.
 * `when`: change the entry only if it still holds (judged inside the same transaction);
 * undefined is returned when it does not.
 */
export async function updateEntry(
  id: string,
  change: Partial<QueueEntry>,
  when?: (current: QueueEntry) => boolean,
): Promise<QueueEntry | undefined> {
  const tx = (await openDb()).transaction("queue", "readwrite");
  const store = tx.objectStore("queue");
  const current = await result(store.get(id) as IDBRequest<QueueEntry | undefined>);
  let updated: QueueEntry | undefined;
  if (current && (!when || when(current))) {
    updated = { ...current, ...change };
    store.put(updated);
  }
  await done(tx);
  return updated;
}

export async function allEntries(): Promise<QueueEntry[]> {
  const tx = (await openDb()).transaction("queue");
  const rows = await result(tx.objectStore("queue").getAll() as IDBRequest<QueueEntry[]>);
  return rows.sort((a, b) => a.createdAt - b.createdAt);
}

export async function deleteEntry(id: string): Promise<void> {
  const tx = (await openDb()).transaction(["queue", "slices"], "readwrite");
  tx.objectStore("queue").delete(id);
  tx.objectStore("slices").delete(sliceRange(id));
  await done(tx);
}

/**
 * Append one recorded slice and bump the entry's size in the same transaction; a SHA-256
 * taken before (of fewer bytes) is dropped, so it is computed again over all of them.
 */
export async function addSlice(slice: Slice): Promise<void> {
  const tx = (await openDb()).transaction(["queue", "slices"], "readwrite");
  tx.objectStore("slices").put(slice);
  const store = tx.objectStore("queue");
  const entry = await result(store.get(slice.itemId) as IDBRequest<QueueEntry | undefined>);
  if (entry) {
    entry.slices = Math.max(entry.slices, slice.seq + 1);
    entry.size += slice.data.size;
    entry.sha256 = null;
    entry.endedAt = isoWithOffset();
    store.put(entry);
  }
  await done(tx);
}

/** The item's bytes as one Blob built from the stored slices (disk-backed, not copied). */
export async function itemBlob(itemId: string, type: string): Promise<Blob> {
  const tx = (await openDb()).transaction("slices");
  const slices = await result(
    tx.objectStore("slices").getAll(sliceRange(itemId)) as IDBRequest<Slice[]>,
  );
  slices.sort((a, b) => a.seq - b.seq);
  return new Blob(
    slices.map((s) => s.data),
    { type },
  );
}

export async function deleteSlices(itemId: string): Promise<void> {
  const tx = (await openDb()).transaction("slices", "readwrite");
  tx.objectStore("slices").delete(sliceRange(itemId));
  await done(tx);
}

export async function getSetting<T>(key: string): Promise<T | undefined> {
  const tx = (await openDb()).transaction("settings");
  const row = await result(
    tx.objectStore("settings").get(key) as IDBRequest<{ key: string; value: T } | undefined>,
  );
  return row?.value;
}

export async function setSetting<T>(key: string, value: T): Promise<void> {
  const tx = (await openDb()).transaction("settings", "readwrite");
  tx.objectStore("settings").put({ key, value });
  await done(tx);
}

export async function deleteSetting(key: string): Promise<void> {
  const tx = (await openDb()).transaction("settings", "readwrite");
  tx.objectStore("settings").delete(key);
  await done(tx);
}

/** Generated once per install and kept; the server accepts `[A-Za-z0-9._:-]{1,64}`. */
export async function deviceId(): Promise<string> {
  const existing = await getSetting<string>("device_id");
  if (existing) return existing;
  const id = `pwa-${crypto.randomUUID()}`;
  await setSetting("device_id", id);
  return id;
}
