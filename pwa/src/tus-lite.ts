/**
 * A minimal tus 1.0 client over `fetch`, for the service worker (tus-js-client needs
 * XMLHttpRequest, which a worker does not have). Just what Fieldtrace's server needs:
 * resume a stored upload URL (HEAD → `Upload-Offset`), or create one (POST with
 * `Upload-Length` and `Upload-Metadata`, the URL handed to `onUploadUrl` before any byte is
 * sent), then PATCH the remaining bytes in chunks, each a `Blob.slice` (never the whole file
 * in memory). No retries of its own: a `TusError` says whether trying later can help, and the
 * caller (Background Sync) owns the back-off.
 *
 * ```ts
 * const { url } = await tusUpload(blob, {
 *   endpoint: "https://example.org/api/v1/uploads/",
 *   uploadUrl: entry.uploadUrl,
 *   metadata: { filename: "a.jpg", sha256: "…" },
 *   headers: { Authorization: `Bearer ${token}` },
 *   onUploadUrl: (url) => updateEntry(entry.id, { uploadUrl: url }),
 *   onProgress: (sent, total) => updateEntry(entry.id, { percent: (100 * sent) / total }),
 * });
 * ```
 */

export const TUS_VERSION = "1.0.0";
export const DEFAULT_CHUNK_BYTES = 8 * 1024 * 1024;
/** 409s in a row (the server's offset is not ours) before giving up until the next attempt. */
const MAX_OFFSET_RESYNCS = 3;

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/** Why an upload stopped. `retryable`: the same request later may succeed (network, 5xx, 423). */
export class TusError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = "TusError";
  }
}

export interface TusOptions {
  /** The creation endpoint, absolute (`…/api/v1/uploads/`). */
  endpoint: string;
  /** A URL from an earlier attempt: resumed where the server stands. */
  uploadUrl?: string | null;
  metadata: Record<string, string>;
  /** Sent with every request (the bearer token). */
  headers?: Record<string, string>;
  chunkBytes?: number;
  fetch?: FetchLike;
  signal?: AbortSignal;
  /** The upload's URL once created (store it at once), or `null` when a stored one is dead. */
  onUploadUrl?: (url: string | null) => unknown;
  /** After every acknowledged chunk, with the server's offset. */
  onProgress?: (sent: number, total: number) => unknown;
}

export interface TusResult {
  url: string;
  /** `Fieldtrace-Media-Id` of the item the last chunk produced, when the server said it. */
  mediaId: string | null;
}

/** tus `Upload-Metadata`: `key base64(utf-8 value)` pairs, comma separated. */
export function encodeMetadata(metadata: Record<string, string>): string {
  return Object.entries(metadata)
    .map(([key, value]) => {
      let binary = "";
      for (const byte of new TextEncoder().encode(value)) binary += String.fromCharCode(byte);
      return `${key} ${btoa(binary)}`;
    })
    .join(",");
}

