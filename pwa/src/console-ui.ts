/**
 * Small pieces the console's pages share (case list and timeline, legal review, the leader's
 * inbox, the admin's disclosure pages): error sentences, times, links, and opening a PDF that
 * needs the bearer token.
 */
import { ApiError, API, getToken } from "./api";
import { localMessage } from "./completeness";
import { h } from "./dom";
import { getLang, t, type Key } from "./i18n";

/**
 * A sentence for a failed call. A 404 naming what was not found (`case_not_found`,
 * `media_not_found`) says the object does not exist or is another unit's; a 404/405/501 from a
 * missing endpoint says so plainly.
 */
export function explain(err: unknown, what: string): string {
  if (err instanceof ApiError) {
    if (err.status === 404 && /^[a-z]+(_[a-z]+)*_not_found$/.test(err.code)) {
      return t("not_found_here", { what });
    }
    if (
      err.status === 501 ||
      err.status === 405 ||
      (err.status === 404 && /not[_ ]found|http_error/.test(err.code))
    ) {
      return t("endpoint_missing", { what, status: err.status, msg: err.message });
    }
    return `${what}${t("colon")}${localMessage(err.message)}`;
  }
  return `${what}${t("colon")}${(err as Error).message}`;
}

export function errorBox(message: string, testid = "console-error"): HTMLElement {
  return h("p", { class: "error", role: "alert", "data-testid": testid }, message);
}

/**
 * A moment in Beijing time: 2026/11/27 16:46:13 in Chinese; 2026-11-27 16:46:13 in English,
 * where a locale's day/month order would be ambiguous to readers elsewhere.
 */
export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  // 2026-12-08 11:52:49 in both languages, as the dates beside it (fmtDate) are written:
  // Swedish writes dates the ISO way; zh-CN's own form (2026/12/8) sat oddly next to them.
  return d.toLocaleString("sv-SE", { hourCycle: "h23", timeZone: "Asia/Shanghai" });
}

/** A calendar date from the API (`2026-11-27`) as it is: deadlines are Asia/Shanghai days. */
export function fmtDate(day: string | null | undefined): string {
  return day ? day.slice(0, 10) : "—";
}

/** `t("<prefix>_<value>")`, or the value itself when there is no such key. */
export function label(prefix: string, value: string | null | undefined): string {
  if (!value) return "—";
  const text = t(`${prefix}_${value}` as Key);
  return text === `${prefix}_${value}` ? value : text;
}

export function backLink(hash: string, text: string): HTMLElement {
  return h(
    "a",
    { class: "btn small ghost back", href: hash, "data-testid": "console-back" },
    `‹ ${text}`,
  );
}

/** `/api/v1/documents/<id>/pdf` for a document version (the API's `pdf_url` when it has one). */
export function pdfPath(documentId: string): string {
  return `${API}/documents/${encodeURIComponent(documentId)}/pdf`;
}

/**
 * Open a PDF the API serves only with a bearer token: fetched here, shown from a blob URL in a
 * new tab (opened at once, inside the click, so no popup blocker stops it).
 */
export async function openPdf(url: string, filename = "document.pdf"): Promise<void> {
  const tab = window.open("", "_blank");
  const resp = await fetch(url, {
    headers: { Authorization: `Bearer ${getToken() ?? ""}` },
    cache: "no-store",
  }).catch(() => null);
  if (!resp || !resp.ok) {
    tab?.close();
    const data = resp ? await resp.json().catch(() => null) : null;
    throw new ApiError(
      data?.error?.message ?? t("network_error"),
      resp?.status ?? 0,
      data?.error?.code ?? "network",
    );
  }
  const blobUrl = URL.createObjectURL(await resp.blob());
  if (tab) tab.location.href = blobUrl;
  else {
    const a = h("a", { href: blobUrl, download: filename });
    document.body.append(a);
    a.click();
    a.remove();
  }
  setTimeout(() => URL.revokeObjectURL(blobUrl), 60_000);
}

