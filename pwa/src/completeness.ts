/**
 * 完整性: what the case still needs, stage by stage, in words (`GET /cases/<id>/completeness`),
 * and the button that moves it to the next stage (`POST /cases/<id>/stage`). When the server
 * refuses (409 `stage_requirements_missing`), its `details.missing` are listed one per line.
 *
 * Also the full-screen sheet the case's paperwork screens (this one and 文书) open in: it lies
 * over the capture app, so the app's own redraws (queue progress, online/offline) leave it be.
 */
import * as api from "./api";
import type { Case, Completeness, Requirement, StageCompleteness, User } from "./api";
import { h } from "./dom";
import { getLang, t, type Key } from "./i18n";

/** The case as the screens need it (the list's case object will do). */
export type CaseRef = Pick<Case, "id" | "number" | "title" | "current_stage">;

/** Roles that may, with a written reason, advance past gaps the rules allow to be overridden. */
export const OVERRIDE_ROLES = ["supervisor", "leader"];

// --- the sheet ---------------------------------------------------------------------------------

export interface Sheet {
  element: HTMLElement;
  body: HTMLElement;
  setTitle(title: string): void;
  /** What 返回 does; by default it closes the sheet. */
  setBack(back: (() => void) | null): void;
  close(): void;
}

let openSheetClose: (() => void) | null = null;

/** Close whichever case sheet is open (e.g. at sign-out). */
export function closeSheets(): void {
  openSheetClose?.();
}

/** A full-screen sheet with 返回 and a title; opening one closes the one before. */
export function openSheet(testid: string, title: string, onClose?: () => void): Sheet {
  closeSheets();
  let back: (() => void) | null = null;
  const heading = h("h2", { class: "sheet-title", "data-testid": "sheet-title" }, title);
  const backButton = h(
    "button",
    { type: "button", class: "btn small ghost", "data-testid": "sheet-back" },
    `‹ ${t("back")}`,
  );
  const body = h("div", { class: "sheet-body stack" });
  const element = h(
    "div",
    { class: "sheet", role: "dialog", "aria-modal": "true", "data-testid": testid },
    h("div", { class: "sheet-top" }, backButton, heading),
    body,
  );
  const close = () => {
    if (openSheetClose !== close) return;
    openSheetClose = null;
    element.remove();
    onClose?.();
  };
  backButton.addEventListener("click", () => (back ? back() : close()));
  openSheetClose = close;
  document.body.append(element);
  return {
    element,
    body,
    setTitle: (text) => (heading.textContent = text),
    setBack: (fn) => (back = fn),
    close,
  };
}

// --- words -----------------------------------------------------------------------------------

function labelText(label: { zh: string; en: string } | undefined, fallback: string): string {
  if (!label) return fallback;
  return (getLang() === "en" ? label.en : label.zh) || label.zh || fallback;
}

/** A server sentence in the UI language: "中文 / English" keeps the half that is wanted. */
export function localMessage(message: string): string {
  const parts = message.split(" / ");
  if (parts.length < 2) return message;
  return getLang() === "en" ? parts.slice(1).join(" / ").trim() : parts[0].trim();
}

export function requirementMessage(req: Pick<Requirement, "message" | "message_en">): string {
  return getLang() === "en" && req.message_en ? req.message_en : req.message;
}

/**
 * `details.missing` of a 409 as sentences: requirement objects (`{code, message}`) from the
 * stage gate, signer roles (`"party"`) from `signatures_missing`, or plain strings.
 */
export function missingMessages(details: Record<string, unknown> | undefined): string[] {
  const missing = details?.missing;
  if (!Array.isArray(missing)) return [];
  return missing
    .map((item): string => {
      if (typeof item === "string")
        return item in SIGNER_ROLES ? roleLabel(item) : localMessage(item);
      if (item && typeof item === "object" && "message" in item) {
        return requirementMessage(item as Requirement);
      }
      return "";
    })
    .filter((line) => line !== "");
}

const SIGNER_ROLES = {
  officer: 1,
  party: 1,
  leader: 1,
  reviewer: 1,
  recipient: 1,
  approver: 1,
};

