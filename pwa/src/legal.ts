/**
 * 法制审核 in the console: the legal reviewer's queue and review page (frozen package, the
 * nine-item checklist, outcome, written opinion, on-screen signature), and the leader's inbox
 * (extension requests, disagreements, cases ready for a decision).
 *
 * The opinion form is a plain model (`OpinionDraft`); `buildOpinion` checks it the way the
 * server does (docs/case-workflow.md) and gives the body of `POST /legal-reviews/<id>/opinion`,
 * or the problems as codes that `problemSentence` puts into words:
 *
 *     const draft = emptyDraft();
 *     draft.answers.evidence = { state: "raised", note: "缺少进货凭证" };
 *     ...
 *     const built = buildOpinion(draft);
 *     if (built.ok) await capi.giveOpinion(id, built.body);
 */
import * as api from "./api";
import { ApiError } from "./api";
import type { Completeness, DocType } from "./api";
import * as capi from "./console-api";
import type {
  ChecklistAnswer,
  LegalReview,
  OpinionBody,
  ReviewOutcome,
  ReviewPackage,
} from "./console-api";
import {
  backLink,
  errorBox,
  explain,
  fmtDate,
  fmtTime,
  humanizeCodes,
  inParens,
  joinList,
  label,
  pdfButton,
  shortHash,
} from "./console-ui";
import { calendarReminder } from "./admin-calendar";
import { localMessage, requirementMessage, stageName } from "./completeness";
import { h } from "./dom";
import { getLang, t, type Key } from "./i18n";
import { renderSummary } from "./documents";
import { createSignaturePad, type SignaturePad } from "./signature-pad";

// --- the checklist and the opinion: pure ---------------------------------------------------------

/** The nine items of the 法制审核 checklist, in the server's order (services/legal_review.py). */
export const CHECKLIST_ITEMS = [
  "authority",
  "credentials",
  "facts",
  "evidence",
  "law_applied",
  "procedure",
  "documents",
  "within_power",
  "no_crime",
] as const;
export type ChecklistItem = (typeof CHECKLIST_ITEMS)[number];

export const OUTCOMES: ReviewOutcome[] = ["agree", "returned", "transfer"];

export type AnswerState = "unset" | "passed" | "raised";

export interface ItemAnswer {
  state: AnswerState;
  note: string;
}

export interface OpinionDraft {
  answers: Record<ChecklistItem, ItemAnswer>;
  outcome: ReviewOutcome | "";
  opinion: string;
  /** The pad's PNG data URL; null while nothing is drawn. */
  signature: string | null;
}

export type OpinionProblem =
  | { code: "unanswered"; items: ChecklistItem[] }
  | { code: "note_required"; items: ChecklistItem[] }
  | { code: "outcome_missing" }
  | { code: "agree_with_raised"; items: ChecklistItem[] }
  | { code: "nothing_raised" }
  | { code: "transfer_without_crime" }
  | { code: "opinion_missing" }
  | { code: "signature_missing" };

export function emptyDraft(): OpinionDraft {
  const answers = {} as Record<ChecklistItem, ItemAnswer>;
  for (const item of CHECKLIST_ITEMS) answers[item] = { state: "unset", note: "" };
  return { answers, outcome: "", opinion: "", signature: null };
}

export function checklistLabel(item: string): string {
  return label("check", item);
}

/**
 * The opinion's JSON, or what is wrong with the draft: every item answered, a note for each
 * raised item, 同意 only when nothing is raised, 退回补正 only when something is, 建议移送 only
 * with the suspected-crime item raised; an opinion and a signature.
 */
export function buildOpinion(
  draft: OpinionDraft,
): { ok: true; body: OpinionBody } | { ok: false; problems: OpinionProblem[] } {
  const problems: OpinionProblem[] = [];
  const answers = CHECKLIST_ITEMS.map((item) => ({ item, ...draft.answers[item] }));
  const unanswered = answers.filter((a) => a.state === "unset").map((a) => a.item);
  const raised = answers.filter((a) => a.state === "raised");
  if (unanswered.length) problems.push({ code: "unanswered", items: unanswered });
  const noNote = raised.filter((a) => !a.note.trim()).map((a) => a.item);
  if (noNote.length) problems.push({ code: "note_required", items: noNote });
  if (!draft.outcome) problems.push({ code: "outcome_missing" });
  else if (draft.outcome === "agree" && raised.length) {
    problems.push({ code: "agree_with_raised", items: raised.map((a) => a.item) });
  } else if (draft.outcome === "returned" && !raised.length && !unanswered.length) {
    problems.push({ code: "nothing_raised" });
  } else if (draft.outcome === "transfer" && !raised.some((a) => a.item === "no_crime")) {
    problems.push({ code: "transfer_without_crime" });
  }
  if (!draft.opinion.trim()) problems.push({ code: "opinion_missing" });
  if (!draft.signature) problems.push({ code: "signature_missing" });
  if (problems.length || !draft.outcome || !draft.signature) return { ok: false, problems };
  const checklist: ChecklistAnswer[] = answers.map((a) => ({
    item: a.item,
    passed: a.state === "passed",
    note: a.note.trim(),
  }));
  return {
    ok: true,
    body: {
      outcome: draft.outcome,
      checklist,
      opinion: draft.opinion.trim(),
      signature: draft.signature,
    },
  };
}

