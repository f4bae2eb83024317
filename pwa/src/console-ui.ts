/**
 * Small pieces the console's pages share (case list and timeline, legal review, the leader's
 * inbox, the admin's disclosure pages): error sentences, times, links, and opening a PDF that
 * needs the bearer token.
 */
import { ApiError, API, getToken } from "./api";
import { localMessage } from "./completeness";
import { h } from "./dom";
import { getLang, t, type Key } from "./i18n";

/** A sentence for a failed call; 404/501 from a missing endpoint says so plainly. */
export function explain(err: unknown, what: string): string {
  if (err instanceof ApiError) {
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

export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime())
    ? iso
    : d.toLocaleString(getLang(), { hour12: false, timeZone: "Asia/Shanghai" });
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
