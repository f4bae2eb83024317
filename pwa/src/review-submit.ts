/**
 * 提交法制审核 on the case screen (console and phone): the decision draft, prefilled from what
 * the case knows (`GET /cases/<id>/legal-reviews/draft`), then the package the round will
 * freeze (`POST /cases/<id>/legal-reviews/preview`: documents with their hashes, completeness,
 * the draft's operative content), then the submission on confirmation. A returned round shows
 * the reviewer's findings item by item, and 「修改后重新提交」 leads through fixing the
 * documents to a new round.
 *
 * The draft form is a plain model (`DraftForm`); `buildSubmission` checks it and gives the
 * body of `POST /cases/<id>/legal-reviews`:
 *
 *     const form = formFromDraft(suggestion.decision_draft, suggestion.report);
 *     form.facts = "当事人销售过期酸奶12箱";
 *     const built = buildSubmission(form);
 *     if (built.ok) await submitReview(caseId, built.body);
 */
import { request } from "./api";
import type { DocField, DocType, EnforcementDocument, User } from "./api";
import * as api from "./api";
import type {
  DecisionDraft,
  LegalReview,
  ReviewDifference,
  ReviewMatch,
  ReviewPackage,
} from "./console-api";
import * as capi from "./console-api";
import { errorBox, explain, fmtDate, fmtTime, label } from "./console-ui";
import { openSheet, roleLabel, type CaseRef, type Sheet } from "./completeness";
import { latestVersions, openDocuments } from "./documents";
import { h } from "./dom";
import { DICTIONARY, getLang, t, type Key, type Lang } from "./i18n";
import { CHECKLIST_ITEMS, checklistLabel, packageView, reviewStatusChip } from "./legal";
import { prefilledBanner, prefilledNote, type PrefillSource } from "./prefill";

// --- the API ---------------------------------------------------------------------------------

export interface DraftParty {
  type?: "natural" | "legal" | null;
  name: string;
  id_type?: string | null;
  id_number?: string | null;
  address?: string | null;
}

/** The decision draft with its operative content: whom, what happened, why, and what. */
export interface OperativeDraft extends DecisionDraft {
  party?: DraftParty | null;
  facts?: string | null;
  discretion?: string | null;
}

export interface DraftSuggestion {
  decision_draft: OperativeDraft;
  sources: Record<string, PrefillSource>;
  report: string;
  report_source: PrefillSource | null;
}

export interface SubmitBody {
  report: string;
  decision_draft: OperativeDraft;
}

export function draftSuggestion(caseId: number): Promise<DraftSuggestion> {
  return request<DraftSuggestion>("GET", `/cases/${caseId}/legal-reviews/draft`);
}

export function previewReview(
  caseId: number,
  body: SubmitBody,
): Promise<{ round: number; package: ReviewPackage }> {
  return request("POST", `/cases/${caseId}/legal-reviews/preview`, body);
}

export function submitReview(caseId: number, body: SubmitBody): Promise<LegalReview> {
  return request<LegalReview>("POST", `/cases/${caseId}/legal-reviews`, body);
}

/** Roles that submit a case for legal review (services/legal_review.py `check_may_submit`). */
export const SUBMITTER_ROLES = ["officer", "supervisor"];

// --- the draft form: pure ---------------------------------------------------------------------

export interface PenaltyRow {
  kind: string;
  amount: string;
  description: string;
}

export interface DraftForm {
  report: string;
  party: { type: "" | "natural" | "legal"; name: string; id_number: string; address: string };
  facts: string;
  legal_basis: string;
  discretion: string;
  penalties: PenaltyRow[];
  summary: string;
  withhold_reason: string | null;
}

export const PENALTY_KINDS = [
  "warning",
  "fine",
  "confiscation",
  "suspension",
  "license_revocation",
  "license_suspension",
  "other",
] as const;

