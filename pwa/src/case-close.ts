/**
 * The end of a case in the console: recording how the decision was carried out (执行情况,
 * `POST /cases/<id>/execution`) at the execution stage, and exporting the archived case file
 * (`GET /cases/<id>/archive.zip`, signed, verifiable offline) once it is archived.
 */
import { API, ApiError, getToken, request } from "./api";
import type { User } from "./api";
import { errorBox, explain, fmtDate, label } from "./console-ui";
import { h } from "./dom";
import { t } from "./i18n";
import { localDateTime } from "./documents";
import { serverText } from "./words";

export interface ExecutionRecord {
  kind: string;
  on: string;
  amount?: number | null;
  reference?: string;
  note?: string;
}

export const EXECUTION_KINDS = ["payment", "compulsory_application", "performed", "other"];

export function addExecution(caseId: number, record: ExecutionRecord) {
  return request<{ execution_records: ExecutionRecord[] }>(
    "POST",
    `/cases/${caseId}/execution`,
    record,
  );
}

/** One recorded execution in words: 2026-12-08 缴纳罚款 5000 元（缴款书号 …）. */
export function executionLine(r: ExecutionRecord): string {
  const amount = r.amount ? ` ${r.amount} ${t("yuan")}` : "";
  const reference = r.reference ? ` · ${t("execution_reference")} ${r.reference}` : "";
  return `${fmtDate(r.on)} ${label("execution", r.kind)}${amount}${reference}${r.note ? ` · ${r.note}` : ""}`;
}

/** At 执行: what was recorded and a form to record more (officer, supervisor). */
export function executionSection(
  c: { id: number; execution_records?: ExecutionRecord[] },
  stage: string,
  user: User,
  reload: () => void,
): HTMLElement | string {
  const records = c.execution_records ?? [];
  if (stage !== "execution" && !records.length) return "";
  const list = records.length
    ? h(
        "ul",
        { "data-testid": "execution-records" },
        records.map((r) => h("li", { "data-testid": "execution-record" }, executionLine(r))),
      )
    : h("p", { class: "hint" }, t("execution_none"));
  const mayRecord = stage === "execution" && ["officer", "supervisor"].includes(user.role);
  if (!mayRecord) {
    return h(
      "div",
      { class: "stack", "data-testid": "wf-execution" },
      h("h3", {}, t("execution_title")),
      list,
    );
  }
  const kind = h(
    "select",
    { "data-testid": "execution-kind", "aria-label": t("execution_kind") },
    EXECUTION_KINDS.map((k) => h("option", { value: k }, label("execution", k))),
  );
  const on = h("input", {
    type: "date",
    "data-testid": "execution-on",
    "aria-label": t("execution_on"),
  });
  on.value = localDateTime(new Date()).slice(0, 10);
  const amount = h("input", {
    inputmode: "decimal",
    "data-testid": "execution-amount",
    "aria-label": t("penalty_amount"),
  });
  const reference = h("input", {
    "data-testid": "execution-reference",
    "aria-label": t("execution_reference"),
  });
  const status = h("div", {});
  amount.addEventListener("input", () => status.replaceChildren());
  const save = h(
    "button",
    { type: "submit", class: "btn primary", "data-testid": "btn-add-execution" },
    t("execution_add"),
  );
  const form = h(
    "form",
    { class: "stack small-form", "data-testid": "execution-form" },
    h("label", {}, t("execution_kind"), kind),
    h("label", {}, t("execution_on"), on),
    h("label", {}, `${t("penalty_amount")}${t("in_parens", { text: t("yuan") })}`, amount),
    h("label", {}, t("execution_reference"), reference),
    status,
    save,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = amount.value.trim().replace(/[,，]/g, "");
    if (value && !/^\d+(\.\d{1,2})?$/.test(value)) {
      status.replaceChildren(errorBox(t("draft_problem_amount_number"), "execution-error"));
      return;
    }
    if (!on.value) {
      status.replaceChildren(errorBox(t("execution_on_needed"), "execution-error"));
      return;
    }
    save.disabled = true;
    try {
      await addExecution(c.id, {
        kind: kind.value,
        on: on.value,
        amount: value ? Number(value) : null,
        reference: reference.value.trim(),
      });
      reload();
    } catch (err) {
      status.replaceChildren(errorBox(explain(err, t("execution_add")), "execution-error"));
      save.disabled = false;
    }
  });
  return h(
    "div",
    { class: "stack", "data-testid": "wf-execution" },
    h("h3", {}, t("execution_title")),
    list,
    form,
  );
}

/** Once archived: download the signed case file (supervisor, legal reviewer, leader). */
export function exportSection(
  c: { id: number; number: string; archived_at?: string | null },
  user: User,
): HTMLElement | string {
  if (!c.archived_at || !["supervisor", "legal", "leader"].includes(user.role)) return "";
  const status = h("div", {});
  const button = h(
    "button",
    { type: "button", class: "btn primary", "data-testid": "btn-export-archive" },
    t("export_archive"),
  );
  button.addEventListener("click", async () => {
    button.disabled = true;
    status.replaceChildren(h("p", { class: "hint" }, t("working")));
    try {
      const resp = await fetch(`${API}/cases/${c.id}/archive.zip`, {
        headers: { Authorization: `Bearer ${getToken() ?? ""}` },
        cache: "no-store",
      });
      if (!resp.ok) {
        const data = await resp.json().catch(() => null);
        const e = data?.error;
        throw new ApiError(
          serverText(e?.message, resp.status, e?.code, e?.details),
          resp.status,
          e?.code ?? "http_error",
        );
      }
      const url = URL.createObjectURL(await resp.blob());
      const a = h("a", { href: url, download: `${c.number}.zip` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      status.replaceChildren(
        h("p", { class: "good", "data-testid": "export-done" }, t("export_archive_done")),
      );
    } catch (err) {
      status.replaceChildren(errorBox(explain(err, t("export_archive")), "export-error"));
    } finally {
      button.disabled = false;
    }
  });
  return h(
    "div",
    { class: "stack", "data-testid": "wf-export" },
    h("h3", {}, t("case_file")),
    h("p", { class: "hint" }, t("export_archive_hint")),
    button,
    status,
  );
}
