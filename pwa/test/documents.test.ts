import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { DocField, DocType, EnforcementDocument } from "../src/api";
import {
  addRow,
  buildForm,
  canCapture,
  checkRequired,
  collect,
  defaultSignerName,
  findNode,
  flattenErrors,
  formatTime,
  fromLocalDateTime,
  latestVersions,
  missingSignatures,
  pathLabel,
  readableMessage,
  removeRow,
  setValue,
  localDateTime,
  toLocalDateTime,
  typesForStage,
  type GroupNode,
  type ListNode,
  type ScalarNode,
} from "../src/documents";
import { setLang } from "../src/i18n";
import described from "./fixtures/document-types.json";

const TYPES = described.items as DocType[];
const type = (code: string) => TYPES.find((t) => t.code === code)!;
const INSPECTION = type("onsite_inspection_record");
const PRESERVATION = type("evidence_preservation_notice");
const PRIOR_NOTICE = type("prior_notice");
/** 2026-11-21 09:30 in Shanghai. */
const NOW = new Date(Date.UTC(2026, 10, 21, 1, 30));

beforeAll(() => {
  process.env.TZ = "Asia/Shanghai"; // the officers' phones
});
afterEach(() => setLang("zh-CN"));

function scalar(form: GroupNode, path: string): ScalarNode {
  const node = findNode(form, path);
  if (node?.kind !== "scalar") throw new Error(path);
  return node;
}

function fillInspection(form: GroupNode): void {
  setValue(form, "place", " 某市某区工业园8号仓库 ");
  setValue(form, "party.type", "legal");
  setValue(form, "party.name", "某某食品有限公司");
  setValue(form, "inspectors.0.name", "王五");
  setValue(form, "inspectors.0.badge_number", "31010020260001");
  setValue(form, "inspectors.1.name", "赵六");
  setValue(form, "credential_shown", true);
  setValue(form, "findings", "仓库内存放超过保质期的酸奶共计12箱。");
}

describe("buildForm", () => {
  it("builds an input per field from the description", () => {
    const form = buildForm(INSPECTION.fields, {}, NOW);
    const kinds = form.children.map((n) => [n.path, n.kind === "scalar" ? n.type : n.kind]);
    expect(kinds).toEqual([
      ["inspected_at", "datetime"],
      ["ended_at", "datetime"],
      ["place", "string"],
      ["party", "group"],
      ["inspectors", "list"],
      ["credential_shown", "boolean"],
      ["findings", "text"],
      ["party_statement", "text"],
      ["witness", "string"],
    ]);
    // the party type is a choice (a <select>) with the server's labels
    const partyType = scalar(form, "party.type");
    expect(partyType.type).toBe("choice");
    expect(partyType.field.choices?.map((c) => c.label.zh)).toEqual(["自然人", "法人或其他组织"]);
    expect(partyType.value).toBe("");
  });

  it("starts a required time at now, and lists at their minimum number of rows", () => {
    const form = buildForm(INSPECTION.fields, {}, NOW);
    expect(scalar(form, "inspected_at").value).toBe("2026-11-21T09:30");
    expect(scalar(form, "ended_at").value).toBe(""); // optional: left for the officer
    const inspectors = findNode(form, "inspectors") as ListNode;
    expect(inspectors.rows.map((r) => r.path)).toEqual(["inspectors.0", "inspectors.1"]);
    expect(scalar(form, "inspectors.1.name").value).toBe("");
    expect(scalar(form, "credential_shown").value).toBe(false);
  });
});

