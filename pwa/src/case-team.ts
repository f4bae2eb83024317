/**
 * The console's case screen, for the supervisor: who handles the case (办案人员: the unit's
 * officers with their credential standing, at least two certified) and 立案审批 (the officer's
 * 立案审批表 read, the opinion written, signed on the pad; the case then enters investigation).
 */
import * as api from "./api";
import type { EnforcementDocument, User } from "./api";
import { errorBox, explain, joinList } from "./console-ui";
import { localMessage } from "./completeness";
import { latestVersions } from "./documents";
import { h } from "./dom";
import { getLang, t } from "./i18n";
import { createSignaturePad } from "./signature-pad";
import { isoWithOffset } from "./time";
import {
  approveFiling,
  assignOfficers,
  caseTeam,
  getCase,
  returnFiling,
  unitOfficers,
  type OfficerStanding,
  type Team,
} from "./team-api";

const ASSIGNERS = ["supervisor", "leader"];

function words(o: { message: string; message_en: string }): string {
  return getLang() === "en" ? o.message_en : o.message;
}

/** The panel; it loads on its own. `onStageChanged` redraws the page (after 立案审批). */
export function caseTeamPanel(caseId: number, user: User, onStageChanged: () => void): HTMLElement {
  const panel = h(
    "section",
    { class: "stack case-team", "data-testid": "case-team" },
    h("p", { class: "hint" }, t("loading")),
  );
  let destroyPad: (() => void) | null = null;
  const load = async () => {
    destroyPad?.();
    destroyPad = null;
    const assigner = ASSIGNERS.includes(user.role);
    let team: Team;
    let officers: OfficerStanding[] = [];
    let full: Record<string, unknown>;
    let docs: EnforcementDocument[] = [];
    try {
      [team, full] = await Promise.all([caseTeam(caseId), getCase(caseId)]);
      if (assigner && !full.archived_at) officers = (await unitOfficers()).items;
      if (assigner && full.procedure === "general" && full.current_stage === "filing") {
        docs = await api.caseDocuments(caseId);
      }
    } catch (err) {
      panel.replaceChildren(errorBox(explain(err, t("team_title"))));
      return;
    }
    const parts: (Node | string)[] = [
      h("h3", {}, t("team_title")),
      h(
        "ul",
        { class: "team-list", "data-testid": "team-list" },
        team.items.map((o) =>
          h(
            "li",
            { "data-testid": "team-member", "data-username": o.username },
            h("strong", {}, o.name),
            " · ",
            h("span", { class: o.certified ? "good" : "error" }, words(o)),
          ),
        ),
      ),
      team.enough
        ? h(
            "p",
            { class: "good", "data-testid": "team-enough" },
            t("team_enough", { n: team.certified }),
          )
        : h("p", { class: "error", role: "alert", "data-testid": "team-short" }, words(team)),
    ];
    if (officers.length) parts.push(assignForm(caseId, team, officers, () => void load()));
    const approval = latestVersions(docs).find(
      (d) => d.type === "filing_approval" && d.status === "draft",
    );
    if (assigner && full.procedure === "general" && full.current_stage === "filing") {
      const ready = approval?.signatures.some((s) => s.role === "officer");
      const returned =
        approval && !ready && approval.version > 1
          ? String((approval.fields as Record<string, unknown>).approver_opinion ?? "")
          : "";
      if (returned) {
        parts.push(
          h("h3", {}, t("filing_approval_title")),
          h(
            "p",
            { class: "hint", "data-testid": "filing-returned" },
            t("filing_returned", { reason: returned.replace(/^退回补正：/, "") }),
          ),
        );
      } else if (!ready || !approval) {
        parts.push(
          h("h3", {}, t("filing_approval_title")),
          h("p", { class: "hint", "data-testid": "filing-not-ready" }, t("filing_not_ready")),
        );
      } else {
        // Returned: the page is drawn again (its documents show the new version too).
        const form = approvalForm(caseId, approval, user, onStageChanged, onStageChanged);
        destroyPad = form.destroy;
        parts.push(form.element);
      }
    }
    panel.replaceChildren(...parts);
  };
  void load();
  return panel;
}

