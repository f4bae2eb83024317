/**
 * Receipts the officer holds (receipt.ts): the fingerprint is the one the server's verify.py
 * prints for the same receipt, a verified item's receipt is kept on its queue entry after the
 * phone copy is released, and only this officer's verified items are asked for.
 */
import "fake-indexeddb/auto";
import { describe, expect, it } from "vitest";
import { getEntry, itemBlob, putEntry } from "../src/db";
import {
  canonicalJson,
  keepMissingReceipts,
  receiptBlob,
  receiptFingerprint,
  type ReceiptFile,
} from "../src/receipt";
import { photoEntry } from "./entries";

// Made with server/archive/verify.py (receipt_field_check, receipt_fingerprint).
const BODY = {
  format: "fieldtrace-receipt/1",
  item_id: "abc",
  kind: "photo",
  device_sha256: "aa".repeat(32),
  server_sha256: "aa".repeat(32),
  size: 1234,
  captured_at: "2026-12-08T11:00:00.250+08:00",
  received_at: "2026-12-08T03:00:01.000+00:00",
  verified_at: "2026-12-08T03:00:02.000+00:00",
  case_id: 7,
  case_number: "沪市监罚〔2026〕7号",
  stage: null,
  log_seq: 42,
  log_entry_hash: "bb".repeat(32),
  field_check: "6cc43f90a92265918465918403ac67d4d91ee1fe2609aa647902694d773774234e73475c44ed4f",
};
const FINGERPRINT = "d230 4a13 a834 6d98";

function file(itemId: string): ReceiptFile {
  return {
    receipt: { ...BODY, item_id: itemId },
    signature: { algorithm: "Ed25519", public_key: "cc".repeat(32), value: "dd".repeat(64) },
  };
}

class Refused extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`);
  }
}

describe("receipt fingerprint", () => {
  it("is computed over the canonical JSON, as the server's verify.py computes it", async () => {
    expect(canonicalJson({ b: [1, '\u0001\n"x'], a: null })).toBe(
      '{"a":null,"b":[1,"\\u0001\\n\\"x"]}',
    );
    expect(await receiptFingerprint(BODY)).toBe(FINGERPRINT);
    const reordered = Object.fromEntries(Object.entries(BODY).reverse()) as typeof BODY;
    expect(await receiptFingerprint(reordered)).toBe(FINGERPRINT);
    expect(await receiptFingerprint({ ...BODY, size: 1235 })).not.toBe(FINGERPRINT);
  });
});

describe("keeping receipts", () => {
  it("keeps a verified item's receipt beside it once its phone copy is released", async () => {
    await putEntry(
      photoEntry("v1", { state: "verified", mediaId: "abc", sha256: "aa".repeat(32) }),
    );
    const asked: string[] = [];
    const kept = await keepMissingReceipts(1, async (path) => {
      asked.push(path);
      return file("abc");
    });
    expect(kept).toBe(1);
    expect(asked).toEqual(["/media/abc/receipt"]);
    const entry = (await getEntry("v1"))!;
    expect(entry.receiptFingerprint).toBe(FINGERPRINT);
    expect(JSON.parse(entry.receipt!)).toEqual(file("abc"));
    expect((await itemBlob("v1", "image/jpeg")).size).toBe(0); // no bytes, the receipt stays
    expect(await receiptBlob(entry)!.text()).toBe(entry.receipt);
    // once kept, never asked again
    expect(await keepMissingReceipts(1, async () => Promise.reject(new Error("asked")))).toBe(0);
  });

  it("asks only for this officer's verified items and skips a refusal of one item", async () => {
    await putEntry(photoEntry("w1", { state: "received", mediaId: "r1" }));
    await putEntry(photoEntry("w2", { state: "verified", mediaId: "o1", userId: 2 }));
    await putEntry(photoEntry("w3", { state: "verified", mediaId: "n1" }));
    await putEntry(photoEntry("w4", { state: "verified", mediaId: "n2" }));
    await putEntry(photoEntry("w5", { state: "verified", mediaId: "x1" }));
    const asked: string[] = [];
    const kept = await keepMissingReceipts(1, async (path) => {
      asked.push(path);
      if (path.includes("n1")) throw new Refused(409); // not issued yet: the next pass
      if (path.includes("n2")) return file("someone-else"); // not this item's: not kept
      return file("x1");
    });
    expect(asked.sort()).toEqual(["/media/n1/receipt", "/media/n2/receipt", "/media/x1/receipt"]);
    expect(kept).toBe(1);
    expect((await getEntry("w3"))!.receipt).toBeUndefined();
    expect((await getEntry("w4"))!.receipt).toBeUndefined();
    expect((await getEntry("w5"))!.receiptFingerprint).toBe(
      await receiptFingerprint(file("x1").receipt),
    );
  });

  it("stops at the first network failure", async () => {
    await putEntry(photoEntry("z1", { state: "verified", mediaId: "z1m", createdAt: 1 }));
    await putEntry(photoEntry("z2", { state: "verified", mediaId: "z2m", createdAt: 2 }));
    let calls = 0;
    const kept = await keepMissingReceipts(1, async () => {
      calls++;
      throw new TypeError("Failed to fetch");
    });
    expect([kept, calls]).toEqual([0, 1]);
  });
});
