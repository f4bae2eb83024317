/**
 * The workflow panel of a case in the console (supervisor, legal reviewer, leader): procedure,
 * stage and completeness (completeness.ts), the documents with their PDFs and versions
 * (documents.ts for the full 文书 screens), the legal-review rounds, moving the case on (with a
 * written override reason where the rules allow it), and the leader's on-screen signature of
 * the decision (行政处罚决定书) followed by its issue.
 */
import * as api from "./api";
import type { Completeness, DocType, EnforcementDocument, User } from "./api";
import * as capi from "./console-api";
import type { LegalReview } from "./console-api";
import {
  errorBox,
  explain,
  fmtDate,
  fmtTime,
  humanizeCodes,
  joinList,
  label,
  pdfButton,
  shortHash,
} from "./console-ui";
import {
  localMessage,
  mayAdvance,
  mayOverride,
  missingMessages,
  openCompleteness,
  requirementMessage,
  roleLabel,
  stageName,
  type CaseRef,
  type Sheet,
} from "./completeness";
import { latestVersions, missingSignatures, openDocuments, renderSummary } from "./documents";
import { h } from "./dom";
import { getLang, t } from "./i18n";
import { reviewStatusChip } from "./legal";
import { changedDecisions, differencesTable, reviewActions } from "./review-submit";
import { executionSection, exportSection, type ExecutionRecord } from "./case-close";
import { createSignaturePad } from "./signature-pad";
import { isoWithOffset } from "./time";

export interface WorkflowCase extends CaseRef {
  review_overdue?: boolean;
  override_count?: number;
  legal_review_status?: string | null;
  execution_records?: ExecutionRecord[];
  archived_at?: string | null;
}

/** Who may open the 文书 screens (documents.ts); the server checks each action anyway. */
const DOCUMENT_ROLES = ["officer", "supervisor", "legal", "leader"];

/** Call `then` once the sheet has left the page (by its 返回 or by another sheet). */
function whenClosed(sheet: Sheet, then: () => void): void {
  const observer = new MutationObserver(() => {
    if (!sheet.element.isConnected) {
      observer.disconnect();
      then();
    }
  });
  observer.observe(document.body, { childList: true });
}

/**
 * The panel; it loads on its own. `onStageChanged` redraws the page around it (the timeline
 * shows the new stage too).
 */
export function workflowPanel(
  c: WorkflowCase,
  user: User,
  onStageChanged: () => void,
  opts: { sign?: string } = {},
): HTMLElement {
  const panel = h(
    "section",
    { class: "workflow stack", "data-testid": "workflow-panel", "data-stage": c.current_stage },
    h("p", { class: "hint" }, t("loading")),
  );
  const reload = () => void load();

  const load = async () => {
    let report: Completeness;
    let docs: EnforcementDocument[];
    let reviews: LegalReview[];
    let types: DocType[];
    try {
      [report, docs, reviews, types] = await Promise.all([
        api.caseCompleteness(c.id),
        api.caseDocuments(c.id),
        capi.caseReviews(c.id),
        loadTypes(),
      ]);
    } catch (err) {
      panel.replaceChildren(errorBox(explain(err, t("workflow"))));
      return;
    }
    // A decision changed after the agreed round: the undertaking side is offered a new one.
    const changed = await changedDecisions(c.id, reviews, docs).catch(() => []);
    panel.dataset.stage = report.current_stage;
    panel.replaceChildren(
      summary(c, report, user, reload, onStageChanged, types),
      advanceSection(c, report, user, onStageChanged, types),
      documentsSection(docs, types, user, reload),
      reviewsSection(reviews, user),
      reviewActions({ ...c, current_stage: report.current_stage }, reviews, user, reload, {
        changed,
        types,
      }),
      executionSection(c, report.current_stage, user, onStageChanged),
      exportSection(c, user),
    );
  };
  // Arrived from the leader's list of documents to sign: open that document's dialog once.
  const openRequested = () => {
    if (!opts.sign) return;
    const button = panel.querySelector<HTMLButtonElement>(
      `[data-testid=btn-leader-sign][data-doc-id="${CSS.escape(opts.sign)}"]`,
    );
    opts = {};
    button?.click();
  };
  void load().then(openRequested);
  return panel;
}

