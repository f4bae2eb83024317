import { afterEach, describe, expect, it } from "vitest";
import { setLang } from "../src/i18n";
import { moveTargets, mayMoveItems } from "../src/move-item";
import { buildSubmission, formFromDraft, penaltySummary } from "../src/review-submit";

const SUGGESTED = {
  party: { type: "legal" as const, name: "某某食品有限公司", id_number: "91110000MA01234567" },
  facts: "当事人销售超过保质期的酸奶12箱。",
  legal_basis: "《中华人民共和国食品安全法》第一百二十四条",
  discretion: "首次违法，从轻。",
  penalties: [{ kind: "fine", amount: 5000, description: "罚款人民币伍仟元" }],
};

afterEach(() => setLang("zh-CN"));

describe("the decision draft for legal review", () => {
  it("starts from the suggestion and gives the operative content back", () => {
    const form = formFromDraft(SUGGESTED, "审查报告");
    expect(form.penalties).toEqual([
      { kind: "fine", amount: "5000", description: "罚款人民币伍仟元" },
    ]);
    const built = buildSubmission(form);
    expect(built.ok).toBe(true);
    if (!built.ok) return;
    expect(built.body.report).toBe("审查报告");
    expect(built.body.decision_draft).toEqual({
      ...SUGGESTED,
      penalties: [{ kind: "fine", amount: 5000, description: "罚款人民币伍仟元" }],
      summary: "罚款5000元",
    });
  });

  it("names what is missing and refuses a fine without an amount or a bad amount", () => {
    const form = formFromDraft({}, "");
    expect(form.penalties).toHaveLength(1); // one empty row to start from
    const built = buildSubmission(form);
    expect(built.ok).toBe(false);
    if (built.ok) return;
    expect(built.problems).toEqual(["report", "party_name", "facts", "legal_basis", "fine_amount"]);
    const bad = formFromDraft(SUGGESTED, "报告");
    bad.penalties[0].amount = "五千";
    const refused = buildSubmission(bad);
    expect(refused.ok ? [] : refused.problems).toEqual(["amount_number"]);
    bad.penalties[0].amount = "1,200.50";
    const accepted = buildSubmission(bad);
    expect(accepted.ok && accepted.body.decision_draft.penalties?.[0].amount).toBe(1200.5);
  });

  it("writes the published summary in Chinese whatever the screen's language", () => {
    setLang("en");
    const built = buildSubmission(formFromDraft(SUGGESTED, "report"));
    expect(built.ok && built.body.decision_draft.summary).toBe("罚款5000元");
    expect(penaltySummary([{ kind: "fine", amount: 5000 }, { kind: "warning" }])).toBe(
      "Fine 5000 yuan; Warning",
    );
  });
});

describe("moving an item", () => {
  it("offers the reached stages other than the item's, to a supervisor of an open case", () => {
    expect(
      moveTargets(["filing", "investigation", "evidence"], { attached_stage: "filing" }),
    ).toEqual(["investigation", "evidence"]);
    expect(mayMoveItems("supervisor", null)).toBe(true);
    expect(mayMoveItems("supervisor", "2026-12-01T00:00:00Z")).toBe(false);
    expect(mayMoveItems("officer", null)).toBe(false);
  });
});
