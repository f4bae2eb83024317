import { afterEach, describe, expect, it } from "vitest";
import { ApiError, type Completeness } from "../src/api";
import {
  localMessage,
  mayAdvance,
  mayOverride,
  missingMessages,
  roleLabel,
  stageName,
} from "../src/completeness";
import { setLang } from "../src/i18n";

afterEach(() => setLang("zh-CN"));

const REPORT: Completeness = {
  case_id: 7,
  procedure: "general",
  procedure_label: { zh: "一般程序", en: "General procedure" },
  current_stage: "investigation",
  next_stage: "evidence",
  next_stage_roles: ["officer", "supervisor"],
  can_advance: false,
  stages: [
    {
      stage: "investigation",
      label: { zh: "调查", en: "Investigation" },
      reached: true,
      current: true,
      requirements: [
        {
          code: "document_not_filmed",
          kind: "recording",
          met: false,
          message: "《现场检查(勘验)笔录》须附现场检查视频（U1检〔2026〕1号）",
          message_en: "the on-site inspection record needs on-site video",
          overridable: true,
        },
      ],
      missing: ["《现场检查(勘验)笔录》须附现场检查视频（U1检〔2026〕1号）"],
    },
    {
      stage: "evidence",
      label: { zh: "取证", en: "Evidence collection" },
      reached: false,
      requirements: [],
      missing: [],
    },
  ],
};

describe("completeness words", () => {
  it("lists a refused advance's details.missing as sentences", () => {
    const details = { missing: REPORT.stages[0].requirements };
    expect(missingMessages(details)).toEqual([
      "《现场检查(勘验)笔录》须附现场检查视频（U1检〔2026〕1号）",
    ]);
    setLang("en");
    expect(missingMessages(details)).toEqual(["the on-site inspection record needs on-site video"]);
  });

  it("names missing signers (409 signatures_missing) by their role", () => {
    expect(missingMessages({ missing: ["officer", "party"] })).toEqual(["执法人员", "当事人"]);
    expect(missingMessages({ missing: ["须出具《立案审批表》"] })).toEqual([
      "须出具《立案审批表》",
    ]);
    expect(missingMessages({})).toEqual([]);
    expect(missingMessages(undefined)).toEqual([]);
    expect(roleLabel("approver")).toBe("审批人");
    expect(roleLabel("nobody")).toBe("nobody");
  });

  it("keeps the half of a bilingual server sentence the officer reads", () => {
    expect(localMessage("缺少签名：当事人 / signatures missing")).toBe("缺少签名：当事人");
    expect(localMessage("还缺少：须出具《立案审批表》")).toBe("还缺少：须出具《立案审批表》");
    setLang("en");
    expect(localMessage("缺少签名：当事人 / signatures missing")).toBe("signatures missing");
  });

  it("names stages with the server's labels", () => {
    expect(stageName(REPORT, "evidence")).toBe("取证");
    expect(stageName(REPORT, "review")).toBe("审查"); // not in the report: the app's own word
    setLang("en");
    expect(stageName(REPORT, "evidence")).toBe("Evidence collection");
  });
});

describe("who may advance", () => {
  it("follows the transition's roles", () => {
    expect(mayAdvance(REPORT, "officer")).toBe(true);
    expect(mayAdvance(REPORT, "legal")).toBe(false);
    expect(mayAdvance({ ...REPORT, next_stage: null }, "officer")).toBe(false);
  });

  it("offers an override with a reason only to supervisors, and never past a hard gate", () => {
    const soft = new ApiError("还缺少", 409, "stage_requirements_missing", {
      missing: [{ code: "document_missing", message: "须出具", overridable: true }],
    });
    const hard = new ApiError("以下要求不能越过", 409, "stage_requirements_missing", {
      missing: [{ code: "legal_review_required", message: "须经法制审核", overridable: false }],
    });
    expect(mayOverride("supervisor", soft)).toBe(true);
    expect(mayOverride("officer", soft)).toBe(false);
    expect(mayOverride("leader", hard)).toBe(false);
    expect(mayOverride("supervisor", new ApiError("x", 403, "transition_role_forbidden"))).toBe(
      false,
    );
  });
});
