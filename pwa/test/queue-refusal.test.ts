/**
 * The page's queue (queue.ts) against the server's 409s: on the creation POST (archived
 * case, stage not reached, another officer's device) it is the server's final word: the item
 * shows the error and later items go on; on PATCH it is an offset conflict, tried again.
 */
import "fake-indexeddb/auto";
import { describe, expect, it, vi } from "vitest";
import { photoEntry, storeEntry } from "./entries";
import { FakeLocks } from "./fake-locks";

type Refusal = { method: string; code: string; message: string };
/** what the server answers per case id (none: the upload succeeds) */
const answers = vi.hoisted(() => new Map<string, Refusal>());
const retried = vi.hoisted(() => [] as { caseId: string; retry: boolean }[]);

vi.mock("tus-js-client", () => ({
  Upload: class {
    url: string | null = null;
    constructor(
      _blob: Blob,
      private opts: any,
    ) {}
    start() {
      const caseId = this.opts.metadata.case_id;
      const refusal = answers.get(caseId);
      if (!refusal) {
        this.url = `https://x/api/v1/uploads/u${caseId}`;
        setTimeout(() => this.opts.onSuccess(), 0);
        return;
      }
      const err = {
        originalRequest: { getMethod: () => refusal.method },
        originalResponse: {
          getStatus: () => 409,
          getBody: () =>
            JSON.stringify({ error: { code: refusal.code, message: refusal.message } }),
        },
      };
      // tus-js-client asks whether to retry before it gives up with onError
      retried.push({ caseId, retry: this.opts.onShouldRetry(err, 0, this.opts) });
      setTimeout(() => this.opts.onError(err), 0);
    }
  },
}));
vi.mock("../src/api", async (orig) => {
  const real = await orig<typeof import("../src/api")>();
  return {
    ...real,
    currentUserId: () => 1,
    getToken: () => "tok",
    caseMediaBySha: async () => [],
    uploadStatus: async (url: string) => ({
      media_status: "verified",
      media_status_message: null,
      media_item_id: `m-${url.split("/").at(-1)}`,
    }),
  };
});
vi.stubGlobal("navigator", { onLine: true, locks: new FakeLocks() });
vi.stubGlobal("location", { origin: "https://x" });

import { getEntry } from "../src/db";
import { processQueue } from "../src/queue";
import { isFinalRefusal } from "../src/upload-rules";

/** A photo of case `caseId` on the phone, its bytes its id. */
function queued(id: string, caseId: number, createdAt: number): Promise<void> {
  return storeEntry(photoEntry(id, { caseId, caseNumber: `N${caseId}`, createdAt }), id);
}

describe("isFinalRefusal", () => {
  it("takes a 409 on POST, or naming a final refusal, as final; a PATCH offset conflict not", () => {
    expect(isFinalRefusal("POST", 409, null)).toBe(true);
    expect(isFinalRefusal("post", 409, "case_archived")).toBe(true);
    expect(isFinalRefusal("PATCH", 409, "device_not_yours")).toBe(true);
    expect(isFinalRefusal("PATCH", 409, "offset_mismatch")).toBe(false);
    expect(isFinalRefusal("PATCH", 409, null)).toBe(false);
    expect(isFinalRefusal("POST", 423, null)).toBe(false);
    expect(isFinalRefusal("POST", 500, "case_archived")).toBe(false);
  });
});

describe("processQueue and the server's 409", () => {
  it("a refused creation POST puts the item in error with the server's message; later items go on", async () => {
    answers.set("1", {
      method: "POST",
      code: "case_archived",
      message: "case N1 is archived and read-only",
    });
    await queued("a", 1, 1); // its case was archived on the server
    await queued("b", 2, 2); // an ordinary item of another case, after it
    await processQueue();
    expect(await getEntry("a")).toMatchObject({
      state: "error",
      error: "case N1 is archived and read-only",
    });
    expect(await getEntry("b")).toMatchObject({ state: "verified", mediaId: "m-u2" });
    expect(retried).toContainEqual({ caseId: "1", retry: false }); // not retried 6 times first
  });

  it("a 409 offset conflict on PATCH stays on the phone, to be resumed", async () => {
    answers.set("3", {
      method: "PATCH",
      code: "offset_mismatch",
      message: "Upload-Offset 0 does not match the server's offset 10",
    });
    await queued("c", 3, 3);
    await processQueue();
    expect(await getEntry("c")).toMatchObject({ state: "on_phone", error: null });
    expect(retried).toContainEqual({ caseId: "3", retry: true });
  });
});
