/** Screens: login, case list, case (stage/activity + capture), queue. Plain DOM, no framework. */
import * as api from "./api";
import type { Case, Session } from "./api";
import {
  canRecord,
  isStorageFull,
  openCamera,
  startRecording,
  stopStream,
  storePickedFile,
  takePhoto,
  type CaptureTarget,
  type Recording,
} from "./capture";
import { allEntries, getSetting, setSetting, deleteSetting, type QueueEntry } from "./db";
import { ACTIVITIES, allowedStages, orderCases } from "./cases";
import { h, patch, patchChildren } from "./dom";
import { getLang, setLang, t, type Key, type Lang } from "./i18n";
import {
  acceptRecovered,
  discardEntry,
  isPaused,
  overallPercent,
  percentOf,
  processQueue,
  retryEntry,
  setPauseOnMetered,
  subscribe,
} from "./queue";
import { formatBytes, formatElapsed } from "./time";
import {
  closeCredential,
  credentialStanding,
  learnStanding,
  openCredential,
  standingBanner,
  type Standing,
} from "./credential";
import { openNewCase, type Journeys } from "./open-case";
import { caseTeam, type Team } from "./team-api";
import { consoleElement, route as routeConsole, startConsole, stopConsole } from "./console";
import { closeSheets, openCompleteness } from "./completeness";
import { openDocuments } from "./documents";
import { openCaseReview } from "./review-submit";
import { adminElement, routeAdmin, startAdmin, stopAdmin } from "./admin";
import { offerFirstRun } from "./setup";
import { uploadErrorText } from "./words";
import { receiptBlob } from "./receipt";

type View = "login" | "cases" | "case" | "queue" | "console" | "admin";

/**
 * Supervisors, legal reviewers and leaders land on the console; officers on the capture app;
 * admins (accounts and configuration, no evidence) on their own pages.
 */
const CONSOLE_ROLES = ["supervisor", "legal", "leader"];
/** Who holds a 执法证 to show (GET /me/credential). */
const CREDENTIAL_ROLES = ["officer", "supervisor"];

function landing(session: Session): View {
  if (session.user.role === "admin") return "admin";
  return CONSOLE_ROLES.includes(session.user.role) ? "console" : "cases";
}

/** Start the landing view's own machinery (the console and admin pages route themselves). */
function startLanding(session: Session): void {
  if (state.view === "console") startConsole(session.user);
  else if (state.view === "admin") startAdmin(session.user);
  else void loadCases();
}

interface State {
  session: Session | null;
  view: View;
  cases: Case[];
  /** the list is the server's, or one kept from it (else: still loading, nothing kept) */
  casesLoaded: boolean;
  casesOffline: boolean;
  recent: number[];
  current: Case | null;
  stage: string;
  activity: string;
  notice: string | null;
  error: string | null;
  entries: QueueEntry[];
  pauseOnMetered: boolean;
  /** the officer's credential standing last told by the server (credential.ts) */
  standing: Standing | null;
  /** each case's officers and whether two certified ones are on it (执法人员不得少于两人) */
  teams: Record<number, Team>;
}

const state: State = {
  session: null,
  view: "login",
  cases: [],
  casesLoaded: false,
  casesOffline: false,
  recent: [],
  current: null,
  stage: "filing",
  activity: "onsite_inspection",
  notice: null,
  error: null,
  entries: [],
  pauseOnMetered: false,
  standing: null,
  teams: {},
};

let root: HTMLElement;
/** The banners' region (update ready, offline, notice), between the header and the screen. */
let banners: HTMLElement | null = null;
/** The screen on show and the view it was drawn for (see refresh). */
let shown: { view: View; screen: HTMLElement } | null = null;
/** Set when a new version of the app waits: applies it. */
let applyUpdate: (() => void) | null = null;

/**
 * Start the UI: settings, the stored session, the landing view. The first screen is drawn here,
 * once, with the case list kept from the last time; what arrives later (the server's case list,
 * queue changes, the network going or coming) updates the screen in place (refresh,
 * drawBanners) and never redraws it: a redraw replaces the case rows and tabs, and a tap pressed
 * on the old ones is lost. `recovered`: recordings `recoverInterrupted` set aside, announced on
 * that first screen.
 */