export function roleLabel(role: string): string {
  const key = `role_${role}` as Key;
  const text = t(key);
  return text === key ? role : text;
}

export function stageName(report: Completeness, stage: string | null): string {
  if (!stage) return "";
  const found = report.stages.find((s) => s.stage === stage);
  const key = `stage_${stage}` as Key;
  return labelText(found?.label, t(key));
}

/** Whether this user may take the case to the next stage at all (the server decides anyway). */
export function mayAdvance(report: Completeness, role: string): boolean {
  if (!report.next_stage) return false;
  const roles = report.next_stage_roles;
  return !roles || roles.length === 0 || roles.includes(role);
}

/** Whether a refusal lists only gaps this user may pass with a written reason. */
export function mayOverride(role: string, err: api.ApiError): boolean {
  if (!OVERRIDE_ROLES.includes(role) || err.code !== "stage_requirements_missing") return false;
  const missing = err.details.missing;
  return (
    Array.isArray(missing) &&
    missing.length > 0 &&
    missing.every((m) => !(m && typeof m === "object" && (m as Requirement).overridable === false))
  );
}

// --- the completeness screen -----------------------------------------------------------------

/** Open the completeness sheet of a case; `onAdvanced` gets the case after a stage change. */
export function openCompleteness(
  c: CaseRef,
  user: User,
  onAdvanced?: (updated: Case) => void,
): Sheet {
  const sheet = openSheet("completeness-screen", `${t("completeness")} · ${c.number}`);
  let report: Completeness | null = null;
  let loadError: string | null = null;
  let advanceError: api.ApiError | null = null;
  let busy = false;
  let done: string | null = null;

  const load = async () => {
    try {
      report = await api.caseCompleteness(c.id);
      loadError = null;
    } catch (err) {
      loadError = (err as Error).message;
    }
    draw();
  };

  const advance = async (reason: string, override?: string) => {
    if (!report?.next_stage || busy) return;
    busy = true;
    advanceError = null;
    done = null;
    draw();
    const target = report.next_stage;
    try {
      const updated = await api.advanceStage(c.id, target, reason, override);
      done = t("advanced_to", { stage: stageName(report, target) });
      onAdvanced?.(updated);
      c = { ...c, current_stage: updated.current_stage };
      await load();
    } catch (err) {
      advanceError =
        err instanceof api.ApiError ? err : new api.ApiError((err as Error).message, 0, "error");
    } finally {
      busy = false;
      draw();
    }
  };

  const draw = () => {
    if (!report) {
      sheet.body.replaceChildren(
        loadError
          ? h("p", { class: "error", role: "alert" }, loadError)
          : h("p", { class: "hint" }, t("loading")),
      );
      return;
    }
    const r = report;
    const current = r.stages.find((s) => s.stage === r.current_stage);
    const missingNow = current?.missing.length ?? 0;
    sheet.body.replaceChildren(
      h(
        "div",
        { class: "summary-box", "data-testid": "completeness-summary" },
        h("p", {}, labelText(r.procedure_label, r.procedure)),
        h("p", {}, t("current_stage"), t("colon"), h("strong", {}, stageName(r, r.current_stage))),
        r.next_stage
          ? h(
              "p",
              { class: missingNow ? "bad" : "good", "data-testid": "can-advance" },
              missingNow
                ? t("cannot_advance_yet", { n: missingNow, stage: stageName(r, r.next_stage) })
                : t("ready_to_advance", { stage: stageName(r, r.next_stage) }),
            )
          : h("p", {}, t("last_stage")),
      ),
      loadError ? h("p", { class: "error", role: "alert" }, loadError) : "",
      advanceSection(r),
      h(
        "ol",
        { class: "stage-list" },
        r.stages.map((s) => stageBlock(s, r)),
      ),
    );
  };

  const advanceSection = (r: Completeness): HTMLElement | string => {
    if (!r.next_stage) return done ? h("p", { class: "good", role: "status" }, done) : "";
    const next = stageName(r, r.next_stage);
    const allowed = mayAdvance(r, user.role);
    const reason = h("textarea", {
      rows: 2,
      "data-testid": "advance-reason",
      "aria-label": t("advance_reason"),
    });
    // "everything is in place" only when it is: with items missing the reason is the user's own
    const current = r.stages.find((s) => s.stage === r.current_stage);
    if (!current?.missing.length) reason.value = t("advance_reason_default", { stage: next });
    const button = h(
      "button",
      {
        type: "button",
        class: "btn primary big",
        "data-testid": "btn-advance",
        disabled: busy || !allowed,
      },
      busy ? t("working") : t("advance_to", { stage: next }),
    );
    button.addEventListener("click", () => {
      const text = reason.value.trim();
      if (!text) {
        reason.focus();
        return;
      }
      void advance(text);
    });
    const parts: (HTMLElement | string)[] = [
      h("h3", {}, t("advance_title")),
      done ? h("p", { class: "good", role: "status", "data-testid": "advance-done" }, done) : "",
      allowed
        ? h("label", {}, t("advance_reason"), reason)
        : h(
            "p",
            { class: "hint", "data-testid": "advance-not-allowed" },
            t("advance_roles_only", {
              roles: (r.next_stage_roles ?? []).map(roleLabel).join(t("list_sep")),
              stage: next,
            }),
          ),
      button,
    ];
    if (advanceError) {
      const lines = missingMessages(advanceError.details);
      parts.push(
        h(
          "div",
          { class: "error-box", role: "alert", "data-testid": "advance-error" },
          h(
            "p",
            { class: "error" },
            lines.length ? t("advance_refused", { stage: next }) : advanceError.message,
          ),
          lines.length
            ? h(
                "ul",
                { "data-testid": "advance-missing" },
                lines.map((line) => h("li", {}, line)),
              )
            : "",
        ),
      );
      if (mayOverride(user.role, advanceError)) parts.push(overrideForm(reason));
    }
    return h("section", { class: "stack advance" }, parts);
  };

  const overrideForm = (reason: HTMLTextAreaElement): HTMLElement => {
    const why = h("textarea", { rows: 3, "data-testid": "override-reason" });
    const go = h(
      "button",
      { type: "button", class: "btn", "data-testid": "btn-override", disabled: busy },
      t("override_advance"),
    );
    go.addEventListener("click", () => {
      const text = why.value.trim();
      if (text.length < 5) {
        why.focus();
        return;
      }
      void advance(reason.value.trim() || text, text);
    });
    return h(
      "div",
      { class: "stack override" },
      h("label", {}, t("override_reason"), why),
      h("p", { class: "hint" }, t("override_hint")),
      go,
    );
  };

  void load();
  draw();
  return sheet;
}

