/**
 * The officer's screens (ui.ts) while data arrives by itself: the server's case list after an
 * online start, queue progress, the network going, a new version, a failed save. None of them
 * may replace a button the officer is pressing (the browser would drop the tap) or make the
 * screen jump. Each test starts the app afresh on a fake page (fake-dom.ts).
 */
import "fake-indexeddb/auto";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Case } from "../src/api";
import { photoEntry, recordingEntry } from "./entries";
import { installFakePage, press, type FakeElement, type FakePage } from "./fake-dom";
import { FakeLocks } from "./fake-locks";

/** What the tests hold of the app's collaborators: the server's answer, the queue's doings. */
const hooks = vi.hoisted(() => ({
  cases: null as Promise<Case[]> | null,
  queueListeners: [] as (() => void)[],
  accepted: [] as string[],
  stored: null as Promise<string> | null,
  credentialFor: [] as (number | undefined)[],
}));

vi.mock("../src/api", async (orig) => ({
  ...(await orig<typeof import("../src/api")>()),
  listCases: () => hooks.cases!,
}));
vi.mock("../src/queue", async (orig) => ({
  ...(await orig<typeof import("../src/queue")>()),
  subscribe: (listener: () => void) => {
    hooks.queueListeners.push(listener);
    return () => undefined;
  },
  processQueue: async () => undefined,
  acceptRecovered: async (id: string) => void hooks.accepted.push(id),
}));
vi.mock("../src/credential", async (orig) => ({
  ...(await orig<typeof import("../src/credential")>()),
  openCredential: (caseId?: number) => void hooks.credentialFor.push(caseId),
}));
vi.mock("../src/capture", async (orig) => ({
  ...(await orig<typeof import("../src/capture")>()),
  storePickedFile: () => hooks.stored!,
}));

const CASES: Case[] = [
  { id: 11, number: "A-11", title: "仓库检查", current_stage: "filing" },
  { id: 12, number: "A-12", title: "门店抽检", current_stage: "investigation" },
];

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((yes, no) => ((resolve = yes), (reject = no)));
  return { promise, resolve, reject };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean | Promise<boolean>): Promise<void> {
  for (const end = Date.now() + 5000; Date.now() < end; await pause(5)) {
    if (await condition()) return;
  }
  throw new Error("timed out");
}

let nextUser = 100;

interface Started {
  page: FakePage;
  app: FakeElement;
  user: number;
  ui: typeof import("../src/ui");
  db: typeof import("../src/db");
  /** the server's case list, answered when the test says */
  server: ReturnType<typeof deferred<Case[]>>;
  $(selector: string): FakeElement | null;
}

/**
 * Reload the app as a signed-in officer (a fresh page and fresh modules), with `kept` as the
 * case list kept from the last time and `entries` in the queue; resolves once the first screen
 * is drawn (main.ts's mountApp), before the server has answered.
 */
async function start({
  kept = CASES as Case[] | null,
  entries = [] as ((user: number) => import("../src/db").QueueEntry)[],
  standing = null as object | null,
} = {}): Promise<Started> {
  vi.resetModules();
  const page = installFakePage({ locks: new FakeLocks() });
  const user = nextUser++;
  const server = deferred<Case[]>();
  hooks.cases = server.promise;
  const db = await import("../src/db");
  await db.setSetting("session", {
    token: "tok",
    expires_at: new Date(Date.now() + 3600_000).toISOString(),
    user: { id: user, username: `u${user}`, name: "王五", role: "officer", unit: null },
  });
  if (kept) await db.setSetting(`cases_cache:${user}`, kept);
  if (standing) await db.setSetting(`credential_standing:${user}`, standing);
  for (const make of entries) await db.putEntry(make(user));
  const ui = await import("../src/ui");
  const app = page.document.createElement("div");
  page.document.body.append(app);
  await ui.mountApp(app as unknown as HTMLElement);
  return { page, app, user, ui, db, server, $: (selector) => app.querySelector(selector) };
}

const rowOf = (s: Started, id: number) => s.$(`[data-testid=case-row][data-case-id='${id}']`);
const rowTexts = (s: Started) =>
  s.app.querySelectorAll("[data-testid=case-row]").map((row) => row.textContent);
const onQueueScreen = (s: Started) => s.$("[data-testid=overall-progress]") !== null;

afterEach(() => {
  hooks.queueListeners = [];
  hooks.accepted = [];
});