export function formFromDraft(d: OperativeDraft, report: string): DraftForm {
  const party = d.party ?? { name: "" };
  const rows = (d.penalties ?? []).map((p) => ({
    kind: p.kind,
    amount: p.amount === null || p.amount === undefined ? "" : String(p.amount),
    description: p.description ?? "",
  }));
  return {
    report,
    party: {
      type: party.type === "natural" || party.type === "legal" ? party.type : "",
      name: party.name ?? "",
      id_number: party.id_number ?? "",
      address: party.address ?? "",
    },
    facts: d.facts ?? "",
    legal_basis: d.legal_basis ?? "",
    discretion: d.discretion ?? "",
    penalties: rows.length ? rows : [{ kind: "fine", amount: "", description: "" }],
    summary: d.summary ?? "",
    withhold_reason: d.withhold_reason ?? null,
  };
}

export type DraftProblem =
  "report" | "party_name" | "facts" | "legal_basis" | "penalties" | "fine_amount" | "amount_number";

/** The body of the submission, or which parts are missing (`draft_problem_<code>` in words). */
export function buildSubmission(
  f: DraftForm,
): { ok: true; body: SubmitBody } | { ok: false; problems: DraftProblem[] } {
  const problems: DraftProblem[] = [];
  if (!f.report.trim()) problems.push("report");
  if (!f.party.name.trim()) problems.push("party_name");
  if (!f.facts.trim()) problems.push("facts");
  if (!f.legal_basis.trim()) problems.push("legal_basis");
  const rows = f.penalties.filter((p) => p.kind);
  if (!rows.length) problems.push("penalties");
  const amounts = rows.map((p) => p.amount.trim().replace(/[,，]/g, ""));
  if (amounts.some((a) => a !== "" && !/^\d+(\.\d{1,2})?$/.test(a))) problems.push("amount_number");
  else if (rows.some((p, i) => p.kind === "fine" && !(Number(amounts[i]) > 0)))
    problems.push("fine_amount");
  if (problems.length) return { ok: false, problems };
  const party: DraftParty = { name: f.party.name.trim() };
  if (f.party.type) party.type = f.party.type;
  if (f.party.id_number.trim()) party.id_number = f.party.id_number.trim();
  if (f.party.address.trim()) party.address = f.party.address.trim();
  const penalties = rows.map((p, i) => ({
    kind: p.kind,
    amount: amounts[i] === "" ? null : Number(amounts[i]),
    description: p.description.trim(),
  }));
  const decision_draft: OperativeDraft = {
    party,
    facts: f.facts.trim(),
    legal_basis: f.legal_basis.trim(),
    discretion: f.discretion.trim(),
    penalties,
    // said the same way whatever the screen's language: it is published with the decision
    summary: penaltySummary(penalties, "zh-CN"),
  };
  if (f.withhold_reason) decision_draft.withhold_reason = f.withhold_reason;
  return { ok: true, body: { report: f.report.trim(), decision_draft } };
}

/** 罚款5000元；警告 — the penalties in one line, in `lang` (the UI's by default). */
export function penaltySummary(
  penalties: { kind: string; amount?: number | null; description?: string }[],
  lang: Lang = getLang(),
): string {
  const words = DICTIONARY[lang];
  const en = lang === "en";
  return penalties
    .map((p) => {
      const kind = words[`penalty_${p.kind}` as Key] ?? p.kind;
      const amount = p.amount ? `${en ? " " : ""}${p.amount}${en ? " " : ""}${words.yuan}` : "";
      return `${kind}${amount}`;
    })
    .join(en ? "; " : "；");
}

// --- a returned round, item by item -------------------------------------------------------------

/** The reviewer's findings on the nine items, each with its note; the problems first. */
export function returnedFindings(r: LegalReview): HTMLElement {
  const answers = new Map((r.checklist ?? []).map((c) => [c.item, c]));
  const items = [...CHECKLIST_ITEMS].sort(
    (a, b) => Number(answers.get(a)?.passed !== false) - Number(answers.get(b)?.passed !== false),
  );
  return h(
    "section",
    {
      class: "stack returned-round",
      "data-testid": "returned-round",
      "data-review-id": r.id,
      "data-round": r.round,
    },
    h(
      "h4",
      {},
      t("returned_round_title", { n: r.round }),
      " ",
      reviewStatusChip(r),
      r.decided_at ? h("small", { class: "hint" }, ` ${fmtTime(r.decided_at)}`) : "",
    ),
    h(
      "ol",
      { class: "checklist-result returned-items" },
      items.map((item) => {
        const answer = answers.get(item);
        const passed = answer?.passed !== false;
        return h(
          "li",
          {
            class: passed ? "good" : "bad",
            "data-testid": "returned-item",
            "data-item": item,
            "data-passed": String(passed),
          },
          h("strong", {}, `${passed ? "✓" : "✗"} ${checklistLabel(item)}`),
          h("span", { class: "finding" }, ` ${passed ? t("check_passed") : t("check_raised")}`),
          answer?.note
            ? h("p", { class: "finding-note", "data-testid": "returned-note" }, answer.note)
            : "",
        );
      }),
    ),
    r.opinion
      ? h(
          "p",
          { class: "prewrap", "data-testid": "returned-opinion" },
          `${t("review_opinion")}${t("colon")}${r.opinion}`,
        )
      : "",
  );
}

