/**
 * The service worker's upload pass, run from a Background Sync event (`sw.ts`) when no page
 * of the app is in front: with every tab closed, items recorded offline still go up when the
 * network returns. Same rules as the page's queue (`queue.ts`), through `fetch`:
 *
 * - the stored session's bearer token; only that officer's entries; the "Wi-Fi only" choice;
 * - per entry, under its Web Lock (`entry-lock.ts`), so a page and the worker never send the
 *   same entry at once: hash if the page had not yet, look for an earlier upload of the same
 *   bytes, then tus (`tus-lite.ts`): resume the stored URL or create one (stored at once),
 *   PATCH chunk by chunk, the entry's percent written to IndexedDB after each chunk;
 * - then ask the upload's status for `verified` for a few seconds; the phone copy is deleted
 *   only on `verified`, a hash mismatch is sent once more, like the page does.
 *
 * Nothing here throws for a network failure: the result says whether anything is left
 * (`retry`), and the sync handler then fails the event so the browser tries again later with
 * its own back-off. The pass stops by `deadline`, well before the browser ends the event.
 *
 * ```ts
 * const result = await uploadQueueInWorker({ origin: self.location.origin,
 *                                            deadline: Date.now() + 150_000 });
 * if (result.retry) throw new Error(`${result.waiting} item(s) still waiting`);
 * ```
 */
import {
  allEntries,
  deleteSlices,
  getEntry,
  getSetting,
  itemBlob,
  updateEntry,
  type ItemState,
  type QueueEntry,
} from "./db";
import { withEntryLock, type LockManagerLike } from "./entry-lock";
import { keepMissingReceipts } from "./receipt";
import { sha256Blob } from "./hash";
import { responseError, tusUpload, TusError, type FetchLike } from "./tus-lite";
import {
  afterServerStatus,
  awaitsUpload,
  CHUNK_BYTES,
  connection,
  isMetered,
  uploadMetadata,
  UPLOADS_PATH,
  type MediaStatus,
  type NetworkInformationLike,
} from "./upload-rules";

const API = "/api/v1";
/** How long to ask for `verified` after the last byte (the server verifies on a job). */
export const VERIFY_DELAYS_MS = [500, 1000, 2000, 4000, 8000];
/** How long to wait for an entry that a page is sending before moving on. */
export const LOCK_WAIT_MS = 10_000;

/** What the worker needs of the session the page stored in `settings` (api.ts `Session`). */
interface StoredSession {
  token: string;
  expires_at: string;
  user: { id: number };
}