export async function mountApp(
  el: HTMLElement,
  { recovered = 0 }: { recovered?: number } = {},
): Promise<void> {
  root = el;
  setLang((await getSetting<Lang>("lang")) ?? "zh-CN");
  state.recent = (await getSetting<number[]>("recent_cases")) ?? [];
  state.activity = (await getSetting<string>("last_activity")) ?? state.activity;
  state.pauseOnMetered = (await getSetting<boolean>("pause_on_metered")) ?? false;
  const session = await getSetting<Session>("session");
  if (recovered) state.notice = t("recovered_notice", { n: recovered });
  if (session && Date.parse(session.expires_at) > Date.now()) {
    state.session = session;
    api.setSession(session);
    state.standing = (await credentialStanding()) ?? null;
    if (CREDENTIAL_ROLES.includes(session.user.role)) void updateStanding();
    state.view = landing(session);
    // the list kept from the last time, drawn at once; the server's updates it in place
    if (state.view === "cases") await showKeptCases();
    startLanding(session);
  }
  api.whenUnauthorized(() => void signOut(t("session_expired")));
  subscribe(() => void refreshEntries());
  window.addEventListener("online", drawBanners);
  window.addEventListener("offline", drawBanners);
  render(); // no await since startLanding: the server's case list cannot have arrived yet
  await refreshEntries();
}

export function notice(message: string): void {
  state.notice = message;
  drawBanners();
}

export function showUpdatePrompt(apply: () => void): void {
  applyUpdate = apply;
  drawBanners();
}

let refreshQueued = false;
let lastSignature = "";

/** Queue changes arrive with every progress event: coalesce them, redraw only on a change. */
function refreshEntries(): Promise<void> {
  if (refreshQueued) return Promise.resolve();
  refreshQueued = true;
  return new Promise((resolve) =>
    setTimeout(async () => {
      refreshQueued = false;
      const me = state.session?.user.id;
      state.entries = (await allEntries()).filter((e) => e.userId === me);
      const signature = JSON.stringify([
        isPaused(),
        state.entries.map((e) => [
          e.id,
          e.state,
          percentOf(e),
          e.sha256,
          e.error,
          e.geo,
          e.receiptFingerprint,
        ]),
      ]);
      const changed = signature !== lastSignature;
      lastSignature = signature;
      if (state.view === "queue" && changed) refresh();
      updateQueueBadge();
      resolve();
    }, 100),
  );
}

function casesCacheKey(): string {
  return `cases_cache:${state.session?.user.id}`;
}

/** The case list kept on the phone from the server's last answer, for the first screen. */
async function showKeptCases(): Promise<void> {
  const kept = await getSetting<Case[]>(casesCacheKey());
  state.cases = kept ?? [];
  state.casesLoaded = kept !== undefined;
  state.casesOffline = !navigator.onLine; // known now: no hint appearing a moment later
}

async function loadCases(): Promise<void> {
  try {
    state.cases = await api.listCases();
    state.casesOffline = false;
    await setSetting(casesCacheKey(), state.cases);
  } catch (err) {
    state.cases = (await getSetting<Case[]>(casesCacheKey())) ?? [];
    state.casesOffline = true;
    if (!(err instanceof api.ApiError && err.isNetwork)) state.error = (err as Error).message;
  }
  state.casesLoaded = true;
  if (state.view === "cases") refresh();
}

async function signIn(username: string, password: string): Promise<void> {
  const session = await api.login(username, password);
  state.session = session;
  api.setSession(session);
  await setSetting("session", session);
  // 持证上岗 told at sign-in, before any recording: the server's word, not a stored guess.
  state.standing = CREDENTIAL_ROLES.includes(session.user.role)
    ? ((await learnStanding()) ?? null)
    : null;
  state.view = landing(session);
  state.error = null;
  if (state.view === "console" || state.view === "admin") {
    startLanding(session);
    render();
    return;
  }
  await loadCases();
  void processQueue();
}

async function signOut(message: string | null = null): Promise<void> {
  state.session = null;
  api.setSession(null);
  closeCredential();
  closeSheets();
  stopConsole();
  stopAdmin();
  await deleteSetting("session");
  // Nothing of this officer's stays for the next one to sign in on this phone.
  Object.assign(state, {
    current: null,
    cases: [],
    casesLoaded: false,
    standing: null,
    teams: {},
  });
  state.view = "login";
  state.error = message;
  render();
}