// --- a decision changed after the agreed round --------------------------------------------------

/** Decision types the legal review binds (services/decision_binding.py `OPERATIVE_FIELDS`). */
const BOUND_TYPES = ["penalty_decision", "onsite_penalty_decision", "coercive_measure_decision"];

/**
 * The draft decisions of the case that differ from what its agreed (last) round agreed: each
 * can be signed only after a new round agrees to it as it now reads. None while the last round
 * is not agreed.
 */
export async function changedDecisions(
  caseId: number,
  reviews: LegalReview[],
  docs?: EnforcementDocument[],
): Promise<ReviewMatch[]> {
  const last = reviews.length ? reviews[reviews.length - 1] : null;
  if (!last || last.status !== "agreed") return [];
  const drafts = latestVersions(docs ?? (await api.caseDocuments(caseId))).filter(
    (d) => d.status === "draft" && BOUND_TYPES.includes(d.type),
  );
  const found = await Promise.all(drafts.map((d) => capi.reviewMatch(d.id)));
  return found.filter((m) => m.state === "differs");
}

/** The form field a difference names (`party.name` → the party's name field). */
function diffField(type: DocType, path: string): DocField | undefined {
  const [top, sub] = path.split(".");
  const field = type.fields.find((f) => f.name === top);
  return sub ? field?.fields?.find((f) => f.name === sub) : field;
}

function diffValue(type: DocType, d: ReviewDifference, value: unknown, reviewed: boolean) {
  if (value === null || value === undefined || value === "") {
    if (reviewed && d.reviewed_note)
      return getLang() === "en" ? d.reviewed_note.en : d.reviewed_note.zh;
    return t("diff_none");
  }
  const field = diffField(type, d.field);
  const one = (f: DocField | undefined, v: unknown): string => {
    if (v === null || v === undefined || v === "") return "";
    if (f?.type === "choice") {
      const choice = f.choices?.find((c) => c.value === v);
      if (choice) return getLang() === "en" ? choice.label.en : choice.label.zh;
    }
    if (f?.type === "decimal") return t("amount_yuan", { amount: String(v) });
    if (f?.type === "boolean") return v === true ? t("yes") : t("no");
    return String(v);
  };
  if (typeof value === "object" && !Array.isArray(value)) {
    const record = value as Record<string, unknown>;
    const parts = (field?.fields ?? []).map((f) => one(f, record[f.name])).filter(Boolean);
    return parts.join(" ");
  }
  return one(field, value);
}

/** What differs from the agreed round, field by field: as agreed, and now. */
export function differencesTable(m: ReviewMatch, type: DocType): HTMLElement {
  const table = h(
    "table",
    { class: "grid diff", "data-testid": "review-differences" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        [t("diff_field"), t("diff_reviewed"), t("diff_now")].map((x) => h("th", {}, x)),
      ),
    ),
    h(
      "tbody",
      {},
      m.differences.map((d) =>
        h(
          "tr",
          { "data-testid": "review-difference", "data-field": d.field },
          h("td", {}, getLang() === "en" ? d.label.en : d.label.zh),
          h(
            "td",
            { class: "was", "data-label": `${t("diff_reviewed")}${t("colon")}` },
            diffValue(type, d, d.reviewed, true),
          ),
          h(
            "td",
            { class: "now", "data-label": `${t("diff_now")}${t("colon")}` },
            diffValue(type, d, d.now, false),
          ),
        ),
      ),
    ),
  );
  return h("div", { class: "table-wrap" }, table);
}

