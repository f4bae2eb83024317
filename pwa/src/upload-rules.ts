/**
 * The upload rules shared by the page's queue (`queue.ts`, tus-js-client) and the service
 * worker's Background Sync pass (`background-upload.ts`, `tus-lite.ts`): which entries wait
 * for an upload, the tus `Upload-Metadata` they carry, what the server's verdict means for an
 * entry, and when the officer's "Wi-Fi only" choice pauses uploads. Pure, and loadable in the
 * service worker: no DOM, no XHR, no i18n (a message to show is passed in).
 */
import type { QueueEntry } from "./db";
import { isoWithOffset } from "./time";

/** The Background Sync tag the page registers and the service worker answers. */
export const SYNC_TAG = "fieldtrace-upload";
/** Bytes per tus PATCH, page and worker alike. */
export const CHUNK_BYTES = 8 * 1024 * 1024;
/** The uploads endpoint under the app's origin (README "API in brief"). */
export const UPLOADS_PATH = "/api/v1/uploads/";

/** States of an entry that still has to reach `verified`. */
export const AWAITING_SERVER: readonly string[] = ["on_phone", "uploading", "received"];

/** True when `userId`'s session should send this entry now (finished, not verified, theirs). */
export function awaitsUpload(
  entry: Pick<QueueEntry, "finished" | "state" | "userId">,
  userId: number | null,
): boolean {
  return entry.finished && AWAITING_SERVER.includes(entry.state) && entry.userId === userId;
}

/**
 * `error.code`s of a 409 that are the server's final word on an upload: the same request
 * later gets the same answer (server/services/uploads.py, at the creation POST).
 */
export const FINAL_REFUSALS: readonly string[] = [
  "case_archived",
  "stage_not_reached",
  "device_not_yours",
];

/**
 * True when a refused tus request is final rather than worth retrying: a 409 on the creation
 * POST (the server checks the case, stage and device there), or a 409 naming a final refusal.
 * A 409 on PATCH is an offset conflict (`offset_mismatch`): resumed from the server's offset.
 */
export function isFinalRefusal(
  method: string | null | undefined,
  status: number,
  code: string | null | undefined,
): boolean {
  if (status !== 409) return false;
  return method?.toUpperCase() === "POST" || FINAL_REFUSALS.includes(code ?? "");
}

export type MediaStatus = "received" | "verified" | "hash_mismatch" | string | null;

/**
 * What the server's verdict on an item means for its queue entry (pure; unit-tested).
 * `resendNote`: shown on the entry while a mismatching item is sent again.
 */
export function afterServerStatus(
  entry: Pick<QueueEntry, "resent">,
  status: MediaStatus,
  message: string | null,
  mediaId: string | null,
  resendNote: string | null = null,
): { change: Partial<QueueEntry>; dropBytes: boolean; retryNow: boolean } {
  if (status === "verified") {
    return {
      change: {
        state: "verified",
        percent: 100,
        mediaId,
        error: null,
        errorCode: null,
        verifiedAt: Date.now(),
      },
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
          error: resendNote,
          errorCode: "resend_mismatch",
        },
        dropBytes: false,
        retryNow: true,
      };
    }
    return {
      change: {
        state: "error",
        mediaId,
        error: message || "hash_mismatch",
        errorCode: "hash_mismatch",
      },
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

/** tus `Upload-Metadata` of an entry (README "API in brief"); the entry must be hashed. */
export function uploadMetadata(entry: QueueEntry): Record<string, string> {
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
  };
  if (entry.capture) meta.capture = entry.capture;
  // "none": not recorded (a picked file), which the server keeps as no status at all
  if (entry.geo !== "none") meta.location_status = entry.geo;
  if (entry.geo === "ok" && entry.latitude != null && entry.longitude != null) {
    meta.latitude = String(entry.latitude);
    meta.longitude = String(entry.longitude);
    if (entry.accuracyM != null) meta.accuracy_m = String(entry.accuracyM);
  }
  return meta;
}

export interface NetworkInformationLike extends EventTarget {
  type?: string;
  effectiveType?: string;
  saveData?: boolean;
}

/** The Network Information API where the browser has it (a page's or a worker's navigator). */
export function connection(): NetworkInformationLike | undefined {
  return typeof navigator === "undefined"
    ? undefined
    : (navigator as { connection?: NetworkInformationLike }).connection;
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
