import { afterEach, describe, expect, it } from "vitest";
import { ApiError } from "../src/api";
import type { Completeness } from "../src/api";
import { byDueDate, type LegalReview } from "../src/console-api";
import { setLang } from "../src/i18n";
import {
  CHECKLIST_ITEMS,
  buildOpinion,
  emptyDraft,
  openDisagreements,
  pendingExtensions,
  problemSentence,
  readyForDecision,
  reviewErrorSentence,
  type OpinionDraft,
} from "../src/legal";

const PNG =
  "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";

function allPassed(): OpinionDraft {
  const draft = emptyDraft();
  for (const item of CHECKLIST_ITEMS) draft.answers[item] = { state: "passed", note: "" };
  draft.outcome = "agree";
  draft.opinion = "  事实清楚，证据确凿。 ";
  draft.signature = PNG;
  return draft;
}

function codes(draft: OpinionDraft): string[] {
  const built = buildOpinion(draft);
  return built.ok ? [] : built.problems.map((p) => p.code);
}

describe("the legal review opinion form", () => {
  afterEach(() => setLang("zh-CN"));

  it("turns nine passed items into the opinion JSON, in the server's order", () => {
    const built = buildOpinion(allPassed());
    expect(built.ok).toBe(true);
    if (!built.ok) return;
    expect(built.body.outcome).toBe("agree");
    expect(built.body.opinion).toBe("事实清楚，证据确凿。");
    expect(built.body.signature).toBe(PNG);
    expect(built.body.checklist).toEqual(
      CHECKLIST_ITEMS.map((item) => ({ item, passed: true, note: "" })),
    );
  });

  it("sends a raised item with its note when the case is returned", () => {
    const draft = allPassed();
    draft.answers.evidence = { state: "raised", note: " 缺少进货凭证 " };
    draft.outcome = "returned";
    const built = buildOpinion(draft);
    expect(built.ok).toBe(true);
    if (!built.ok) return;
    expect(built.body.checklist.find((c) => c.item === "evidence")).toEqual({
      item: "evidence",
      passed: false,
      note: "缺少进货凭证",
    });
    expect(built.body.checklist.filter((c) => !c.passed)).toHaveLength(1);
  });

  it("asks for every item, and names the missing ones in Chinese", () => {
    const draft = allPassed();
    draft.answers.facts = { state: "unset", note: "" };
    draft.answers.no_crime = { state: "unset", note: "" };
    const built = buildOpinion(draft);
    expect(built.ok).toBe(false);
    if (built.ok) return;
    expect(built.problems[0]).toEqual({ code: "unanswered", items: ["facts", "no_crime"] });
    expect(problemSentence(built.problems[0])).toBe(
      "请逐项审核，以下事项尚未填写：案件事实清楚；未涉嫌犯罪，无需移送司法机关",
    );
  });

  it("mirrors the server's rules on outcome, notes, opinion and signature", () => {
    const raisedNoNote = allPassed();
    raisedNoNote.answers.evidence = { state: "raised", note: "  " };
    raisedNoNote.outcome = "returned";
    expect(codes(raisedNoNote)).toEqual(["note_required"]);

    const agreeRaised = allPassed();
    agreeRaised.answers.documents = { state: "raised", note: "缺少送达回证" };
    expect(codes(agreeRaised)).toEqual(["agree_with_raised"]);

    const returnNothing = allPassed();
    returnNothing.outcome = "returned";
    expect(codes(returnNothing)).toEqual(["nothing_raised"]);

    const transfer = allPassed();
    transfer.outcome = "transfer";
    transfer.answers.evidence = { state: "raised", note: "证据不足" };
    expect(codes(transfer)).toEqual(["transfer_without_crime"]);
    transfer.answers.no_crime = { state: "raised", note: "涉嫌销售伪劣产品罪" };
    expect(codes(transfer)).toEqual([]);

    const bare = allPassed();
    bare.outcome = "";
    bare.opinion = " ";
    bare.signature = null;
    expect(codes(bare)).toEqual(["outcome_missing", "opinion_missing", "signature_missing"]);
  });

  it("puts the server's refusals into sentences", () => {
    const notPassed = new ApiError("存在未通过的审核事项", 409, "checklist_not_passed", {
      raised: ["evidence"],
    });
    expect(reviewErrorSentence(notPassed)).toBe("以下事项存在问题，不能同意：证据合法、充分");
    const invalid = new ApiError("the request is invalid", 422, "invalid", {
      fields: { signature: ["Shorter than minimum length 30."], opinion: ["x"] },
    });
    expect(reviewErrorSentence(invalid)).toBe("以下内容有误，请检查：审核人员签名、审核意见");
    const bilingual = new ApiError("案件已归档 / the case is archived", 409, "case_archived");
    expect(reviewErrorSentence(bilingual)).toBe("案件已归档");
    setLang("en");
    expect(reviewErrorSentence(bilingual)).toBe("the case is archived");
    expect(reviewErrorSentence(notPassed)).toBe(
      "These items have problems, so you cannot agree: Evidence lawful and sufficient",
    );
  });
});

function review(over: Partial<LegalReview>): LegalReview {
  return {
    id: 1,
    case_id: 1,
    round: 1,
    status: "submitted",
    report: "",
    decision_draft: {},
    submitted_by_id: 1,
    submitted_at: "2026-11-20T01:00:00+00:00",
    due_on: "2026-11-27",
    overdue: false,
    extension: null,
    materials_requests: [],
    reviewer_id: null,
    checklist: null,
    opinion: null,
    decided_at: null,
    opinion_document_id: null,
    disagreement: null,
    ...over,
  };
}

describe("the queue and the leader's inbox", () => {
  it("sorts by due date, then id", () => {
    const items = [
      review({ id: 3, due_on: "2026-12-01" }),
      review({ id: 2, due_on: "2026-11-25", overdue: true }),
      review({ id: 1, due_on: "2026-12-01" }),
    ];
    expect(byDueDate(items).map((r) => r.id)).toEqual([2, 1, 3]);
  });

  it("finds the extension requests and disagreements that wait for the leader", () => {
    const ext = { reason: "案情复杂", requested_by: 5, requested_at: "x", approved: false };
    const items = [
      review({ id: 1, extension: ext }),
      review({ id: 2, extension: { ...ext, approved: true } }),
      review({ id: 3, status: "returned", disagreement: { reason: "证据已足", by: 1, at: "x" } }),
      review({
        id: 4,
        status: "returned",
        disagreement: { reason: "r", by: 1, at: "x", resolution: "uphold_opinion", note: "n" },
      }),
    ];
    expect(pendingExtensions(items).map((r) => r.id)).toEqual([1]);
    expect(openDisagreements(items).map((r) => r.id)).toEqual([3]);
  });

  it("counts a case ready for decision only at review with nothing missing", () => {
    const report = (over: Partial<Completeness>): Completeness => ({
      case_id: 1,
      procedure: "general",
      current_stage: "review",
      next_stage: "decision",
      can_advance: true,
      stages: [],
      ...over,
    });
    expect(readyForDecision(report({}))).toBe(true);
    expect(readyForDecision(report({ can_advance: false }))).toBe(false);
    expect(readyForDecision(report({ current_stage: "evidence", next_stage: "review" }))).toBe(
      false,
    );
  });
});