function itemList(items: readonly string[]): string {
  return items.map(checklistLabel).join(getLang() === "en" ? "; " : "；");
}

export function problemSentence(problem: OpinionProblem): string {
  switch (problem.code) {
    case "unanswered":
      return t("op_unanswered", { items: itemList(problem.items) });
    case "note_required":
      return t("op_note_required", { items: itemList(problem.items) });
    case "agree_with_raised":
      return t("op_agree_with_raised", { items: itemList(problem.items) });
    default:
      return t(`op_${problem.code}` as Key);
  }
}

const BODY_FIELDS: Record<string, Key> = {
  outcome: "review_outcome",
  checklist: "review_checklist",
  opinion: "review_opinion",
  signature: "reviewer_signature",
  note: "note",
  reason: "reason",
};

/** A refused review call (409/422) as a sentence the reviewer or the leader can act on. */
export function reviewErrorSentence(err: unknown): string {
  if (!(err instanceof ApiError)) return (err as Error).message;
  const details = err.details ?? {};
  const strings = (value: unknown) =>
    Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
  switch (err.code) {
    case "checklist_not_passed":
      return t("op_agree_with_raised", { items: itemList(strings(details.raised)) });
    case "checklist_incomplete": {
      const missing = strings(details.missing);
      return missing.length ? t("op_unanswered", { items: itemList(missing) }) : t("op_invalid");
    }
    case "nothing_raised":
      return t("op_nothing_raised");
    case "transfer_without_crime":
      return t("op_transfer_without_crime");
    case "review_closed":
      return t("op_review_closed");
    case "extension_exists":
      return t("op_extension_exists");
    case "no_extension_request":
      return t("op_no_extension_request");
    case "no_disagreement":
      return t("op_no_disagreement");
    case "invalid": {
      const fields = details.fields;
      if (fields && typeof fields === "object") {
        const names = Object.keys(fields).map((k) => (BODY_FIELDS[k] ? t(BODY_FIELDS[k]) : k));
        return t("op_invalid_fields", { fields: joinList(names) });
      }
      return t("op_invalid");
    }
    default:
      return localMessage(err.message);
  }
}

/** Requests for an extension that wait for the leader. */
export function pendingExtensions(items: LegalReview[]): LegalReview[] {
  return items.filter((r) => r.status === "submitted" && r.extension && !r.extension.approved);
}

/** Disagreements with an opinion that wait for the leader. */
export function openDisagreements(items: LegalReview[]): LegalReview[] {
  return items.filter((r) => r.disagreement && !r.disagreement.resolution);
}

/** A case at 审查 the leader may take to 决定 now. */
export function readyForDecision(report: Completeness): boolean {
  return (
    report.current_stage === "review" && report.next_stage === "decision" && report.can_advance
  );
}

// --- shared bits --------------------------------------------------------------------------------

type CaseRef = { number: string; title: string };
type CaseMap = Map<number, CaseRef>;

export function reviewStatusChip(r: Pick<LegalReview, "status" | "overdue">): HTMLElement {
  return h(
    "span",
    { class: "review-status" },
    h(
      "span",
      { class: `chip status-${r.status}`, "data-testid": "review-status", "data-status": r.status },
      label("review_status", r.status),
    ),
    r.overdue
      ? h("span", { class: "chip overdue", "data-testid": "review-overdue" }, t("overdue"))
      : "",
  );
}

function caseCell(cases: CaseMap, caseId: number): HTMLElement {
  const c = cases.get(caseId);
  return h(
    "a",
    { href: `#/console/case/${caseId}`, class: "case-number", onclick: stop },
    c ? c.number : `#${caseId}`,
  );
}

const stop = (event: Event) => event.stopPropagation();

let typesCache: DocType[] | null = null;
async function docTypes(): Promise<DocType[]> {
  typesCache ??= await api.documentTypes().catch(() => []);
  return typesCache;
}

function docTitle(types: DocType[], code: string): string {
  const type = types.find((x) => x.code === code);
  if (!type) return code;
  return getLang() === "en" ? type.title.en : type.title.zh;
}

function penaltyLine(p: { kind: string; amount?: number | null; description?: string }): string {
  const kind = label("penalty", p.kind);
  const amount = p.amount ? ` ${p.amount} ${t("yuan")}` : "";
  return `${kind}${amount}${p.description ? ` — ${p.description}` : ""}`;
}