function assignForm(
  caseId: number,
  team: Team,
  officers: OfficerStanding[],
  reload: () => void,
): HTMLElement {
  const on = new Set(team.items.map((o) => o.id));
  const problem = h("p", { class: "error", role: "alert", "data-testid": "team-error" });
  const boxes = officers.map((o) =>
    h(
      "label",
      { class: "check officer", "data-testid": "assign-officer", "data-username": o.username },
      h("input", {
        type: "checkbox",
        value: o.id,
        checked: on.has(o.id),
        disabled: !o.certified,
      }),
      h(
        "span",
        {},
        h("strong", {}, o.name),
        " ",
        h("span", { class: o.certified ? "case-meta" : "error" }, words(o)),
      ),
    ),
  );
  const save = h(
    "button",
    { type: "button", class: "btn primary", "data-testid": "btn-assign" },
    t("team_save"),
  );
  save.addEventListener("click", async () => {
    const ids = boxes
      .map((b) => b.querySelector("input") as HTMLInputElement)
      .filter((i) => i.checked && !i.disabled)
      .map((i) => Number(i.value));
    if (ids.length < team.minimum) {
      problem.textContent = t("team_pick_two", { n: team.minimum });
      return;
    }
    save.disabled = true;
    problem.textContent = "";
    try {
      await assignOfficers(caseId, ids);
      reload();
    } catch (err) {
      problem.textContent = localMessage((err as Error).message);
      save.disabled = false;
    }
  });
  return h(
    "div",
    { class: "stack", "data-testid": "assign-form" },
    h("p", { class: "hint" }, t("team_minimum", { n: team.minimum })),
    h("div", { class: "officer-pick" }, boxes),
    problem,
    save,
  );
}

function approvalForm(
  caseId: number,
  doc: EnforcementDocument,
  user: User,
  onStageChanged: () => void,
  onReturned: () => void,
): { element: HTMLElement; destroy: () => void } {
  const f = doc.fields as Record<string, unknown>;
  const party = (f.party as { name?: string } | undefined)?.name ?? "";
  const opinion = h("textarea", { rows: 2, "data-testid": "approver-opinion" });
  opinion.value = t("approver_opinion_default");
  const name = h("input", { "data-testid": "approver-name", autocomplete: "off" });
  name.value = user.name;
  const problem = h("p", { class: "error", role: "alert", "data-testid": "approve-error" });
  const approve = h(
    "button",
    { type: "button", class: "btn primary", "data-testid": "btn-approve-filing", disabled: true },
    t("approve_filing"),
  );
  const pad = createSignaturePad({
    label: t("sig_area_approver"),
    onChange: (empty) => (approve.disabled = empty),
  });
  approve.addEventListener("click", async () => {
    if (pad.isEmpty() || !name.value.trim()) {
      problem.textContent = t("signer_name_needed");
      return;
    }
    approve.disabled = true;
    approve.textContent = t("working");
    problem.textContent = "";
    try {
      await approveFiling(caseId, {
        opinion: opinion.value.trim(),
        signer_name: name.value.trim(),
        image: pad.toDataURL(),
        device_signed_at: isoWithOffset(),
      });
      pad.destroy();
      onStageChanged();
    } catch (err) {
      problem.textContent = localMessage((err as Error).message);
      approve.disabled = false;
      approve.textContent = t("approve_filing");
    }
  });
  // 退回补正: the reason goes back with the form; the officer corrects it and signs again.
  const reason = h("textarea", { rows: 2, "data-testid": "return-reason" });
  const sendBack = h(
    "button",
    { type: "button", class: "btn", "data-testid": "btn-return-filing" },
    t("return_filing_send"),
  );
  sendBack.addEventListener("click", async () => {
    if (!reason.value.trim()) {
      problem.textContent = t("return_reason_needed");
      reason.focus();
      return;
    }
    sendBack.disabled = true;
    problem.textContent = "";
    try {
      await returnFiling(caseId, reason.value.trim());
      pad.destroy();
      onReturned();
    } catch (err) {
      problem.textContent = localMessage((err as Error).message);
      sendBack.disabled = false;
    }
  });
  const signers = joinList(doc.signatures.map((s) => s.signer_name));
  const element = h(
    "div",
    { class: "stack filing-approval", "data-testid": "filing-approval" },
    h("h3", {}, t("filing_approval_title")),
    h("p", { class: "hint" }, t("filing_waiting")),
    h(
      "dl",
      { class: "summary-box" },
      h("dt", {}, t("case_title")),
      h("dd", { "data-testid": "filing-cause" }, String(f.cause ?? "")),
      h("dt", {}, t("party_name")),
      h("dd", {}, party),
      f.summary ? h("dt", {}, t("filing_summary")) : "",
      f.summary ? h("dd", {}, String(f.summary)) : "",
      f.officer_opinion ? h("dt", {}, t("filing_officer_opinion")) : "",
      f.officer_opinion
        ? h("dd", {}, `${String(f.officer_opinion)}${t("in_parens", { text: signers })}`)
        : "",
    ),
    h("label", {}, t("approver_opinion"), opinion),
    h("label", {}, t("signer_name"), name),
    pad.element,
    problem,
    approve,
    h(
      "details",
      { class: "return-filing", "data-testid": "return-filing" },
      h("summary", { class: "btn ghost" }, t("return_filing")),
      h("label", {}, t("return_reason"), reason),
      sendBack,
    ),
  );
  return { element, destroy: () => pad.destroy() };
}
