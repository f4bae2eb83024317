/**
 * The server's refusals in words of the UI language. The server answers
 * `{"error": {"code", "message"}}`; its message is English, or "中文 / English". A person sees
 * a sentence chosen by the code (`refusal_<code>` in i18n.ts) where there is one, else the half of a
 * bilingual message in the UI language, else — on a Chinese screen, for an English-only message
 * — a general sentence with the HTTP status: never English on a Chinese screen, never a code.
 */
import { getLang, t, type Key } from "./i18n";

const CJK = /[\u2e80-\u9fff\u3000-\u303f\uf900-\ufaff\uff00-\uffef]/;

/** `{s}` and the like for the coded sentences, from the error's details. */
function params(details: Record<string, unknown> | undefined, status: number) {
  const seconds = Number(details?.retry_after_s);
  return {
    s: Number.isFinite(seconds) && seconds > 0 ? Math.ceil(seconds) : 1,
    status,
  };
}

/**
 * A sentence for a refusal: `serverText("wrong username or password", 401,
 * "invalid_credentials")` → "账号或密码错误。" on a Chinese screen.
 */
export function serverText(
  message: string | null | undefined,
  status: number,
  code?: string | null,
  details?: Record<string, unknown>,
  fallback?: string,
): string {
  const key = `refusal_${code ?? ""}` as Key;
  if (code && t(key) !== key) return t(key, params(details, status));
  const text = (message ?? "").trim();
  const en = getLang() === "en";
  const halves = text.split(" / ");
  if (halves.length >= 2 && CJK.test(halves[0])) {
    return en ? halves.slice(1).join(" / ").trim() : halves[0].trim();
  }
  if (text && CJK.test(text) !== en) return text; // already in the UI's language
  if (fallback) return fallback;
  return status ? t("refusal_generic", { status }) : t("network_error");
}

/** What an upload entry in error says, in the UI language at the time it is drawn. */
export function uploadErrorText(entry: {
  error: string | null;
  errorCode?: string | null;
}): string {
  if (entry.errorCode === "resend_mismatch") return t("resend_mismatch");
  if (!entry.error && !entry.errorCode) return "";
  return serverText(entry.error, 0, entry.errorCode, {}, t("refusal_upload_refused"));
}