/** A small form with one text field and a button: 申请延期 (reason), 补充材料 (note). */
function reasonForm(opts: {
  testid: string;
  title: string;
  placeholder: string;
  button: string;
  send: (text: string) => Promise<unknown>;
  done: () => void;
}): HTMLElement {
  const text = h("textarea", {
    rows: 2,
    "data-testid": `${opts.testid}-text`,
    placeholder: opts.placeholder,
    "aria-label": opts.title,
  });
  const status = h("div", {});
  const button = h(
    "button",
    { type: "submit", class: "btn small", "data-testid": `${opts.testid}-send` },
    opts.button,
  );
  const form = h(
    "form",
    { class: "stack small-form", "data-testid": opts.testid },
    h("h4", {}, opts.title),
    text,
    button,
    status,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = text.value.trim();
    if (!value) {
      status.replaceChildren(errorBox(t("write_something")));
      text.focus();
      return;
    }
    button.disabled = true;
    status.replaceChildren();
    try {
      await opts.send(value);
      opts.done();
    } catch (err) {
      status.replaceChildren(errorBox(reviewErrorSentence(err)));
      button.disabled = false;
    }
  });
  return form;
}

// --- the reviewer's queue -------------------------------------------------------------------------

type QueueFilter = "submitted" | "overdue" | "all";
let queueFilter: QueueFilter = "submitted";

export async function queuePage(el: HTMLElement, current: () => boolean): Promise<void> {
  const results = h("div", { class: "results" }, h("p", { class: "hint" }, t("loading")));
  const filterButton = (value: QueueFilter, text: string) =>
    h(
      "button",
      {
        type: "button",
        class: `btn small ${queueFilter === value ? "primary" : "ghost"}`,
        "data-testid": `queue-filter-${value}`,
        "aria-pressed": String(queueFilter === value),
        onclick: () => {
          queueFilter = value;
          void queuePage(el, current);
        },
      },
      text,
    );
  const reminder = h("div", { "data-testid": "calendar-reminder-slot" });
  void calendarReminder().then((box) => {
    if (!current()) return;
    reminder.replaceChildren(box);
    reminder.dataset.loaded = "1";
  });
  el.replaceChildren(
    h("h2", {}, t("review_queue")),
    reminder,
    h(
      "div",
      { class: "row" },
      filterButton("submitted", t("review_status_submitted")),
      filterButton("overdue", t("overdue")),
      filterButton("all", t("all")),
    ),
    results,
  );
  try {
    const [items, atReview, newest] = await Promise.all([
      capi.reviewQueue(
        queueFilter === "submitted"
          ? { status: "submitted" }
          : queueFilter === "overdue"
            ? { overdue: true }
            : {},
      ),
      // A round waiting for review has its case at 审查; decided ones may have moved on.
      capi.caseIndex({ stage: "review" }).catch(() => new Map()),
      queueFilter === "all" ? capi.caseIndex().catch(() => new Map()) : new Map(),
    ]);
    const cases: CaseMap = new Map([...newest, ...atReview]);
    if (!current()) return;
    results.replaceChildren(queueTable(capi.byDueDate(items), cases));
  } catch (err) {
    if (current()) results.replaceChildren(errorBox(explain(err, t("review_queue"))));
  }
}

function queueTable(items: LegalReview[], cases: CaseMap): HTMLElement {
  if (!items.length)
    return h("p", { class: "hint", "data-testid": "queue-empty" }, t("review_queue_empty"));
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "grid", "data-testid": "review-queue" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          [
            t("case_number"),
            t("case_title"),
            t("review_round"),
            t("submitted_at"),
            t("due_on"),
            t("status"),
            t("extension"),
          ].map((c) => h("th", {}, c)),
        ),
      ),
      h(
        "tbody",
        {},
        items.map((r) =>
          h(
            "tr",
            {
              class: `case-line ${r.overdue ? "overdue-row" : ""}`,
              "data-testid": "review-row",
              "data-review-id": r.id,
              "data-case-id": r.case_id,
              "data-overdue": String(r.overdue),
              onclick: () => (location.hash = `#/console/review/${r.id}`),
            },
            h("td", {}, caseCell(cases, r.case_id)),
            h(
              "td",
              {},
              h("a", { href: `#/console/review/${r.id}` }, cases.get(r.case_id)?.title ?? "—"),
            ),
            h("td", {}, t("round_n", { n: r.round })),
            h("td", {}, fmtTime(r.submitted_at)),
            h(
              "td",
              { class: r.overdue ? "bad" : "" },
              fmtDate(r.due_on),
              r.due_note
                ? h("span", { title: getLang() === "en" ? r.due_note.en : r.due_note.zh }, "*")
                : "",
            ),
            h("td", {}, reviewStatusChip(r)),
            h("td", {}, extensionText(r)),
          ),
        ),
      ),
    ),
  );
}