let typesCache: DocType[] | null = null;
async function loadTypes(): Promise<DocType[]> {
  typesCache ??= await api.documentTypes();
  return typesCache;
}

function summary(
  c: WorkflowCase,
  r: Completeness,
  user: User,
  reload: () => void,
  onStageChanged: () => void,
  types: DocType[],
): HTMLElement {
  const current = r.stages.find((s) => s.stage === r.current_stage);
  const missing = current?.requirements.filter((req) => !req.met) ?? [];
  const procedure = r.procedure_label
    ? getLang() === "en"
      ? r.procedure_label.en
      : r.procedure_label.zh
    : label("procedure", r.procedure);
  const completenessButton = h(
    "button",
    { type: "button", class: "btn small", "data-testid": "btn-open-completeness" },
    t("completeness_details"),
  );
  completenessButton.addEventListener("click", () => {
    let changed = false;
    const sheet = openCompleteness(c, user, () => (changed = true));
    whenClosed(sheet, () => (changed ? onStageChanged() : reload()));
  });
  const documentsButton = h(
    "button",
    { type: "button", class: "btn small", "data-testid": "btn-open-documents" },
    t("documents_screen"),
  );
  documentsButton.addEventListener("click", () => {
    let changed = false;
    const sheet = openDocuments(c, user, () => (changed = true));
    whenClosed(sheet, () => (changed ? onStageChanged() : reload()));
  });
  const flags: HTMLElement[] = [];
  if (c.review_overdue) {
    flags.push(
      h(
        "span",
        { class: "chip flag-review_overdue", "data-testid": "case-flag-review_overdue" },
        t("flag_review_overdue"),
      ),
    );
  }
  if (c.override_count) {
    flags.push(
      h(
        "span",
        { class: "chip flag-override", "data-testid": "case-flag-override" },
        `${t("flag_override")} ${c.override_count}`,
      ),
    );
  }
  return h(
    "div",
    { class: "summary-box", "data-testid": "wf-summary" },
    h("h3", {}, t("workflow")),
    h(
      "p",
      {},
      `${t("procedure")}${t("colon")}`,
      h("strong", { "data-testid": "wf-procedure" }, procedure),
      ` · ${t("current_stage")}${t("colon")}`,
      h(
        "strong",
        { "data-testid": "wf-stage", "data-stage": r.current_stage },
        stageName(r, r.current_stage),
      ),
      flags.length ? h("span", { class: "chips inline" }, flags) : "",
    ),
    r.next_stage
      ? h(
          "p",
          { class: missing.length ? "bad" : "good", "data-testid": "wf-can-advance" },
          missing.length
            ? t("cannot_advance_yet", { n: missing.length, stage: stageName(r, r.next_stage) })
            : t("ready_to_advance", { stage: stageName(r, r.next_stage) }),
        )
      : h("p", {}, t("last_stage")),
    missing.length
      ? h(
          "ul",
          { class: "requirements", "data-testid": "wf-missing" },
          missing.map((req) =>
            h(
              "li",
              { class: "missing", "data-code": req.code },
              humanizeCodes(requirementMessage(req), types),
            ),
          ),
        )
      : "",
    h(
      "div",
      { class: "row" },
      completenessButton,
      DOCUMENT_ROLES.includes(user.role) ? documentsButton : "",
    ),
  );
}

// --- moving the case on -------------------------------------------------------------------------