/** Drawn at once, stored after: a tap made meanwhile acts on the case screen. */
function openCase(c: Case): void {
  state.current = c;
  state.stage = c.current_stage;
  state.view = "case";
  state.recent = [c.id, ...state.recent.filter((id) => id !== c.id)].slice(0, 20);
  render();
  void setSetting("recent_cases", state.recent);
  void loadTeam(c.id);
}

/** The case's officers and their standing (the capture screen says when fewer than two). */
async function loadTeam(caseId: number): Promise<void> {
  const key = `case_team:${state.session?.user.id}:${caseId}`;
  let team: Team | undefined;
  try {
    team = await caseTeam(caseId);
    await setSetting(key, team);
  } catch {
    team = await getSetting<Team>(key);
  }
  if (!team || JSON.stringify(team) === JSON.stringify(state.teams[caseId])) return;
  state.teams[caseId] = team;
  if (state.view === "case" && state.current?.id === caseId) refresh();
}

/** Ask the server for the officer's standing; redraw the screen in view if it changed. */
async function updateStanding(): Promise<void> {
  const known = (await learnStanding()) ?? null;
  if (JSON.stringify(known) === JSON.stringify(state.standing)) return;
  state.standing = known;
  if (state.view === "case" || state.view === "cases") refresh();
}

/** What the guided flows (open-case.ts, onsite-flow.ts) need from the app. */
const journeys: Journeys = {
  record: (c, stage, activity) =>
    new Promise<void>((resolve) => {
      state.current = c;
      state.stage = stage;
      state.activity = activity;
      void startCapture("video", resolve);
    }),
  caseChanged: (c) => {
    const known = state.cases.some((x) => x.id === c.id);
    state.cases = known
      ? state.cases.map((x) => (x.id === c.id ? { ...x, ...c } : x))
      : [c, ...state.cases];
    if (state.current?.id === c.id) state.current = { ...state.current, ...c };
    state.casesLoaded = true;
    if (state.view === "cases" || state.view === "case") refresh();
  },
};

function go(view: View): void {
  state.view = view;
  state.error = null;
  render();
}

// --- rendering -----------------------------------------------------------------------------

function screenOf(view: View): HTMLElement {
  if (view === "console") return consoleElement();
  if (view === "admin") return adminElement();
  if (view === "login") return loginScreen();
  if (view === "cases") return casesScreen();
  if (view === "case") return caseScreen();
  return queueScreen();
}

/**
 * Draw the whole app anew: for the officer's own moves (another screen, the language, signing
 * in or out). What arrives by itself uses refresh or drawBanners instead.
 */
export function render(): void {
  const screen = screenOf(state.view);
  shown = { view: state.view, screen };
  banners = h("div", { class: "banners" }, bannerList());
  const wide = state.view === "console" || state.view === "admin";
  root.classList.toggle("wide", wide);
  root.replaceChildren(
    header(),
    banners,
    h("main", { class: "screen" }, screen),
    state.session && !wide ? tabs() : "",
  );
}

/**
 * Show data that arrived by itself (the server's case list, queue progress, a failed save) on
 * the screen in view, in place (dom.ts patch): the header, the tabs and every element that did
 * not change stay the same nodes, so a tap pressed meanwhile is not lost and nothing jumps.
 */
function refresh(): void {
  if (shown?.view !== state.view) return render();
  patch(shown.screen, screenOf(state.view));
}

function bannerList(): HTMLElement[] {
  const list: HTMLElement[] = [];
  if (applyUpdate) {
    list.push(
      h(
        "div",
        { class: "banner update", role: "status", "data-key": "update" },
        t("update_ready"),
        h("button", { class: "btn small", onclick: () => applyUpdate?.() }, t("update_now")),
      ),
    );
  }
  if (!navigator.onLine) {
    list.push(
      h("div", { class: "banner offline", role: "status", "data-key": "offline" }, t("offline")),
    );
  }
  if (state.notice) {
    list.push(
      h(
        "div",
        {
          class: "banner notice",
          role: "status",
          "data-key": "notice",
          onclick: () => ((state.notice = null), drawBanners()),
        },
        state.notice,
      ),
    );
  }
  return list;
}

