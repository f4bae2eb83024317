/**
 * 亮证: the officer's credential, full screen, for a citizen to read and scan.
 *
 * The QR token expires after `token_ttl_seconds` (60 s) by design, so the screen fetches a new
 * one REFRESH_MARGIN_S before that (refreshAfterS) and shows a live clock and a moving bar: a
 * screenshot or a replayed still is visibly dead. Offline, the phone makes its own short-lived
 * code with its device key (device-key.ts) under the certificate it received when last online,
 * marked 离线码; without a usable certificate the screen says so, never silently shows a dead
 * code. The officer's photo is kept in IndexedDB (a Blob), so it shows offline too.
 *
 * 持证上岗: when the server says the officer holds no valid credential, the screen says why and
 * that recording still works (the server, not the phone, refuses such captures); the verdict is
 * kept (credentialStanding) for other screens to show with standingBanner.
 */
import encodeQR from "qr";
import * as api from "./api";
import { deleteSetting, getSetting, setSetting } from "./db";
import {
  certUsable,
  clockOffset,
  credentialExpired,
  makeOfflineCode,
  registeredKey,
  serverSeconds,
  storedKey,
  supported,
  type OfflineCert,
} from "./device-key";
import { h } from "./dom";
import { getLang, t } from "./i18n";
import { myStanding } from "./team-api";

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
  /** the server's clock when it answered: offline codes are dated by it */
  server_time?: string;
  /** a device certificate, when the phone named its registered key */
  offline?: OfflineCert | null;
  offline_problem?: string | null;
  /** SHA-256 of the officer's photo; null: none */
  photo_sha256?: string | null;
  /** where to GET the photo (with the bearer token) */
  photo_url?: string | null;
}

/** What the server's tokens live when an (older) answer does not say: 60 s. */
export const DEFAULT_TOKEN_TTL_S = 60;
/**
 * Fetch a new token when the shown one has this little left: room for a slow answer and two
 * retries (RETRY_AFTER_MS apart) before it expires, so a valid code is always on screen.
 */
export const REFRESH_MARGIN_S = 20;

/** The margin for a token of `ttl` seconds: REFRESH_MARGIN_S, at most a third of its life. */
export function refreshMarginS(ttl: number): number {
  return Math.min(REFRESH_MARGIN_S, Math.floor(ttl / 3));
}

/** Seconds after a fetch at which its token is replaced. */
export function refreshAfterS(ttl: number): number {
  return Math.max(1, ttl - refreshMarginS(ttl));
}

/** Where the phone is, when it already knows (see knownPosition). */
export interface Position {
  latitude: number;
  longitude: number;
  accuracy_m?: number | null;
}

/** The query of GET /me/credential: the case, the phone's key, and where, when known. */
export function credentialQuery(
  caseId?: number | null,
  deviceKeyId?: number | null,
  position?: Position | null,
): string {
  const params = new URLSearchParams();
  if (caseId) params.set("case_id", String(caseId));
  if (deviceKeyId) params.set("device_key_id", String(deviceKeyId));
  if (position && Number.isFinite(position.latitude) && Number.isFinite(position.longitude)) {
    params.set("latitude", String(position.latitude));
    params.set("longitude", String(position.longitude));
    if (position.accuracy_m != null && Number.isFinite(position.accuracy_m)) {
      params.set("accuracy_m", String(Math.round(position.accuracy_m * 10) / 10));
    }
  }
  const query = params.toString();
  return query ? `?${query}` : ""; // not .size: older WebViews lack it
}

/**
 * 亮证; with the case being worked on, the display also enters that case's custody trail,
 * with where the phone was when it knew.
 */
export function fetchCredential(
  caseId?: number | null,
  deviceKeyId?: number | null,
  position?: Position | null,
): Promise<CredentialDisplay> {
  const query = credentialQuery(caseId, deviceKeyId, position);
  return api.request<CredentialDisplay>("GET", `/me/credential${query}`);
}

/**
 * The phone's position, only when the officer already allowed it (never a prompt for 亮证):
 * a recent fix is fine, and after a short wait there is simply none.
 */