function advanceSection(
  c: WorkflowCase,
  r: Completeness,
  user: User,
  onStageChanged: () => void,
  types: DocType[],
): HTMLElement | string {
  if (!r.next_stage) return "";
  const next = stageName(r, r.next_stage);
  const target = r.next_stage;
  if (!mayAdvance(r, user.role)) {
    return h(
      "p",
      { class: "hint", "data-testid": "wf-advance-not-allowed" },
      t("advance_roles_only", {
        roles: joinList((r.next_stage_roles ?? []).map(roleLabel)),
        stage: next,
      }),
    );
  }
  const reason = h("textarea", {
    rows: 2,
    "data-testid": "wf-advance-reason",
    "aria-label": t("advance_reason"),
  });
  // "everything is in place" only when it is: with items missing the reason is the user's own
  const current = r.stages.find((s) => s.stage === r.current_stage);
  if (!current?.missing.length) reason.value = t("advance_reason_default", { stage: next });
  const button = h(
    "button",
    {
      type: "button",
      class: "btn primary",
      "data-testid": "btn-wf-advance",
      "data-to": target,
    },
    t("advance_to", { stage: next }),
  );
  const problem = h("div", {});
  const section = h(
    "div",
    { class: "stack advance", "data-testid": "wf-advance" },
    h("label", {}, t("advance_reason"), reason),
    button,
    problem,
  );
  const go = async (override?: string) => {
    const why = reason.value.trim();
    if (!why) {
      reason.focus();
      return;
    }
    button.disabled = true;
    problem.replaceChildren();
    try {
      await api.advanceStage(c.id, target, why, override);
      onStageChanged();
    } catch (err) {
      button.disabled = false;
      const e =
        err instanceof api.ApiError ? err : new api.ApiError((err as Error).message, 0, "error");
      const lines = missingMessages(e.details).map((line) => humanizeCodes(line, types));
      problem.replaceChildren(
        h(
          "div",
          { class: "error-box", role: "alert", "data-testid": "wf-advance-error" },
          h(
            "p",
            { class: "error" },
            lines.length ? t("advance_refused", { stage: next }) : localMessage(e.message),
          ),
          lines.length
            ? h(
                "ul",
                {},
                lines.map((line) => h("li", {}, line)),
              )
            : "",
        ),
        mayOverride(user.role, e) ? overrideForm(go) : "",
      );
    }
  };
  button.addEventListener("click", () => void go());
  return section;
}

function overrideForm(go: (override: string) => Promise<void>): HTMLElement {
  const why = h("textarea", { rows: 2, "data-testid": "wf-override-reason" });
  const button = h(
    "button",
    { type: "button", class: "btn", "data-testid": "btn-wf-override" },
    t("override_advance"),
  );
  button.addEventListener("click", () => {
    const text = why.value.trim();
    if (text.length < 5) {
      why.focus();
      return;
    }
    button.disabled = true;
    void go(text).finally(() => (button.disabled = false));
  });
  return h(
    "div",
    { class: "stack override" },
    h("label", {}, t("override_reason"), why),
    h("p", { class: "hint" }, t("override_hint")),
    button,
  );
}

// --- documents ------------------------------------------------------------------------------------

function titleOf(doc: Pick<EnforcementDocument, "title" | "type">): string {
  return getLang() === "en" ? doc.title.en : doc.title.zh;
}

