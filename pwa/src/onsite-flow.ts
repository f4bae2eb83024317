/**
 * 当场处罚 (简易程序) as one guided flow on the phone: the case is open → film the on-site
 * enforcement → decide on the spot (当场行政处罚决定书, officer and party sign on screen) →
 * issue → the party takes a copy by QR → service → execution (the fine paid) → ready for the
 * supervisor to archive. Each step is read from the server (stage, completeness, documents),
 * so leaving and coming back resumes where the case stands; the document steps use the 文书
 * screens of documents.ts and come back here when their sheet closes.
 */
import * as api from "./api";
import type { Case, Completeness, EnforcementDocument, User } from "./api";
import { localMessage, openSheet, requirementMessage, type Sheet } from "./completeness";
import { openCredential } from "./credential";
import { allEntries } from "./db";
import { latestVersions, openDocuments, type DocumentsStart } from "./documents";
import { h } from "./dom";
import { shanghaiDate } from "./device-key";
import { getLang, t, type Key } from "./i18n";
import type { Journeys } from "./open-case";
import { addExecution, caseTeam, getCase, type Team } from "./team-api";

type FullCase = Case & {
  procedure?: string;
  location?: string;
  parties?: { name: string; kind?: string }[];
  execution_records?: unknown[];
};

type StepState = "done" | "now" | "todo" | "blocked";

const REMEDY =
  "如不服本决定，可以在收到本决定书之日起六十日内依法申请行政复议，或者在六个月内依法向人民法院提起行政诉讼。";
const PAYMENT = "自收到本决定书之日起十五日内到指定银行缴纳罚款，或依法当场缴纳。";

/** The decision's fields known already: the party, place, time and the officers on the case. */
export function decisionPrefill(c: FullCase, team: Team | null): Record<string, unknown> {
  const party = c.parties?.[0];
  return {
    party: party
      ? { type: party.kind === "organisation" ? "legal" : "natural", name: party.name }
      : {},
    place: c.location ?? "",
    penalties: [{ kind: "fine" }],
    payment: PAYMENT,
    remedy: REMEDY,
    officers: (team?.items ?? [])
      .filter((o) => o.certified)
      .map((o) => ({ name: o.name, badge_number: o.credential_number ?? "" })),
  };
}

function fineOf(doc: EnforcementDocument | undefined): number | null {
  const penalties = (doc?.fields.penalties as { kind?: string; amount?: unknown }[]) ?? [];
  const fines = penalties.filter((p) => p.kind === "fine");
  if (!fines.length) return null;
  return fines.reduce((sum, p) => sum + Number(p.amount ?? 0), 0);
}

/** Once the sheet left the page (another sheet opened over it), run `then` when that closes. */
function whenSheetGone(sheet: Sheet, then: () => void): void {
  const observer = new MutationObserver(() => {
    if (sheet.element.isConnected) return;
    observer.disconnect();
    // Back here only when no other sheet took its place (e.g. the completeness sheet).
    setTimeout(() => {
      if (!document.querySelector(".sheet")) then();
    }, 0);
  });
  observer.observe(document.body, { childList: true });
}

