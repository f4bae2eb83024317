/**
 * A small in-memory stand-in for the server's tus endpoint and the few JSON calls the worker
 * makes, served through a `fetch`-shaped function. It keeps the protocol's rules that matter to
 * a client: offsets must match (409 with the server's offset), `Tus-Resumable` is required
 * (412), bytes are appended chunk by chunk, and a completed upload becomes a media item that is
 * verified (SHA-256 of the bytes == metadata `sha256`) after `verifyAfterPolls` status calls.
 */
import { createHash } from "node:crypto";

export const ORIGIN = "https://fieldtrace.test";
export const ENDPOINT = `${ORIGIN}/api/v1/uploads/`;

export interface FakeUpload {
  id: string;
  length: number;
  bytes: Uint8Array;
  metadata: Record<string, string>;
  mediaId: string | null;
}

export interface FakeMedia {
  id: string;
  caseId: number;
  status: "received" | "verified" | "hash_mismatch";
  device_sha256: string;
  server_sha256: string;
  polls: number;
}

export interface Call {
  method: string;
  path: string;
  offset: number | null;
  bodySize: number;
  headers: Record<string, string>;
}

type Override = (call: Call) => Response | "network" | undefined;

export class FakeTusServer {
  uploads = new Map<string, FakeUpload>();
  media = new Map<string, FakeMedia>();
  calls: Call[] = [];
  /** Status calls an item stays `received` before the server has verified it. */
  verifyAfterPolls = 0;
  /** How long each PATCH takes on the wire (an aborted request ends at once). */
  patchLatencyMs = 0;
  /** Flip a bit of the next PATCH body, as a bad network might. */
  corruptNextPatch = false;
  private overrides: Override[] = [];
  private next = 1;

  /** Answer the next request for which `override` returns something, once. */
  once(override: Override): void {
    this.overrides.push(override);
  }

  /** An upload already begun: `sent` bytes of `data` on the server. */
  seed(data: Uint8Array, sent: number, metadata: Record<string, string> = {}): string {
    const id = `u${this.next++}`;
    this.uploads.set(id, {
      id,
      length: data.length,
      bytes: data.slice(0, sent),
      metadata,
      mediaId: null,
    });
    return `${ENDPOINT}${id}`;
  }

  methods(): string[] {
    return this.calls.map((c) => c.method);
  }

  fetch = async (input: string, init: RequestInit = {}): Promise<Response> => {
    if (init.signal?.aborted) throw new DOMException("aborted", "AbortError");
    const url = new URL(input);
    const headers = Object.fromEntries(
      Object.entries((init.headers ?? {}) as Record<string, string>).map(([k, v]) => [
        k.toLowerCase(),
        v,
      ]),
    );
    const body = init.body instanceof Blob ? new Uint8Array(await init.body.arrayBuffer()) : null;
    if (init.method === "PATCH" && this.patchLatencyMs) {
      await new Promise((resolve, reject) => {
        setTimeout(resolve, this.patchLatencyMs);
        init.signal?.addEventListener("abort", () =>
          reject(new DOMException("aborted", "AbortError")),
        );
      });
    }
    const call: Call = {
      method: init.method ?? "GET",
      path: url.pathname + url.search,
      offset: headers["upload-offset"] === undefined ? null : Number(headers["upload-offset"]),
      bodySize: body?.length ?? 0,
      headers,
    };
    this.calls.push(call);
    for (const [i, override] of this.overrides.entries()) {
      const answer = override(call);
      if (answer === undefined) continue;
      this.overrides.splice(i, 1);
      if (answer === "network") throw new TypeError("Failed to fetch");
      return answer;
    }
    return this.route(call, url, body);
  };