export async function knownPosition(timeoutMs = 2000): Promise<Position | null> {
  if (typeof navigator === "undefined" || !("geolocation" in navigator)) return null;
  try {
    const state = await navigator.permissions?.query({ name: "geolocation" });
    if (state?.state !== "granted") return null;
  } catch {
    return null;
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), timeoutMs + 200);
    navigator.geolocation.getCurrentPosition(
      (pos) => {
        clearTimeout(timer);
        resolve({
          latitude: pos.coords.latitude,
          longitude: pos.coords.longitude,
          accuracy_m: pos.coords.accuracy,
        });
      },
      () => {
        clearTimeout(timer);
        resolve(null);
      },
      { maximumAge: 5 * 60_000, timeout: timeoutMs, enableHighAccuracy: false },
    );
  });
}

// --- 持证上岗: whether the officer holds a valid credential now ---------------------------------

export type StandingReason = "no_credential" | "expired" | "suspended" | "revoked" | "unknown";

export interface Standing {
  valid: boolean;
  /** why not, when not valid */
  reason: StandingReason | null;
  /** when the server said so (ms) */
  checkedAt: number;
}

const REASONS: StandingReason[] = ["no_credential", "expired", "suspended", "revoked"];

/** The standing a GET /me/credential answer or refusal tells; null: it tells nothing. */
export function standingOf(
  answer: CredentialDisplay | api.ApiError,
  now: number = Date.now(),
): Standing | null {
  if (answer instanceof api.ApiError) {
    if (answer.code !== "no_active_credential") return null; // the network, a bug: unknown
    const said = answer.details.reason as StandingReason;
    return { valid: false, reason: REASONS.includes(said) ? said : "unknown", checkedAt: now };
  }
  if (answer.status === "active") return { valid: true, reason: null, checkedAt: now };
  const said = answer.status as StandingReason;
  return { valid: false, reason: REASONS.includes(said) ? said : "unknown", checkedAt: now };
}

function standingKey(userId: number | null): string {
  return `credential_standing:${userId}`;
}

/** The last standing the server told this phone for the signed-in officer, if any. */
export function credentialStanding(
  userId: number | null = api.currentUserId(),
): Promise<Standing | undefined> {
  return getSetting<Standing>(standingKey(userId));
}

/**
 * Ask the server for the officer's standing now (GET /me/standing, no 亮证 display recorded)
 * and keep it, so sign-in and the capture screen say it before any recording. Offline or on
 * an error: what was kept before.
 */
export async function learnStanding(
  userId: number | null = api.currentUserId(),
): Promise<Standing | undefined> {
  try {
    const said = await myStanding();
    const standing: Standing = {
      valid: said.valid,
      reason: said.valid
        ? null
        : REASONS.includes(said.reason as StandingReason)
          ? (said.reason as StandingReason)
          : "unknown",
      checkedAt: Date.now(),
    };
    await setSetting(standingKey(userId), standing);
    return standing;
  } catch {
    return credentialStanding(userId);
  }
}

/**
 * A clear banner for a credential that is not valid (nothing when it is, or is unknown):
 * recording goes on — evidence is never lost on the phone — and the server decides.
 */
export function standingBanner(standing: Standing | null | undefined): HTMLElement | null {
  if (!standing || standing.valid) return null;
  return h(
    "div",
    { class: "error-box cred-standing", role: "alert", "data-testid": "cred-standing" },
    h("p", { class: "error" }, t("cred_none")),
    h("p", { class: "error" }, t(`cred_lacking_${standing.reason ?? "unknown"}`)),
    h("p", {}, t("cred_not_valid_note")),
  );
}

/** The QR code of a URL made on the phone, as an <img> source (see svgDataUrl). */
export function qrDataUrl(url: string): string {
  return svgDataUrl(encodeQR(url, "svg", { ecc: "medium", border: 4, optimize: true }));
}

/** Seconds until the offline code made at `madeAt` is replaced, never negative. */
export function offlineSecondsLeft(madeAt: number, rotate: number, serverNow: number): number {
  return Math.max(0, madeAt + rotate - serverNow);
}

/** Whole seconds until `expiresAt` (the server's clock), never negative. */
export function secondsLeft(expiresAt: string, serverNow: number = Date.now()): number {
  return Math.max(0, Math.floor((Date.parse(expiresAt) - serverNow) / 1000));
}

/**
 * Whether the shown token should be replaced now: `refreshAfterS(ttl)` after it was fetched
 * (this phone's clock), or when it has the margin left (the server's clock: `serverNow` is
 * this phone's time corrected by the offset seen at the fetch, so a phone clock that is off
 * neither lets a token die on screen nor refreshes it without end).
 */