export function openOnsiteFlow(c: Case, user: User, journeys: Journeys): Sheet {
  const sheet = openSheet("onsite-flow", `${t("onsite_flow")} · ${c.number}`);
  let poll: ReturnType<typeof setTimeout> | null = null;
  let closed = false;
  const observer = new MutationObserver(() => {
    if (sheet.element.isConnected) return;
    closed = true;
    if (poll) clearTimeout(poll);
    observer.disconnect();
  });
  observer.observe(document.body, { childList: true });

  const reopen = () => void openOnsiteFlow(c, user, journeys);
  const toDocuments = (start: DocumentsStart) => {
    const docs = openDocuments(c, user, journeys.caseChanged, start);
    whenSheetGone(docs, reopen);
  };

  const load = async () => {
    if (poll) clearTimeout(poll);
    let full: FullCase;
    let report: Completeness;
    let docs: EnforcementDocument[];
    let team: Team | null;
    try {
      [full, report, docs, team] = await Promise.all([
        getCase(c.id) as Promise<FullCase>,
        api.caseCompleteness(c.id),
        api.caseDocuments(c.id),
        caseTeam(c.id).catch(() => null),
      ]);
    } catch (err) {
      const retry = h("button", { type: "button", class: "btn" }, t("retry"));
      retry.addEventListener("click", () => void load());
      sheet.body.replaceChildren(
        h("p", { class: "error", role: "alert" }, localMessage((err as Error).message)),
        retry,
      );
      return;
    }
    if (closed) return;
    c = { ...c, ...full };
    journeys.caseChanged(c);
    const stage = full.current_stage;
    const order = ["filing", "decision", "service", "execution", "archive"];
    const at = order.indexOf(stage);
    const filing = report.stages.find((s) => s.stage === "filing");
    const filmedReq = filing?.requirements.find((r) => r.code === "onsite_not_filmed");
    const filmed = at > 0 || !!filmedReq?.met;
    const onPhone = (await allEntries()).filter(
      (e) =>
        e.caseId === c.id &&
        e.kind === "video" &&
        e.stage === "filing" &&
        e.state !== "verified" &&
        e.state !== "received",
    );
    const decision = latestVersions(docs).find((d) => d.type === "onsite_penalty_decision");
    const issued = decision?.status === "issued";
    const records = full.execution_records?.length ?? 0;
    const execution = report.stages.find((s) => s.stage === "execution");
    const archiveReady =
      stage === "archive" || (stage === "execution" && !execution?.missing.length);
    const busy = (button: HTMLButtonElement) => {
      button.disabled = true;
      button.textContent = t("working");
    };
    const problem = h("p", { class: "error", role: "alert", "data-testid": "flow-error" });
    const fail = (button: HTMLButtonElement, label: string, err: unknown) => {
      const e = err as api.ApiError;
      const missing = (e.details?.missing as { message: string; message_en?: string }[]) ?? [];
      problem.textContent = missing.length
        ? missing.map((m) => requirementMessage(m)).join(getLang() === "en" ? "; " : "；")
        : localMessage(e.message);
      button.disabled = false;
      button.textContent = label;
    };
    const action = (
      testid: string,
      label: string,
      run: (b: HTMLButtonElement) => Promise<void>,
    ) => {
      const button = h(
        "button",
        { type: "button", class: "btn primary big", "data-testid": testid },
        label,
      );
      button.addEventListener("click", async () => {
        busy(button);
        problem.textContent = "";
        try {
          await run(button);
        } catch (err) {
          fail(button, label, err);
        }
      });
      return button;
    };
    const advance = async (to: string, reason: string) => {
      const moved = await api.advanceStage(c.id, to, reason);
      c = { ...c, ...moved };
      journeys.caseChanged(c);
    };

    const steps: [string, StepState, (Node | string)[]][] = [];
    // 1. the case
    steps.push(["flow_step_case", "done", [`${full.number} · ${full.title}`]]);
    // 2. two certified officers on site
    if (team) {
      steps.push([
        "flow_step_team",
        team.enough ? "done" : "blocked",
        [
          team.items
            .map(
              (o) => `${o.name}${o.certified ? "" : t("in_parens", { text: standingWordsOf(o) })}`,
            )
            .join(t("list_sep")),
          team.enough
            ? ""
            : h(
                "p",
                { class: "error", "data-testid": "flow-team-short" },
                getLang() === "en" ? team.message_en : team.message,
                " ",
                t("team_ask_supervisor"),
              ),
        ],
      ]);
    }
    // 3. the on-site video
    const filmStep: (Node | string)[] = [];
    let filmState: StepState = filmed ? "done" : "now";
    if (filmed) filmStep.push(t("flow_filmed"));
    else if (onPhone.some((e) => e.state === "error")) {
      // refused or failed for good (e.g. 持证上岗): say why; the video stays on the phone
      filmState = "blocked";
      const failed = onPhone.find((e) => e.state === "error")!;
      filmStep.push(
        h("p", { class: "error", "data-testid": "flow-upload-failed" }, t("flow_upload_failed")),
        failed.error ? h("p", { class: "error" }, localMessage(failed.error)) : "",
      );
    } else if (onPhone.length) {
      filmState = "now";
      filmStep.push(h("p", { "data-testid": "flow-uploading" }, t("flow_video_uploading")));
      poll = setTimeout(() => void load(), 2000);
    } else {
      const show = h(
        "button",
        { type: "button", class: "btn", "data-testid": "flow-credential" },
        t("flow_show_credential"),
      );
      show.addEventListener("click", () => openCredential(c.id));
      filmStep.push(
        h("p", { class: "hint" }, t("flow_film_hint")),
        show,
        action("flow-record", t("flow_record"), async () => {
          await journeys.record(c, "filing", "onsite_inspection");
          await load();
        }),
      );
    }
    steps.push(["flow_step_film", filmState, filmStep]);
    // 4. the decision, signed by officer and party, issued
    const decideStep: (Node | string)[] = [];
    let decideState: StepState = "todo";
    if (issued) {
      decideState = "done";
      decideStep.push(
        h(
          "p",
          { class: "doc-number", "data-testid": "flow-decision-number" },
          decision!.number ?? "",
        ),
      );
      if (at <= 1) {
        const qr = h(
          "button",
          { type: "button", class: "btn", "data-testid": "flow-handover" },
          t("flow_handover"),
        );
        qr.addEventListener("click", () => toDocuments({ docId: decision!.id, handover: true }));
        decideStep.push(qr);
      }
    } else if (filmed && stage === "filing") {
      decideState = "now";
      decideStep.push(
        action("flow-decide", t("flow_decide"), async () => {
          await advance("decision", t("flow_reason_decide"));
          toDocuments({ type: "onsite_penalty_decision", fields: decisionPrefill(full, team) });
        }),
      );
    } else if (stage === "decision" && !decision) {
      decideState = "now";
      decideStep.push(
        action("flow-decide", t("flow_fill_decision"), async () =>
          toDocuments({ type: "onsite_penalty_decision", fields: decisionPrefill(full, team) }),
        ),
      );
    } else if (stage === "decision" && decision) {
      decideState = "now";
      decideStep.push(
        h("p", { class: "hint" }, t("flow_sign_hint")),
        action("flow-sign", t("flow_sign_issue"), async () => toDocuments({ docId: decision.id })),
      );
    }
    steps.push(["flow_step_decide", decideState, decideStep]);
    // 5. service: the party has the decision (the copy by QR, the paper on the spot)
    const serveStep: (Node | string)[] = [];
    let serveState: StepState = at >= 3 ? "done" : "todo";
    if (at >= 3) serveStep.push(t("flow_served"));
    else if (issued) {
      serveState = "now";
      serveStep.push(
        h("p", { class: "hint" }, t("flow_serve_hint")),
        action("flow-serve", t("flow_serve"), async () => {
          if (c.current_stage === "decision") await advance("service", t("flow_reason_serve"));
          await advance("execution", t("flow_reason_execute"));
          await load();
        }),
      );
    }
    steps.push(["flow_step_serve", serveState, serveStep]);
    // 6. execution: the fine paid (or the warning given)
    const payStep: (Node | string)[] = [];
    let payState: StepState = records ? "done" : "todo";
    if (records) payStep.push(t("flow_paid"));
    else if (stage === "execution") {
      payState = "now";
      const fine = fineOf(decision);
      const amount = h("input", {
        type: "number",
        min: "0",
        step: "0.01",
        inputmode: "decimal",
        "data-testid": "flow-amount",
      });
      amount.value = fine === null ? "" : String(fine);
      const reference = h("input", { "data-testid": "flow-reference" });
      const kind = h(
        "select",
        { "data-testid": "flow-pay-kind" },
        h("option", { value: "payment" }, t("flow_pay_payment")),
        h("option", { value: "performed" }, t("flow_pay_performed")),
      );
      if (fine === null) kind.value = "performed";
      payStep.push(
        h("label", {}, t("flow_pay_kind"), kind),
        h("label", {}, t("flow_amount"), amount),
        h("label", {}, t("flow_reference"), reference),
        action("flow-pay", t("flow_record_payment"), async () => {
          await addExecution(c.id, {
            kind: kind.value as "payment" | "performed",
            on: shanghaiDate(Date.now()),
            amount: amount.value ? Number(amount.value) : null,
            reference: reference.value.trim(),
          });
          await load();
        }),
      );
    }
    steps.push(["flow_step_pay", payState, payStep]);
    // 7. ready for the supervisor to archive
    const archiveStep: (Node | string)[] = [];
    let archiveState: StepState = "todo";
    if (stage === "archive") {
      archiveState = "done";
      archiveStep.push(t("flow_archived"));
    } else if (archiveReady) {
      archiveState = "done";
      archiveStep.push(
        h("p", { class: "good", "data-testid": "flow-archive-ready" }, t("flow_archive_ready")),
      );
    } else if (stage === "execution" && records) {
      archiveState = "blocked";
      archiveStep.push(
        h(
          "ul",
          { class: "error" },
          (execution?.requirements ?? [])
            .filter((r) => !r.met)
            .map((r) => h("li", {}, requirementMessage(r))),
        ),
      );
    }
    steps.push(["flow_step_archive", archiveState, archiveStep]);

    sheet.body.replaceChildren(
      h("p", { class: "case-meta" }, t("current_stage"), t("colon"), t(`stage_${stage}` as Key)),
      h(
        "ol",
        { class: "flow-steps", "data-testid": "flow-steps", "data-stage": stage },
        steps.map(([key, state, body]) =>
          h(
            "li",
            { class: `flow-step ${state}`, "data-step": key, "data-state": state },
            h("strong", {}, t(key as Key)),
            ...body.filter((x) => x !== ""),
          ),
        ),
      ),
      problem,
    );
  };
  void load();
  return sheet;
}

function standingWordsOf(o: { message: string; message_en: string }): string {
  return getLang() === "en" ? o.message_en : o.message;
}
