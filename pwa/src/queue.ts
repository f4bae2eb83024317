/**
 * The upload queue (after workbox's Queue): entries live in IndexedDB; an entry's bytes leave
 * the phone only when the server reports the item `verified` (device hash == server hash).
 * Replayed at start-up, on `online`, on a Background Sync message, and on a back-off timer.
 */
import { Upload, type DetailedError } from "tus-js-client";
import {
  allEntries,
  deleteEntry,
  deleteSlices,
  getEntry,
  itemBlob,
  updateEntry,
  type QueueEntry,
} from "./db";
import {
  ApiError,
  API,
  caseMediaBySha,
  currentUserId,
  getToken,
  mediaItem,
  uploadStatus,
} from "./api";
import { sha256Blob } from "./hash";
import { isoWithOffset } from "./time";
import { t } from "./i18n";

export const RETRY_DELAYS = [0, 1000, 3000, 5000, 10000, 20000];
export const CHUNK_BYTES = 8 * 1024 * 1024;
export const KEEP_VERIFIED = 50;
export const SYNC_TAG = "fieldtrace-upload";
const RECEIVED_POLL_MS = [1000, 2000, 4000, 8000, 15000, 30000];
const MAX_BACKOFF_MS = 60_000;

type MediaStatus = "received" | "verified" | "hash_mismatch" | string | null;

/** What the server's verdict on an item means for its queue entry (pure; unit-tested). */
export function afterServerStatus(
  entry: Pick<QueueEntry, "resent">,
  status: MediaStatus,
  message: string | null,
  mediaId: string | null,
): { change: Partial<QueueEntry>; dropBytes: boolean; retryNow: boolean } {
  if (status === "verified") {
    return {
      change: { state: "verified", percent: 100, mediaId, error: null, verifiedAt: Date.now() },
      dropBytes: true,
      retryNow: false,
    };
  }
  if (status === "hash_mismatch") {
    if (!entry.resent) {
      return {
        change: {
          state: "on_phone",
          percent: 0,
          resent: true,
          uploadUrl: null,
          mediaId: null,
          error: t("resend_mismatch"),
        },
        dropBytes: false,
        retryNow: true,
      };
    }
    return {
      change: { state: "error", mediaId, error: message || "hash_mismatch" },
      dropBytes: false,
      retryNow: false,
    };
  }
  return {
    change: { state: "received", percent: 100, mediaId },
    dropBytes: false,
    retryNow: false,
  };
}

/** Per item percent and overall percent over the items still on the phone. */
export function overallPercent(entries: Pick<QueueEntry, "state" | "percent" | "size">[]): number {
  const active = entries.filter((e) => e.state !== "verified");
  const total = entries.reduce((n, e) => n + Math.max(e.size, 1), 0);
  if (!active.length || !total) return 100;
  const done = entries.reduce((n, e) => {
    const weight = Math.max(e.size, 1);
    if (e.state === "verified") return n + weight;
    if (e.state === "received") return n + weight * 0.97;
    // bytes sent are not yet evidence: an upload counts fully only once verified
    if (e.state === "uploading") return n + (weight * 0.95 * e.percent) / 100;
    return n;
  }, 0);
  return Math.min(100, Math.floor((done / total) * 100));
}

interface NetworkInformationLike extends EventTarget {
  type?: string;
  effectiveType?: string;
  saveData?: boolean;
}

function connection(): NetworkInformationLike | undefined {
  return typeof navigator === "undefined"
    ? undefined
    : (navigator as Navigator & { connection?: NetworkInformationLike }).connection;
}

/** Cellular, data saver or a very slow link (where the browser tells; most desktops do not). */
export function isMetered(info: NetworkInformationLike | undefined = connection()): boolean {
  if (!info) return false;
  return (
    !!info.saveData ||
    info.type === "cellular" ||
    ["slow-2g", "2g"].includes(info.effectiveType ?? "")
  );
}

