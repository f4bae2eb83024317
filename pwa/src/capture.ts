/**
 * Capture inside the app: video (with sound) and audio through getUserMedia + MediaRecorder,
 * writing a slice to IndexedDB every second; photos as a JPEG of one video frame; and a
 * `<input type=file capture>` fallback for browsers without those APIs.
 */
import {
  addSlice,
  deviceId,
  getEntry,
  putEntry,
  updateEntry,
  type Kind,
  type QueueEntry,
} from "./db";
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

const GEO_WAIT_AFTER_CAPTURE_MS = 4000;

/** Wait a little for a pending position; an officer who never answers the prompt is not blocked. */
async function settleGeo(itemId: string, geo: Promise<void>): Promise<void> {
  const timedOut = await Promise.race([
    geo.then(() => false),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(true), GEO_WAIT_AFTER_CAPTURE_MS)),
  ]);
  if (timedOut) {
    const entry = await getEntry(itemId);
    if (entry?.geo === "pending") await updateEntry(itemId, { geo: "unavailable" });
  }
}

/** Ask for the position once per capture; record refusal as such. Never blocks capture. */
function locate(itemId: string): Promise<void> {
  return new Promise((resolve) => {
    if (!("geolocation" in navigator)) {
      void updateEntry(itemId, { geo: "unavailable" }).then(() => resolve());
      return;
    }
    navigator.geolocation.getCurrentPosition(
      (pos) => {
        void updateEntry(itemId, {
          geo: "ok",
          latitude: pos.coords.latitude,
          longitude: pos.coords.longitude,
          accuracyM: pos.coords.accuracy,
        }).then(() => resolve());
      },
      (err) => {
        const geo = err.code === err.PERMISSION_DENIED ? "refused" : "unavailable";
        void updateEntry(itemId, { geo }).then(() => resolve());
      },
      { enableHighAccuracy: true, timeout: 10_000, maximumAge: 30_000 },
    );
  });
}

async function newEntry(
  kind: Kind,
  target: CaptureTarget,
  contentType: string,
  startedAt: Date,
): Promise<QueueEntry> {
  const entry: QueueEntry = {
    id: crypto.randomUUID(),
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
  /** bytes written to IndexedDB so far */
  bytes(): number;
  /** Stop, flush the last slice, mark the entry finished; resolves with the entry id. */
  stop(): Promise<string>;
}

/** Start recording now; every second's data is written to IndexedDB before the next arrives. */
export async function startRecording(
  kind: "video" | "audio",
  stream: MediaStream,
  target: CaptureTarget,
): Promise<Recording> {
  const mime = pickMime(kind);
  const recorder = new MediaRecorder(stream, mime ? { mimeType: mime } : undefined);
  const started = new Date();
  const entry = await newEntry(kind, target, bareType(recorder.mimeType || mime, kind), started);
  const geo = locate(entry.id);
  let seq = 0;
  let bytes = 0;
  let writes: Promise<void> = Promise.resolve();
  recorder.ondataavailable = (event) => {
    if (!event.data || event.data.size === 0) return;
    const slice = { itemId: entry.id, seq: seq++, data: event.data };
    bytes += event.data.size;
    writes = writes.then(() => addSlice(slice));
  };
  const stopped = new Promise<void>((resolve) => {
    recorder.onstop = () => resolve();
  });
  recorder.start(SLICE_MS);
  return {
    entry,
    startedAt: started.getTime(),
    bytes: () => bytes,
    async stop() {
      if (recorder.state !== "inactive") recorder.stop();
      await stopped;
      await writes;
      await settleGeo(entry.id, geo);
      await updateEntry(entry.id, {
        finished: true,
        endedAt: isoWithOffset(),
        state: "on_phone",
      });
      return entry.id;
    },
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
  return storeFinished(kind, file, bareType(file.type, kind), target, at);
}

async function storeFinished(
  kind: Kind,
  blob: Blob,
  contentType: string,
  target: CaptureTarget,
  at: Date,
): Promise<string> {
  const entry = await newEntry(kind, target, contentType, at);
  const geo = locate(entry.id);
  await addSlice({ itemId: entry.id, seq: 0, data: blob });
  await settleGeo(entry.id, geo);
  await updateEntry(entry.id, { finished: true, endedAt: isoWithOffset(), state: "on_phone" });
  return entry.id;
}