function documentsSection(
  docs: EnforcementDocument[],
  types: DocType[],
  user: User,
  reload: () => void,
): HTMLElement {
  const latest = latestVersions(docs);
  const signArea = h("div", { "data-testid": "leader-sign-area" });
  const rows = latest.map((doc) => {
    const type = types.find((x) => x.code === doc.type);
    const versions = h("div", { class: "versions", hidden: true });
    const versionsButton = h(
      "button",
      { type: "button", class: "btn small ghost", "data-testid": "btn-versions" },
      t("versions_n", { n: doc.version }),
    );
    versionsButton.addEventListener("click", async () => {
      versions.hidden = !versions.hidden;
      if (versions.hidden || versions.childElementCount) return;
      versions.append(h("p", { class: "hint" }, t("loading")));
      try {
        const full = await api.getDocument(doc.id);
        versions.replaceChildren(
          h(
            "ul",
            { "data-testid": "doc-versions" },
            (full.versions ?? []).map((v) =>
              h(
                "li",
                {
                  "data-testid": "doc-version",
                  "data-version": v.version,
                  "data-status": v.status,
                },
                `${t("version_n", { n: v.version })} · ${label("doc_status", v.status)} · ${v.number ?? t("unnumbered")} · ${fmtTime(v.issued_at ?? v.created_at)} `,
                shortHash(v.sha256),
                v.sha256 ? pdfButton(v.id) : "",
              ),
            ),
          ),
        );
      } catch (err) {
        versions.replaceChildren(errorBox(explain(err, t("versions_n", { n: doc.version }))));
      }
    });
    const leaderMayPen =
      user.role === "leader" &&
      doc.status === "draft" &&
      type?.signatures.includes("leader") &&
      !doc.signatures.some((s) => s.role === "leader");
    const signButton = leaderMayPen
      ? h(
          "button",
          {
            type: "button",
            class: "btn small primary",
            "data-testid": "btn-leader-sign",
            "data-doc-id": doc.id,
          },
          t("sign_as", { role: roleLabel("leader") }),
        )
      : "";
    if (signButton) {
      signButton.addEventListener("click", () => {
        signArea.replaceChildren(
          leaderSignForm(doc, type!, user, reload, () => signArea.replaceChildren()),
        );
        signArea.scrollIntoView({ block: "center" });
      });
    }
    return h(
      "tr",
      {
        "data-testid": "wf-doc",
        "data-doc-id": doc.id,
        "data-type": doc.type,
        "data-status": doc.status,
      },
      h("td", {}, titleOf(doc)),
      h("td", {}, doc.number ?? t("unnumbered")),
      h("td", {}, label("doc_status", doc.status)),
      h(
        "td",
        {},
        doc.signatures.length
          ? joinList(doc.signatures.map((s) => `${roleLabel(s.role)} ${s.signer_name}`))
          : "—",
      ),
      h("td", {}, shortHash(doc.sha256)),
      h(
        "td",
        {},
        h(
          "div",
          { class: "row" },
          doc.pdf_url ? pdfButton(doc.id) : "",
          versionsButton,
          signButton,
        ),
        versions,
      ),
    );
  });
  return h(
    "div",
    { class: "stack", "data-testid": "wf-documents" },
    h("h3", {}, t("case_documents")),
    latest.length
      ? h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { class: "grid" },
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                [t("document"), t("doc_number"), t("status"), t("signatures"), "SHA-256", ""].map(
                  (x) => h("th", {}, x),
                ),
              ),
            ),
            h("tbody", {}, rows),
          ),
        )
      : h("p", { class: "hint" }, t("no_documents")),
    signArea,
  );
}

/**
 * The leader's sign-and-issue dialog: the document as it reads now (this version's fields, laid
 * out as the document), whether it is what the agreed legal review agreed to, and the pad. A
 * decision that differs cannot be signed (the server refuses it too, whoever asks); it can go
 * to a new round. The signature carries the content hash the dialog showed, so an edit made
 * while the dialog was open is refused and the dialog shows the new content.
 */
