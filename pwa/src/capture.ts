/**
 * Capture inside the app: video (with sound) and audio through getUserMedia + MediaRecorder,
 * writing a slice to IndexedDB every second; photos at the camera's full resolution (its own
 * still where the browser has ImageCapture, else a frame at the largest size); and a
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
  capture?: CaptureInfo,
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
    ...(capture ? { capture: JSON.stringify(capture) } : {}),
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

/**
 * What the phone knew about a photo as it took it, kept in the upload's metadata (`capture`,
 * JSON) as EXIF would keep it in a camera's file: how it was taken, its size, the camera.
 */
export interface CaptureInfo {
  /** `image_capture`: the camera's own still (ImageCapture.takePhoto); `video_frame`: a frame
   * of the camera's stream at the largest size it accepts. */
  method: "image_capture" | "video_frame";
  width: number;
  height: number;
  /** the camera as the browser names it (track label), its facing mode and zoom */
  camera?: string;
  facing?: string;
  zoom?: number;
  /** the largest frame the camera's stream offers, for comparison */
  stream_max?: { width: number; height: number };
}

const JPEG_QUALITY = 0.92;
/** How long a camera may take to switch its stream to a new size before the frame is taken. */
const RESIZE_WAIT_MS = 2500;

interface ImageCaptureLike {
  getPhotoCapabilities(): Promise<{
    imageWidth?: { max?: number };
    imageHeight?: { max?: number };
  }>;
  takePhoto(settings?: { imageWidth?: number; imageHeight?: number }): Promise<Blob>;
}

type ImageCaptureConstructor = new (track: MediaStreamTrack) => ImageCaptureLike;

/** The largest frame size a video track says it can deliver, if it says. */
export function largestSize(
  caps: Partial<Pick<MediaTrackCapabilities, "width" | "height">>,
): { width: number; height: number } | null {
  const width = caps.width?.max;
  const height = caps.height?.max;
  return width && height ? { width, height } : null;
}

function canvasJpeg(source: CanvasImageSource, width: number, height: number): Promise<Blob> {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  canvas.getContext("2d")!.drawImage(source, 0, 0, width, height);
  return new Promise<Blob>((resolve, reject) =>
    canvas.toBlob(
      (b) => (b ? resolve(b) : reject(new Error("no JPEG"))),
      "image/jpeg",
      JPEG_QUALITY,
    ),
  );
}

/** The camera's own still photo, when the browser has ImageCapture; null when it fails. */
async function stillPhoto(
  track: MediaStreamTrack,
): Promise<{ blob: Blob; width: number; height: number } | null> {
  const Capture = (globalThis as { ImageCapture?: ImageCaptureConstructor }).ImageCapture;
  if (!Capture) return null;
  try {
    const capture = new Capture(track);
    const caps = await capture.getPhotoCapabilities().catch(() => null);
    const width = caps?.imageWidth?.max;
    const height = caps?.imageHeight?.max;
    const photo = await capture
      .takePhoto(width && height ? { imageWidth: width, imageHeight: height } : undefined)
      .catch(() => capture.takePhoto());
    const bitmap = await createImageBitmap(photo);
    const size = { width: bitmap.width, height: bitmap.height };
    // Some cameras hand back PNG (or a raw format): the evidence is stored as a JPEG.
    const blob =
      photo.type === "image/jpeg" ? photo : await canvasJpeg(bitmap, size.width, size.height);
    bitmap.close();
    return { blob, ...size };
  } catch {
    return null;
  }
}

/** Resolve once the element shows frames of ``width`` x ``height`` (or after a while). */
function videoAtSize(video: HTMLVideoElement, width: number, height: number): Promise<void> {
  const deadline = Date.now() + RESIZE_WAIT_MS;
  return new Promise((resolve) => {
    const check = () => {
      const done = video.videoWidth * video.videoHeight >= width * height;
      if (done || Date.now() > deadline) resolve();
      else setTimeout(check, 50);
    };
    check();
  });
}

/** A frame of the stream at the largest size the camera's track accepts. */
async function largestFrame(
  video: HTMLVideoElement,
  track: MediaStreamTrack | undefined,
): Promise<{ blob: Blob; width: number; height: number }> {
  const largest = track?.getCapabilities ? largestSize(track.getCapabilities()) : null;
  const now = { width: video.videoWidth, height: video.videoHeight };
  if (track && largest && largest.width * largest.height > now.width * now.height) {
    try {
      await track.applyConstraints({
        width: { ideal: largest.width },
        height: { ideal: largest.height },
      });
      const settings = track.getSettings();
      await videoAtSize(video, settings.width ?? largest.width, settings.height ?? largest.height);
    } catch {
      // The camera keeps the size it has: the frame is taken at that size.
    }
  }
  const width = video.videoWidth || 640;
  const height = video.videoHeight || 480;
  return { blob: await canvasJpeg(video, width, height), width, height };
}

/**
 * A photo at the camera's full resolution, from the live preview's camera: its own still
 * (ImageCapture) where the browser has one and it is at least as large as the stream's
 * largest frame, else a frame of the stream raised to the largest size it accepts. (A
 * frame of the stream as it was opened is 640x480 on many phones: too small for labels.)
 */
export async function capturePhoto(
  video: HTMLVideoElement,
): Promise<{ blob: Blob; info: CaptureInfo }> {
  const track = (video.srcObject as MediaStream | null)?.getVideoTracks?.()[0];
  const caps = track?.getCapabilities ? track.getCapabilities() : {};
  const streamMax = largestSize(caps);
  const settings = track?.getSettings ? track.getSettings() : {};
  const about: Omit<CaptureInfo, "method" | "width" | "height"> = {
    ...(track?.label ? { camera: track.label } : {}),
    ...(settings.facingMode ? { facing: settings.facingMode } : {}),
    ...("zoom" in settings ? { zoom: (settings as { zoom?: number }).zoom } : {}),
    ...(streamMax ? { stream_max: streamMax } : {}),
  };
  const still = track ? await stillPhoto(track) : null;
  const frameMax = streamMax ?? { width: video.videoWidth, height: video.videoHeight };
  if (still && still.width * still.height >= frameMax.width * frameMax.height) {
    const { blob, width, height } = still;
    return { blob, info: { method: "image_capture", width, height, ...about } };
  }
  const { blob, width, height } = await largestFrame(video, track);
  return { blob, info: { method: "video_frame", width, height, ...about } };
}

/** A photo from the live preview's camera (see capturePhoto), stored as a finished item. */
export async function takePhoto(video: HTMLVideoElement, target: CaptureTarget): Promise<string> {
  const at = new Date();
  const { blob, info } = await capturePhoto(video);
  return storeFinished("photo", blob, "image/jpeg", target, at, true, info);
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
  capture?: CaptureInfo,
): Promise<string> {
  const id = crypto.randomUUID();
  const release = await holdLock(recordingLockName(id));
  try {
    await newEntry(id, kind, target, contentType, at, located ? "pending" : "none", capture);
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