function extensionText(r: LegalReview): string {
  if (!r.extension) return "—";
  return r.extension.approved ? t("extension_approved") : t("extension_pending");
}

// --- one round --------------------------------------------------------------------------------

export async function reviewPage(
  el: HTMLElement,
  id: number,
  role: string,
  current: () => boolean,
): Promise<void> {
  const back = role === "legal" ? "#/console/reviews" : "#/console";
  const backText = role === "legal" ? t("review_queue") : t("console_cases");
  el.replaceChildren(backLink(back, backText), h("p", { class: "hint" }, t("loading")));
  let r: LegalReview;
  let types: DocType[];
  let c: CaseRef | null;
  try {
    r = await capi.review(id);
    [types, c] = await Promise.all([docTypes(), capi.getCase(r.case_id).catch(() => null)]);
  } catch (err) {
    if (current())
      el.replaceChildren(backLink(back, backText), errorBox(explain(err, t("review"))));
    return;
  }
  if (!current()) return;
  const reload = () => void reviewPage(el, id, role, current);
  const open = r.status === "submitted";
  el.replaceChildren(
    backLink(back, backText),
    h(
      "h2",
      { class: "case-head", "data-testid": "review-head", "data-review-id": r.id },
      h(
        "a",
        { class: "case-number", href: `#/console/case/${r.case_id}` },
        c?.number ?? `#${r.case_id}`,
      ),
      c?.title ?? "",
      ` · ${t("legal_review")} ${t("round_n", { n: r.round })}`,
    ),
    h(
      "div",
      { class: "summary-box review-facts" },
      h("p", {}, reviewStatusChip(r)),
      h(
        "p",
        {},
        `${t("submitted_at")}${t("colon")}${fmtTime(r.submitted_at)} · ${t("due_on")}${t("colon")}`,
        h(
          "strong",
          { class: r.overdue ? "bad" : "", "data-testid": "review-due" },
          fmtDate(r.due_on),
        ),
        r.due_note
          ? h(
              "span",
              { class: "chip warn", "data-testid": "review-due-estimated" },
              getLang() === "en" ? r.due_note.en : r.due_note.zh,
            )
          : "",
      ),
      r.extension
        ? h(
            "p",
            { "data-testid": "review-extension" },
            `${t("extension")}${t("colon")}${extensionText(r)} — ${r.extension.reason}`,
          )
        : "",
      r.materials_requests.length
        ? h(
            "div",
            {},
            h("strong", {}, t("materials_requests")),
            h(
              "ul",
              { "data-testid": "materials-requests" },
              r.materials_requests.map((m) =>
                h(
                  "li",
                  {},
                  `${fmtTime(m.requested_at)} · ${m.note} (${t("due_on")} ${fmtDate(m.due_on)})`,
                ),
              ),
            ),
          )
        : "",
    ),
    r.package ? packageView(r.package, types) : h("p", { class: "hint" }, t("no_package")),
    open && role === "legal" ? opinionForm(r, reload) : decidedView(r),
    open && role === "legal"
      ? h(
          "div",
          { class: "side-forms" },
          reasonForm({
            testid: "materials-form",
            title: t("request_materials"),
            placeholder: t("materials_placeholder"),
            button: t("send"),
            send: (note) => capi.requestMaterials(r.id, note),
            done: reload,
          }),
          r.extension
            ? ""
            : reasonForm({
                testid: "extension-form",
                title: t("request_extension"),
                placeholder: t("extension_placeholder"),
                button: t("send"),
                send: (reason) => capi.requestExtension(r.id, reason),
                done: reload,
              }),
        )
      : "",
  );
}