describe("collect", () => {
  it("gives the JSON the API expects: nested objects, rows, booleans, ISO times", () => {
    const form = buildForm(INSPECTION.fields, {}, NOW);
    fillInspection(form);
    expect(collect(form)).toEqual({
      inspected_at: "2026-11-21T09:30:00+08:00",
      place: "某市某区工业园8号仓库",
      party: { type: "legal", name: "某某食品有限公司" },
      inspectors: [{ name: "王五", badge_number: "31010020260001" }, { name: "赵六" }],
      credential_shown: true,
      findings: "仓库内存放超过保质期的酸奶共计12箱。",
    });
  });

  it("turns numbers, dates, amounts and choices into their JSON forms", () => {
    const form = buildForm(PRESERVATION.fields, {}, NOW);
    setValue(form, "party.name", "张三");
    setValue(form, "reason", "证据可能灭失");
    setValue(form, "legal_basis", "《中华人民共和国行政处罚法》第五十六条");
    setValue(form, "items.0.name", "过期酸奶");
    setValue(form, "items.0.quantity", "12箱");
    setValue(form, "storage_place", "当事人仓库东侧货架");
    setValue(form, "starts_on", "2026-11-21");
    setValue(form, "period_days", "7");
    expect(collect(form)).toEqual({
      party: { name: "张三" },
      reason: "证据可能灭失",
      legal_basis: "《中华人民共和国行政处罚法》第五十六条",
      items: [{ name: "过期酸奶", quantity: "12箱" }],
      storage_place: "当事人仓库东侧货架",
      starts_on: "2026-11-21",
      period_days: 7,
    });
    setValue(form, "period_days", "3.5"); // not a whole number: the server says so
    setValue(form, "storage_method", "offsite");
    expect(collect(form)).toMatchObject({ period_days: "3.5", storage_method: "offsite" });

    const notice = buildForm(PRIOR_NOTICE.fields, {}, NOW);
    setValue(notice, "proposed_penalties.0.kind", "fine");
    setValue(notice, "proposed_penalties.0.amount", "1,000.50");
    setValue(notice, "rights.statement", true);
    expect(collect(notice)).toMatchObject({
      proposed_penalties: [{ kind: "fine", amount: "1000.50" }],
      rights: { statement: true, defence: false, hearing: false },
    });
  });

  it("leaves out a blank optional block and keeps list rows of plain values", () => {
    const fields: DocField[] = [
      {
        name: "agent",
        label: { zh: "委托代理人", en: "Agent" },
        type: "object",
        required: false,
        fields: [
          { name: "name", label: { zh: "姓名", en: "Name" }, type: "string", required: true },
          {
            name: "present",
            label: { zh: "到场", en: "Present" },
            type: "boolean",
            required: false,
          },
        ],
      },
      {
        name: "tags",
        label: { zh: "标签", en: "Tags" },
        type: "list",
        required: false,
        item_type: "string",
      },
    ];
    const form = buildForm(fields, {}, NOW);
    expect(collect(form)).toEqual({});
    expect(checkRequired(form)).toEqual({}); // the agent's name is only needed with an agent
    addRow(form, "tags");
    addRow(form, "tags");
    setValue(form, "tags.0", "食品");
    setValue(form, "agent.present", true);
    expect(collect(form)).toEqual({ agent: { present: true }, tags: ["食品"] });
    expect(checkRequired(form)).toEqual({ "agent.name": ["此项必填"] });
  });

  it("fills the form back from a saved document without changing it", () => {
    const form = buildForm(INSPECTION.fields, {}, NOW);
    fillInspection(form);
    setValue(form, "ended_at", "2026-11-21T10:05");
    const saved = { ...collect(form), ended_at: "2026-11-21T02:05:00+00:00" }; // as the server dumps
    const again = buildForm(INSPECTION.fields, saved, null);
    expect(scalar(again, "ended_at").value).toBe("2026-11-21T10:05");
    expect(scalar(again, "party.type").value).toBe("legal");
    expect(collect(again)).toEqual({ ...saved, ended_at: "2026-11-21T10:05:00+08:00" });
  });
});

describe("list rows", () => {
  it("adds and removes rows, renumbering the ones after, never below min_items", () => {
    const form = buildForm(INSPECTION.fields, {}, NOW);
    fillInspection(form);
    const row = addRow(form, "inspectors");
    expect(row.path).toBe("inspectors.2");
    setValue(form, "inspectors.2.name", "孙七");
    expect(removeRow(form, "inspectors", 0)).toBe(true);
    expect(scalar(form, "inspectors.0.name").value).toBe("赵六");
    expect(scalar(form, "inspectors.1.name").value).toBe("孙七");
    expect(findNode(form, "inspectors.2")).toBeNull();
    // two inspectors is the legal minimum (《行政处罚法》第四十二条)
    expect(removeRow(form, "inspectors", 1)).toBe(false);
    expect((collect(form).inspectors as unknown[]).length).toBe(2);
  });
});

