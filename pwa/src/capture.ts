/**
 * Capture inside the app: video (with sound) and audio through getUserMedia + MediaRecorder,
 * writing a slice to IndexedDB every second; photos as a JPEG of one video frame; and a
 * `<input type=file capture>` fallback for browsers without those APIs.
 */
import {
  addSlice,
  deleteEntry,
  deviceId,
  putEntry,
  updateEntry,
  type GeoStatus,
  type Kind,
  type QueueEntry,
} from "./db";
import { holdLock, recordingLockName } from "./entry-lock";
import { isoWithOffset } from "./time";

export const SLICE_MS = 1000;

export interface CaptureTarget {
  userId: number;
  caseId: number;
  caseNumber: string;
  stage: string;
  activity: string;
}

export function canRecord(): boolean {
  return (
    typeof navigator !== "undefined" &&
    !!navigator.mediaDevices?.getUserMedia &&
    typeof MediaRecorder !== "undefined"
  );
}

const MIME_CANDIDATES: Record<"video" | "audio", string[]> = {
  video: ["video/webm;codecs=vp8,opus", "video/webm", "video/mp4"],
  audio: ["audio/webm;codecs=opus", "audio/webm", "audio/mp4", "audio/ogg"],
};

function pickMime(kind: "video" | "audio"): string {
  return MIME_CANDIDATES[kind].find((m) => MediaRecorder.isTypeSupported(m)) ?? "";
}

/** The server wants a bare MIME type: "video/webm;codecs=vp8,opus" → "video/webm". */
export function bareType(mime: string, kind: Kind): string {
  const bare = mime.split(";")[0].trim().toLowerCase();
  if (/^[a-z0-9.+-]+\/[a-z0-9.+-]+$/.test(bare)) return bare;
  return kind === "photo" ? "image/jpeg" : kind === "video" ? "video/webm" : "audio/webm";
}

const EXTENSIONS: Record<string, string> = {
  "image/jpeg": "jpg",
  "image/png": "png",
  "image/heic": "heic",
  "video/webm": "webm",
  "video/mp4": "mp4",
  "video/quicktime": "mov",
  "audio/webm": "webm",
  "audio/mp4": "m4a",
  "audio/ogg": "ogg",
  "audio/mpeg": "mp3",
};

function filenameFor(kind: Kind, contentType: string, at: Date): string {
  const stamp = isoWithOffset(at).slice(0, 19).replace(/[-:T]/g, "");
  return `${kind}-${stamp}.${EXTENSIONS[contentType] ?? "bin"}`;
}

export const GEO_WAIT_AFTER_CAPTURE_MS = 4000;

/** Only a position still awaited is written: once settled (e.g. given up on), it stays. */
const stillPending = (entry: QueueEntry) => entry.geo === "pending";

/** Wait a little for a pending position; an officer who never answers the prompt is not blocked. */
async function settleGeo(itemId: string, geo: Promise<void>): Promise<void> {
  const timedOut = await Promise.race([
    geo.then(() => false),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(true), GEO_WAIT_AFTER_CAPTURE_MS)),
  ]);
  // A fix arriving later is ignored (stillPending): the item may be uploaded without it.
  if (timedOut) await updateEntry(itemId, { geo: "unavailable" }, stillPending);
}

/** Ask for the position once per capture; record refusal as such. Never blocks capture. */
function locate(itemId: string): Promise<void> {
  return new Promise((resolve) => {
    if (!("geolocation" in navigator)) {
      void updateEntry(itemId, { geo: "unavailable" }, stillPending).then(() => resolve());
      return;
    }
    navigator.geolocation.getCurrentPosition(
      (pos) => {
        void updateEntry(
          itemId,
          {
            geo: "ok",
            latitude: pos.coords.latitude,
            longitude: pos.coords.longitude,
            accuracyM: pos.coords.accuracy,
          },
          stillPending,
        ).then(() => resolve());
      },
      (err) => {
        const geo = err.code === err.PERMISSION_DENIED ? "refused" : "unavailable";
        void updateEntry(itemId, { geo }, stillPending).then(() => resolve());
      },
      { enableHighAccuracy: true, timeout: 10_000, maximumAge: 30_000 },
    );
  });
}

/** A write refused because the phone's storage (the origin's quota) is full. */
export function isStorageFull(err: unknown): boolean {
  const e = err as { name?: string; code?: number } | null;
  return (
    e?.name === "QuotaExceededError" ||
    e?.name === "NS_ERROR_DOM_QUOTA_REACHED" ||
    (e instanceof DOMException && e.code === 22)
  );
}

async function newEntry(
  id: string,
  kind: Kind,
  target: CaptureTarget,
  contentType: string,
  startedAt: Date,
  geo: GeoStatus = "pending",
): Promise<QueueEntry> {
  const entry: QueueEntry = {
    id,
    kind,
    ...target,
    contentType,
    filename: filenameFor(kind, contentType, startedAt),
    deviceId: await deviceId(),
    startedAt: isoWithOffset(startedAt),
    endedAt: null,
    finished: false,
    slices: 0,
    size: 0,
    sha256: null,
    geo,
    latitude: null,
    longitude: null,
    accuracyM: null,
    state: "recording",
    percent: 0,
    uploadUrl: null,
    mediaId: null,
    resent: false,
    error: null,
    createdAt: startedAt.getTime(),
    verifiedAt: null,
  };
  await putEntry(entry);
  return entry;
}