/** The network went or came, a new version waits, a notice: only the banners change. */
function drawBanners(): void {
  if (banners) patchChildren(banners, bannerList());
}

/** A supervisor moves between the console and the capture app. */
function switchMode(): void {
  if (state.view === "console") {
    stopConsole();
    state.view = "cases";
    void loadCases();
  } else {
    state.view = "console";
    startConsole(state.session!.user);
  }
  state.error = null;
  render();
}

function header(): HTMLElement {
  const role = state.session?.user.role;
  return h(
    "header",
    { class: "top" },
    h("h1", {}, t("app_name")),
    h(
      "button",
      {
        class: "btn small ghost",
        "data-testid": "lang",
        onclick: async () => {
          const next: Lang = getLang() === "zh-CN" ? "en" : "zh-CN";
          setLang(next);
          // Drawn on the tap, saved afterwards: a screen still in the old language while the
          // page says the new one would take taps meant for the redrawn one.
          render();
          if (state.view === "console") routeConsole();
          if (state.view === "admin") routeAdmin();
          await setSetting("lang", next);
        },
      },
      t("language"),
    ),
    role && CREDENTIAL_ROLES.includes(role)
      ? h(
          "button",
          {
            class: "btn small cred-button",
            "data-testid": "btn-credential",
            onclick: () => openCredential(state.current?.id),
          },
          t("credential"),
        )
      : "",
    role === "supervisor"
      ? h(
          "button",
          {
            class: "btn small ghost",
            "data-testid": state.view === "console" ? "switch-capture" : "switch-console",
            onclick: () => switchMode(),
          },
          state.view === "console" ? t("switch_capture") : t("switch_console"),
        )
      : "",
    state.session
      ? h("button", { class: "btn small ghost", onclick: () => void signOut() }, t("logout"))
      : "",
  );
}

function tabs(): HTMLElement {
  const pending = state.entries.filter((e) => e.state !== "verified").length;
  return h(
    "nav",
    { class: "tabs" },
    h(
      "button",
      {
        class: `tab ${state.view === "cases" || state.view === "case" ? "active" : ""}`,
        "data-testid": "tab-cases",
        onclick: () => go(state.current && state.view !== "case" ? "case" : "cases"),
      },
      t("cases"),
    ),
    h(
      "button",
      {
        class: `tab ${state.view === "queue" ? "active" : ""}`,
        "data-testid": "tab-queue",
        onclick: () => go("queue"),
      },
      t("queue"),
      h("span", { class: "badge", "data-testid": "queue-count", hidden: pending === 0 }, pending),
    ),
  );
}

function updateQueueBadge(): void {
  const badge = root.querySelector<HTMLElement>("[data-testid=queue-count]");
  if (!badge) return;
  const pending = state.entries.filter((e) => e.state !== "verified").length;
  badge.textContent = String(pending);
  badge.hidden = pending === 0;
}

function errorLine(): HTMLElement | string {
  return state.error ? h("p", { class: "error", role: "alert" }, state.error) : "";
}

function loginScreen(): HTMLElement {
  const form = h(
    "form",
    { class: "stack", "data-testid": "login-form" },
    h("h2", {}, t("login_title")),
    h(
      "label",
      {},
      t("username"),
      h("input", {
        name: "username",
        autocomplete: "username",
        required: true,
        autocapitalize: "none",
      }),
    ),
    h(
      "label",
      {},
      t("password"),
      h("input", {
        name: "password",
        type: "password",
        autocomplete: "current-password",
        required: true,
      }),
    ),
    errorLine(),
    h("button", { class: "btn primary big", type: "submit" }, t("login")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const button = form.querySelector("button[type=submit]") as HTMLButtonElement;
    button.disabled = true;
    button.textContent = t("logging_in");
    try {
      await signIn(String(data.get("username")), String(data.get("password")));
    } catch (err) {
      state.error = (err as Error).message;
      render();
    }
  });
  void offerFirstRun(form, signIn); // no account yet: set up the unit and its first admin
  return form;
}

