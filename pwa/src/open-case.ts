/**
 * Opening a case on the phone: 当场处罚 (简易程序, then the guided flow of onsite-flow.ts) or
 * 一般程序 (the 立案审批表, filled and signed here, approved by the supervisor in the console).
 * The officer names the colleague(s) on site: 执法人员不得少于两人, each with a valid 执法证.
 */
import type { Case, User } from "./api";
import { localMessage, openSheet } from "./completeness";
import { openDocuments } from "./documents";
import { shanghaiDate } from "./device-key";
import { h } from "./dom";
import { getLang, t } from "./i18n";
import { openOnsiteFlow } from "./onsite-flow";
import { createCase, unitOfficers, type OfficerStanding } from "./team-api";

export interface Journeys {
  /** Record a video for the case (the capture overlay); resolves once it is kept on the phone. */
  record(c: Case, stage: string, activity: string): Promise<void>;
  /** A case was opened or moved on: the app's case list and case screen show it. */
  caseChanged(c: Case): void;
}

/** The officer's standing in the UI's language (the server says it in both). */
export function standingWords(o: Pick<OfficerStanding, "message" | "message_en">): string {
  return getLang() === "en" ? o.message_en : o.message;
}

export function openNewCase(user: User, journeys: Journeys): void {
  const sheet = openSheet("new-case", t("new_case"));
  const problem = h("p", { class: "error", role: "alert", "data-testid": "new-case-error" });
  const procedure = (value: "simple" | "general", title: string, hint: string) =>
    h(
      "label",
      { class: "choice", "data-testid": `procedure-${value}` },
      h("input", {
        type: "radio",
        name: "procedure",
        value,
        checked: value === "simple",
      }),
      h("span", {}, h("strong", {}, title), h("span", { class: "case-meta" }, hint)),
    );
  const title = h("input", { name: "title", required: true, "data-testid": "case-title" });
  title.placeholder = t("case_title_placeholder");
  const party = h("input", { name: "party", required: true, "data-testid": "case-party" });
  const partyKind = h(
    "select",
    { name: "party_kind", "data-testid": "case-party-kind" },
    h("option", { value: "person" }, t("party_person")),
    h("option", { value: "organisation" }, t("party_organisation")),
  );
  const location = h("input", { name: "location", "data-testid": "case-location" });
  const partners = h("div", { class: "stack officer-pick", "data-testid": "partners" });
  partners.append(h("p", { class: "hint" }, t("loading")));
  const submit = h(
    "button",
    { type: "submit", class: "btn primary big", "data-testid": "btn-open-case" },
    t("open_case"),
  );
  const form = h(
    "form",
    { class: "stack", novalidate: true, "data-testid": "new-case-form" },
    h(
      "fieldset",
      { class: "stack choices" },
      h("legend", {}, t("procedure")),
      procedure("simple", t("procedure_simple_choice"), t("procedure_simple_hint")),
      procedure("general", t("procedure_general_choice"), t("procedure_general_hint")),
    ),
    h("label", {}, t("case_title"), title),
    h("label", {}, t("party_name"), party),
    h("label", {}, t("party_kind"), partyKind),
    h("label", {}, t("case_location"), location),
    h(
      "fieldset",
      { class: "stack" },
      h("legend", {}, t("partners")),
      h("p", { class: "hint" }, t("partners_hint")),
      partners,
    ),
    problem,
    submit,
  );
  sheet.body.replaceChildren(form);

  void unitOfficers().then(
    ({ items }) => {
      const others = items.filter((o) => o.id !== user.id);
      partners.replaceChildren(
        ...(others.length
          ? others.map((o) =>
              h(
                "label",
                {
                  class: `check officer ${o.certified ? "" : "lacking"}`,
                  "data-testid": "partner",
                  "data-username": o.username,
                },
                h("input", {
                  type: "checkbox",
                  name: "partner",
                  value: o.id,
                  disabled: !o.certified,
                }),
                h(
                  "span",
                  {},
                  h("strong", {}, o.name),
                  h("span", { class: o.certified ? "case-meta" : "error" }, standingWords(o)),
                ),
              ),
            )
          : [h("p", { class: "error" }, t("no_partners"))]),
      );
    },
    (err: Error) => partners.replaceChildren(h("p", { class: "error" }, localMessage(err.message))),
  );

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const chosen = data.getAll("partner").map(Number);
    const missing = [
      !title.value.trim() ? t("case_title") : "",
      !party.value.trim() ? t("party_name") : "",
    ].filter(Boolean);
    if (missing.length) {
      problem.textContent = t("fill_in", { what: missing.join(t("list_sep")) });
      (!title.value.trim() ? title : party).focus();
      return;
    }
    if (chosen.length < 1) {
      problem.textContent = t("partners_needed");
      partners.scrollIntoView({ block: "center" });
      return;
    }
    submit.disabled = true;
    submit.textContent = t("working");
    problem.textContent = "";
    const kind = partyKind.value as "person" | "organisation";
    const simple = data.get("procedure") !== "general";
    try {
      const made = await createCase({
        title: title.value.trim(),
        procedure: simple ? "simple" : "general",
        location: location.value.trim(),
        parties: [{ name: party.value.trim(), kind }],
        officer_ids: chosen,
      });
      journeys.caseChanged(made);
      if (simple) {
        openOnsiteFlow(made, user, journeys);
        return;
      }
      openDocuments(made, user, journeys.caseChanged, {
        type: "filing_approval",
        fields: {
          cause: made.title,
          source: "inspection",
          received_on: shanghaiDate(Date.now()),
          party: { type: kind === "person" ? "natural" : "legal", name: party.value.trim() },
        },
      });
    } catch (err) {
      problem.textContent = localMessage((err as Error).message);
      submit.disabled = false;
      submit.textContent = t("open_case");
    }
  });
}