export function openCamera(withVideo: boolean): Promise<MediaStream> {
  return navigator.mediaDevices.getUserMedia(
    withVideo
      ? { video: { facingMode: "environment", width: { ideal: 1280 } }, audio: true }
      : { audio: true },
  );
}

export function stopStream(stream: MediaStream | null): void {
  stream?.getTracks().forEach((track) => track.stop());
}

export interface Recording {
  entry: QueueEntry;
  startedAt: number;
  /** bytes written to IndexedDB so far (counted once written) */
  bytes(): number;
  /** The first slice that could not be written (e.g. storage full), null while none failed. */
  failure(): unknown;
  /**
   * Stop, flush the last slice, mark the entry finished with what was written; resolves
   * with the entry id. Rejects with the write error when a slice could not be stored (what
   * was stored is kept in the queue; nothing stored: the entry is removed).
   */
  stop(): Promise<string>;
}

export interface RecordingOptions {
  /** A slice could not be stored: the recorder has been stopped; call `stop()` to finish. */
  onWriteError?: (err: unknown) => void;
}

/** Start recording now; every second's data is written to IndexedDB as it arrives. */
export async function startRecording(
  kind: "video" | "audio",
  stream: MediaStream,
  target: CaptureTarget,
  { onWriteError }: RecordingOptions = {},
): Promise<Recording> {
  const mime = pickMime(kind);
  const recorder = new MediaRecorder(stream, mime ? { mimeType: mime } : undefined);
  const started = new Date();
  const id = crypto.randomUUID();
  // Held until the entry is finished: another tab must not take it for an interrupted one.
  const release = await holdLock(recordingLockName(id));
  let entry: QueueEntry;
  try {
    entry = await newEntry(id, kind, target, bareType(recorder.mimeType || mime, kind), started);
  } catch (err) {
    release();
    throw err;
  }
  const geo = locate(id);
  let seq = 0;
  let bytes = 0;
  let saved = 0;
  let failure: unknown = null;
  let endedAt: string | null = null;
  const writes = new Set<Promise<void>>();
  recorder.ondataavailable = (event) => {
    if (!event.data || event.data.size === 0) return;
    const slice = { itemId: id, seq: seq++, data: event.data };
    // Each write on its own: one that fails (storage full) does not take the later ones along.
    const write = addSlice(slice).then(
      () => {
        bytes += slice.data.size;
        saved++;
      },
      (err: unknown) => {
        if (failure !== null) return;
        failure = err;
        if (recorder.state !== "inactive") {
          endedAt ??= isoWithOffset();
          recorder.stop();
        }
        onWriteError?.(err);
      },
    );
    writes.add(write);
    void write.finally(() => writes.delete(write));
  };
  const stopped = new Promise<void>((resolve) => {
    recorder.onstop = () => resolve();
  });
  recorder.start(SLICE_MS);
  let stopping: Promise<string> | null = null;
  const finish = async (): Promise<string> => {
    try {
      endedAt ??= isoWithOffset(); // when the officer stopped, not after the position wait
      if (recorder.state !== "inactive") recorder.stop();
      await stopped;
      while (writes.size) await Promise.all([...writes]); // the last slice, flushed at stop
      if (saved === 0) {
        await deleteEntry(id); // nothing on the phone: no empty item in the queue
      } else {
        await settleGeo(id, geo);
        await updateEntry(id, { finished: true, endedAt, state: "on_phone" });
      }
      if (failure !== null) throw failure;
      return id;
    } finally {
      release();
    }
  };
  return {
    entry,
    startedAt: started.getTime(),
    bytes: () => bytes,
    failure: () => failure,
    stop: () => (stopping ??= finish()),
  };
}

/** One frame of the live preview as a JPEG, stored as a finished single-slice item. */
export async function takePhoto(video: HTMLVideoElement, target: CaptureTarget): Promise<string> {
  const at = new Date();
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth || 640;
  canvas.height = video.videoHeight || 480;
  canvas.getContext("2d")!.drawImage(video, 0, 0, canvas.width, canvas.height);
  const blob = await new Promise<Blob>((resolve, reject) =>
    canvas.toBlob((b) => (b ? resolve(b) : reject(new Error("no JPEG"))), "image/jpeg", 0.92),
  );
  return storeFinished("photo", blob, "image/jpeg", target, at);
}

/** A file from the fallback `<input type=file capture>` (or any picked file). */
export function storePickedFile(file: File, target: CaptureTarget): Promise<string> {
  const major = file.type.split("/")[0];
  const kind: Kind = major === "video" ? "video" : major === "audio" ? "audio" : "photo";
  const at = file.lastModified ? new Date(file.lastModified) : new Date();
  // Not located: the phone's position now says nothing of where the file was made.
  return storeFinished(kind, file, bareType(file.type, kind), target, at, false);
}

/** Store one finished item; on a failed write (storage full) nothing is left behind. */
async function storeFinished(
  kind: Kind,
  blob: Blob,
  contentType: string,
  target: CaptureTarget,
  at: Date,
  located = true,
): Promise<string> {
  const id = crypto.randomUUID();
  const release = await holdLock(recordingLockName(id));
  try {
    await newEntry(id, kind, target, contentType, at, located ? "pending" : "none");
    const geo = located ? locate(id) : null;
    try {
      await addSlice({ itemId: id, seq: 0, data: blob });
    } catch (err) {
      await deleteEntry(id).catch(() => undefined);
      throw err;
    }
    if (geo) await settleGeo(id, geo);
    await updateEntry(id, { finished: true, endedAt: isoWithOffset(at), state: "on_phone" });
    return id;
  } finally {
    release();
  }
}
