/**
 * Queued-capture records (db.ts `QueueEntry`) for tests, from one template: a test names only
 * what it is about (`recordingEntry("a", { slices: 2 })`), the rest is an ordinary value.
 * `storeEntry` puts one on the phone with its bytes, as recorded slices.
 */
import { addSlice, putEntry, type QueueEntry } from "../src/db";

/** A finished photo by officer 1 in case N1, on the phone: not hashed, not sent yet. */
export function photoEntry(id: string, fields: Partial<QueueEntry> = {}): QueueEntry {
  return {
    id,
    userId: 1,
    kind: "photo",
    caseId: 1,
    caseNumber: "N1",
    stage: "filing",
    activity: "other",
    contentType: "image/jpeg",
    filename: `${id}.jpg`,
    deviceId: "d",
    startedAt: "2026-01-01T00:00:00.000+08:00",
    endedAt: null,
    finished: true,
    slices: 0,
    size: 0,
    sha256: null,
    geo: "unavailable",
    latitude: null,
    longitude: null,
    accuracyM: null,
    state: "on_phone",
    percent: 0,
    uploadUrl: null,
    mediaId: null,
    resent: false,
    error: null,
    createdAt: Date.now(),
    verifiedAt: null,
    ...fields,
  };
}

/** A video by officer 1 in case N1 that is being recorded (or was, when its tab died). */
export function recordingEntry(id: string, fields: Partial<QueueEntry> = {}): QueueEntry {
  return photoEntry(id, {
    kind: "video",
    contentType: "video/webm",
    filename: `${id}.webm`,
    finished: false,
    state: "recording",
    ...fields,
  });
}

/** Store `entry` with `slices` as its recorded bytes, one slice each (counted by db.addSlice). */
export async function storeEntry(entry: QueueEntry, ...slices: BlobPart[]): Promise<void> {
  await putEntry({ ...entry, slices: 0, size: 0 });
  for (const [seq, data] of slices.entries()) {
    await addSlice({ itemId: entry.id, seq, data: new Blob([data]) });
  }
}