// --- live state and listeners ------------------------------------------------------------

const listeners = new Set<() => void>();
const livePercent = new Map<string, number>();
let running = false;
let again = false;
let backoffMs = 0;
let receivedPolls = 0;
let timer: ReturnType<typeof setTimeout> | null = null;
let pauseOnMetered = false;
let paused = false;

/** The officer's choice: upload only on Wi-Fi / unmetered networks. */
export function setPauseOnMetered(value: boolean): void {
  pauseOnMetered = value;
  void processQueue();
}

/** True while uploads wait because of that choice. */
export function isPaused(): boolean {
  return paused;
}

export function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function notify(): void {
  listeners.forEach((listener) => listener());
}

/** Percent from the running upload, fresher than the one stored in IndexedDB. */
export function percentOf(entry: QueueEntry): number {
  return livePercent.get(entry.id) ?? entry.percent;
}

async function change(id: string, fields: Partial<QueueEntry>): Promise<void> {
  await updateEntry(id, fields);
  notify();
}

function schedule(ms: number): void {
  if (timer) clearTimeout(timer);
  timer = setTimeout(() => {
    timer = null;
    void processQueue();
  }, ms);
}

let onlineWatch: ReturnType<typeof setInterval> | null = null;

/** `online` events are not delivered everywhere (nor under DevTools emulation): also poll the
 * flag, which costs nothing, while we wait for the network. */
function watchForOnline(): void {
  if (onlineWatch) return;
  onlineWatch = setInterval(() => {
    if (!navigator.onLine) return;
    clearInterval(onlineWatch!);
    onlineWatch = null;
    backoffMs = 0;
    void processQueue();
  }, 1000);
}

class Offline extends Error {}
class SessionEnded extends Error {}

/** Run the queue; calls while a pass is running make it run once more afterwards. */
export async function processQueue(): Promise<void> {
  notify(); // a new or changed entry shows at once, even while a pass is busy
  void hashPending();
  if (running) {
    again = true;
    return;
  }
  running = true;
  try {
    do {
      again = false;
      await oneTabAtATime(onePass);
    } while (again);
  } finally {
    running = false;
    notify();
  }
}

let hashing = false;

/** Hash every finished item now, apart from uploads, so the phone shows its SHA-256 at once. */
async function hashPending(): Promise<void> {
  if (hashing) return;
  hashing = true;
  try {
    for (;;) {
      const next = (await allEntries()).find(
        (e) => e.finished && !e.sha256 && e.state !== "interrupted",
      );
      if (!next) return;
      await ensureHash(next);
    }
  } finally {
    hashing = false;
  }
}

async function ensureHash(entry: QueueEntry): Promise<QueueEntry> {
  if (entry.sha256) return entry;
  const blob = await itemBlob(entry.id, entry.contentType);
  const sha256 = await sha256Blob(blob);
  await change(entry.id, { sha256, size: blob.size });
  return { ...entry, sha256, size: blob.size };
}

/** Two open tabs must not send the same item at once: the Web Locks API, where present. */
async function oneTabAtATime(pass: () => Promise<void>): Promise<void> {
  const locks = typeof navigator !== "undefined" ? navigator.locks : undefined;
  if (!locks) return pass();
  await locks.request("fieldtrace-upload-queue", { ifAvailable: true }, async (lock) => {
    if (lock) await pass();
    else schedule(5000); // another tab is uploading; look again later
  });
}