function stageBlock(s: StageCompleteness, r: Completeness): HTMLElement {
  const isCurrent = s.current ?? s.stage === r.current_stage;
  const status = isCurrent
    ? t("stage_state_current")
    : s.reached
      ? t("stage_state_done")
      : t("stage_state_ahead");
  const items =
    s.requirements.length === 0
      ? h("p", { class: "hint" }, t("no_requirements"))
      : h(
          "ul",
          { class: "requirements" },
          s.requirements.map((req) =>
            h(
              "li",
              {
                class: req.met ? "met" : "missing",
                "data-testid": "requirement",
                "data-code": req.code,
                "data-met": String(req.met),
              },
              h("span", { class: "req-state" }, req.met ? t("req_met") : t("req_missing")),
              " ",
              requirementMessage(req),
            ),
          ),
        );
  const head = h(
    "span",
    { class: "stage-head" },
    h("strong", {}, stageName(r, s.stage)),
    h("span", { class: `stage-state ${isCurrent ? "current" : s.reached ? "done" : ""}` }, status),
    s.missing.length
      ? h("span", { class: isCurrent ? "bad" : "hint" }, t("n_missing", { n: s.missing.length }))
      : "",
  );
  const open = isCurrent || s.reached;
  return h(
    "li",
    {
      class: `stage-block ${isCurrent ? "current" : ""}`,
      "data-testid": "stage-block",
      "data-stage": s.stage,
    },
    h("details", { open }, h("summary", {}, head), items),
  );
}