/** Upload `blob`; resolves once the server holds every byte. */
export async function tusUpload(blob: Blob, options: TusOptions): Promise<TusResult> {
  const doFetch: FetchLike = options.fetch ?? ((input, init) => fetch(input, init));
  const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  const total = blob.size;

  async function call(method: string, url: string, init: RequestInit = {}): Promise<Response> {
    try {
      return await doFetch(url, {
        ...init,
        method,
        cache: "no-store",
        signal: options.signal,
        headers: {
          ...options.headers,
          "Tus-Resumable": TUS_VERSION,
          ...(init.headers as Record<string, string> | undefined),
        },
      });
    } catch (err) {
      const aborted = (err as Error)?.name === "AbortError";
      throw new TusError(
        aborted ? "upload stopped (time is up)" : "network error",
        0,
        aborted ? "aborted" : "network",
        true,
      );
    }
  }

  let url = options.uploadUrl ?? null;
  let offset = 0;
  let mediaId: string | null = null;

  if (url) {
    const res = await call("HEAD", url);
    if (res.ok) {
      const length = Number(res.headers.get("Upload-Length"));
      offset = offsetOf(res);
      mediaId = res.headers.get("Fieldtrace-Media-Id");
      if (Number.isFinite(length) && res.headers.has("Upload-Length") && length !== total) {
        url = null; // the stored URL belongs to other bytes: start over
      }
    } else if (isGone(res.status)) {
      url = null; // expired, terminated or unknown: a new upload, like tus-js-client
    } else {
      throw await responseError(res);
    }
    if (!url) await options.onUploadUrl?.(null);
  }

  if (!url) {
    const res = await call("POST", options.endpoint, {
      headers: {
        "Upload-Length": String(total),
        "Upload-Metadata": encodeMetadata(options.metadata),
      },
    });
    const location = res.headers.get("Location");
    // A 409 here is the server's refusal (archived case, another officer's device): final.
    if (res.status !== 201 || !location) {
      throw await responseError(res, res.status === 409 ? false : undefined);
    }
    url = new URL(location, options.endpoint).href;
    offset = 0;
    mediaId = res.headers.get("Fieldtrace-Media-Id");
    await options.onUploadUrl?.(url);
  }

  let resyncs = 0;
  while (offset < total) {
    const end = Math.min(offset + chunkBytes, total);
    const res = await call("PATCH", url, {
      headers: {
        "Upload-Offset": String(offset),
        "Content-Type": "application/offset+octet-stream",
      },
      body: blob.slice(offset, end),
    });
    if (res.status === 204) {
      const next = offsetOf(res);
      if (next <= offset || next > total) {
        throw new TusError(`the server answered offset ${next}`, 204, "bad_offset", true);
      }
      offset = next;
      resyncs = 0;
      mediaId = res.headers.get("Fieldtrace-Media-Id") ?? mediaId;
      await options.onProgress?.(offset, total);
      continue;
    }
    if (res.status === 409 && ++resyncs <= MAX_OFFSET_RESYNCS) {
      // Our offset is not the server's (another request wrote meanwhile, or the upload is
      // already complete): continue from where the server stands.
      offset = res.headers.has("Upload-Offset") ? offsetOf(res) : await headOffset(url);
      await options.onProgress?.(offset, total);
      continue;
    }
    if (isGone(res.status)) {
      // Expired or terminated under us: forget the URL; the next attempt creates a new one.
      await options.onUploadUrl?.(null);
      throw await responseError(res, true);
    }
    throw await responseError(res);
  }
  return { url, mediaId };

  async function headOffset(at: string): Promise<number> {
    const res = await call("HEAD", at);
    if (!res.ok) throw await responseError(res);
    return offsetOf(res);
  }
}

function offsetOf(res: Response): number {
  const raw = res.headers.get("Upload-Offset");
  const offset = raw === null ? NaN : Number(raw);
  if (!Number.isInteger(offset) || offset < 0) {
    throw new TusError(`no valid Upload-Offset (${raw})`, res.status, "bad_offset", true);
  }
  return offset;
}

/** The stored upload is no more (404 unknown, 410 expired or terminated). */
function isGone(status: number): boolean {
  return status === 404 || status === 410;
}

/**
 * A refused response as a `TusError` with the server's `error.message`; `retryable` unless
 * told: network-ish statuses (5xx, 408, 409, 423, 429) yes, 401, 412 and other 4xx no.
 */
export async function responseError(res: Response, retryable?: boolean): Promise<TusError> {
  let message = `${res.status} ${res.statusText}`.trim();
  let code = "http_error";
  try {
    const err = (await res.json())?.error;
    if (err?.message) message = err.message;
    if (err?.code) code = err.code;
  } catch {
    /* not JSON (HEAD has no body): keep the status */
  }
  if (res.status === 401) return new TusError(message, 401, "unauthorized", false);
  if (res.status === 412) {
    // The server speaks another tus version: no later attempt will do better.
    const versions = res.headers.get("Tus-Version");
    return new TusError(
      versions ? `${message} (server: tus ${versions})` : message,
      412,
      code === "http_error" ? "tus_version_unsupported" : code,
      false,
    );
  }
  return new TusError(
    message,
    res.status,
    code,
    retryable ?? (res.status >= 500 || [408, 409, 423, 429].includes(res.status)),
  );
}
