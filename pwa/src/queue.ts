/**
 * The upload queue (after workbox's Queue): entries live in IndexedDB; an entry's bytes leave
 * the phone only when the server reports the item `verified` (device hash == server hash).
 * Replayed at start-up, on `online`, and on a back-off timer. While entries wait, a Background
 * Sync is registered: with no page in front the service worker uploads them itself
 * (`background-upload.ts`); each entry's Web Lock keeps page and worker off the same entry.
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
  caseMediaBySha,
  currentUserId,
  getToken,
  mediaItem,
  request,
  uploadStatus,
} from "./api";
import { ifLockFree, recordingLockName, withEntryLock } from "./entry-lock";
import { sha256Blob } from "./hash";
import { t } from "./i18n";
import { keepMissingReceipts } from "./receipt";
import {
  afterServerStatus as verdictRules,
  awaitsUpload,
  CHUNK_BYTES,
  connection,
  isFinalRefusal,
  isMetered,
  SYNC_TAG,
  uploadMetadata,
  UPLOADS_PATH,
  type MediaStatus,
} from "./upload-rules";

export { CHUNK_BYTES, isMetered, SYNC_TAG };

export const RETRY_DELAYS = [0, 1000, 3000, 5000, 10000, 20000];
export const KEEP_VERIFIED = 50;
const RECEIVED_POLL_MS = [1000, 2000, 4000, 8000, 15000, 30000];
const MAX_BACKOFF_MS = 60_000;
/** How soon to look again at an entry the service worker is sending. */
const WORKER_BUSY_RECHECK_MS = 5_000;

/** What the server's verdict means for the entry (`upload-rules.ts`), with the page's note. */
export function afterServerStatus(
  entry: Pick<QueueEntry, "resent">,
  status: MediaStatus,
  message: string | null,
  mediaId: string | null,
): ReturnType<typeof verdictRules> {
  return verdictRules(entry, status, message, mediaId, t("resend_mismatch"));
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
  while (!entry.sha256) {
    const before = (await getEntry(entry.id)) ?? entry;
    const blob = await itemBlob(entry.id, entry.contentType);
    const sha256 = await sha256Blob(blob);
    // Kept only if no slice was added meanwhile (addSlice clears the hash); else hash again.
    const same = (e: QueueEntry) => e.slices === before.slices && e.size === before.size;
    const kept = await updateEntry(entry.id, { sha256, size: blob.size }, same);
    notify();
    entry = kept ?? (await getEntry(entry.id)) ?? { ...entry, sha256, size: blob.size };
  }
  return entry;
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
  let workerSending = false;
  for (const listed of entries) {
    if (!awaitsUpload(listed, currentUserId())) continue; // another officer's waits for them
    try {
      // Under the entry's lock: the service worker may be sending it (Background Sync while
      // this page was in the background); then leave it to the worker and look again later.
      const outcome = await withEntryLock(listed.id, async () => {
        const entry = await getEntry(listed.id); // fresh: the worker may have moved it on
        if (entry && awaitsUpload(entry, currentUserId())) await processEntry(entry);
      });
      if (!outcome.ran) {
        workerSending = true;
        continue;
      }
      const after = await getEntry(listed.id);
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
          void syncWhileWaiting();
        }
        return; // every other entry would fail the same way
      }
      await change(listed.id, {
        state: "error",
        error: readable(err),
        errorCode: err instanceof ApiError ? err.code : null,
      });
    }
  }
  // the receipts of verified items go beside them (kept after the phone copy is released)
  if (await keepMissingReceipts(currentUserId(), (path) => request("GET", path))) notify();
  await pruneVerified(entries);
  const lookAgain: number[] = [];
  if (waitingForServer) {
    // verification runs on a worker: ask often at first, then less often
    lookAgain.push(RECEIVED_POLL_MS[Math.min(receivedPolls++, RECEIVED_POLL_MS.length - 1)]);
  } else {
    receivedPolls = 0;
  }
  if (workerSending) lookAgain.push(WORKER_BUSY_RECHECK_MS);
  if (lookAgain.length) schedule(Math.min(...lookAgain));
  await syncWhileWaiting({ atMostEvery: SYNC_REFRESH_MS });
}

/** This officer's entries not yet verified, as of the last look (0 before the first). */
let waitingCount = 0;
let lastSyncRequest = 0;
/** With the page in front and online, the sync fires at once and the worker leaves the work
 * to the page; asking again after every pass would keep waking the worker for nothing. */
const SYNC_REFRESH_MS = 60_000;

/** While entries wait, keep a Background Sync registered: should this page be closed, hidden
 * or killed, the service worker uploads them when the network is there. */