async function onePass(): Promise<void> {
  const entries = await allEntries();
  paused = pauseOnMetered && isMetered();
  if (paused) return; // resumes on the connection's "change" event
  let waitingForServer = false;
  for (const listed of entries) {
    const entry = await getEntry(listed.id);
    if (!entry || !entry.finished) continue;
    if (!["on_phone", "uploading", "received"].includes(entry.state)) continue;
    if (entry.userId !== currentUserId()) continue; // another officer's item waits for them
    try {
      await processEntry(entry);
      const after = await getEntry(entry.id);
      if (after?.state === "received") waitingForServer = true;
      backoffMs = 0;
    } catch (err) {
      if (err instanceof Offline || err instanceof SessionEnded) {
        if (err instanceof Offline) {
          if (navigator.onLine === false) {
            watchForOnline(); // the link is down: resume the moment it is back
          } else {
            // the link is up but the server is not answering: back off
            backoffMs = Math.min(MAX_BACKOFF_MS, backoffMs ? backoffMs * 2 : 1000);
            schedule(backoffMs);
          }
          void registerBackgroundSync();
        }
        return; // every other entry would fail the same way
      }
      await change(entry.id, { state: "error", error: readable(err) });
    }
  }
  await pruneVerified(entries);
  if (waitingForServer) {
    // verification runs on a worker: ask often at first, then less often
    schedule(RECEIVED_POLL_MS[Math.min(receivedPolls++, RECEIVED_POLL_MS.length - 1)]);
  } else {
    receivedPolls = 0;
  }
}

async function processEntry(entry: QueueEntry): Promise<void> {
  entry = await ensureHash(entry);
  if (typeof navigator !== "undefined" && navigator.onLine === false) throw new Offline();
  if (!getToken()) throw new SessionEnded();

  if (entry.state === "received" && entry.mediaId) {
    const item = await guarded(() => mediaItem(entry.mediaId!));
    return settle(entry, item.status, item.status_message ?? null, item.id);
  }
  if (!entry.uploadUrl) {
    // Uploaded before (e.g. the app closed between the last byte and our bookkeeping)?
    const existing = await guarded(() => caseMediaBySha(entry.caseId, entry.sha256!));
    const known = existing.find((m) => m.status === "verified" || m.status === "received");
    if (known) return settle(entry, known.status, known.status_message ?? null, known.id);
  }
  const url = await send(entry);
  const status = await guarded(() => uploadStatus(url));
  return settle(entry, status.media_status, status.media_status_message, status.media_item_id);
}

async function settle(
  entry: QueueEntry,
  status: MediaStatus,
  message: string | null,
  mediaId: string | null,
): Promise<void> {
  const {
    change: fields,
    dropBytes,
    retryNow,
  } = afterServerStatus(entry, status, message, mediaId);
  livePercent.delete(entry.id);
  if (dropBytes) await deleteSlices(entry.id); // the phone copy goes only after verification
  await change(entry.id, fields);
  if (retryNow) again = true;
}

async function guarded<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof ApiError && err.isNetwork) throw new Offline();
    if (err instanceof ApiError && err.status === 401) throw new SessionEnded();
    throw err;
  }
}

function metadata(entry: QueueEntry): Record<string, string> {
  const meta: Record<string, string> = {
    filename: entry.filename,
    content_type: entry.contentType,
    case_id: String(entry.caseId),
    stage: entry.stage,
    activity: entry.activity,
    captured_at: entry.startedAt,
    sha256: entry.sha256!,
    device_id: entry.deviceId,
    sent_at: isoWithOffset(),
    // Not (yet) stored by the server, which ignores unknown keys; sent so nothing is lost.
    captured_end_at: entry.endedAt ?? entry.startedAt,
    location_status: entry.geo,
  };
  if (entry.geo === "ok" && entry.latitude != null && entry.longitude != null) {
    meta.latitude = String(entry.latitude);
    meta.longitude = String(entry.longitude);
    if (entry.accuracyM != null) meta.accuracy_m = String(entry.accuracyM);
  }
  return meta;
}

