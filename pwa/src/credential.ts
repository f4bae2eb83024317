/**
 * 亮证: the officer's credential, full screen, for a citizen to read and scan.
 *
 * The QR token expires after `token_ttl_seconds` (2 min) by design, so the screen fetches a new
 * one every REFRESH_EVERY_S and shows a live clock and a moving bar: a screenshot or a replayed
 * still is visibly dead. Offline, the last credential is shown with a warning, never silently.
 */
import * as api from "./api";
import { getSetting, setSetting } from "./db";
import { h } from "./dom";
import { getLang, t } from "./i18n";

export interface CredentialDisplay {
  credential_id: number;
  name: string;
  unit_name: string;
  number: string;
  issuing_authority: string;
  categories: string[];
  area: string;
  valid_from: string;
  valid_to: string;
  status: string;
  token: string;
  token_expires_at: string;
  token_ttl_seconds: number;
  verify_url: string;
  qr_svg: string;
}

/** A new token well before the old one expires (the server's tokens live 120 s). */
export const REFRESH_EVERY_S = 90;
/** Refresh early anyway when the token has less than this left (e.g. after the tab slept). */
export const REFRESH_MARGIN_S = 30;

/** 亮证; with the case being worked on, the display also enters that case's custody trail. */
export function fetchCredential(caseId?: number | null): Promise<CredentialDisplay> {
  const query = caseId ? `?case_id=${encodeURIComponent(String(caseId))}` : "";
  return api.request<CredentialDisplay>("GET", `/me/credential${query}`);
}

/** Whole seconds until `expiresAt`, never negative. */
export function secondsLeft(expiresAt: string, now: number = Date.now()): number {
  return Math.max(0, Math.floor((Date.parse(expiresAt) - now) / 1000));
}

/** Whether the shown token should be replaced now. */
export function needsRefresh(fetchedAt: number, expiresAt: string, now: number = Date.now()) {
  return (
    now - fetchedAt >= REFRESH_EVERY_S * 1000 || secondsLeft(expiresAt, now) <= REFRESH_MARGIN_S
  );
}

/**
 * The server's QR SVG as a data: URL for an <img>. An SVG inside <img> can run no script and
 * load nothing, so server markup never becomes live DOM in the app.
 */
export function svgDataUrl(svg: string): string {
  // Inline SVG (segno's svg_inline) leaves out the namespace an SVG *file* needs.
  const standalone = svg
    .trim()
    .replace(/^<svg(?![^>]*\sxmlns=)/, '<svg xmlns="http://www.w3.org/2000/svg"');
  const bytes = new TextEncoder().encode(standalone);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return `data:image/svg+xml;base64,${btoa(binary)}`;
}

function cacheKey(): string {
  return `credential:${api.currentUserId()}`;
}

interface Cached {
  data: CredentialDisplay;
  fetchedAt: number;
}

/** After a failed refresh, wait this long before the timer tries again. */
const RETRY_AFTER_MS = 10_000;

let overlay: HTMLElement | null = null;
let closeOverlay: (() => void) | null = null;

/** Close the credential screen if it is open (e.g. at sign-out). */
export function closeCredential(): void {
  closeOverlay?.();
}

export function isCredentialOpen(): boolean {
  return overlay !== null;
}