function casesScreen(): HTMLElement {
  const ordered = orderCases(state.cases, state.recent);
  return h(
    "section",
    { class: "stack" },
    h("h2", {}, t("my_cases")),
    h("div", { "data-testid": "standing-slot" }, standingBanner(state.standing)),
    h(
      "button",
      {
        class: "btn primary big",
        "data-testid": "btn-new-case",
        onclick: () => openNewCase(state.session!.user, journeys),
      },
      t("new_case"),
    ),
    state.casesOffline ? h("p", { class: "hint" }, t("offline_cases")) : "",
    errorLine(),
    ordered.length === 0
      ? h("p", { class: "hint" }, state.casesLoaded ? t("no_cases") : t("loading"))
      : "",
    h(
      "ul",
      { class: "cases" },
      ordered.map((c) =>
        h(
          "li",
          { "data-key": c.id },
          h(
            "button",
            {
              class: "case-row",
              "data-testid": "case-row",
              "data-case-id": c.id,
              onclick: () => openCase(c),
            },
            h("span", { class: "case-number" }, c.number),
            h("span", { class: "case-title" }, c.title),
            h(
              "span",
              { class: "case-meta" },
              t(`stage_${c.current_stage}` as Key),
              state.recent[0] === c.id ? ` · ${t("last_used")}` : "",
            ),
          ),
        ),
      ),
    ),
  );
}

function target(): CaptureTarget {
  const c = state.current!;
  return {
    userId: state.session!.user.id,
    caseId: c.id,
    caseNumber: c.number,
    stage: state.stage,
    activity: state.activity,
  };
}

function caseScreen(): HTMLElement {
  const c = state.current!;
  // 持证上岗: say so plainly when the officer's credential is not valid (recording goes on;
  // the server decides, and nothing recorded is lost). Drawn with the screen, from what is
  // known: a banner arriving a moment later would push the capture buttons from under a tap.
  const standing = h("div", { "data-testid": "standing-slot" }, standingBanner(state.standing));
  void checkStanding();
  const team = state.teams[c.id];
  const teamSlot = h(
    "div",
    { "data-testid": "team-slot" },
    team && !team.enough
      ? h(
          "div",
          { class: "error-box team-short", role: "alert", "data-testid": "team-short" },
          h("p", { class: "error" }, getLang() === "en" ? team.message_en : team.message),
          h("p", {}, t("team_ask_supervisor")),
        )
      : "",
  );
  const stageSelect = h(
    "select",
    {
      "data-testid": "stage",
      onchange: (e: Event) => (state.stage = (e.target as HTMLSelectElement).value),
    },
    allowedStages(c.current_stage).map((s) =>
      h("option", { value: s, selected: s === state.stage }, t(`stage_${s}` as Key)),
    ),
  );
  const activitySelect = h(
    "select",
    {
      "data-testid": "activity",
      onchange: (e: Event) => {
        state.activity = (e.target as HTMLSelectElement).value;
        void setSetting("last_activity", state.activity);
      },
    },
    ACTIVITIES.map((a) =>
      h("option", { value: a, selected: a === state.activity }, t(`activity_${a}` as Key)),
    ),
  );
  const fallback = !canRecord();
  // One file input serves the fallback (no MediaRecorder) and "choose an existing file".
  const fileInput = h("input", {
    type: "file",
    class: "visually-hidden",
    "data-testid": "file-input",
    accept: "image/*,video/*,audio/*",
    onchange: async (event: Event) => {
      const input = event.currentTarget as HTMLInputElement;
      const files = [...(input.files ?? [])];
      input.value = "";
      try {
        for (const file of files) await storePickedFile(file, target());
      } catch (err) {
        showSaveFailure(err);
      } finally {
        void processQueue();
      }
    },
  });
  const pick = (accept: string, capture: boolean) => {
    // the input on screen: after a refresh that is the first one drawn, not this copy
    const input = root.querySelector<HTMLInputElement>("[data-testid=file-input]") ?? fileInput;
    input.accept = accept;
    if (capture) input.setAttribute("capture", "environment");
    else input.removeAttribute("capture");
    input.click();
  };
  const captureButton = (kind: "photo" | "video" | "audio", accept: string) =>
    h(
      "button",
      {
        class: `btn capture ${kind}`,
        "data-testid": `btn-${kind}`,
        onclick: () => (fallback ? pick(accept, true) : void startCapture(kind)),
      },
      icon(kind),
      t(kind),
    );
  return h(
    "section",
    { class: "stack" },
    h("button", { class: "btn small ghost back", onclick: () => go("cases") }, `‹ ${t("back")}`),
    h("h2", { class: "case-head" }, h("span", { class: "case-number" }, c.number), c.title),
    caseLinks(c),
    standing,
    teamSlot,
    h(
      "div",
      { class: "pickers" },
      h("label", {}, t("stage"), stageSelect),
      h("label", {}, t("activity"), activitySelect),
    ),
    errorLine(),
    h(
      "div",
      { class: "capture-buttons" },
      captureButton("photo", "image/*"),
      captureButton("video", "video/*"),
      captureButton("audio", "audio/*"),
    ),
    h(
      "button",
      {
        class: "btn ghost",
        "data-testid": "btn-pick",
        onclick: () => pick("image/*,video/*,audio/*", false),
      },
      t("pick_file"),
    ),
    fileInput,
  );
}