describe("errors", () => {
  it("finds blank required inputs before sending", () => {
    const form = buildForm(INSPECTION.fields, {}, NOW);
    expect(checkRequired(form)).toEqual({
      place: ["此项必填"],
      "party.name": ["此项必填"],
      "inspectors.0.name": ["此项必填"],
      "inspectors.1.name": ["此项必填"],
      findings: ["此项必填"],
    });
  });

  it("puts a 422's details.fields next to the right input", () => {
    // what the server answered for a half-filled 现场检查笔录
    const details = {
      inspected_at: ["Not a valid datetime."],
      party: { name: ["Missing data for required field."] },
      inspectors: { "1": { name: ["Missing data for required field."] } },
      credential_shown: ["必须为“是” / must be true (Credentials shown)"],
      _schema: ["结束时间早于开始时间 / ends before it starts"],
    };
    const errors = flattenErrors(details);
    expect(errors).toEqual({
      inspected_at: ["Not a valid datetime."],
      "party.name": ["Missing data for required field."],
      "inspectors.1.name": ["Missing data for required field."],
      credential_shown: ["必须为“是” / must be true (Credentials shown)"],
      "": ["结束时间早于开始时间 / ends before it starts"],
    });
    const form = buildForm(INSPECTION.fields, {}, NOW);
    for (const path of Object.keys(errors).filter(Boolean)) {
      expect(findNode(form, path), path).not.toBeNull();
    }
    expect(flattenErrors({ inspectors: ["Shorter than minimum length 2."] })).toEqual({
      inspectors: ["Shorter than minimum length 2."],
    });
  });

  it("says marshmallow's messages as sentences, in the UI language", () => {
    const form = buildForm(INSPECTION.fields, {}, NOW);
    const list = findNode(form, "inspectors");
    const name = findNode(form, "place");
    expect(readableMessage("Missing data for required field.", name)).toBe("此项必填");
    expect(readableMessage("Shorter than minimum length 2.", list)).toBe("至少填写 2 项");
    expect(readableMessage("Shorter than minimum length 1.", name)).toBe("此项必填");
    expect(readableMessage("Not a valid datetime.")).toBe("时间格式不正确");
    expect(readableMessage("Must be greater than or equal to 1 and less than or equal to 7.")).toBe(
      "须在 1 至 7 之间",
    );
    expect(readableMessage("Must be one of: natural, legal.")).toBe("请从列表中选择");
    expect(readableMessage("必须为“是” / must be true (Credentials shown)")).toBe("必须为“是”");
    setLang("en");
    expect(readableMessage("Shorter than minimum length 2.", list)).toBe("At least 2 entries");
    expect(readableMessage("必须为“是” / must be true (Credentials shown)")).toBe(
      "must be true (Credentials shown)",
    );
  });

  it("names where an error is when it has no input of its own", () => {
    const form = buildForm(INSPECTION.fields, {}, NOW);
    expect(pathLabel(form, "inspectors.1.name")).toBe("检查人员 第 2 项 姓名");
    expect(pathLabel(form, "foo")).toBe("foo");
  });
});