function leaderSignForm(
  doc: EnforcementDocument,
  type: DocType,
  user: User,
  done: () => void,
  cancel: () => void,
): HTMLElement {
  const others = missingSignatures(type, doc).filter((role) => role !== "leader");
  const confirm = h(
    "button",
    {
      type: "button",
      class: "btn primary big",
      "data-testid": "btn-leader-sign-confirm",
      disabled: true,
    },
    others.length ? t("confirm_signature") : t("sign_and_issue"),
  );
  const problem = h("div", {});
  const shownDoc = h(
    "div",
    { class: "sign-doc", "data-testid": "sign-doc" },
    h("p", { class: "hint" }, t("loading")),
  );
  const verdict = h(
    "div",
    { class: "review-match", "data-testid": "review-match", "data-state": "checking" },
    h("p", { class: "hint" }, t("review_match_checking")),
  );
  let match: capi.ReviewMatch | null = null;
  let padEmpty = true;
  let signed: EnforcementDocument | null = null;
  const mayPen = () => !!match && (!match.bound || match.consistent);
  const refreshConfirm = () => {
    confirm.disabled = signed ? false : padEmpty || !mayPen();
  };
  const pad = createSignaturePad({
    label: t("sig_area_for", { role: roleLabel("leader") }),
    onChange: (empty) => {
      padEmpty = empty;
      refreshConfirm();
    },
  });
  const check = async () => {
    match = null;
    refreshConfirm();
    verdict.dataset.state = "checking";
    verdict.replaceChildren(h("p", { class: "hint" }, t("review_match_checking")));
    let found: capi.ReviewMatch;
    try {
      found = await capi.reviewMatch(doc.id);
    } catch (err) {
      verdict.dataset.state = "error";
      verdict.replaceChildren(errorBox(explain(err, t("legal_review"))));
      return;
    }
    match = found;
    shownDoc.replaceChildren(renderedDocument(doc, type, found));
    verdict.dataset.state = found.state;
    verdict.replaceChildren(...matchVerdict(found, type, doc, user, () => void check()));
    refreshConfirm();
  };
  const cancelButton = h("button", { type: "button", class: "btn ghost" }, t("cancel"));
  cancelButton.addEventListener("click", () => {
    pad.destroy();
    if (signed) done();
    else cancel();
  });
  confirm.addEventListener("click", async () => {
    if (!signed && (pad.isEmpty() || !match || !mayPen())) return;
    confirm.disabled = true;
    confirm.textContent = t("working");
    problem.replaceChildren();
    try {
      signed ??= await api.signDocument(doc.id, {
        role: "leader",
        signer_name: user.name,
        image: pad.toDataURL(),
        device_signed_at: isoWithOffset(),
        shown_content_sha256: match!.content_sha256,
      });
      if (missingSignatures(type, signed).length === 0) await api.issueDocument(signed.id);
      pad.destroy();
      done();
    } catch (err) {
      const e = err instanceof api.ApiError ? err : null;
      const lines = e ? missingMessages(e.details) : [];
      let message: string;
      if (e?.code === "signatures_missing") {
        message = t("missing_signatures", { roles: joinList(lines) });
      } else if (e?.code === "document_changed_since_shown") {
        message = t("document_changed_since_shown");
      } else {
        message = explain(err, signed ? t("issue") : t("sign_as", { role: roleLabel("leader") }));
      }
      problem.replaceChildren(errorBox(message, "leader-sign-error"));
      confirm.textContent = signed
        ? t("issue")
        : others.length
          ? t("confirm_signature")
          : t("sign_and_issue");
      // The content changed or differs now: show it as it is and check again.
      if (
        e?.code === "document_changed_since_shown" ||
        e?.code === "decision_differs_from_review" ||
        e?.code === "legal_review_required"
      ) {
        await check();
      }
      // Once signed, trying again only retries the issue; the signature is kept.
      refreshConfirm();
    }
  });
  void check();
  return h(
    "div",
    {
      class: "stack leader-sign",
      "data-testid": "leader-sign",
      "data-doc-id": doc.id,
      role: "dialog",
      "aria-label": `${t("sign_as", { role: roleLabel("leader") })}${t("colon")}${titleOf(doc)}`,
    },
    h("h4", {}, `${t("sign_as", { role: roleLabel("leader") })}${t("colon")}${titleOf(doc)}`),
    verdict,
    shownDoc,
    h("p", { class: "hint" }, t("leader_sign_hint", { name: user.name })),
    h("div", { class: "pad-wrap" }, pad.element),
    problem,
    h("div", { class: "row sign-actions" }, cancelButton, confirm),
  );
}