/** Each changed decision in a sentence (it cannot be issued) and its differences. */
function changedList(changed: ReviewMatch[], types: DocType[]): HTMLElement[] {
  return changed.flatMap((m) => {
    const type = types.find((x) => x.code === m.type);
    if (!type) return [];
    const fields = [
      ...new Set(m.differences.map((d) => (getLang() === "en" ? d.label.en : d.label.zh))),
    ];
    return [
      h(
        "p",
        { class: "bad", "data-testid": "rereview-sentence", "data-doc-id": m.document_id },
        t("rereview_needed", {
          title: getLang() === "en" ? type.title.en : type.title.zh,
          round: m.round ?? "",
          fields: fields.join(getLang() === "en" ? ", " : "、"),
        }),
      ),
      differencesTable(m, type),
    ];
  });
}

// --- the case screen's legal-review actions ------------------------------------------------------

/**
 * Under the rounds on the case screen: the last returned round item by item, and for the
 * undertaking side 「提交法制审核」 or 「修改后重新提交」 while the case is at 审查.
 */
export function reviewActions(
  c: CaseRef,
  reviews: LegalReview[],
  user: User,
  onSubmitted: () => void,
  opts: { changed?: ReviewMatch[]; types?: DocType[] } = {},
): HTMLElement | string {
  const last = reviews.length ? reviews[reviews.length - 1] : null;
  const mayActHere = SUBMITTER_ROLES.includes(user.role) && c.current_stage === "review";
  const returned = last && last.status === "returned" ? last : null;
  const parts: (HTMLElement | string)[] = [];
  if (returned) parts.push(returnedFindings(returned));
  // After an agreed round a decision was drafted differently: it cannot be issued until a
  // new round agrees to it (also in the decision stage), so the undertaking side may send one.
  const changed = opts.changed ?? [];
  if (
    last?.status === "agreed" &&
    changed.length &&
    SUBMITTER_ROLES.includes(user.role) &&
    (c.current_stage === "review" || c.current_stage === "decision")
  ) {
    const button = h(
      "button",
      { type: "button", class: "btn primary", "data-testid": "btn-rereview" },
      t("resubmit_review"),
    );
    button.addEventListener("click", () => {
      openReviewSubmit(c, user, { rereview: { agreed: last, changed }, onSubmitted });
    });
    parts.push(
      h(
        "div",
        { class: "summary-box stack", "data-testid": "rereview-needed" },
        ...changedList(changed, opts.types ?? []),
        h("div", { class: "row" }, button, h("span", { class: "hint" }, t("rereview_hint"))),
      ),
    );
  }
  if (mayActHere && (!last || last.status === "returned" || last.status === "transfer")) {
    const button = h(
      "button",
      {
        type: "button",
        class: "btn primary",
        "data-testid": returned ? "btn-resubmit-review" : "btn-submit-review",
      },
      returned ? t("resubmit_after_fixing") : t("submit_legal_review"),
    );
    button.addEventListener("click", () => {
      openReviewSubmit(c, user, { previous: returned, onSubmitted });
    });
    parts.push(
      h(
        "div",
        { class: "row" },
        button,
        h("span", { class: "hint" }, returned ? t("resubmit_hint") : t("submit_review_hint")),
      ),
    );
  }
  if (!parts.length) return "";
  return h("div", { class: "stack review-actions", "data-testid": "review-actions" }, parts);
}