/** The package frozen with the round: what the reviewer judges, exactly as it was submitted. */
export function packageView(p: ReviewPackage, types: DocType[]): HTMLElement {
  const draft = p.decision_draft ?? {};
  return h(
    "section",
    { class: "stack package", "data-testid": "review-package" },
    h("h3", {}, t("review_package")),
    h("h4", {}, t("review_report")),
    h("p", { class: "prewrap", "data-testid": "package-report" }, p.report),
    h("h4", {}, t("decision_draft")),
    h(
      "div",
      { "data-testid": "package-draft" },
      operativeLines(draft),
      h(
        "ul",
        {},
        (draft.penalties ?? []).map((x) => h("li", {}, penaltyLine(x))),
      ),
      draft.summary ? h("p", {}, draft.summary) : "",
      draft.legal_basis ? h("p", {}, `${t("legal_basis")}${t("colon")}${draft.legal_basis}`) : "",
      draft.withhold_reason
        ? h(
            "p",
            { class: "hint" },
            `${t("withhold_reason")}${t("colon")}${label("withhold", draft.withhold_reason)}`,
          )
        : "",
    ),
    frozenDecisions(p, types),
    h("h4", {}, t("major_matches")),
    p.major_items.length
      ? h(
          "ul",
          { "data-testid": "package-major" },
          p.major_items.map((m) => h("li", {}, m)),
        )
      : h("p", { class: "hint", "data-testid": "package-major" }, t("no_major_match")),
    h("h4", {}, t("documents")),
    p.documents.length
      ? h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { class: "grid", "data-testid": "package-documents" },
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                [t("document"), t("doc_number"), t("version"), t("status"), "SHA-256", ""].map(
                  (x) => h("th", {}, x),
                ),
              ),
            ),
            h(
              "tbody",
              {},
              p.documents.map((d) =>
                h(
                  "tr",
                  { "data-testid": "package-document", "data-doc-id": d.id, "data-type": d.type },
                  h("td", {}, docTitle(types, d.type)),
                  h("td", {}, d.number ?? t("unnumbered")),
                  h("td", {}, String(d.version)),
                  h("td", {}, label("doc_status", d.status)),
                  h("td", {}, shortHash(d.sha256)),
                  h("td", {}, d.sha256 ? pdfButton(d.id) : ""),
                ),
              ),
            ),
          ),
        )
      : h("p", { class: "hint" }, t("no_documents")),
    h("h4", {}, t("completeness")),
    completenessWords(p.completeness, types),
    h("h4", {}, t("credential_events")),
    p.credential_displays.length
      ? h(
          "ul",
          { "data-testid": "package-credentials" },
          p.credential_displays.map((e) =>
            h(
              "li",
              {},
              `${fmtTime(e.at)} · ${e.officer}${e.number ? ` · ${t("credential_number")} ${e.number}` : ""} · ${t("credential_shown")}`,
            ),
          ),
        )
      : h("p", { class: "bad", "data-testid": "package-credentials" }, t("no_credential_events")),
    p.media?.length
      ? h(
          "details",
          {},
          h("summary", {}, t("package_media", { n: p.media.length })),
          h(
            "ul",
            { class: "media-hashes" },
            p.media.map((m) =>
              h(
                "li",
                {},
                `${label("kind", m.kind)} · ${label("stage", m.stage)} · ${label("activity", m.activity)} · ${label("status", m.status)} `,
                shortHash(m.sha256),
              ),
            ),
          ),
        )
      : "",
  );
}

/** The decision documents frozen with the round: once agreed, their operative content binds
 * what the leader may sign and issue. */
function frozenDecisions(p: ReviewPackage, types: DocType[]): HTMLElement | string {
  const frozen = p.decision_documents ?? [];
  if (!frozen.length) return "";
  return h(
    "div",
    { class: "stack", "data-testid": "package-decisions" },
    h("h4", {}, t("package_decision_documents")),
    frozen.map((d) => {
      const type = types.find((x) => x.code === d.type);
      return h(
        "article",
        { class: "doc-paper", "data-testid": "package-decision", "data-doc-id": d.id },
        h("h4", { class: "doc-paper-title" }, docTitle(types, d.type)),
        h("p", { class: "doc-paper-number" }, t("version_n", { n: d.version })),
        type ? renderSummary(type.fields, d.fields) : "",
      );
    }),
  );
}

/** The draft's party, facts and discretion (the decision must follow what was reviewed). */
function operativeLines(draft: ReviewPackage["decision_draft"]): HTMLElement | string {
  const d = draft as typeof draft & {
    party?: { name?: string; id_number?: string | null; address?: string | null } | null;
    facts?: string | null;
    discretion?: string | null;
  };
  const party = d.party?.name
    ? [d.party.name, d.party.id_number, d.party.address].filter(Boolean).join(" · ")
    : "";
  const rows: [string, string, string][] = [
    [t("party"), party, "package-party"],
    [t("draft_facts"), d.facts ?? "", "package-facts"],
    [t("draft_discretion"), d.discretion ?? "", "package-discretion"],
  ];
  if (!rows.some(([, value]) => value)) return "";
  return h(
    "dl",
    { class: "operative" },
    rows
      .filter(([, value]) => value)
      .flatMap(([term, value, testid]) => [
        h("dt", {}, term),
        h("dd", { class: "prewrap", "data-testid": testid }, value),
      ]),
  );
}

/** The completeness report in words: for each stage reached, what is there and what is not. */
export function completenessWords(
  report: Completeness | undefined,
  types: DocType[] = [],
): HTMLElement {
  if (!report?.stages) return h("p", { class: "hint" }, "—");
  return h(
    "ul",
    { class: "completeness-words", "data-testid": "package-completeness" },
    report.stages
      .filter((s) => s.reached || s.stage === report.current_stage)
      .map((s) =>
        h(
          "li",
          {},
          h("strong", {}, stageName(report, s.stage)),
          s.requirements.length
            ? h(
                "ul",
                {},
                s.requirements.map((req) =>
                  h(
                    "li",
                    { class: req.met ? "good" : "bad" },
                    `${req.met ? "✓" : "✗"} ${humanizeCodes(requirementMessage(req), types)}`,
                  ),
                ),
              )
            : h("span", {}, `${t("colon")}${t("no_requirements")}`),
        ),
      ),
  );
}

