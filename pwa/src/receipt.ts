/**
 * Receipts the officer holds (存证回执): once the server has verified an item it signs a
 * receipt (`GET /api/v1/media/<id>/receipt`, format `fieldtrace-receipt/1`, described in the
 * server's `archive/verify.py`). The phone keeps it on the item's queue entry in IndexedDB,
 * so it stays after the phone copy of the bytes is released, and shows 「已存证」 with the
 * receipt's short fingerprint: the first 16 hex digits of the SHA-256 of the signed bytes
 * (`fieldtrace-receipt/1\n` + the receipt's canonical JSON), as `verify.py receipt` and the
 * public check page print it.
 *
 * ```ts
 * await keepMissingReceipts(userId, (path) => request("GET", path));
 * ```
 */
import { allEntries, updateEntry, type QueueEntry } from "./db";

export const RECEIPT_FORMAT = "fieldtrace-receipt/1";

export interface ReceiptFile {
  receipt: Record<string, unknown> & { item_id: string; format: string };
  signature: { algorithm: string; public_key: string; value: string };
  tree_head?: Record<string, unknown>;
  inclusion?: Record<string, unknown>;
}

/** Fetches an API path (`/media/<id>/receipt`) as parsed JSON, with the officer's session. */
export type GetJson = (path: string) => Promise<unknown>;

/** JSON as Python's `json.dumps(v, sort_keys=True, ensure_ascii=False, separators=(",", ":"))`
 * writes it: keys sorted, no spaces; strings and numbers as JSON.stringify writes them. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record)
    .filter((k) => record[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`).join(",")}}`;
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The receipt's short fingerprint, e.g. `3f2a 91c0 7b4e 0d11`. */
export async function receiptFingerprint(receipt: ReceiptFile["receipt"]): Promise<string> {
  const digest = (await sha256Hex(`${RECEIPT_FORMAT}\n${canonicalJson(receipt)}`)).slice(0, 16);
  return digest.match(/.{4}/g)!.join(" ");
}

function isReceiptFor(file: unknown, mediaId: string): file is ReceiptFile {
  const f = file as Partial<ReceiptFile> | null;
  return (
    !!f &&
    typeof f.receipt === "object" &&
    f.receipt?.format === RECEIPT_FORMAT &&
    f.receipt?.item_id === mediaId &&
    typeof f.signature?.value === "string"
  );
}

/** Fetch and keep the receipt of a verified entry; false when the server has none (yet). */
export async function keepReceipt(entry: QueueEntry, get: GetJson): Promise<boolean> {
  if (!entry.mediaId) return false;
  const file = await get(`/media/${entry.mediaId}/receipt`);
  if (!isReceiptFor(file, entry.mediaId)) return false;
  const receiptFingerprintText = await receiptFingerprint(file.receipt);
  const kept = await updateEntry(
    entry.id,
    { receipt: canonicalJson(file), receiptFingerprint: receiptFingerprintText },
    (current) => current.state === "verified" && current.mediaId === entry.mediaId,
  );
  return !!kept;
}

/** Whether the entry is verified and still lacks its receipt. */
export function needsReceipt(entry: QueueEntry, userId: number | null): boolean {
  return entry.state === "verified" && !!entry.mediaId && !entry.receipt && entry.userId === userId;
}

/**
 * Fetch the receipts this officer's verified entries lack; a failure (offline, not issued
 * yet) is left for the next pass. Returns how many were kept.
 */
export async function keepMissingReceipts(userId: number | null, get: GetJson): Promise<number> {
  let kept = 0;
  for (const entry of await allEntries()) {
    if (!needsReceipt(entry, userId)) continue;
    try {
      if (await keepReceipt(entry, get)) kept++;
    } catch (err) {
      const status = (err as { status?: number }).status ?? 0;
      // this item's refusal (not issued yet, no longer visible) is this item's; offline or
      // signed out, every other entry would fail the same way
      if (status < 400 || status >= 500 || status === 401) return kept;
    }
  }
  return kept;
}

/** The receipt as a file to share or save (the JSON the server served). */
export function receiptBlob(entry: Pick<QueueEntry, "receipt">): Blob | null {
  return entry.receipt ? new Blob([entry.receipt], { type: "application/json" }) : null;
}