/** The version as read with its hash, laid out as the document (a draft has no PDF yet). */
function renderedDocument(
  doc: EnforcementDocument,
  type: DocType,
  m: capi.ReviewMatch,
): HTMLElement {
  return h(
    "article",
    {
      class: "doc-paper",
      "data-testid": "sign-doc-rendered",
      "data-version": m.version,
      "aria-label": t("sign_dialog_document", { n: m.version }),
    },
    h("h4", { class: "doc-paper-title" }, titleOf(doc)),
    h(
      "p",
      { class: "doc-paper-number" },
      `${t("doc_number")}${t("colon")}${doc.number ?? t("unnumbered")} · ${t("version_n", { n: m.version })}`,
    ),
    renderSummary(type.fields, m.fields),
  );
}

/** Consistent, waiting for the review, or the differences with a way to a new round. */
function matchVerdict(
  m: capi.ReviewMatch,
  type: DocType,
  doc: EnforcementDocument,
  user: User,
  recheck: () => void,
): (HTMLElement | string)[] {
  const round = m.round ? t("review_match_round", { round: m.round }) : "";
  if (!m.bound) return [h("p", { class: "hint" }, t("review_match_not_needed"))];
  if (m.consistent) {
    return [
      h(
        "p",
        { class: "good match-ok", "data-testid": "review-match-consistent" },
        `✓ ${t("review_match_consistent")}${round}`,
      ),
    ];
  }
  if (m.review_status !== "agreed") {
    return [
      h(
        "p",
        { class: "bad", "data-testid": "review-match-pending" },
        `${t("review_match_pending")}${m.round ? ` ${t("round_n", { n: m.round })}${t("colon")}${label("review_status", m.review_status)}` : ""}`,
      ),
    ];
  }
  return [
    h(
      "p",
      { class: "bad", "data-testid": "review-match-differs" },
      t("review_match_differs", { round: m.round ?? "" }),
    ),
    differencesTable(m, type),
    resubmitAction(m, type, doc, user, recheck),
  ];
}

/** The decision draft of a new round: the document's operative content as it now reads. */
function draftFromDocument(
  fields: Record<string, unknown>,
  type: DocType,
  withhold: unknown,
): Record<string, unknown> {
  const rows = Array.isArray(fields.penalties)
    ? (fields.penalties as Record<string, unknown>[])
    : [];
  const penalties = rows.map((p) => ({
    kind: p.kind,
    amount:
      p.amount === null || p.amount === undefined || p.amount === "" ? null : Number(p.amount),
    description: typeof p.description === "string" ? p.description : "",
  }));
  const kinds = type.fields
    .find((f) => f.name === "penalties")
    ?.fields?.find((f) => f.name === "kind");
  const summary = penalties
    .map((p) => {
      const kind = kinds?.choices?.find((c) => c.value === p.kind)?.label.zh ?? String(p.kind);
      return p.amount === null ? kind : `${kind}${p.amount}元`;
    })
    .join("；");
  const party =
    fields.party && typeof fields.party === "object"
      ? Object.fromEntries(
          Object.entries(fields.party as Record<string, unknown>).filter(
            ([, v]) => v !== null && v !== "",
          ),
        )
      : null;
  const text = (v: unknown) => (typeof v === "string" && v.trim() ? v : null);
  return {
    penalties,
    summary,
    party,
    facts: text(fields.facts),
    legal_basis: text(fields.legal_basis) ?? "",
    discretion: text(fields.discretion),
    withhold_reason: withhold ?? null,
  };
}

const RESUBMITTERS = ["officer", "supervisor", "leader"];