/** The credential screen may have learnt a new standing since: show it if it changed. */
async function checkStanding(): Promise<void> {
  const known = (await credentialStanding()) ?? null;
  if (JSON.stringify(known) === JSON.stringify(state.standing)) return;
  state.standing = known;
  if (state.view === "case") refresh();
}

/** The case's paperwork: 文书 (documents, signatures, handover) and 完整性 (what is missing). */
function caseLinks(c: Case): HTMLElement {
  const user = state.session!.user;
  const advanced = (updated: Case) => {
    state.current = { ...c, ...updated };
    state.stage = updated.current_stage;
    state.cases = state.cases.map((x) => (x.id === updated.id ? { ...x, ...updated } : x));
    refresh();
  };
  return h(
    "div",
    { class: "case-links" },
    h(
      "button",
      {
        class: "btn",
        "data-testid": "btn-documents",
        onclick: () => openDocuments(state.current ?? c, user, advanced),
      },
      t("documents"),
    ),
    h(
      "button",
      {
        class: "btn",
        "data-testid": "btn-completeness",
        onclick: () => openCompleteness(state.current ?? c, user, advanced),
      },
      t("completeness"),
    ),
    // 法制审核: submit at 审查, see a returned round item by item, and at 决定 send a decision
    // drafted differently from the agreed round to a new one (review-submit.ts)
    ["review", "decision"].includes((state.current ?? c).current_stage)
      ? h(
          "button",
          {
            class: "btn",
            "data-testid": "btn-case-review",
            onclick: () => openCaseReview(state.current ?? c, user),
          },
          t("legal_review"),
        )
      : "",
  );
}

const ICONS: Record<"photo" | "video" | "audio", string> = {
  photo:
    '<path d="M4 8h3l2-3h6l2 3h3v11H4z" fill="none" stroke="currentColor" stroke-width="2"/><circle cx="12" cy="13" r="3.5" fill="none" stroke="currentColor" stroke-width="2"/>',
  video:
    '<rect x="2" y="6" width="14" height="12" rx="2" fill="none" stroke="currentColor" stroke-width="2"/><path d="M16 10l6-3v10l-6-3z" fill="currentColor"/>',
  audio:
    '<rect x="9" y="2" width="6" height="12" rx="3" fill="currentColor"/><path d="M5 11a7 7 0 0 0 14 0M12 18v4" fill="none" stroke="currentColor" stroke-width="2"/>',
};

/** Inline SVG icons: no icon font or emoji font needed on the phone. */
function icon(kind: "photo" | "video" | "audio"): HTMLElement {
  const span = h("span", { class: "icon", "aria-hidden": "true" });
  span.innerHTML = `<svg viewBox="0 0 24 24" width="32" height="32">${ICONS[kind]}</svg>`;
  return span;
}

// --- capture overlay -------------------------------------------------------------------------

/** Something captured could not be stored on the phone (storage full, …): say so plainly. */
function saveFailureMessage(err: unknown): string {
  if (isStorageFull(err)) return t("save_failed_storage_full");
  const e = err as Error | null;
  return t("save_failed", { msg: e?.message || e?.name || String(err) });
}

function showSaveFailure(err: unknown): void {
  state.error = saveFailureMessage(err);
  refresh();
}