function decidedView(r: LegalReview): HTMLElement {
  if (r.status === "submitted") {
    return h("p", { class: "hint", "data-testid": "review-waiting" }, t("review_waiting"));
  }
  return h(
    "section",
    { class: "stack", "data-testid": "review-decided" },
    h("h3", {}, t("review_opinion")),
    h("p", {}, `${fmtTime(r.decided_at)} · `, reviewStatusChip(r)),
    h(
      "ul",
      { class: "checklist-result" },
      (r.checklist ?? []).map((c) =>
        h(
          "li",
          { class: c.passed ? "good" : "bad", "data-item": c.item },
          `${c.passed ? "✓" : "✗"} ${checklistLabel(c.item)}${c.note ? `${t("colon")}${c.note}` : ""}`,
        ),
      ),
    ),
    r.opinion ? h("p", { class: "prewrap" }, r.opinion) : "",
    r.opinion_document_id ? pdfButton(r.opinion_document_id, t("opinion_document_pdf")) : "",
    r.disagreement
      ? h(
          "p",
          { class: "hint", "data-testid": "review-disagreement" },
          `${t("disagreement")}${t("colon")}${r.disagreement.reason}`,
          r.disagreement.resolution
            ? ` → ${label("resolution", r.disagreement.resolution)}${r.disagreement.note ? inParens(r.disagreement.note) : ""}`
            : ` (${t("waiting_for_leader")})`,
        )
      : "",
  );
}

// --- the opinion form ---------------------------------------------------------------------------

function opinionForm(r: LegalReview, done: () => void): HTMLElement {
  const draft = emptyDraft();
  const problems = h("div", {
    class: "error-box",
    role: "alert",
    "data-testid": "opinion-problems",
    hidden: true,
  });
  let pad: SignaturePad | null = null;

  const items = CHECKLIST_ITEMS.map((item) => {
    const name = `check-${item}`;
    const note = h("textarea", {
      rows: 2,
      "data-testid": `check-${item}-note`,
      "aria-label": `${checklistLabel(item)} ${t("note")}`,
      placeholder: t("raised_note_placeholder"),
      hidden: true,
    });
    const row = h("li", { class: "check-item", "data-testid": "check-item", "data-item": item });
    const radio = (state: "passed" | "raised", text: string) => {
      const input = h("input", {
        type: "radio",
        name,
        value: state,
        "data-testid": `check-${item}-${state}`,
      });
      input.addEventListener("change", () => {
        draft.answers[item].state = state;
        note.hidden = state !== "raised";
        row.dataset.state = state;
        if (state === "raised") note.focus();
      });
      return h("label", { class: "check inline" }, input, text);
    };
    note.addEventListener("input", () => (draft.answers[item].note = note.value));
    row.append(
      h("span", { class: "check-label" }, checklistLabel(item)),
      h(
        "span",
        { class: "check-choices", role: "radiogroup", "aria-label": checklistLabel(item) },
        radio("passed", t("check_passed")),
        radio("raised", t("check_raised")),
      ),
      note,
    );
    return row;
  });

  const outcome = h(
    "div",
    { class: "row outcomes", role: "radiogroup", "aria-label": t("review_outcome") },
    OUTCOMES.map((o) => {
      const input = h("input", {
        type: "radio",
        name: "outcome",
        value: o,
        "data-testid": `outcome-${o}`,
      });
      input.addEventListener("change", () => (draft.outcome = o));
      return h("label", { class: "check inline" }, input, label("outcome", o));
    }),
  );
  const opinion = h("textarea", {
    rows: 5,
    "data-testid": "opinion-text",
    "aria-label": t("review_opinion"),
  });
  opinion.addEventListener("input", () => (draft.opinion = opinion.value));

  const submit = h(
    "button",
    { type: "submit", class: "btn primary big", "data-testid": "btn-submit-opinion" },
    t("submit_opinion"),
  );
  pad = createSignaturePad({ label: t("sig_area_for", { role: t("role_reviewer") }) });
  const form = h(
    "form",
    { class: "stack opinion-form", "data-testid": "opinion-form", novalidate: true },
    h("h3", {}, t("review_checklist")),
    h("ol", { class: "checklist" }, items),
    h("h3", {}, t("review_outcome")),
    outcome,
    h("label", {}, t("review_opinion"), opinion),
    h("h3", {}, t("reviewer_signature")),
    h("div", { class: "pad-wrap" }, pad.element),
    problems,
    submit,
  );
  const show = (lines: string[]) => {
    problems.replaceChildren(...lines.map((line) => h("p", { class: "error" }, line)));
    problems.hidden = lines.length === 0;
    if (lines.length) problems.scrollIntoView({ block: "center" });
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    draft.signature = pad && !pad.isEmpty() ? pad.toDataURL() : null;
    const built = buildOpinion(draft);
    if (!built.ok) {
      show(built.problems.map(problemSentence));
      return;
    }
    show([]);
    submit.disabled = true;
    submit.textContent = t("working");
    try {
      await capi.giveOpinion(r.id, built.body);
      pad?.destroy();
      done();
    } catch (err) {
      show([reviewErrorSentence(err)]);
      submit.disabled = false;
      submit.textContent = t("submit_opinion");
    }
  });
  return form;
}