describe("times", () => {
  it("converts between the API's ISO 8601 and datetime-local inputs", () => {
    expect(toLocalDateTime("2026-11-21T09:30:00+08:00")).toBe("2026-11-21T09:30");
    expect(toLocalDateTime("2026-11-21T01:30:15Z")).toBe("2026-11-21T09:30:15");
    expect(fromLocalDateTime("2026-11-21T09:30")).toBe("2026-11-21T09:30:00+08:00");
    expect(fromLocalDateTime("2026-11-21T09:30:15")).toBe("2026-11-21T09:30:15+08:00");
    expect(fromLocalDateTime("yesterday")).toBe("yesterday");
  });

  describe("on a phone set to another zone", () => {
    afterEach(() => {
      process.env.TZ = "Asia/Shanghai";
    });

    it("shows a UTC instant after 16:00 on the next Beijing date", () => {
      process.env.TZ = "UTC";
      const lateUtc = "2026-11-21T16:30:00Z"; // 2026-11-22 00:30 in Beijing
      expect(formatTime(lateUtc)).toBe("2026/11/22 00:30");
      setLang("en");
      expect(formatTime(lateUtc)).toBe("2026-11-22 00:30");
      expect(toLocalDateTime(lateUtc)).toBe("2026-11-22T00:30");
      expect(localDateTime(new Date(lateUtc))).toBe("2026-11-22T00:30");
    });

    it("reads what the officer typed as Beijing time", () => {
      process.env.TZ = "America/New_York";
      expect(fromLocalDateTime("2026-11-22T00:30")).toBe("2026-11-22T00:30:00+08:00");
      expect(toLocalDateTime(fromLocalDateTime("2026-11-22T00:30"))).toBe("2026-11-22T00:30");
    });
  });
});

describe("documents and signatures", () => {
  const doc = (over: Partial<EnforcementDocument>): EnforcementDocument => ({
    id: "d1",
    series_id: "s1",
    version: 1,
    case_id: 1,
    type: "onsite_inspection_record",
    title: INSPECTION.title,
    stage: "investigation",
    fields: {},
    status: "draft",
    number: null,
    sha256: null,
    created_at: "2026-11-21T01:00:00+00:00",
    issued_at: null,
    signatures: [],
    pdf_url: null,
    for_the_party: true,
    ...over,
  });

  it("lists the latest version of each series", () => {
    const docs = [
      doc({ id: "a1", series_id: "a", version: 1, status: "superseded" }),
      doc({ id: "a2", series_id: "a", version: 2, created_at: "2026-11-22T01:00:00+00:00" }),
      doc({ id: "b1", series_id: "b", version: 1, created_at: "2026-11-21T02:00:00+00:00" }),
    ];
    expect(latestVersions(docs).map((d) => d.id)).toEqual(["a2", "b1"]);
  });

  it("knows who signs on this phone and who still has to sign", () => {
    expect(canCapture("officer", "officer")).toBe(true);
    expect(canCapture("party", "officer")).toBe(true); // the party signs on the officer's phone
    expect(canCapture("approver", "officer")).toBe(false);
    expect(canCapture("approver", "supervisor")).toBe(true);
    expect(canCapture("leader", "supervisor")).toBe(false);
    const signed = doc({
      signatures: [
        {
          id: 1,
          role: "officer",
          signer_name: "王五",
          sha256: "x",
          signed_at: "",
          device_signed_at: null,
        },
      ],
    });
    expect(missingSignatures(INSPECTION, signed)).toEqual(["party"]);
  });

  it("suggests the signer's name from the document", () => {
    const user = { name: "王五", role: "officer" };
    const fields = { party: { name: "某某食品有限公司" }, recipient: "张三" };
    expect(defaultSignerName("officer", fields, user)).toBe("王五");
    expect(defaultSignerName("party", fields, user)).toBe("某某食品有限公司");
    expect(defaultSignerName("party", { interviewee: { name: "李四" } }, user)).toBe("李四");
    expect(defaultSignerName("recipient", fields, user)).toBe("张三");
    expect(defaultSignerName("leader", fields, user)).toBe("");
  });

  it("offers the current stage's documents first", () => {
    const [here, others] = typesForStage(TYPES, "investigation");
    expect(here.map((t) => t.code)).toEqual(["onsite_inspection_record"]);
    expect(others.map((t) => t.code)).toEqual(["evidence_preservation_notice", "prior_notice"]);
  });

  it("offers a document where the case needs it to move on, not only under its own stage", () => {
    const notice = TYPES.find((t) => t.code === "prior_notice")!;
    const types = TYPES.map((t) => (t === notice ? { ...t, needed_to_leave: ["review"] } : t));
    const [here] = typesForStage(types, "review");
    expect(here.map((t) => t.code)).toContain("prior_notice");
    const [atInvestigation] = typesForStage(types, "investigation");
    expect(atInvestigation.map((t) => t.code)).not.toContain("prior_notice");
  });
});