async function startCapture(kind: "photo" | "video" | "audio", onDone?: () => void): Promise<void> {
  let stream: MediaStream;
  try {
    stream =
      kind === "photo"
        ? await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } })
        : await openCamera(kind === "video");
  } catch (err) {
    state.error = t("no_camera", { msg: (err as Error).message || (err as Error).name });
    refresh();
    onDone?.();
    return;
  }
  const overlay = h("div", { class: `overlay ${kind}`, "data-testid": "capture-overlay" });
  const video = h("video", { class: "preview", autoplay: true, playsinline: true, muted: true });
  video.muted = true;
  video.srcObject = stream;
  document.body.append(overlay);
  const close = () => {
    stopStream(stream);
    overlay.remove();
    onDone?.();
  };

  if (kind === "photo") {
    const shutter = h(
      "button",
      { class: "btn shutter", "data-testid": "btn-shutter", disabled: true },
      t("shutter"),
    );
    video.addEventListener("loadeddata", () => (shutter.disabled = false), { once: true });
    shutter.addEventListener("click", async () => {
      shutter.disabled = true;
      overlay.classList.add("flash");
      try {
        await takePhoto(video, target());
      } catch (err) {
        showSaveFailure(err);
      } finally {
        close();
        void processQueue();
      }
    });
    overlay.append(
      video,
      h(
        "div",
        { class: "overlay-bar" },
        h(
          "button",
          { class: "btn ghost", "data-testid": "btn-cancel", onclick: close },
          t("cancel"),
        ),
        shutter,
      ),
    );
    return;
  }

  const elapsed = h("span", { class: "elapsed", "data-testid": "rec-elapsed" }, "00:00");
  const size = h("span", { class: "size", "data-testid": "rec-size" }, "0 B");
  const stop = h(
    "button",
    { class: "btn stop", "data-testid": "btn-stop" },
    h("span", { class: "stop-square" }),
    t("stop"),
  );
  const warnOnClose = (event: BeforeUnloadEvent) => event.preventDefault();
  let recording: Recording;
  let tick: ReturnType<typeof setInterval> | undefined;
  let wakeLock: WakeLockSentinel | null = null;
  let finishing = false;
  // Stop by the officer's hand, or by itself when a slice could not be stored (storage full).
  const finish = async () => {
    if (finishing) return;
    finishing = true;
    stop.disabled = true;
    clearInterval(tick);
    window.removeEventListener("beforeunload", warnOnClose);
    void wakeLock?.release().catch(() => undefined);
    try {
      await recording.stop();
    } catch (err) {
      showSaveFailure(err);
    } finally {
      close();
      void processQueue();
    }
  };
  try {
    recording = await startRecording(kind, stream, target(), { onWriteError: () => void finish() });
  } catch (err) {
    close();
    state.error = t("no_camera", { msg: (err as Error).message });
    refresh();
    return;
  }
  // Keep the screen on while recording, and warn before the tab is closed mid-recording.
  wakeLock = (await navigator.wakeLock?.request("screen").catch(() => null)) ?? null;
  if (finishing) {
    void wakeLock?.release().catch(() => undefined); // already stopped (storage full)
    return;
  }
  window.addEventListener("beforeunload", warnOnClose);
  tick = setInterval(() => {
    elapsed.textContent = formatElapsed(Date.now() - recording.startedAt);
    size.textContent = formatBytes(recording.bytes());
  }, 250);
  stop.addEventListener("click", () => void finish());
  overlay.append(
    h(
      "div",
      { class: "rec-indicator", role: "status", "data-testid": "rec-indicator" },
      h("span", { class: "rec-dot" }),
      t("rec"),
      elapsed,
      size,
    ),
    kind === "video" ? video : h("div", { class: "audio-pulse" }, icon("audio")),
    h("div", { class: "overlay-bar" }, stop),
  );
}

// --- queue -------------------------------------------------------------------------------

function stateLabel(e: QueueEntry): string {
  if (e.state === "uploading") {
    const percent = percentOf(e);
    return percent >= 100 ? t("state_sent") : t("state_uploading", { percent });
  }
  if (e.state === "on_phone" && !e.sha256) return t("state_on_phone");
  return t(`state_${e.state}` as Key);
}

function geoLabel(e: QueueEntry): string {
  if (e.geo === "ok") return t("gps_ok", { acc: Math.round(e.accuracyM ?? 0) });
  if (e.geo === "refused") return t("gps_refused");
  if (e.geo === "unavailable") return t("gps_unavailable");
  if (e.geo === "none") return t("gps_not_recorded");
  return "";
}