// --- the leader's inbox ---------------------------------------------------------------------------

export async function inboxPage(el: HTMLElement, current: () => boolean): Promise<void> {
  const extensions = h("section", { class: "stack", "data-testid": "inbox-extensions" });
  const disputes = h("section", { class: "stack", "data-testid": "inbox-disagreements" });
  const ready = h("section", { class: "stack", "data-testid": "inbox-ready" });
  const toSign = awaitingSignatureSection(current);
  const loading = () => h("p", { class: "hint" }, t("loading"));
  extensions.replaceChildren(h("h3", {}, t("extension_requests")), loading());
  disputes.replaceChildren(h("h3", {}, t("disagreements")), loading());
  ready.replaceChildren(h("h3", {}, t("ready_for_decision")), loading());
  el.replaceChildren(h("h2", {}, t("leader_inbox")), toSign, ready, extensions, disputes);
  const reload = () => void inboxPage(el, current);

  let cases: CaseMap = new Map();
  try {
    const index = await capi.caseIndex({ stage: "review" });
    cases = index;
    const reports = await Promise.all(
      [...index.keys()].slice(0, 100).map((id) => api.caseCompleteness(id).catch(() => null)),
    );
    if (!current()) return;
    const readyOnes = reports.filter((r): r is Completeness => !!r && readyForDecision(r));
    const waiting = index.size - readyOnes.length;
    ready.replaceChildren(
      h("h3", {}, t("ready_for_decision")),
      readyOnes.length
        ? h(
            "ul",
            { class: "inbox-list" },
            readyOnes.map((r) => {
              const c = index.get(r.case_id)!;
              return h(
                "li",
                { "data-testid": "ready-case", "data-case-id": r.case_id },
                h(
                  "a",
                  { href: `#/console/case/${r.case_id}`, "data-testid": "ready-case-open" },
                  h("span", { class: "case-number" }, c.number),
                  ` ${c.title}`,
                ),
                h(
                  "span",
                  { class: "good" },
                  ` ${t("ready_to_advance", { stage: t("stage_decision") })}`,
                ),
              );
            }),
          )
        : h("p", { class: "hint" }, t("none_ready")),
      waiting > 0 ? h("p", { class: "hint" }, t("waiting_at_review", { n: waiting })) : "",
    );
  } catch (err) {
    if (current())
      ready.replaceChildren(
        h("h3", {}, t("ready_for_decision")),
        errorBox(explain(err, t("ready_for_decision"))),
      );
  }

  try {
    const all = await capi.reviewQueue();
    if (!current()) return;
    const pending = capi.byDueDate(pendingExtensions(all));
    extensions.replaceChildren(
      h("h3", {}, t("extension_requests")),
      pending.length
        ? h(
            "ul",
            { class: "inbox-list" },
            pending.map((r) => extensionItem(r, cases, reload)),
          )
        : h("p", { class: "hint" }, t("inbox_none")),
    );
    const open = openDisagreements(all);
    disputes.replaceChildren(
      h("h3", {}, t("disagreements")),
      open.length
        ? h(
            "ul",
            { class: "inbox-list" },
            open.map((r) => disagreementItem(r, cases, reload)),
          )
        : h("p", { class: "hint" }, t("inbox_none")),
    );
  } catch (err) {
    if (!current()) return;
    const message = errorBox(explain(err, t("legal_review")));
    extensions.replaceChildren(h("h3", {}, t("extension_requests")), message);
    disputes.replaceChildren(h("h3", {}, t("disagreements")), message.cloneNode(true));
  }
}