/** The phone's 法制审核 sheet of a case: the rounds, a returned one item by item, submitting. */
export function openCaseReview(c: CaseRef, user: User, onChanged?: () => void): Sheet {
  const sheet = openSheet("case-review-screen", `${t("legal_review")} · ${c.number}`);
  const load = async () => {
    sheet.body.replaceChildren(h("p", { class: "hint" }, t("loading")));
    let reviews: LegalReview[];
    let changed: ReviewMatch[];
    try {
      reviews = await capi.caseReviews(c.id);
      changed = await changedDecisions(c.id, reviews);
      if (changed.length) typesCache ??= await api.documentTypes();
    } catch (err) {
      sheet.body.replaceChildren(errorBox(explain(err, t("legal_review"))));
      return;
    }
    const done = () => {
      onChanged?.();
      openCaseReview(c, user, onChanged);
    };
    sheet.body.replaceChildren(
      h("p", { class: "case-meta" }, c.title, " · ", t(`stage_${c.current_stage}` as Key)),
      reviews.length
        ? h(
            "ul",
            { class: "round-list", "data-testid": "case-review-rounds" },
            reviews.map((r) =>
              h(
                "li",
                {
                  "data-testid": "case-review-round",
                  "data-round": r.round,
                  "data-status": r.status,
                },
                h("strong", {}, t("round_n", { n: r.round })),
                " ",
                reviewStatusChip(r),
                h(
                  "span",
                  { class: "case-meta" },
                  ` ${t("submitted_at")} ${fmtTime(r.submitted_at)} · ${t("due_on")} ${fmtDate(r.due_on)}`,
                ),
              ),
            ),
          )
        : h("p", { class: "hint" }, t("no_reviews")),
      reviewActions(c, reviews, user, done, { changed, types: typesCache ?? [] }),
      c.current_stage !== "review" && SUBMITTER_ROLES.includes(user.role) && !reviews.length
        ? h("p", { class: "hint" }, t("submit_review_at_review_stage"))
        : "",
    );
  };
  void load();
  return sheet;
}

// --- the submission sheet ---------------------------------------------------------------------

let typesCache: DocType[] | null = null;

/** What the submitter had written when they left to fix documents: kept for their return. */
const kept = new Map<number, DraftForm>();

