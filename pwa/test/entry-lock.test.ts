import { describe, expect, it } from "vitest";
import { entryLockName, withEntryLock } from "../src/entry-lock";
import { FakeLocks } from "./fake-locks";

describe("withEntryLock", () => {
  it("runs the work while holding the entry's lock, and releases it after", async () => {
    const locks = new FakeLocks();
    const outcome = await withEntryLock("a", async () => locks.isHeld(entryLockName("a")), {
      locks,
    });
    expect(outcome).toEqual({ ran: true, value: true });
    expect(locks.isHeld(entryLockName("a"))).toBe(false);
  });

  it("never lets two uploaders into the same entry; other entries stay free", async () => {
    const locks = new FakeLocks();
    const release = await locks.hold(entryLockName("a")); // a page is sending entry a
    const ran: string[] = [];
    expect(await withEntryLock("a", async () => void ran.push("a"), { locks })).toEqual({
      ran: false,
    });
    expect(await withEntryLock("b", async () => void ran.push("b"), { locks })).toMatchObject({
      ran: true,
    });
    expect(ran).toEqual(["b"]);
    release();
  });

  it("waits up to waitMs for the holder, then gives up without running", async () => {
    const locks = new FakeLocks();
    const release = await locks.hold(entryLockName("a"));
    const started = Date.now();
    const outcome = await withEntryLock("a", async () => "ran", { locks, waitMs: 50 });
    expect(outcome).toEqual({ ran: false });
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);

    const waiting = withEntryLock("a", async () => "ran", { locks, waitMs: 5_000 });
    setTimeout(release, 20); // the page closes: its lock goes with it
    expect(await waiting).toEqual({ ran: true, value: "ran" });
  });

  it("takes the work's time out of the wait: a long upload is not cut off", async () => {
    const locks = new FakeLocks();
    const outcome = await withEntryLock(
      "a",
      () => new Promise((resolve) => setTimeout(() => resolve("done"), 60)),
      { locks, waitMs: 10 },
    );
    expect(outcome).toEqual({ ran: true, value: "done" });
  });

  it("passes the work's error on and frees the entry", async () => {
    const locks = new FakeLocks();
    await expect(
      withEntryLock("a", async () => Promise.reject(new Error("boom")), { locks, waitMs: 10 }),
    ).rejects.toThrow("boom");
    expect(locks.isHeld(entryLockName("a"))).toBe(false);
    expect(await withEntryLock("a", async () => 1, { locks })).toEqual({ ran: true, value: 1 });
  });

  it("runs unlocked where the browser has no Web Locks (and no Background Sync)", async () => {
    expect(await withEntryLock("a", async () => 2, { locks: undefined })).toEqual({
      ran: true,
      value: 2,
    });
  });
});