export interface WorkerPassOptions {
  /** The app's origin (`self.location.origin`). */
  origin: string;
  /** Epoch ms by which the pass stops (requests in flight are aborted). */
  deadline: number;
  fetch?: FetchLike;
  locks?: LockManagerLike;
  connection?: NetworkInformationLike;
  chunkBytes?: number;
  lockWaitMs?: number;
  verifyDelaysMs?: readonly number[];
  /** Called after every change of an entry (the worker tells open pages to redraw). */
  onChange?: () => void;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export type PassReason =
  | "done" // nothing of this officer's waits any more
  | "signed_out" // no valid session on the phone: the next login takes over
  | "paused" // the officer chose "Wi-Fi only" and this network is metered
  | "offline" // the network or the server failed
  | "busy" // a page is sending an entry
  | "time_up" // the deadline came first
  | "awaiting_verification"; // sent, the server has not verified yet

export interface WorkerPassResult {
  /** Entries verified during this pass. */
  verified: number;
  /** This officer's entries still waiting (on the phone, uploading or received). */
  waiting: number;
  /** True when another attempt later may get further: the sync handler should fail. */
  retry: boolean;
  reason: PassReason;
}

/** Stops the pass: every further entry would fail the same way. */
class StopPass extends Error {
  constructor(readonly reason: PassReason) {
    super(reason);
  }
}

interface Pass {
  userId: number;
  token: string;
  options: WorkerPassOptions;
  fetch: FetchLike;
  signal: AbortSignal;
  changed(): void;
}

/** The session stored on the phone, while it is valid. */
async function validSession(now: number): Promise<StoredSession | null> {
  const session = await getSetting<StoredSession>("session");
  return session?.token && Date.parse(session.expires_at) > now ? session : null;
}

/** How many of the signed-in officer's entries wait for the server (0 when signed out). */
export async function entriesWaiting(now: number = Date.now()): Promise<number> {
  const session = await validSession(now);
  if (!session) return 0;
  return (await allEntries()).filter((e) => awaitsUpload(e, session.user.id)).length;
}

export async function uploadQueueInWorker(options: WorkerPassOptions): Promise<WorkerPassResult> {
  const now = options.now ?? Date.now;
  const session = await validSession(now());
  if (!session) return { verified: 0, waiting: 0, retry: false, reason: "signed_out" };
  const userId = session.user.id;
  const waiting = async () => (await allEntries()).filter((e) => awaitsUpload(e, userId)).length;
  if (
    (await getSetting<boolean>("pause_on_metered")) &&
    isMetered(options.connection ?? connection())
  ) {
    const left = await waiting();
    return { verified: 0, waiting: left, retry: left > 0, reason: "paused" };
  }

  const timeUp = new AbortController();
  const timer = setTimeout(() => timeUp.abort(), Math.max(0, options.deadline - now()));
  const pass: Pass = {
    userId,
    token: session.token,
    options,
    fetch: options.fetch ?? ((input, init) => fetch(input, init)),
    signal: timeUp.signal,
    changed: () => options.onChange?.(),
  };
  let verified = 0;
  let busy = false;
  let stopped: PassReason | null = null;
  try {
    for (const listed of await allEntries()) {
      if (!awaitsUpload(listed, userId)) continue;
      const left = options.deadline - now();
      if (left <= 0) {
        stopped = "time_up";
        break;
      }
      try {
        const outcome = await withEntryLock(listed.id, () => sendEntry(listed.id, pass), {
          waitMs: Math.min(options.lockWaitMs ?? LOCK_WAIT_MS, left),
          locks: options.locks,
        });
        if (!outcome.ran) busy = true;
        else if (outcome.value === "verified") verified++;
      } catch (err) {
        if (!(err instanceof StopPass)) throw err;
        stopped = err.reason;
        break;
      }
    }
    // the receipts of items verified (this pass or earlier) go beside them on the phone
    if (!stopped && (await keepMissingReceipts(userId, (path) => getJson(pass, path)))) {
      pass.changed();
    }
  } finally {
    clearTimeout(timer);
  }
  const left = await waiting();
  const reason = stopped ?? (busy ? "busy" : left ? "awaiting_verification" : "done");
  return { verified, waiting: left, retry: left > 0 && reason !== "signed_out", reason };
}

/** One entry, its lock held: the state it ends in, or `null` when it no longer waits. */
async function sendEntry(id: string, pass: Pass): Promise<ItemState | null> {
  for (;;) {
    let entry = await getEntry(id); // fresh: a page may have moved it on meanwhile
    if (!entry || !awaitsUpload(entry, pass.userId)) return null;
    entry = await ensureHash(entry, pass);
    try {
      const verdict = await serverVerdict(entry, pass);
      const { change, dropBytes, retryNow } = afterServerStatus(
        entry,
        verdict.status,
        verdict.message,
        verdict.mediaId,
      );
      if (dropBytes) await deleteSlices(id); // the phone copy goes only after verification
      await updateEntry(id, change);
      pass.changed();
      if (!retryNow) return change.state ?? null; // else: a hash mismatch, sent once more
    } catch (err) {
      if (!(err instanceof TusError)) throw err;
      if (err.status === 401) throw new StopPass("signed_out");
      if (err.retryable) {
        const current = await getEntry(id);
        if (current?.state === "uploading") await updateEntry(id, { state: "on_phone" });
        pass.changed();
        throw new StopPass(err.code === "aborted" ? "time_up" : "offline");
      }
      await updateEntry(id, { state: "error", error: err.message, errorCode: err.code });
      pass.changed();
      return "error";
    }
  }
}

async function ensureHash(entry: QueueEntry, pass: Pass): Promise<QueueEntry> {
  if (entry.sha256) return entry;
  const blob = await itemBlob(entry.id, entry.contentType);
  const sha256 = await sha256Blob(blob);
  await updateEntry(entry.id, { sha256, size: blob.size });
  pass.changed();
  return { ...entry, sha256, size: blob.size };
}

interface Verdict {
  status: MediaStatus;
  message: string | null;
  mediaId: string | null;
}

async function serverVerdict(entry: QueueEntry, pass: Pass): Promise<Verdict> {
  if (entry.state === "received" && entry.mediaId) {
    const item = await getJson<MediaItemJson>(pass, `/media/${entry.mediaId}`);
    return { status: item.status, message: item.status_message ?? null, mediaId: item.id };
  }
  if (!entry.uploadUrl) {
    // Uploaded before (the app closed between the last byte and the bookkeeping)?
    const { items } = await getJson<{ items: MediaItemJson[] }>(
      pass,
      `/cases/${entry.caseId}/media?sha256=${entry.sha256}`,
    );
    const known = items.find((m) => m.status === "verified" || m.status === "received");
    if (known)
      return { status: known.status, message: known.status_message ?? null, mediaId: known.id };
  }
  const blob = await itemBlob(entry.id, entry.contentType);
  await updateEntry(entry.id, { state: "uploading" });
  pass.changed();
  const { url } = await tusUpload(blob, {
    endpoint: pass.options.origin + UPLOADS_PATH,
    uploadUrl: entry.uploadUrl,
    metadata: uploadMetadata(entry),
    headers: { Authorization: `Bearer ${pass.token}` },
    chunkBytes: pass.options.chunkBytes ?? CHUNK_BYTES,
    fetch: pass.fetch,
    signal: pass.signal,
    // stored before any byte is sent, so a stopped worker or the page resumes, never restarts
    onUploadUrl: (uploadUrl) => updateEntry(entry.id, { uploadUrl }),
    onProgress: async (sent, total) => {
      await updateEntry(entry.id, { percent: total ? Math.floor((sent / total) * 100) : 100 });
      pass.changed();
    },
  });
  return awaitVerification(url, pass);
}

/** Ask the upload's status until the server has verified the item, for a few seconds at most;
 * an item still `received` then is settled by a later sync or the next start of the app. */
async function awaitVerification(uploadUrl: string, pass: Pass): Promise<Verdict> {
  const now = pass.options.now ?? Date.now;
  const sleep = pass.options.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  const id = uploadUrl.replace(/\/+$/, "").split("/").pop();
  const delays = pass.options.verifyDelaysMs ?? VERIFY_DELAYS_MS;
  for (let attempt = 0; ; attempt++) {
    const status = await getJson<UploadStatusJson>(pass, `/uploads/${id}`);
    const verdict = {
      status: status.media_status,
      message: status.media_status_message,
      mediaId: status.media_item_id,
    };
    if (verdict.status === "verified" || verdict.status === "hash_mismatch") return verdict;
    const delay = delays[attempt];
    if (delay === undefined || now() + delay >= pass.options.deadline) return verdict;
    await sleep(delay);
  }
}

interface MediaItemJson {
  id: string;
  status: string;
  status_message?: string | null;
}

interface UploadStatusJson {
  media_item_id: string | null;
  media_status: MediaStatus;
  media_status_message: string | null;
}

async function getJson<T>(pass: Pass, path: string): Promise<T> {
  let res: Response;
  try {
    res = await pass.fetch(pass.options.origin + API + path, {
      headers: { Accept: "application/json", Authorization: `Bearer ${pass.token}` },
      cache: "no-store",
      signal: pass.signal,
    });
  } catch (err) {
    const aborted = (err as Error)?.name === "AbortError";
    throw new TusError("network error", 0, aborted ? "aborted" : "network", true);
  }
  if (!res.ok) throw await responseError(res);
  return (await res.json()) as T;
}