export function openReviewSubmit(
  c: CaseRef,
  user: User,
  opts: {
    previous?: LegalReview | null;
    /** A new round after `agreed` because these decisions were drafted differently. */
    rereview?: { agreed: LegalReview; changed: ReviewMatch[] };
    onSubmitted?: () => void;
  } = {},
): Sheet {
  const previous = opts.previous ?? null;
  const rereview = opts.rereview ?? null;
  let submitted = false;
  const sheet = openSheet(
    "review-submit-screen",
    `${t("submit_legal_review")} · ${c.number}`,
    () => {
      if (submitted) opts.onSubmitted?.();
    },
  );
  let form: DraftForm | null = kept.get(c.id) ?? null;
  let sources: Record<string, PrefillSource> = {};
  const problem = h("div", { "data-testid": "review-submit-problem" });

  const start = async () => {
    sheet.body.replaceChildren(h("p", { class: "hint" }, t("loading")));
    try {
      typesCache ??= await api.documentTypes();
      if (!form) {
        const suggestion = await draftSuggestion(c.id);
        sources = { ...suggestion.sources };
        let report = suggestion.report;
        if (suggestion.report_source) sources.report = suggestion.report_source;
        const before = previous ?? rereview?.agreed;
        if (before?.report) {
          report = before.report;
          sources.report = {
            kind: "legal_review",
            label: {
              zh: `第${before.round}轮送审的审查报告`,
              en: `The report of round ${before.round}`,
            },
          };
        }
        form = formFromDraft(suggestion.decision_draft, report);
      }
    } catch (err) {
      sheet.body.replaceChildren(errorBox(explain(err, t("submit_legal_review"))));
      return;
    }
    compose();
  };

  // Leave for the 文书 screen; come back to this sheet with what was written.
  const fixDocuments = () => {
    if (form) kept.set(c.id, form);
    const docs = openDocuments(c, user);
    const observer = new MutationObserver(() => {
      if (docs.element.isConnected) return;
      observer.disconnect();
      openReviewSubmit(c, user, opts);
    });
    observer.observe(document.body, { childList: true });
  };

  const compose = () => {
    const f = form!;
    sheet.setTitle(`${t("submit_legal_review")} · ${c.number}`);
    sheet.setBack(null);
    const mark = (name: string) => (sources[name] ? prefilledNote(name, sources[name]) : "");
    const text = (
      value: string,
      key: Key,
      testid: string,
      write: (v: string) => void,
      rows = 3,
    ): HTMLElement => {
      const el = h("textarea", { rows, "data-testid": testid, "aria-label": t(key) });
      el.value = value;
      el.addEventListener("input", () => write(el.value));
      return h("label", { class: "field" }, t(key), el);
    };
    const line = (value: string, key: Key, testid: string, write: (v: string) => void) => {
      const el = h("input", { "data-testid": testid, "aria-label": t(key) });
      el.value = value;
      el.addEventListener("input", () => write(el.value));
      return h("label", { class: "field" }, t(key), el);
    };
    const partyType = h(
      "select",
      { "data-testid": "draft-party-type", "aria-label": t("party_type") },
      h("option", { value: "" }, t("choose")),
      (["natural", "legal"] as const).map((v) =>
        h("option", { value: v, selected: f.party.type === v }, t(`party_type_${v}` as Key)),
      ),
    );
    partyType.addEventListener("change", () => (f.party.type = partyType.value as "" | "natural"));
    const penalties = h("div", { class: "stack", "data-testid": "draft-penalties" });
    const drawPenalties = () => {
      penalties.replaceChildren(
        ...f.penalties.map((p, i) => {
          const kind = h(
            "select",
            { "data-testid": "draft-penalty-kind", "aria-label": t("penalty_kind") },
            PENALTY_KINDS.map((k) =>
              h("option", { value: k, selected: p.kind === k }, label("penalty", k)),
            ),
          );
          kind.addEventListener("change", () => (p.kind = kind.value));
          const amount = h("input", {
            inputmode: "decimal",
            "data-testid": "draft-penalty-amount",
            "aria-label": t("penalty_amount"),
            placeholder: t("penalty_amount"),
          });
          amount.value = p.amount;
          amount.addEventListener("input", () => (p.amount = amount.value));
          const desc = h("input", {
            "data-testid": "draft-penalty-description",
            "aria-label": t("penalty_description"),
            placeholder: t("penalty_description"),
          });
          desc.value = p.description;
          desc.addEventListener("input", () => (p.description = desc.value));
          const remove = h(
            "button",
            { type: "button", class: "btn small ghost", disabled: f.penalties.length <= 1 },
            t("remove_row"),
          );
          remove.addEventListener("click", () => {
            f.penalties.splice(i, 1);
            drawPenalties();
          });
          return h(
            "div",
            { class: "penalty-row", "data-testid": "draft-penalty" },
            kind,
            amount,
            h("span", { class: "unit" }, t("yuan")),
            desc,
            remove,
          );
        }),
      );
    };
    drawPenalties();
    const addPenalty = h(
      "button",
      { type: "button", class: "btn small", "data-testid": "draft-penalty-add" },
      `+ ${t("add_penalty")}`,
    );
    addPenalty.addEventListener("click", () => {
      f.penalties.push({ kind: "warning", amount: "", description: "" });
      drawPenalties();
    });
    const next = h(
      "button",
      { type: "button", class: "btn primary big", "data-testid": "btn-preview-package" },
      t("preview_package"),
    );
    next.addEventListener("click", () => void preview());
    const fix = h(
      "button",
      { type: "button", class: "btn", "data-testid": "btn-fix-documents" },
      t("fix_documents"),
    );
    fix.addEventListener("click", fixDocuments);
    problem.replaceChildren();
    sheet.body.replaceChildren(
      previous
        ? h(
            "div",
            { class: "summary-box stack" },
            h("p", {}, t("resubmit_intro", { n: previous.round, next: previous.round + 1 })),
            returnedFindings(previous),
            fix,
          )
        : rereview
          ? h(
              "div",
              { class: "summary-box stack", "data-testid": "rereview-intro" },
              h(
                "p",
                {},
                t("rereview_intro", {
                  n: rereview.agreed.round,
                  next: rereview.agreed.round + 1,
                }),
              ),
              ...changedList(rereview.changed, typesCache ?? []),
            )
          : h("p", { class: "hint" }, t("submit_review_intro")),
      Object.keys(sources).length ? prefilledBanner() : "",
      mark("report"),
      text(f.report, "review_report", "draft-report", (v) => (f.report = v), 5),
      h("h3", {}, t("decision_draft")),
      h(
        "fieldset",
        { class: "group" },
        h("legend", {}, t("party")),
        mark("party"),
        line(f.party.name, "party_name", "draft-party-name", (v) => (f.party.name = v)),
        h("label", { class: "field" }, t("party_type"), partyType),
        line(
          f.party.id_number,
          "party_id_number",
          "draft-party-id",
          (v) => (f.party.id_number = v),
        ),
        line(f.party.address, "party_address", "draft-party-address", (v) => (f.party.address = v)),
      ),
      mark("facts"),
      text(f.facts, "draft_facts", "draft-facts", (v) => (f.facts = v)),
      mark("legal_basis"),
      text(f.legal_basis, "legal_basis", "draft-legal-basis", (v) => (f.legal_basis = v), 2),
      h(
        "fieldset",
        { class: "group" },
        h("legend", {}, t("draft_penalties")),
        mark("penalties"),
        penalties,
        addPenalty,
      ),
      mark("discretion"),
      text(f.discretion, "draft_discretion", "draft-discretion", (v) => (f.discretion = v), 2),
      problem,
      h("div", { class: "row" }, next),
    );
  };

  const preview = async () => {
    const built = buildSubmission(form!);
    if (!built.ok) {
      problem.replaceChildren(
        h(
          "div",
          { class: "error-box", role: "alert", "data-testid": "draft-problems" },
          built.problems.map((p) => h("p", { class: "error" }, t(`draft_problem_${p}` as Key))),
        ),
      );
      problem.scrollIntoView({ block: "center" });
      return;
    }
    sheet.body.replaceChildren(h("p", { class: "hint" }, t("loading")));
    let result: { round: number; package: ReviewPackage };
    try {
      result = await previewReview(c.id, built.body);
    } catch (err) {
      compose();
      problem.replaceChildren(errorBox(explain(err, t("preview_package")), "review-submit-error"));
      return;
    }
    const back = h(
      "button",
      { type: "button", class: "btn", "data-testid": "btn-back-to-draft" },
      t("back_to_draft"),
    );
    back.addEventListener("click", compose);
    const confirm = h(
      "button",
      { type: "button", class: "btn primary big", "data-testid": "btn-confirm-submit-review" },
      t("confirm_submit_review", { n: result.round }),
    );
    const status = h("div", {});
    confirm.addEventListener("click", async () => {
      confirm.disabled = true;
      back.disabled = true;
      confirm.textContent = t("working");
      try {
        const review = await submitReview(c.id, built.body);
        kept.delete(c.id);
        submitted = true;
        done(review);
      } catch (err) {
        status.replaceChildren(
          errorBox(explain(err, t("submit_legal_review")), "review-submit-error"),
        );
        confirm.disabled = false;
        back.disabled = false;
        confirm.textContent = t("confirm_submit_review", { n: result.round });
      }
    });
    sheet.setTitle(`${t("package_preview_title", { n: result.round })} · ${c.number}`);
    sheet.setBack(compose);
    sheet.body.replaceChildren(
      h(
        "div",
        { class: "summary-box", "data-testid": "package-preview", "data-round": result.round },
        h("p", {}, h("strong", {}, t("package_preview_title", { n: result.round }))),
        h("p", { class: "hint" }, t("package_preview_hint")),
      ),
      packageView(result.package, typesCache ?? []),
      status,
      h("div", { class: "row sign-actions" }, back, confirm),
    );
    sheet.element.scrollTop = 0;
  };

  const done = (review: LegalReview) => {
    sheet.setTitle(`${t("submit_legal_review")} · ${c.number}`);
    sheet.setBack(null);
    const close = h(
      "button",
      { type: "button", class: "btn primary big", "data-testid": "btn-review-submitted-close" },
      t("done"),
    );
    close.addEventListener("click", () => sheet.close());
    sheet.body.replaceChildren(
      h(
        "div",
        {
          class: "summary-box good",
          role: "status",
          "data-testid": "review-submitted",
          "data-round": review.round,
          "data-review-id": review.id,
        },
        h("p", {}, t("review_submitted", { n: review.round, due: fmtDate(review.due_on) })),
        h("p", { class: "hint" }, t("review_submitted_hint", { role: roleLabel("legal") })),
      ),
      close,
    );
  };

  void start();
  return sheet;
}