/** tus upload of the entry's bytes; resumes from the stored upload URL. Resolves the URL. */
async function send(entry: QueueEntry): Promise<string> {
  const blob = await itemBlob(entry.id, entry.contentType);
  await change(entry.id, { state: "uploading" });
  return new Promise<string>((resolve, reject) => {
    let lastStored = -1;
    const upload: Upload = new Upload(blob, {
      endpoint: `${location.origin}${API}/uploads/`,
      uploadUrl: entry.uploadUrl ?? undefined,
      retryDelays: RETRY_DELAYS,
      chunkSize: CHUNK_BYTES,
      storeFingerprintForResuming: false, // our own resume state lives in the queue entry
      headers: { Authorization: `Bearer ${getToken()}` },
      metadata: metadata(entry),
      onUploadUrlAvailable() {
        void change(entry.id, { uploadUrl: upload.url });
      },
      onProgress(sent, total) {
        const percent = total ? Math.floor((sent / total) * 100) : 0;
        livePercent.set(entry.id, percent);
        if (percent - lastStored >= 10) {
          lastStored = percent;
          void updateEntry(entry.id, { percent });
        }
        notify();
      },
      onSuccess() {
        resolve(upload.url!);
      },
      onError(err) {
        reject(classify(err as DetailedError));
      },
    });
    upload.start();
  }).catch(async (err) => {
    livePercent.delete(entry.id);
    if (err instanceof Offline || err instanceof SessionEnded) {
      await change(entry.id, { state: "on_phone" });
    }
    throw err;
  });
}

function classify(err: DetailedError): Error {
  const res = err.originalResponse;
  const status = res ? res.getStatus() : 0;
  if (!status) return new Offline();
  if (status === 401) return new SessionEnded();
  let message = `${status}`;
  try {
    message = JSON.parse(res!.getBody()).error.message || message;
  } catch {
    /* not JSON: keep the status */
  }
  if (status >= 500 || status === 409 || status === 423) return new Offline(); // try again later
  return new ApiError(message, status, "upload_refused");
}

function readable(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

async function pruneVerified(entries: QueueEntry[]): Promise<void> {
  const verified = entries.filter((e) => e.state === "verified");
  for (const old of verified.slice(0, Math.max(0, verified.length - KEEP_VERIFIED))) {
    await deleteEntry(old.id);
  }
}

/** Entries left unfinished by a crash or a closed tab: keep their slices, offer them. */
export async function recoverInterrupted(): Promise<number> {
  let recovered = 0;
  for (const entry of await allEntries()) {
    if (entry.finished || entry.state === "interrupted") continue;
    if (entry.slices === 0) {
      await deleteEntry(entry.id);
      continue;
    }
    await updateEntry(entry.id, { state: "interrupted" });
    recovered++;
  }
  if (recovered) notify();
  return recovered;
}

/** The officer accepts a recovered recording: it joins the queue like any finished item. */
export async function acceptRecovered(id: string): Promise<void> {
  await change(id, { finished: true, state: "on_phone" });
  void processQueue();
}

/** Try an item in error once more (e.g. after a stage was corrected on the server). */
export async function retryEntry(id: string): Promise<void> {
  await change(id, { state: "on_phone", error: null, uploadUrl: null });
  void processQueue();
}

export async function discardEntry(id: string): Promise<void> {
  await deleteEntry(id);
  notify();
}

/** Background Sync where the browser has it: the service worker wakes the page to replay. */
export async function registerBackgroundSync(): Promise<void> {
  try {
    if (typeof navigator === "undefined" || !("serviceWorker" in navigator)) return;
    const reg = (await navigator.serviceWorker.getRegistration()) as
      (ServiceWorkerRegistration & { sync?: { register(tag: string): Promise<void> } }) | undefined;
    await reg?.sync?.register(SYNC_TAG);
  } catch {
    /* Background Sync unavailable or refused: start-up replay and `online` cover it */
  }
}

export function startQueue({ metered = false }: { metered?: boolean } = {}): void {
  pauseOnMetered = metered;
  connection()?.addEventListener("change", () => void processQueue());
  window.addEventListener("online", () => {
    backoffMs = 0;
    void processQueue();
  });
  navigator.serviceWorker?.addEventListener("message", (event) => {
    if (event.data?.type === "replay-queue") void processQueue();
  });
  void processQueue();
}