export function needsRefresh(
  fetchedAt: number,
  expiresAt: string,
  ttl: number = DEFAULT_TOKEN_TTL_S,
  now: number = Date.now(),
  serverNow: number = now,
): boolean {
  return (
    now - fetchedAt >= refreshAfterS(ttl) * 1000 ||
    secondsLeft(expiresAt, serverNow) <= refreshMarginS(ttl)
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

function photoKey(): string {
  return `credential_photo:${api.currentUserId()}`;
}

/** The officer's photo as kept on the phone: shown offline, refetched when its hash changes. */
interface CachedPhoto {
  sha256: string;
  blob: Blob;
}

/** The photo for `data`: the kept one while its hash matches, else fetched and kept. */
async function syncPhoto(data: CredentialDisplay): Promise<Blob | null> {
  const cached = await getSetting<CachedPhoto>(photoKey());
  if (!data.photo_sha256 || !data.photo_url) {
    if (cached) await deleteSetting(photoKey());
    return null;
  }
  if (cached?.sha256 === data.photo_sha256) return cached.blob;
  const blob = await api.fetchBlob(data.photo_url);
  await setSetting<CachedPhoto>(photoKey(), { sha256: data.photo_sha256, blob });
  return blob;
}

/** The kept photo, if it is the one `data` names (offline, or before the first answer). */
async function keptPhoto(data: CredentialDisplay): Promise<Blob | null> {
  const cached = await getSetting<CachedPhoto>(photoKey());
  return cached && cached.sha256 === data.photo_sha256 ? cached.blob : null;
}

interface Cached {
  data: CredentialDisplay;
  fetchedAt: number;
  /** the server's clock minus ours, measured at the fetch (0 for older caches) */
  clockOffsetMs?: number;
}

interface OfflineCode {
  code: string;
  url: string;
  img: string;
  /** unix seconds, server clock */
  madeAt: number;
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
  const userId = api.currentUserId();
  let current: Cached | null = null;
  let offline = false;
  let problem: string | null = null;
  let loading = false;
  let lastAttempt = 0;
  let wakeLock: WakeLockSentinel | null = null;
  // the device key: registered once per opening, when the network allows
  let keyChecked = false;
  let keyId: number | null = null;
  let offlineCode: OfflineCode | null = null;
  let making = false;
  let codeFailed = false; // this phone cannot sign for the cached certificate
  let standing: Standing | null = null;
  let photoUrl: string | null = null; // an object URL of the kept photo

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

  const showPhoto = (blob: Blob | null) => {
    if (photoUrl) URL.revokeObjectURL(photoUrl);
    photoUrl = blob ? URL.createObjectURL(blob) : null;
  };

  const photoImage = () => {
    if (!photoUrl) return null;
    const img = h("img", {
      src: photoUrl,
      alt: t("cred_photo_alt"),
      class: "cred-photo",
      "data-testid": "cred-photo",
    });
    // set through CSSOM: the app's CSP has no 'unsafe-inline' for style attributes
    Object.assign(img.style, {
      height: "min(34vw, 26vh, 150px)",
      width: "auto",
      maxWidth: "100%",
      objectFit: "cover",
      border: "2px solid #000",
      borderRadius: "6px",
    });
    return img;
  };

  /** Now on the server's clock, in ms, as best this phone knows it. */
  const serverNow = () => Date.now() + (current?.clockOffsetMs ?? 0);
  const usableCert = () =>
    current && certUsable(current.data.offline, serverNow(), current.data.valid_to)
      ? current.data.offline
      : null;
  /** Offline, past the credential's last valid day (Asia/Shanghai): shown as expired, no code.
   * (Online, the server says so itself.) */
  const expiredOffline = () =>
    offline && !!current && credentialExpired(current.data.valid_to, serverNow());
  let drawnExpired = false;

  /** What the QR shows: the server's token, the phone's own code, or nothing that works. */
  const qrMode = (): "online" | "offline" | "stale" | "none" => {
    if (!current) return "none";
    if (!offline) return "online";
    if (expiredOffline()) return "none";
    if (offlineCode && usableCert()) return "offline";
    if (usableCert() && supported() && !codeFailed) return "none"; // a code is being made
    return secondsLeft(current.data.token_expires_at, serverNow()) > 0 ? "stale" : "none";
  };

  const offlineText = (mode: ReturnType<typeof qrMode>) => {
    if (expiredOffline()) return t("cred_offline_expired", { date: current!.data.valid_to });
    if (mode === "offline") return t("cred_offline_code");
    if (mode === "stale") return t("cred_offline");
    if (!supported()) return t("cred_offline_unsupported");
    if (usableCert() && !codeFailed) return t("loading");
    return t("cred_offline_none");
  };

  const qrImage = (mode: "online" | "offline" | "stale") => {
    const c = current!.data;
    const code = mode === "offline" ? offlineCode! : null;
    return h(
      "div",
      { class: "cred-qr" },
      h("img", {
        src: code ? code.img : svgDataUrl(c.qr_svg),
        alt: t("cred_qr_alt"),
        "data-testid": "cred-qr",
        "data-mode": mode,
        "data-verify-url": code ? code.url : c.verify_url,
        "data-token": code ? code.code : c.token,
      }),
    );
  };

  const draw = () => {
    const parts: (HTMLElement | string)[] = [];
    const mode = qrMode();
    if (offline && current) {
      parts.push(
        h(
          "p",
          { class: "banner offline", role: "alert", "data-testid": "cred-offline" },
          offlineText(mode),
        ),
      );
    }
    if (problem) parts.push(h("p", { class: "error", role: "alert" }, problem));
    const banner = standingBanner(standing);
    if (banner) parts.push(banner);
    if (!current) {
      if (offline) {
        // never shown online on this phone: nothing to show, and no certificate to sign with
        parts.push(
          h(
            "p",
            { class: "banner offline", role: "alert", "data-testid": "cred-offline" },
            t("cred_offline_none"),
          ),
        );
      } else if (!problem && !banner) {
        parts.push(h("p", { class: "hint" }, t("loading")));
      }
      body.replaceChildren(...parts);
      return;
    }
    const c = current.data;
    drawnExpired = expiredOffline();
    const status = drawnExpired ? "expired" : c.status;
    const active = status === "active";
    // Photo beside name and status, facts in a compact grid: at 360×740 the whole QR and
    // the validity dates show without scrolling (a date never breaks inside itself).
    parts.push(
      h(
        "div",
        { class: "cred-head" },
        photoImage() ?? "",
        h(
          "div",
          { class: "cred-id" },
          h(
            "div",
            {
              class: `cred-status ${active ? "valid" : "invalid"}`,
              "data-testid": "cred-status",
            },
            t(`cred_status_${status}` as Parameters<typeof t>[0]) || status,
          ),
          h("div", { class: "cred-name", "data-testid": "cred-name" }, c.name),
        ),
      ),
      h(
        "dl",
        { class: "cred-facts" },
        [
          fact(t("cred_number"), c.number, "cred-number"),
          fact(t("cred_unit"), c.unit_name),
          fact(t("cred_authority"), c.issuing_authority),
          fact(t("cred_categories"), c.categories.join(t("list_sep"))),
          fact(t("cred_area"), c.area),
          [
            h("dt", {}, t("cred_valid")),
            h(
              "dd",
              { class: "cred-validity", "data-testid": "cred-validity" },
              h("span", { class: "nowrap" }, c.valid_from),
              " — ",
              h("span", { class: "nowrap" }, c.valid_to),
            ),
          ],
        ].flat(),
      ),
    );
    if (mode === "offline") {
      parts.push(
        h(
          "div",
          { class: "banner offline", "data-testid": "cred-offline-badge" },
          t("cred_offline_badge"),
        ),
      );
    }
    if (mode === "online" || mode === "offline" || mode === "stale") parts.push(qrImage(mode));
    body.replaceChildren(...parts);
  };

  /** Sign a fresh offline code with this phone's key; drawn when ready. */
  const makeCode = async () => {
    const cert = usableCert();
    if (!cert || userId === null) return;
    making = true;
    try {
      const key = await storedKey(userId);
      if (!key || key.keyId !== cert.device_key_id) {
        throw new Error("the certificate names a key this phone no longer holds");
      }
      const madeAt = serverSeconds(Date.now(), current?.clockOffsetMs ?? 0);
      const { code, url } = await makeOfflineCode(key.privateKey, cert, madeAt);
      if (offline) offlineCode = { code, url, img: qrDataUrl(url), madeAt }; // else back online
    } catch {
      offlineCode = null;
      codeFailed = true;
    } finally {
      making = false;
      draw();
      tick();
    }
  };

  const tick = () => {
    const now = new Date();
    clock.textContent = now.toLocaleTimeString(getLang(), {
      hourCycle: "h23", // not hour12: false, which reads 24:05 in English
      timeZone: "Asia/Shanghai",
    });
    if (!offline && navigator.onLine === false) {
      // the network went while on screen: the phone's own codes from now on
      offline = true;
      draw();
    }
    if (!current) {
      countdown.textContent = "";
      return;
    }
    const cert = offline ? usableCert() : null;
    if (offline && offlineCode && !cert) {
      offlineCode = null; // the certificate (or the credential) ran out while on screen
      draw();
    } else if (expiredOffline() !== drawnExpired) {
      draw(); // the credential's last valid day ended while on screen
    }
    if (cert) {
      const nowS = serverSeconds(Date.now(), current.clockOffsetMs ?? 0);
      const left = offlineCode
        ? offlineSecondsLeft(offlineCode.madeAt, cert.rotate_seconds, nowS)
        : 0;
      if (!making && !codeFailed && left === 0) void makeCode();
      countdown.textContent = offlineCode
        ? t("cred_offline_code_in", { s: Math.max(left, 1) })
        : "";
      countdown.classList.remove("expired");
    } else if (expiredOffline()) {
      countdown.textContent = "";
      countdown.classList.add("expired");
    } else {
      const left = secondsLeft(current.data.token_expires_at, serverNow());
      countdown.textContent = left > 0 ? t("cred_expires_in", { s: left }) : t("cred_expired");
      countdown.classList.toggle("expired", left === 0);
    }
    if (
      !loading &&
      navigator.onLine &&
      Date.now() - lastAttempt >= RETRY_AFTER_MS &&
      (offline ||
        needsRefresh(
          current.fetchedAt,
          current.data.token_expires_at,
          current.data.token_ttl_seconds || DEFAULT_TOKEN_TTL_S,
          Date.now(),
          serverNow(),
        ))
    ) {
      void load();
    }
  };

  const load = async () => {
    loading = true;
    lastAttempt = Date.now();
    refresh.disabled = true;
    try {
      if (!keyChecked && userId !== null) {
        // throws on a network failure: then we are offline, and try again next time
        const key = await registeredKey(userId).catch((err: api.ApiError) => {
          if (err.isNetwork) throw err;
          return null;
        });
        keyId = key?.keyId ?? null;
        keyChecked = true;
      }
      const position = caseId ? await knownPosition() : null;
      const sent = Date.now();
      const data = await fetchCredential(caseId, keyId, position);
      const received = Date.now();
      current = {
        data,
        fetchedAt: received,
        clockOffsetMs: data.server_time ? clockOffset(data.server_time, sent, received) : 0,
      };
      if (data.offline_problem) keyChecked = false; // revoked or unknown: re-register next time
      offline = false;
      offlineCode = null;
      codeFailed = false;
      problem = null;
      standing = standingOf(data);
      await setSetting(cacheKey(), current);
      await setSetting(standingKey(userId), standing);
      // optional: without it the screen still shows everything else
      showPhoto(await syncPhoto(data).catch(() => null));
    } catch (err) {
      const e = err as api.ApiError;
      if (e.isNetwork) {
        offline = true;
      } else if (e.code === "no_active_credential") {
        // not shown any more, not even offline: the server would say ✗ anyway
        current = null;
        problem = null;
        standing = standingOf(e);
        showPhoto(null);
        await setSetting(standingKey(userId), standing);
        await deleteSetting(cacheKey());
        await deleteSetting(photoKey());
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
  const onOffline = () => tick(); // switches to the phone's own codes at once
  const timer = setInterval(tick, 1000);
  document.addEventListener("visibilitychange", onVisible);
  window.addEventListener("online", onOnline);
  window.addEventListener("offline", onOffline);
  void keepAwake();

  closeOverlay = () => {
    closeOverlay = null;
    clearInterval(timer);
    document.removeEventListener("visibilitychange", onVisible);
    window.removeEventListener("online", onOnline);
    window.removeEventListener("offline", onOffline);
    void wakeLock?.release().catch(() => undefined);
    showPhoto(null);
    overlay?.remove();
    overlay = null;
  };
  close.addEventListener("click", () => closeOverlay?.());
  refresh.addEventListener("click", () => void load());

  void (async () => {
    const cached = await getSetting<Cached>(cacheKey());
    standing = (await credentialStanding(userId)) ?? null;
    if (cached && !current) {
      current = cached;
      offline = !navigator.onLine;
      showPhoto(await keptPhoto(cached.data));
      draw();
    }
    tick();
    await load();
  })();
}

function fact(label: string, value: string, testid?: string): HTMLElement[] {
  return [h("dt", {}, label), h("dd", testid ? { "data-testid": testid } : {}, value)];
}
