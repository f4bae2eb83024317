/**
 * 亮证 without network: the phone's own signing key and the codes it makes with it.
 *
 * The key is ECDSA P-256, made by WebCrypto as non-extractable: the browser keeps the private
 * half in IndexedDB (a CryptoKey is structured-cloneable) and never hands its bytes to anyone,
 * this code included; it can only sign. Online, the credential screen registers the public
 * half (`POST /me/device-key`) and receives a device certificate with the credential. Offline,
 * the screen makes a code every `rotate_seconds`:
 *
 *   base64url(cert ‖ ts ‖ signature)   ts: 4 bytes big-endian, unix seconds on the server's
 *                                      clock (ours corrected by the offset last seen online)
 *   signature = ECDSA-SHA-256(SIGNING_LABEL ‖ cert ‖ ts), raw r ‖ s, as WebCrypto returns it
 *
 * server/services/credentials.py checks exactly this layout (verify_offline_code).
 */
import * as api from "./api";
import { deleteSetting, deviceId, getSetting, setSetting } from "./db";

export const SIGNING_LABEL = "fieldtrace/offline-credential-code/v1";
const KEY_ALGORITHM: EcKeyGenParams = { name: "ECDSA", namedCurve: "P-256" };
const SIGN_ALGORITHM: EcdsaParams = { name: "ECDSA", hash: "SHA-256" };

/** What `GET /me/credential?device_key_id=` returns for offline codes. */
export interface OfflineCert {
  cert: string;
  expires_at: string;
  device_key_id: number;
  verify_prefix: string;
  window_seconds: number;
  rotate_seconds: number;
}

export interface DeviceKey {
  /** non-extractable: usable for `sign` only */
  privateKey: CryptoKey;
  /** the raw uncompressed point, base64url, as registered */
  publicKey: string;
  /** the server's id for it, once registered */
  keyId: number | null;
}

export function b64urlEncode(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function b64urlDecode(text: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) {
    throw new Error("not base64url");
  }
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** `ts` as 4 bytes, big-endian. */
export function uint32(ts: number): Uint8Array {
  if (!Number.isInteger(ts) || ts < 0 || ts > 0xffffffff) throw new RangeError(`bad ts ${ts}`);
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, ts);
  return out;
}

/** What the key signs for a code made at `ts`. */
export function signedMessage(cert: Uint8Array, ts: number): Uint8Array<ArrayBuffer> {
  return concat(new TextEncoder().encode(SIGNING_LABEL), cert, uint32(ts));
}

/** The code in the QR's URL: cert ‖ ts ‖ signature. */
export function codeFromParts(cert: Uint8Array, ts: number, signature: Uint8Array): string {
  return b64urlEncode(concat(cert, uint32(ts), signature));
}

/** Whole unix seconds on the server's clock, from ours and the offset seen when online. */
export function serverSeconds(nowMs: number, offsetMs: number): number {
  return Math.floor((nowMs + offsetMs) / 1000);
}

/**
 * The server's clock minus ours, from one request: the server read its clock somewhere
 * between our send and receive, so the midpoint is off by at most half the round trip.
 */
export function clockOffset(serverTime: string, sentMs: number, receivedMs: number): number {
  const server = Date.parse(serverTime);
  return Number.isFinite(server) ? Math.round(server - (sentMs + receivedMs) / 2) : 0;
}

/** The date in China (Asia/Shanghai: UTC+8 all year, no DST) at `ms`, as YYYY-MM-DD. */
export function shanghaiDate(ms: number): string {
  return new Date(ms + 8 * 3_600_000).toISOString().slice(0, 10);
}

/**
 * Whether a credential valid to `validTo` (a date, its last valid day, Asia/Shanghai) has run
 * out at `serverNowMs`. Unknown or unreadable dates are left to the server.
 */
export function credentialExpired(
  validTo: string | null | undefined,
  serverNowMs: number,
): boolean {
  const day = validTo?.slice(0, 10) ?? "";
  const start = /^\d{4}-\d{2}-\d{2}$/.test(day) ? Date.parse(`${day}T00:00:00+08:00`) : NaN;
  return Number.isFinite(start) && serverNowMs >= start + 86_400_000; // 00:00 the next day
}

/**
 * Whether a cached certificate still lets this phone make codes at `serverNowMs`: not past
 * its `expires_at`, nor past the credential's last valid day (`validTo`, when given).
 */
export function certUsable(
  offline: OfflineCert | null | undefined,
  serverNowMs: number,
  validTo?: string | null,
): offline is OfflineCert {
  return (
    !!offline &&
    Date.parse(offline.expires_at) > serverNowMs &&
    !credentialExpired(validTo, serverNowMs)
  );
}

/** Sign a code for `ts` and give it with the URL of its public page. */
export async function makeOfflineCode(
  privateKey: CryptoKey,
  offline: OfflineCert,
  ts: number,
): Promise<{ code: string; url: string }> {
  const cert = b64urlDecode(offline.cert);
  const signature = new Uint8Array(
    await crypto.subtle.sign(SIGN_ALGORITHM, privateKey, signedMessage(cert, ts)),
  );
  const code = codeFromParts(cert, ts, signature);
  return { code, url: offline.verify_prefix + code };
}

/** WebCrypto needs a secure context (HTTPS or localhost); without it, no offline codes. */
export function supported(): boolean {
  return typeof crypto !== "undefined" && !!crypto.subtle && typeof indexedDB !== "undefined";
}

function storageKey(userId: number): string {
  return `device-key:${userId}`;
}

async function createKey(): Promise<DeviceKey> {
  // extractable: false binds the private key to this browser; the public half of a pair is
  // always exportable.
  const pair = await crypto.subtle.generateKey(KEY_ALGORITHM, false, ["sign", "verify"]);
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  return { privateKey: pair.privateKey, publicKey: b64urlEncode(raw), keyId: null };
}

/** The key this phone keeps for `userId`, if it made one. */
export function storedKey(userId: number): Promise<DeviceKey | undefined> {
  return getSetting<DeviceKey>(storageKey(userId));
}

/**
 * This phone's key for `userId`, made on first use and registered with the server (again
 * each time: registering a known key is a no-op that confirms it is still live). A key the
 * server revoked is replaced by a new one. Null when the browser cannot make keys or the
 * server will not take one (e.g. the phone is registered to another officer); a network
 * failure throws the api's network error, so the caller knows to try again online.
 */
export async function registeredKey(userId: number): Promise<DeviceKey | null> {
  if (!supported()) return null;
  let key = await storedKey(userId);
  for (let attempt = 0; attempt < 2; attempt++) {
    if (!key) {
      key = await createKey();
      await setSetting(storageKey(userId), key);
    }
    try {
      const registered = await api.request<{ id: number }>("POST", "/me/device-key", {
        device_id: await deviceId(),
        public_key: key.publicKey,
      });
      if (key.keyId !== registered.id) {
        key = { ...key, keyId: registered.id };
        await setSetting(storageKey(userId), key);
      }
      return key;
    } catch (err) {
      const e = err as api.ApiError;
      if (e.isNetwork) throw e;
      if (e.code !== "device_key_revoked" && e.code !== "device_key_taken") return null;
      await deleteSetting(storageKey(userId));
      key = undefined;
    }
  }
  return null;
}