describe("an online start", () => {
  it("draws the case list kept from the last time at once; the same list from the server changes nothing", async () => {
    const s = await start();
    expect(rowTexts(s)).toHaveLength(2); // not "no cases" first, then the list
    const section = s.$("main section");
    const rows = s.app.querySelectorAll("[data-testid=case-row]");
    const before = s.app.textContent;

    // the same cases; what differs is not shown on this screen
    s.server.resolve(CASES.map((c) => ({ ...c, media_counts: { photo: 1 } })));
    await until(async () => {
      const stored = await s.db.getSetting<Case[]>(`cases_cache:${s.user}`);
      return !!stored?.[0].media_counts; // stored, so handled (shown right after)
    });
    await pause(20);

    expect(s.$("main section")).toBe(section);
    const now = s.app.querySelectorAll("[data-testid=case-row]");
    expect(now).toHaveLength(2);
    now.forEach((row, i) => expect(row).toBe(rows[i]));
    expect(s.app.textContent).toBe(before);
  });

  it("a tab pressed while the server's case list arrives still works", async () => {
    const s = await start();
    const tab = s.$("[data-testid=tab-queue]");
    const finger = press(tab);

    s.server.resolve([
      ...CASES,
      { id: 13, number: "A-13", title: "新案件", current_stage: "filing" },
    ]);
    await until(() => rowOf(s, 13) !== null); // the list is updated

    expect(s.$("[data-testid=tab-queue]")).toBe(tab);
    expect(finger.lift()).toBe(true);
    expect(onQueueScreen(s)).toBe(true);
  });

  it("a case row pressed while the list arrives opens its case, as the server tells it", async () => {
    const s = await start();
    const row = rowOf(s, 12);
    const finger = press(row);

    s.server.resolve([CASES[0], { ...CASES[1], title: "门店抽检（复查）" }]);
    await until(() => row!.textContent.includes("复查"));

    expect(rowOf(s, 12)).toBe(row);
    expect(finger.lift()).toBe(true);
    expect(s.$("h2.case-head")?.textContent).toBe("A-12门店抽检（复查）");
  });

  it("with nothing kept, says it is loading rather than that there are no cases", async () => {
    const s = await start({ kept: null });
    const { t } = await import("../src/i18n");
    expect(s.$("main section")?.textContent).toContain(t("loading"));
    expect(s.$("main section")?.textContent).not.toContain(t("no_cases"));
    s.server.resolve(CASES);
    await until(() => rowTexts(s).length === 2);
    expect(s.$("main section")?.textContent).not.toContain(t("loading"));
  });
});

describe("the queue screen", () => {
  it("progress of one item replaces neither the tabs nor another item's buttons", async () => {
    const s = await start({
      entries: [
        (user) => recordingEntry("rec", { userId: user, state: "interrupted", slices: 2 }),
        (user) => photoEntry("up", { userId: user, state: "uploading", percent: 10, size: 100 }),
      ],
    });
    s.$("[data-testid=tab-queue]")!.click();
    const upload = s.$("[data-testid=btn-upload-recovered]");
    const tab = s.$("[data-testid=tab-cases]");
    const finger = press(upload);

    await s.db.updateEntry("up", { percent: 60 });
    hooks.queueListeners.forEach((listener) => listener());
    const item = () => s.$("[data-testid=queue-item][data-id=up]")!;
    await until(() => item().querySelector("progress")?.getAttribute("value") === "60");

    expect(s.$("[data-testid=tab-cases]")).toBe(tab);
    expect(finger.lift()).toBe(true);
    expect(hooks.accepted).toEqual(["rec"]);
  });
});

describe("receipts", () => {
  it("a verified item whose phone copy is gone shows 已存证 with the receipt's fingerprint", async () => {
    const s = await start({
      entries: [
        (user) =>
          photoEntry("done", {
            userId: user,
            state: "verified",
            mediaId: "m1",
            sha256: "ab".repeat(32),
            receipt: '{"receipt":{},"signature":{}}',
            receiptFingerprint: "20a2 592f 7e5b 2127",
          }),
        (user) => photoEntry("sent", { userId: user, state: "received", mediaId: "m2" }),
      ],
    });
    s.$("[data-testid=tab-queue]")!.click();
    const done = s.$("[data-testid=queue-item][data-id=done]")!;
    const line = done.querySelector("[data-testid=receipt]")!;
    expect(line.textContent).toContain("已存证");
    expect(line.textContent).toContain("20a2 592f 7e5b 2127");
    const sent = s.$("[data-testid=queue-item][data-id=sent]")!;
    expect(sent.querySelector("[data-testid=receipt]")).toBeNull();

    // the receipt arrives after the item showed as verified: the screen is redrawn for it
    await s.db.updateEntry("sent", {
      state: "verified",
      receipt: '{"receipt":{},"signature":{}}',
      receiptFingerprint: "aaaa bbbb cccc dddd",
    });
    hooks.queueListeners.forEach((listener) => listener());
    const later = () => s.$("[data-testid=queue-item][data-id=sent] [data-testid=receipt]");
    await until(() => !!later()?.textContent?.includes("aaaa bbbb cccc dddd"));
  });
});