async function syncWhileWaiting({ atMostEvery = 0 }: { atMostEvery?: number } = {}): Promise<void> {
  waitingCount = (await allEntries()).filter((e) => awaitsUpload(e, currentUserId())).length;
  if (!waitingCount || Date.now() - lastSyncRequest < atMostEvery) return;
  lastSyncRequest = Date.now();
  await requestSync();
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

/** tus upload of the entry's bytes; resumes from the stored upload URL. Resolves the URL. */
async function send(entry: QueueEntry): Promise<string> {
  const blob = await itemBlob(entry.id, entry.contentType);
  await change(entry.id, { state: "uploading" });
  return new Promise<string>((resolve, reject) => {
    let lastStored = -1;
    const upload: Upload = new Upload(blob, {
      endpoint: `${location.origin}${UPLOADS_PATH}`,
      uploadUrl: entry.uploadUrl ?? undefined,
      retryDelays: RETRY_DELAYS,
      chunkSize: CHUNK_BYTES,
      storeFingerprintForResuming: false, // our own resume state lives in the queue entry
      headers: { Authorization: `Bearer ${getToken()}` },
      metadata: uploadMetadata(entry),
      onShouldRetry(err) {
        // tus-js-client's rule (network, 5xx, 409, 423; not while offline), less the refusals
        const status = err.originalResponse?.getStatus() ?? 0;
        if (refusal(err)) return false;
        const retryable = status < 400 || status >= 500 || status === 409 || status === 423;
        return retryable && navigator.onLine !== false;
      },
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

/** The server's `error` of a refused tus request, when its body says. */
function serverError(err: DetailedError): { message?: string; code?: string } {
  try {
    return JSON.parse(err.originalResponse!.getBody()).error ?? {};
  } catch {
    return {}; // not JSON
  }
}

/** A final refusal (archived case, stage not reached, another officer's device). */
function refusal(err: DetailedError): boolean {
  const status = err.originalResponse?.getStatus() ?? 0;
  return isFinalRefusal(err.originalRequest?.getMethod?.(), status, serverError(err).code);
}

function classify(err: DetailedError): Error {
  const res = err.originalResponse;
  const status = res ? res.getStatus() : 0;
  if (!status) return new Offline();
  if (status === 401) return new SessionEnded();
  const said = serverError(err);
  const message = said.message || `${status}`;
  // The entry goes to error with the server's word; later entries carry on.
  if (refusal(err)) return new ApiError(message, status, said.code || "upload_refused");
  if (status >= 500 || status === 409 || status === 423) return new Offline(); // try again later
  return new ApiError(message, status, said.code || "upload_refused");
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

/**
 * Entries left unfinished by a crash or a closed tab: keep their slices, offer them. One
 * still being recorded (or stored) in another tab holds its recording lock and is left alone.
 */
export async function recoverInterrupted(): Promise<number> {
  let recovered = 0;
  for (const listed of await allEntries()) {
    if (listed.finished || listed.state === "interrupted") continue;
    await ifLockFree(recordingLockName(listed.id), async () => {
      const entry = await getEntry(listed.id); // fresh: it may have finished meanwhile
      if (!entry || entry.finished || entry.state === "interrupted") return;
      if (entry.slices === 0) {
        await deleteEntry(entry.id);
        return;
      }
      await updateEntry(entry.id, { state: "interrupted" });
      recovered++;
    });
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

/** Background Sync where the browser has it, while this officer's items wait: the browser
 * fires it when the network is there (at once if it is), and the service worker uploads
 * unless a page of the app is in front. Nothing is registered when nothing waits. */
export function registerBackgroundSync(): Promise<void> {
  return syncWhileWaiting();
}

async function requestSync(): Promise<void> {
  try {
    // Once known, the registration is used without an await first: on `pagehide` the call
    // must leave before the page is gone.
    const reg = syncRegistration ?? (await findSyncRegistration());
    await reg?.sync.register(SYNC_TAG);
  } catch {
    /* Background Sync unavailable or refused: start-up replay and `online` cover it */
  }
}

type SyncRegistration = ServiceWorkerRegistration & {
  sync: { register(tag: string): Promise<void> };
};
let syncRegistration: SyncRegistration | undefined;

async function findSyncRegistration(): Promise<SyncRegistration | undefined> {
  if (typeof navigator === "undefined" || !("serviceWorker" in navigator)) return undefined;
  const reg = (await navigator.serviceWorker.getRegistration()) as
    Partial<SyncRegistration> | undefined;
  if (!reg?.sync) return undefined;
  if (!reg.active) await navigator.serviceWorker.ready; // first visit: still installing
  syncRegistration = reg as SyncRegistration;
  return syncRegistration;
}

export function startQueue({ metered = false }: { metered?: boolean } = {}): void {
  pauseOnMetered = metered;
  connection()?.addEventListener("change", () => void processQueue());
  window.addEventListener("online", () => {
    backoffMs = 0;
    void processQueue();
  });
  navigator.serviceWorker?.addEventListener("message", (event) => {
    // the service worker changed entries (Background Sync): redraw from IndexedDB
    if (event.data?.type === "queue-changed") notify();
  });
  // Leaving (app switched, tab closed, phone locked) with items waiting: hand over to the
  // service worker. Registered again here because a sync that fired earlier is used up.
  const handOver = () => {
    if (waitingCount) void requestSync();
  };
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") handOver();
  });
  window.addEventListener("pagehide", handOver);
  void processQueue();
}