/** Open the full-screen credential; resolves at once, closes with its own button. */
export function openCredential(caseId?: number | null): void {
  if (overlay) return;
  let current: Cached | null = null;
  let offline = false;
  let problem: string | null = null;
  let loading = false;
  let lastAttempt = 0;
  let wakeLock: WakeLockSentinel | null = null;

  const body = h("div", { class: "cred-body" });
  const clock = h("div", { class: "cred-clock", "data-testid": "cred-clock" });
  const countdown = h("div", { class: "cred-countdown", "data-testid": "cred-countdown" });
  const close = h(
    "button",
    { class: "btn ghost cred-close", "data-testid": "cred-close" },
    `✕ ${t("close")}`,
  );
  const refresh = h(
    "button",
    { class: "btn cred-refresh", "data-testid": "cred-refresh" },
    t("cred_refresh"),
  );
  overlay = h(
    "div",
    {
      class: "credential",
      role: "dialog",
      "aria-modal": "true",
      "aria-label": t("credential"),
      "data-testid": "credential-screen",
    },
    h("div", { class: "cred-top" }, h("strong", {}, t("credential_title")), close),
    body,
    h("div", { class: "cred-live" }, clock, h("div", { class: "cred-moving" }, h("span"))),
    countdown,
    h("p", { class: "hint cred-brightness" }, t("cred_brightness")),
    refresh,
  );
  document.body.append(overlay);

  const draw = () => {
    const parts: (HTMLElement | string)[] = [];
    if (offline && current) {
      parts.push(
        h(
          "p",
          { class: "banner offline", role: "alert", "data-testid": "cred-offline" },
          t("cred_offline"),
        ),
      );
    }
    if (problem) parts.push(h("p", { class: "error", role: "alert" }, problem));
    if (!current) {
      if (!problem) parts.push(h("p", { class: "hint" }, t("loading")));
      body.replaceChildren(...parts);
      return;
    }
    const c = current.data;
    const active = c.status === "active";
    parts.push(
      h(
        "div",
        { class: `cred-status ${active ? "valid" : "invalid"}`, "data-testid": "cred-status" },
        t(`cred_status_${c.status}` as Parameters<typeof t>[0]) || c.status,
      ),
      h("div", { class: "cred-name", "data-testid": "cred-name" }, c.name),
      h(
        "dl",
        { class: "cred-facts" },
        [
          fact(t("cred_number"), c.number, "cred-number"),
          fact(t("cred_unit"), c.unit_name),
          fact(t("cred_authority"), c.issuing_authority),
          fact(t("cred_categories"), c.categories.join("、")),
          fact(t("cred_area"), c.area),
          fact(t("cred_valid"), `${c.valid_from} — ${c.valid_to}`),
        ].flat(),
      ),
      h(
        "div",
        { class: "cred-qr" },
        h("img", {
          src: svgDataUrl(c.qr_svg),
          alt: t("cred_qr_alt"),
          "data-testid": "cred-qr",
          "data-verify-url": c.verify_url,
          "data-token": c.token,
        }),
      ),
    );
    body.replaceChildren(...parts);
  };

  const tick = () => {
    const now = new Date();
    clock.textContent = now.toLocaleTimeString(getLang(), { hour12: false });
    if (!current) {
      countdown.textContent = "";
      return;
    }
    const left = secondsLeft(current.data.token_expires_at);
    countdown.textContent = left > 0 ? t("cred_expires_in", { s: left }) : t("cred_expired");
    countdown.classList.toggle("expired", left === 0);
    if (
      !loading &&
      navigator.onLine &&
      Date.now() - lastAttempt >= RETRY_AFTER_MS &&
      needsRefresh(current.fetchedAt, current.data.token_expires_at)
    ) {
      void load();
    }
  };

  const load = async () => {
    loading = true;
    lastAttempt = Date.now();
    refresh.disabled = true;
    try {
      const data = await fetchCredential(caseId);
      current = { data, fetchedAt: Date.now() };
      offline = false;
      problem = null;
      await setSetting(cacheKey(), current);
    } catch (err) {
      const e = err as api.ApiError;
      if (e.isNetwork) {
        offline = true;
      } else if (e.code === "no_active_credential") {
        current = null;
        problem = t("cred_none");
      } else {
        problem = e.message;
      }
    } finally {
      loading = false;
      refresh.disabled = false;
      draw();
      tick();
    }
  };

  const keepAwake = async () => {
    if (document.visibilityState !== "visible" || wakeLock) return;
    wakeLock = (await navigator.wakeLock?.request("screen").catch(() => null)) ?? null;
    wakeLock?.addEventListener("release", () => (wakeLock = null));
  };
  const onVisible = () => {
    void keepAwake();
    if (document.visibilityState === "visible") tick();
  };
  const onOnline = () => void load();
  const timer = setInterval(tick, 1000);
  document.addEventListener("visibilitychange", onVisible);
  window.addEventListener("online", onOnline);
  void keepAwake();

  closeOverlay = () => {
    closeOverlay = null;
    clearInterval(timer);
    document.removeEventListener("visibilitychange", onVisible);
    window.removeEventListener("online", onOnline);
    void wakeLock?.release().catch(() => undefined);
    overlay?.remove();
    overlay = null;
  };
  close.addEventListener("click", () => closeOverlay?.());
  refresh.addEventListener("click", () => void load());

  void (async () => {
    const cached = await getSetting<Cached>(cacheKey());
    if (cached && !current) {
      current = cached;
      offline = !navigator.onLine;
      draw();
    }
    tick();
    await load();
  })();
}

function fact(label: string, value: string, testid?: string): HTMLElement[] {
  return [h("dt", {}, label), h("dd", testid ? { "data-testid": testid } : {}, value)];
}
