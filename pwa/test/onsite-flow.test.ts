/** 当场处罚: what the decision's form knows before the officer types anything. */
import "fake-indexeddb/auto";
import { describe, expect, it } from "vitest";
import { decisionPrefill } from "../src/onsite-flow";
import type { Team } from "../src/team-api";

const team: Team = {
  case_id: 7,
  certified: 2,
  minimum: 2,
  enough: false,
  message: "",
  message_en: "",
  items: [
    {
      id: 1,
      name: "李明",
      username: "li",
      certified: true,
      reason: null,
      message: "持有效执法证",
      message_en: "",
      credential_number: "31010120260001",
    },
    {
      id: 2,
      name: "王芳",
      username: "wang",
      certified: true,
      reason: null,
      message: "持有效执法证",
      message_en: "",
      credential_number: "31010120260002",
    },
    {
      id: 3,
      name: "孙伟",
      username: "sun",
      certified: false,
      reason: "suspended",
      message: "执法证已暂停",
      message_en: "",
      credential_number: null,
    },
  ],
};

describe("the on-the-spot decision's prefill", () => {
  it("names the party, the place and only the certified officers with their numbers", () => {
    const fields = decisionPrefill(
      {
        id: 7,
        number: "2026-00007",
        title: "占道经营",
        current_stage: "decision",
        location: "南京东路100号",
        parties: [{ name: "某某商行", kind: "organisation" }],
      },
      team,
    );
    expect(fields.party).toEqual({ type: "legal", name: "某某商行" });
    expect(fields.place).toBe("南京东路100号");
    expect(fields.officers).toEqual([
      { name: "李明", badge_number: "31010120260001" },
      { name: "王芳", badge_number: "31010120260002" },
    ]);
    expect(fields.penalties).toEqual([{ kind: "fine" }]);
    expect(String(fields.remedy)).toContain("行政复议");
  });

  it("leaves the party empty when the case names none, and a person is a natural person", () => {
    const base = { id: 8, number: "2026-00008", title: "x", current_stage: "decision" };
    expect(decisionPrefill(base, null).party).toEqual({});
    expect(decisionPrefill({ ...base, parties: [{ name: "张三" }] }, null).party).toEqual({
      type: "natural",
      name: "张三",
    });
    expect(decisionPrefill(base, null).officers).toEqual([]);
  });
});
