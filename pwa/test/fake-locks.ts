/**
 * An in-memory `LockManager` with the Web Locks semantics `entry-lock.ts` relies on: one
 * exclusive holder per name; `ifAvailable` hands the callback `null` instead of waiting; a
 * waiter leaves with an `AbortError` when its signal fires; the lock is released when the
 * callback settles (resolves or throws). Node has no `navigator.locks`; Chromium's real one
 * is exercised by the browser tests (page and service worker).
 */
import type { LockManagerLike } from "../src/entry-lock";

export class FakeLocks implements LockManagerLike {
  private held = new Map<string, Promise<void>>();

  isHeld(name: string): boolean {
    return this.held.has(name);
  }

  async request<T>(
    name: string,
    options: { ifAvailable?: boolean; signal?: AbortSignal },
    callback: (lock: unknown) => Promise<T> | T,
  ): Promise<T> {
    if (options.ifAvailable && this.held.has(name)) return callback(null);
    while (this.held.has(name)) {
      await new Promise<void>((resolve, reject) => {
        const signal = options.signal;
        if (signal?.aborted) return reject(new DOMException("aborted", "AbortError"));
        signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
        void this.held.get(name)!.then(resolve);
      });
    }
    let release!: () => void;
    this.held.set(name, new Promise((resolve) => (release = resolve)));
    try {
      return await callback({ name, mode: "exclusive" });
    } finally {
      this.held.delete(name);
      release();
    }
  }

  /** Hold `name` until the returned function is called (another page sending the entry). */
  async hold(name: string): Promise<() => void> {
    let acquired!: () => void;
    const ready = new Promise<void>((resolve) => (acquired = resolve));
    let letGo!: () => void;
    const until = new Promise<void>((resolve) => (letGo = resolve));
    void this.request(name, {}, () => {
      acquired();
      return until;
    });
    await ready;
    return letGo;
  }
}
