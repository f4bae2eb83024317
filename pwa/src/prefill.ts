/**
 * Forms that know the case: a new document starts from `GET /cases/<id>/documents/prefill`
 * (server/services/prefill.py) — the party, place, officers with their credential numbers,
 * times of the recording, the facts and penalties of earlier documents — and each value filled
 * in this way is marked 「已自动填写，请核对」 with where it came from, for the officer to
 * confirm rather than type again.
 */
import { request } from "./api";
import { h } from "./dom";
import { getLang, t } from "./i18n";

/** Where a suggested value came from. */
export interface PrefillSource {
  kind: string;
  label: { zh: string; en: string };
  document_id?: string;
  media_id?: string;
  review_id?: number;
}

export interface DocumentPrefill {
  type: string;
  fields: Record<string, unknown>;
  /** By top-level field name. */
  sources: Record<string, PrefillSource>;
}

export function documentPrefill(caseId: number, code: string): Promise<DocumentPrefill> {
  return request<DocumentPrefill>(
    "GET",
    `/cases/${caseId}/documents/prefill?type=${encodeURIComponent(code)}`,
  );
}

export function sourceText(source: PrefillSource | null | undefined): string {
  if (!source) return "";
  return getLang() === "en" ? source.label.en : source.label.zh;
}

/** 「已自动填写，请核对：来自《立案审批表》」 for one field. */
export function prefilledNote(path: string, source: PrefillSource): HTMLElement {
  return h(
    "p",
    { class: "prefilled-note", "data-testid": "prefilled", "data-prefill-path": path },
    `${t("prefilled_check")}${t("colon")}${sourceText(source)}`,
  );
}

/** The banner above a form with prefilled fields. */
export function prefilledBanner(): HTMLElement {
  return h(
    "p",
    { class: "hint prefilled-banner", "data-testid": "prefilled-banner" },
    t("prefilled_banner"),
  );
}

/**
 * Mark the fields of a rendered form (documents.ts `renderForm`) that were filled from the
 * case: a note under the heading of a group or list, or under the label of a single field.
 */
export function markPrefilled(form: HTMLElement, sources: Record<string, PrefillSource>): void {
  for (const [path, source] of Object.entries(sources)) {
    const target = form.querySelector<HTMLElement>(`[data-path="${CSS.escape(path)}"]`);
    if (!target) continue;
    const note = prefilledNote(path, source);
    if (target.tagName === "FIELDSET") {
      target.classList.add("prefilled");
      target.querySelector(":scope > legend")?.after(note);
    } else {
      const wrapper = target.closest<HTMLElement>(".field") ?? target.parentElement;
      wrapper?.classList.add("prefilled");
      target.before(note);
    }
  }
}