  private route(call: Call, url: URL, body: Uint8Array | null): Response {
    if (call.headers.authorization !== "Bearer tok") return json(401, error("unauthorized"));
    const path = url.pathname;
    if (path.startsWith("/api/v1/uploads/") && call.method !== "GET") {
      if (call.headers["tus-resumable"] !== "1.0.0") {
        return json(412, error("tus_version_unsupported"), { "Tus-Version": "1.0.0" });
      }
    }
    if (call.method === "POST" && path === "/api/v1/uploads/") {
      const id = `u${this.next++}`;
      this.uploads.set(id, {
        id,
        length: Number(call.headers["upload-length"]),
        bytes: new Uint8Array(0),
        metadata: decodeMetadata(call.headers["upload-metadata"] ?? ""),
        mediaId: null,
      });
      return new Response(null, {
        status: 201,
        headers: { Location: `/api/v1/uploads/${id}`, "Upload-Offset": "0" },
      });
    }
    const uploadId = path.match(/^\/api\/v1\/uploads\/(\w+)$/)?.[1];
    const upload = uploadId ? this.uploads.get(uploadId) : undefined;
    if (uploadId && !upload) return json(404, error("upload_not_found"));
    if (upload && call.method === "HEAD") {
      return new Response(null, {
        status: 200,
        headers: {
          "Upload-Offset": String(upload.bytes.length),
          "Upload-Length": String(upload.length),
          ...(upload.mediaId ? { "Fieldtrace-Media-Id": upload.mediaId } : {}),
        },
      });
    }
    if (upload && call.method === "PATCH") {
      if (call.offset !== upload.bytes.length) {
        return json(409, error("offset_mismatch"), {
          "Upload-Offset": String(upload.bytes.length),
        });
      }
      if (body?.length && this.corruptNextPatch) {
        this.corruptNextPatch = false;
        body[0] ^= 0xff;
      }
      const joined = new Uint8Array(upload.bytes.length + (body?.length ?? 0));
      joined.set(upload.bytes);
      if (body) joined.set(body, upload.bytes.length);
      upload.bytes = joined;
      const extra: Record<string, string> = {};
      if (upload.bytes.length === upload.length)
        extra["Fieldtrace-Media-Id"] = this.complete(upload);
      return new Response(null, {
        status: 204,
        headers: { "Upload-Offset": String(upload.bytes.length), ...extra },
      });
    }
    if (upload && call.method === "GET") {
      const item = upload.mediaId ? this.media.get(upload.mediaId) : undefined;
      if (item) item.polls++;
      return json(200, {
        offset: upload.bytes.length,
        length: upload.length,
        media_item_id: upload.mediaId,
        media_status: item ? this.statusOf(item) : null,
        media_status_message: item?.status === "hash_mismatch" ? "hashes differ" : null,
      });
    }
    const mediaId = path.match(/^\/api\/v1\/media\/(\w+)$/)?.[1];
    if (mediaId && this.media.has(mediaId)) {
      const item = this.media.get(mediaId)!;
      item.polls++;
      return json(200, { id: item.id, status: this.statusOf(item) });
    }
    const receiptOf = path.match(/^\/api\/v1\/media\/(\w+)\/receipt$/)?.[1];
    if (receiptOf && this.media.has(receiptOf)) {
      const item = this.media.get(receiptOf)!;
      if (this.statusOf(item) !== "verified") return json(409, error("receipt_unavailable"));
      return json(200, {
        receipt: {
          format: "fieldtrace-receipt/1",
          item_id: item.id,
          server_sha256: item.server_sha256,
        },
        signature: { algorithm: "Ed25519", public_key: "00".repeat(32), value: "00".repeat(64) },
      });
    }
    const caseId = path.match(/^\/api\/v1\/cases\/(\d+)\/media$/)?.[1];
    if (caseId) {
      const sha = url.searchParams.get("sha256");
      const items = [...this.media.values()]
        .filter((m) => m.caseId === Number(caseId) && m.device_sha256 === sha)
        .map((m) => ({ id: m.id, status: this.statusOf(m) }));
      return json(200, { items });
    }
    return json(404, error("not_found"));
  }

  private complete(upload: FakeUpload): string {
    const id = `m${this.next++}`;
    const server = createHash("sha256").update(upload.bytes).digest("hex");
    const device = upload.metadata.sha256 ?? "";
    this.media.set(id, {
      id,
      caseId: Number(upload.metadata.case_id),
      status: server === device ? "verified" : "hash_mismatch",
      device_sha256: device,
      server_sha256: server,
      polls: 0,
    });
    upload.mediaId = id;
    return id;
  }

  private statusOf(item: FakeMedia): string {
    return item.polls > this.verifyAfterPolls ? item.status : "received";
  }
}

export function json(status: number, data: unknown, headers: Record<string, string> = {}) {
  return new Response(JSON.stringify(data), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}

export function error(code: string, message = code) {
  return { error: { code, message } };
}

export function decodeMetadata(header: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of header.split(",").filter(Boolean)) {
    const [key, value = ""] = pair.trim().split(" ");
    out[key] = Buffer.from(value, "base64").toString("utf8");
  }
  return out;
}

export function bytes(n: number, seed = 7): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) % 251);
}

export function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}