/** Every draft waiting for the leader's signature, oldest first, each opening its dialog. */
function awaitingSignatureSection(current: () => boolean): HTMLElement {
  const section = h(
    "section",
    { class: "stack", "data-testid": "inbox-to-sign" },
    h("h3", {}, t("awaiting_signature")),
    h("p", { class: "hint" }, t("loading")),
  );
  const fill = async () => {
    let items: capi.AwaitingSignature[];
    try {
      items = await capi.awaitingSignature();
    } catch (err) {
      if (current())
        section.replaceChildren(
          h("h3", {}, t("awaiting_signature")),
          errorBox(explain(err, t("awaiting_signature"))),
        );
      return;
    }
    if (!current()) return;
    section.replaceChildren(
      h("h3", {}, t("awaiting_signature")),
      items.length
        ? h(
            "ul",
            { class: "inbox-list" },
            items.map((d) =>
              h(
                "li",
                { "data-testid": "to-sign", "data-doc-id": d.id, "data-case-id": d.case.id },
                h(
                  "a",
                  {
                    href: `#/console/case/${d.case.id}/sign/${d.id}`,
                    class: "to-sign-open",
                    "data-testid": "to-sign-open",
                  },
                  h("strong", {}, getLang() === "en" ? d.title.en : d.title.zh),
                ),
                ` · ${d.number ?? t("unnumbered")} · ${t("version_n", { n: d.version })}`,
                h(
                  "div",
                  { class: "hint" },
                  h("span", { class: "case-number" }, d.case.number),
                  ` ${d.case.title} · ${t("awaiting_since", { time: fmtTime(d.created_at) })}`,
                ),
                d.review_state === "differs" || d.review_state === "pending"
                  ? h(
                      "span",
                      {
                        class: "chip flag-review_overdue",
                        "data-testid": "to-sign-review-state",
                        "data-state": d.review_state,
                      },
                      d.review_state === "differs" ? t("not_as_reviewed") : t("review_not_agreed"),
                    )
                  : "",
                h(
                  "a",
                  {
                    href: `#/console/case/${d.case.id}/sign/${d.id}`,
                    class: "btn small primary",
                    "data-testid": "to-sign-go",
                  },
                  t("open_to_sign"),
                ),
              ),
            ),
          )
        : h("p", { class: "hint" }, t("awaiting_none")),
    );
  };
  void fill();
  return section;
}

function extensionItem(r: LegalReview, cases: CaseMap, reload: () => void): HTMLElement {
  const status = h("div", {});
  const approve = h(
    "button",
    { type: "button", class: "btn small primary", "data-testid": "btn-approve-extension" },
    t("approve_extension"),
  );
  approve.addEventListener("click", async () => {
    approve.disabled = true;
    try {
      await capi.approveExtension(r.id);
      reload();
    } catch (err) {
      status.replaceChildren(errorBox(reviewErrorSentence(err)));
      approve.disabled = false;
    }
  });
  return h(
    "li",
    { "data-testid": "extension-request", "data-review-id": r.id },
    caseCell(cases, r.case_id),
    ` ${t("round_n", { n: r.round })} · ${t("due_on")} ${fmtDate(r.due_on)} · `,
    reviewStatusChip(r),
    h("p", {}, `${t("reason")}${t("colon")}${r.extension?.reason ?? ""}`),
    approve,
    status,
  );
}

function disagreementItem(r: LegalReview, cases: CaseMap, reload: () => void): HTMLElement {
  const status = h("div", {});
  const choice = h(
    "select",
    { "data-testid": "resolution", "aria-label": t("resolution") },
    (["uphold_opinion", "accept_objection"] as const).map((v) =>
      h("option", { value: v }, label("resolution", v)),
    ),
  );
  const note = h("input", {
    "data-testid": "resolution-note",
    placeholder: t("note"),
    "aria-label": t("note"),
  });
  const resolve = h(
    "button",
    { type: "button", class: "btn small primary", "data-testid": "btn-resolve" },
    t("resolve"),
  );
  resolve.addEventListener("click", async () => {
    if (!note.value.trim()) {
      status.replaceChildren(errorBox(t("write_something")));
      note.focus();
      return;
    }
    resolve.disabled = true;
    try {
      await capi.resolveDisagreement(
        r.id,
        choice.value as "uphold_opinion" | "accept_objection",
        note.value.trim(),
      );
      reload();
    } catch (err) {
      status.replaceChildren(errorBox(reviewErrorSentence(err)));
      resolve.disabled = false;
    }
  });
  return h(
    "li",
    { "data-testid": "disagreement", "data-review-id": r.id },
    caseCell(cases, r.case_id),
    ` ${t("round_n", { n: r.round })} · `,
    reviewStatusChip(r),
    h("p", {}, `${t("opinion_was")}${t("colon")}${r.opinion ?? "—"}`),
    h("p", {}, `${t("disagreement")}${t("colon")}${r.disagreement?.reason ?? ""}`),
    h(
      "div",
      { class: "row" },
      h("a", { href: `#/console/review/${r.id}`, class: "btn small ghost" }, t("open_review")),
      choice,
      note,
      resolve,
    ),
    status,
  );
}
