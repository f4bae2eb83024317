/**
 * One uploader per queue entry, across open pages and the service worker: a Web Lock
 * (`navigator.locks`, in windows and workers alike) named after the entry. The browser
 * releases it when its holder ends (tab closed, worker stopped mid-sync), so no lease can be
 * left behind by a crash and nothing expires while a long chunk is still on the wire.
 *
 * Where the browser has no Web Locks it has no Background Sync either (every browser with
 * `SyncManager` has had `navigator.locks` since Chromium 69): only pages upload there, and
 * the work runs unlocked, as before.
 *
 * ```ts
 * const outcome = await withEntryLock(entry.id, () => send(entry));       // page: never waits
 * const later = await withEntryLock(entry.id, () => send(entry), { waitMs: 10_000 }); // worker
 * if (!outcome.ran) { ... someone else is sending it ... }
 * ```
 */

export const ENTRY_LOCK_PREFIX = "fieldtrace-upload-entry:";

/** The subset of `LockManager` used here (a fake one in the unit tests). */
export interface LockManagerLike {
  request<T>(
    name: string,
    options: { ifAvailable?: boolean; signal?: AbortSignal },
    callback: (lock: unknown) => Promise<T> | T,
  ): Promise<T>;
}

export type LockOutcome<T> = { ran: true; value: T } | { ran: false };

function browserLocks(): LockManagerLike | undefined {
  return typeof navigator !== "undefined"
    ? (navigator.locks as LockManagerLike | undefined)
    : undefined;
}

export function entryLockName(id: string): string {
  return ENTRY_LOCK_PREFIX + id;
}

/**
 * Run `work` while holding the entry's lock. `waitMs: 0` (default) gives up at once when
 * another page or the worker holds it; otherwise wait that long for it. `{ ran: false }` when
 * the lock was not had; an error thrown by `work` is passed on (and the lock released).
 */
export async function withEntryLock<T>(
  id: string,
  work: () => Promise<T>,
  { waitMs = 0, locks = browserLocks() }: { waitMs?: number; locks?: LockManagerLike } = {},
): Promise<LockOutcome<T>> {
  if (!locks) return { ran: true, value: await work() };
  const name = entryLockName(id);
  if (waitMs <= 0) {
    return locks.request(name, { ifAvailable: true }, async (lock) =>
      lock ? { ran: true as const, value: await work() } : { ran: false as const },
    );
  }
  const giveUp = new AbortController();
  const timer = setTimeout(() => giveUp.abort(), waitMs);
  try {
    return await locks.request(name, { signal: giveUp.signal }, async () => {
      clearTimeout(timer); // held: the wait is over, however long the work takes
      return { ran: true as const, value: await work() };
    });
  } catch (err) {
    if (giveUp.signal.aborted && (err as Error)?.name === "AbortError") return { ran: false };
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A recording (or a photo or picked file being stored) holds this lock until its entry is
 * finished, so another page of the app never takes a live recording for an interrupted one
 * (`recoverInterrupted`). A closed or crashed tab releases it.
 */
export const RECORDING_LOCK_PREFIX = "fieldtrace-recording:";

export function recordingLockName(id: string): string {
  return RECORDING_LOCK_PREFIX + id;
}

/**
 * Take `name` and keep it until the returned function is called. Resolves once held; without
 * Web Locks at once, with a release that does nothing.
 */
export function holdLock(
  name: string,
  locks: LockManagerLike | undefined = browserLocks(),
): Promise<() => void> {
  if (!locks) return Promise.resolve(() => undefined);
  return new Promise((held, failed) => {
    let release!: () => void;
    const until = new Promise<void>((resolve) => (release = resolve));
    locks
      .request(name, {}, () => {
        held(release);
        return until;
      })
      .catch(failed);
  });
}

/**
 * Run `work` only if nobody holds `name` (holding it meanwhile); `{ ran: false }` when
 * someone does. Without Web Locks, `work` runs.
 */
export async function ifLockFree<T>(
  name: string,
  work: () => Promise<T>,
  locks: LockManagerLike | undefined = browserLocks(),
): Promise<LockOutcome<T>> {
  if (!locks) return { ran: true, value: await work() };
  return locks.request(name, { ifAvailable: true }, async (lock) =>
    lock ? { ran: true as const, value: await work() } : { ran: false as const },
  );
}