/** A button that opens a document's PDF; a failure shows next to it. */
export function pdfButton(documentId: string, text = t("open_pdf")): HTMLElement {
  const status = h("span", {});
  const button = h(
    "button",
    { type: "button", class: "btn small", "data-testid": "btn-pdf", "data-doc-id": documentId },
    text,
  );
  button.addEventListener("click", () => {
    status.replaceChildren();
    openPdf(pdfPath(documentId), `${documentId}.pdf`).catch((err) =>
      status.replaceChildren(errorBox(explain(err, t("open_pdf")))),
    );
  });
  return h("span", { class: "pdf-link" }, button, status);
}

/** A short hash for tables; the whole one in the tooltip. */
export function shortHash(sha256: string | null | undefined): HTMLElement | string {
  return sha256 ? h("code", { title: sha256, class: "hash" }, `${sha256.slice(0, 12)}…`) : "—";
}

const STAGE_WORDS =
  /\bin (filing|investigation|evidence|review|decision|service|execution|archive)\b/g;

/**
 * The server's English sentences about requirements still name things by code ("issue:
 * filing_approval", "onsite_inspection in filing must be filmed"); in English, codes of
 * document types, activities and stages become their English names and the sentence starts
 * with a capital. Other languages are returned as they are.
 */
export function humanizeCodes(
  text: string,
  types: readonly { code: string; title: { en: string } }[] = [],
): string {
  if (getLang() !== "en" || !text) return text;
  const titles = new Map(types.map((d) => [d.code, d.title.en]));
  const out = text
    .replace(/\b[a-z]+(?:_[a-z]+)+\b/g, (code) => {
      if (titles.has(code)) return titles.get(code)!;
      const activity = label("activity", code);
      return activity === code ? code : activity;
    })
    .replace(STAGE_WORDS, (_, stage: string) => `in ${label("stage", stage)}`);
  return out.charAt(0).toUpperCase() + out.slice(1);
}

/** Names in a sentence: 甲、乙 / A, B. */
export function joinList(items: readonly string[]): string {
  return items.join(t("list_sep"));
}

/** An aside after a sentence: （说明） / " (note)". */
export function inParens(text: string): string {
  return t("in_parens", { text });
}

const CJK = /[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]/;

/**
 * A media flag in the UI language: its label from the server's one table of flag words
 * (media_pipeline/flag_words.py), never its code. The pipeline's own sentence (a Pillow or
 * ffmpeg message, in English) is detail for English readers only; a Chinese screen shows the
 * label alone, or the pipeline's Chinese sentence where it wrote one (`message_zh`: a
 * finding with its figures, as "画面在 0.3 秒处中断，声音持续到 5 秒"). A flag without a label
 * (an old server) is "another finding".
 */
export function flagText(flag: {
  code: string;
  message?: string;
  message_zh?: string;
  label?: { zh: string; en: string };
}): {
  label: string;
  detail: string;
} {
  const en = getLang() === "en";
  const message = flag.message ?? "";
  const label = (en ? flag.label?.en : flag.label?.zh) || t("mflag_other");
  if (!en) return { label, detail: flag.message_zh ?? "" };
  return { label, detail: message && message !== label && !CJK.test(message) ? message : "" };
}

/** An audit action in words, from the server's table (server/services/audit_words.py). */
export function auditWords(entry: {
  action_label?: { zh: string; en: string };
  details_text?: { zh: string; en: string };
}): { action: string; details: string } {
  const lang = getLang() === "en" ? "en" : "zh";
  return {
    action: entry.action_label?.[lang] || t("action_other"),
    details: entry.details_text?.[lang] ?? "",
  };
}

/** A recording gap's sentence: the server's (Chinese) one, in English by its code. */
export function gapMessage(gap: { code: string; message: string; message_en?: string }): string {
  if (getLang() !== "en") return gap.message;
  if (gap.message_en) return gap.message_en;
  const key = `gap_${gap.code}`;
  const text = t(key as Key);
  return text === key ? gap.message : text;
}
