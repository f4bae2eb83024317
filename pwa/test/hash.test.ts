import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { sha256Blob } from "../src/hash";

function bytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + (i >> 8)) & 0xff;
  return out;
}

describe("sha256Blob", () => {
  it("hashes across chunk boundaries exactly like a one-shot hash", async () => {
    const data = bytes(9 * 1024 * 1024 + 17);
    const expected = createHash("sha256").update(data).digest("hex");
    const seen: number[] = [];
    const got = await sha256Blob(new Blob([data]), {
      chunkBytes: 4 * 1024 * 1024,
      onProgress: (done) => seen.push(done),
    });
    expect(got).toBe(expected);
    expect(seen).toEqual([4 * 1024 * 1024, 8 * 1024 * 1024, data.length]);
  });

  it("hashes a blob made of many slices, as a recording is stored", async () => {
    const parts = [bytes(1000), bytes(3), bytes(70000)];
    const expected = createHash("sha256");
    parts.forEach((p) => expected.update(p));
    expect(await sha256Blob(new Blob(parts), { chunkBytes: 4096 })).toBe(expected.digest("hex"));
  });

  it("hashes an empty blob", async () => {
    expect(await sha256Blob(new Blob([]))).toBe(
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
  });
});
