/** Incremental SHA-256 over a Blob, one slice at a time: a large video is never read whole. */
import { createSHA256 } from "hash-wasm";

export const HASH_CHUNK_BYTES = 4 * 1024 * 1024;

/**
 * `await sha256Blob(blob)` → lowercase hex.
 * `onProgress(done, total)` is called after every chunk.
 */
export async function sha256Blob(
  blob: Blob,
  {
    chunkBytes = HASH_CHUNK_BYTES,
    onProgress,
  }: { chunkBytes?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<string> {
  const hasher = await createSHA256();
  hasher.init();
  const read = (offset: number) =>
    blob.slice(offset, Math.min(offset + chunkBytes, blob.size)).arrayBuffer();
  // Read the next slice while this one is hashed: at most two slices are in memory.
  let next = blob.size > 0 ? read(0) : null;
  for (let offset = 0; next; offset += chunkBytes) {
    const buffer = await next;
    next = offset + chunkBytes < blob.size ? read(offset + chunkBytes) : null;
    hasher.update(new Uint8Array(buffer));
    onProgress?.(Math.min(offset + chunkBytes, blob.size), blob.size);
  }
  return hasher.digest("hex");
}