function resubmitAction(
  m: capi.ReviewMatch,
  type: DocType,
  doc: EnforcementDocument,
  user: User,
  recheck: () => void,
): HTMLElement | string {
  if (!RESUBMITTERS.includes(user.role)) return "";
  const open = h(
    "button",
    { type: "button", class: "btn", "data-testid": "btn-resubmit-review-from-sign" },
    t("resubmit_review"),
  );
  const area = h("div", { class: "stack" });
  open.addEventListener("click", () => {
    open.hidden = true;
    const fieldsChanged = [
      ...new Set(m.differences.map((d) => (getLang() === "en" ? d.label.en : d.label.zh))),
    ];
    const note = h("textarea", { rows: 3, "data-testid": "resubmit-note" });
    note.value = t("resubmit_note_default", {
      title: titleOf(doc),
      round: m.round ?? "",
      fields: joinList(fieldsChanged),
    });
    const send = h(
      "button",
      { type: "button", class: "btn primary", "data-testid": "btn-resubmit-review-send" },
      t("resubmit_review"),
    );
    const status = h("div", {});
    send.addEventListener("click", async () => {
      const why = note.value.trim();
      if (!why) {
        note.focus();
        return;
      }
      send.disabled = true;
      status.replaceChildren();
      try {
        const rounds = await capi.caseReviews(doc.case_id);
        const agreed = rounds.find((r) => r.id === m.review_id);
        const review = await capi.resubmitForReview(
          doc.case_id,
          why,
          draftFromDocument(m.fields, type, agreed?.decision_draft?.withhold_reason),
        );
        area.replaceChildren(
          h(
            "p",
            { class: "good", "data-testid": "resubmitted" },
            t("resubmitted", { round: review.round }),
          ),
        );
        recheck();
      } catch (err) {
        send.disabled = false;
        status.replaceChildren(errorBox(explain(err, t("resubmit_review"))));
      }
    });
    area.replaceChildren(h("label", {}, t("resubmit_note"), note), send, status);
  });
  return h("div", { class: "stack resubmit" }, h("div", { class: "row" }, open), area);
}

// --- legal review rounds ----------------------------------------------------------------------------

function reviewsSection(reviews: LegalReview[], user: User): HTMLElement {
  return h(
    "div",
    { class: "stack", "data-testid": "wf-reviews" },
    h("h3", {}, t("legal_review")),
    reviews.length
      ? h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { class: "grid" },
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                [
                  t("review_round"),
                  t("status"),
                  t("submitted_at"),
                  t("due_on"),
                  t("decided_at"),
                  "",
                ].map((x) => h("th", {}, x)),
              ),
            ),
            h(
              "tbody",
              {},
              reviews.map((r) =>
                h(
                  "tr",
                  {
                    "data-testid": "wf-review",
                    "data-round": r.round,
                    "data-status": r.status,
                    "data-review-id": r.id,
                  },
                  h("td", {}, t("round_n", { n: r.round })),
                  h("td", {}, reviewStatusChip(r)),
                  h("td", {}, fmtTime(r.submitted_at)),
                  h("td", { class: r.overdue ? "bad" : "" }, fmtDate(r.due_on)),
                  h("td", {}, fmtTime(r.decided_at)),
                  h(
                    "td",
                    {},
                    h(
                      "div",
                      { class: "row" },
                      h(
                        "a",
                        {
                          class: "btn small",
                          href: `#/console/review/${r.id}`,
                          "data-testid": "btn-open-review",
                        },
                        user.role === "legal" && r.status === "submitted"
                          ? t("do_review")
                          : t("open_review"),
                      ),
                      r.opinion_document_id
                        ? pdfButton(r.opinion_document_id, t("opinion_document_pdf"))
                        : "",
                    ),
                  ),
                ),
              ),
            ),
          ),
        )
      : h("p", { class: "hint" }, t("no_reviews")),
  );
}