describe("banners", () => {
  it("the network going and a new version waiting show a banner, and redraw nothing else", async () => {
    const s = await start();
    s.server.resolve(CASES);
    const tab = s.$("[data-testid=tab-queue]");
    const row = rowOf(s, 11);
    const finger = press(tab);

    s.page.setOnline(false);
    expect(s.$(".banner.offline")).not.toBeNull();
    let applied = 0;
    s.ui.showUpdatePrompt(() => applied++);
    expect(s.$(".banner.update")).not.toBeNull();

    expect(rowOf(s, 11)).toBe(row);
    expect(finger.lift()).toBe(true);
    expect(onQueueScreen(s)).toBe(true);
    s.$(".banner.update button")!.click();
    expect(applied).toBe(1);
    s.page.setOnline(true);
    expect(s.$(".banner.offline")).toBeNull();
    expect(s.$(".banner.update")).not.toBeNull();
  });
});

describe("the case screen", () => {
  it("is drawn on the tap itself, with the credential warning in place from the start", async () => {
    const s = await start({
      standing: { valid: false, reason: "expired", checkedAt: Date.now() },
    });
    s.server.resolve(CASES);
    await until(() => rowOf(s, 11) !== null);
    rowOf(s, 11)!.click();
    // no await: a banner arriving later would push the capture buttons from under a finger
    expect(s.$("h2.case-head")).not.toBeNull();
    expect(s.$("[data-testid=cred-standing]")).not.toBeNull();
    const photo = s.$("[data-testid=btn-photo]");
    await pause(20);
    expect(s.$("[data-testid=btn-photo]")).toBe(photo);
  });

  it("a failed save shows its message without replacing what is being pressed", async () => {
    const s = await start();
    s.server.resolve(CASES);
    await until(() => rowOf(s, 11) !== null);
    rowOf(s, 11)!.click();
    await until(() => s.$("[data-testid=file-input]") !== null);
    const saving = deferred<string>();
    hooks.stored = saving.promise;
    const input = s.$("[data-testid=file-input]")!;
    input.files = [new File(["jpeg"], "scene.jpg", { type: "image/jpeg" })];
    input.dispatchEvent(new Event("change"));
    const tab = s.$("[data-testid=tab-queue]");
    const finger = press(tab);

    saving.reject(new DOMException("The quota has been exceeded.", "QuotaExceededError"));
    await until(() => s.$("[role=alert]") !== null);

    const { t } = await import("../src/i18n");
    expect(s.$("[role=alert]")!.textContent).toBe(t("save_failed_storage_full"));
    expect(finger.lift()).toBe(true);
    expect(onQueueScreen(s)).toBe(true);
  });

  it("switching the language redraws on the tap, before the choice is stored", async () => {
    const s = await start();
    s.server.resolve(CASES);
    await until(() => rowOf(s, 11) !== null);
    s.$("[data-testid=lang]")!.click();
    // no await: a screen left in Chinese while the page is in English takes the next tap
    expect(s.$("[data-testid=lang]")!.textContent).toBe("中文");
    expect(s.$("[data-testid=tab-queue]")!.textContent).not.toMatch(/[\u4e00-\u9fff]/);
    await until(async () => (await s.db.getSetting("lang")) === "en");
    s.$("[data-testid=lang]")!.click(); // back, for the tests after this one
    await until(async () => (await s.db.getSetting("lang")) === "zh-CN");
  });

  it("signing out forgets the officer's open case, case list and credential standing", async () => {
    const s = await start({ standing: { valid: false, reason: "expired", checkedAt: Date.now() } });
    s.server.resolve(CASES);
    await until(() => rowOf(s, 11) !== null);
    rowOf(s, 11)!.click();
    expect(s.$("[data-testid=cred-standing]")).not.toBeNull();
    const logout = s.app.querySelectorAll("button").find((b) => b.textContent === "退出");
    logout!.click();
    await until(() => s.$("[data-testid=login-form]") !== null);
    expect(s.$("[data-testid=cred-standing]")).toBeNull();

    // another officer signs in on this phone (as signIn does: a session, then the app)
    hooks.cases = Promise.resolve([]);
    await s.db.setSetting("session", {
      token: "tok-b",
      expires_at: new Date(Date.now() + 3600_000).toISOString(),
      user: { id: nextUser++, username: "other", name: "赵六", role: "officer", unit: null },
    });
    await s.ui.mountApp(s.app as unknown as HTMLElement);
    await until(() => s.$("[data-testid=btn-credential]") !== null);
    s.$("[data-testid=btn-credential]")!.click();
    expect(hooks.credentialFor).toEqual([undefined]); // not the first officer's case 11
    expect(s.$("[data-testid=cred-standing]")).toBeNull();
  });
});