/** 「已存证」 and the receipt's short fingerprint; the receipt can be saved as a file. */
function receiptLine(e: QueueEntry): HTMLElement {
  const save = () => {
    const blob = receiptBlob(e);
    if (!blob) return;
    const url = URL.createObjectURL(blob);
    const link = h("a", { href: url, download: `receipt-${e.mediaId}.json` });
    link.click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  };
  return h(
    "div",
    { class: "receipt", "data-testid": "receipt" },
    h("strong", {}, t("receipt_kept")),
    h("code", { title: t("receipt_fingerprint") }, e.receiptFingerprint ?? ""),
    h("button", { class: "btn ghost small", onclick: save }, t("receipt_save")),
  );
}

function queueScreen(): HTMLElement {
  const entries = [...state.entries].reverse();
  const overall = overallPercent(
    state.entries.map((e) => ({ state: e.state, size: e.size, percent: percentOf(e) })),
  );
  const pending = state.entries.filter((e) => e.state !== "verified");
  const wifiOnly = h("input", {
    type: "checkbox",
    "data-testid": "wifi-only",
    checked: state.pauseOnMetered,
    onchange: async (event: Event) => {
      state.pauseOnMetered = (event.currentTarget as HTMLInputElement).checked;
      await setSetting("pause_on_metered", state.pauseOnMetered);
      setPauseOnMetered(state.pauseOnMetered);
    },
  });
  return h(
    "section",
    { class: "stack" },
    h("h2", {}, t("queue")),
    h("label", { class: "check" }, wifiOnly, t("wifi_only")),
    isPaused() ? h("p", { class: "banner offline", role: "status" }, t("paused_metered")) : "",
    h(
      "div",
      { class: "overall" },
      h("span", {}, `${t("overall")} ${overall}%`),
      h("progress", { max: 100, value: overall, "data-testid": "overall-progress" }),
    ),
    pending.length === 0 ? h("p", { class: "hint" }, t("queue_empty")) : "",
    h(
      "ul",
      { class: "queue" },
      entries.map((e) =>
        h(
          "li",
          {
            class: `item ${e.state}`,
            "data-key": e.id,
            "data-testid": "queue-item",
            "data-id": e.id,
            "data-kind": e.kind,
            "data-state": e.state,
            "data-sha256": e.sha256 ?? "",
            "data-media-id": e.mediaId ?? "",
          },
          h(
            "div",
            { class: "item-head" },
            h("strong", {}, t(`kind_${e.kind}` as Key)),
            h("span", {}, e.caseNumber),
            h(
              "span",
              {},
              new Date(e.startedAt).toLocaleTimeString(getLang(), { timeZone: "Asia/Shanghai" }),
            ),
            h("span", {}, formatBytes(e.size)),
          ),
          h("div", { class: "item-state", "data-testid": "item-state" }, stateLabel(e)),
          h("progress", {
            max: 100,
            value:
              e.state === "verified" || e.state === "received"
                ? 100
                : e.state === "uploading"
                  ? percentOf(e)
                  : 0,
          }),
          h(
            "div",
            { class: "item-meta" },
            geoLabel(e),
            e.sha256 ? h("code", { title: e.sha256 }, `SHA-256 ${e.sha256.slice(0, 12)}…`) : "",
          ),
          e.receiptFingerprint ? receiptLine(e) : "",
          e.error || e.errorCode
            ? h("p", { class: "error", "data-testid": "queue-error" }, uploadErrorText(e))
            : "",
          e.state === "interrupted"
            ? h(
                "div",
                { class: "row" },
                h(
                  "button",
                  {
                    class: "btn primary",
                    "data-testid": "btn-upload-recovered",
                    onclick: () => void acceptRecovered(e.id),
                  },
                  t("upload"),
                ),
                h(
                  "button",
                  {
                    class: "btn ghost",
                    onclick: () => confirm(t("discard_confirm")) && void discardEntry(e.id),
                  },
                  t("discard"),
                ),
              )
            : "",
          e.state === "error"
            ? h("button", { class: "btn", onclick: () => void retryEntry(e.id) }, t("upload"))
            : "",
        ),
      ),
    ),
  );
}
