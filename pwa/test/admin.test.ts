import { afterEach, describe, expect, it } from "vitest";
import { ApiError } from "../src/api";
import type { Hit } from "../src/admin-api";
import {
  CONTENT_FIELDS,
  canTakeDown,
  hitSentence,
  hitsOf,
  isEditable,
  publicUnitUrl,
  unitCode,
} from "../src/admin";
import { addRow, buildForm, checkRequired, collect, setValue } from "../src/documents";
import { setLang } from "../src/i18n";

const PHONE_HIT: Hit = {
  kind: "phone",
  field: "body",
  start: 40,
  end: 53,
  line: 2,
  column: 18,
  excerpt: "138****5678",
  message: "正文第2行第18字起疑似电话号码：138****5678",
};

describe("where personal data was found", () => {
  afterEach(() => setLang("zh-CN"));

  it("names the field, the line and column, the kind and only the masked excerpt", () => {
    expect(hitSentence(PHONE_HIT)).toBe("正文第2行第18字起疑似电话号码：138****5678");
    expect(hitSentence({ ...PHONE_HIT, field: "party_display", kind: "id_number" })).toBe(
      "当事人第2行第18字起疑似身份证号码：138****5678",
    );
    setLang("en");
    expect(hitSentence(PHONE_HIT)).toBe(
      "Text, line 2, from character 18: possible phone number “138****5678”",
    );
  });

  it("reads the hits of a refused publication, and nothing else", () => {
    const refused = new ApiError("personal data found", 409, "personal_data_found", {
      hits: [PHONE_HIT],
    });
    expect(hitsOf(refused)).toEqual([PHONE_HIT]);
    expect(hitsOf(new ApiError("no", 409, "not_publishable"))).toBeNull();
    expect(hitsOf(new Error("x"))).toBeNull();
  });

  it("knows which decisions may be edited or taken down", () => {
    expect(["pending", "blocked"].map(isEditable)).toEqual([true, true]);
    expect(["published", "withheld", "taken_down"].some(isEditable)).toBe(false);
    expect(canTakeDown("published")).toBe(true);
    expect(canTakeDown("expired")).toBe(false);
  });
});

describe("the public content forms", () => {
  it("adds a row to the 权责清单 and sends the list as the API expects", () => {
    const saved = {
      items: [
        {
          item: "对无照经营的处罚",
          legal_basis: "《无证无照经营查处办法》第十三条",
          category: "行政处罚",
        },
      ],
    };
    const form = buildForm(CONTENT_FIELDS.power_list, saved, null);
    addRow(form, "items");
    setValue(form, "items.1.item", "对销售过期食品的处罚");
    setValue(form, "items.1.legal_basis", "《食品安全法》第一百二十四条");
    expect(checkRequired(form)).toEqual({ "items.1.category": ["此项必填"] });
    setValue(form, "items.1.category", "行政处罚");
    expect(checkRequired(form)).toEqual({});
    expect(collect(form)).toEqual({
      items: [
        saved.items[0],
        {
          item: "对销售过期食品的处罚",
          legal_basis: "《食品安全法》第一百二十四条",
          category: "行政处罚",
        },
      ],
    });
  });

  it("leaves blank optional numbers and lists to the server's defaults", () => {
    const form = buildForm(CONTENT_FIELDS.remedies, {}, null);
    setValue(form, "reconsideration_body", "浦东新区人民政府");
    setValue(form, "court", "上海市浦东新区人民法院");
    expect(collect(form)).toEqual({
      reconsideration_body: "浦东新区人民政府",
      court: "上海市浦东新区人民法院",
    });
    setValue(form, "reconsideration_days", "60");
    expect(collect(form).reconsideration_days).toBe(60);
  });

  it("links to the unit's public pages", () => {
    expect(unitCode({ unit: { id: 1, code: "PD", name: "x" } as unknown as string })).toBe("PD");
    expect(unitCode({ unit: "U1" })).toBe("U1");
    expect(unitCode({ unit: null })).toBeNull();
    expect(publicUnitUrl("PD", "power_list")).toBe("/public/units/PD/powers");
    expect(publicUnitUrl("PD")).toBe("/public/units/PD/");
  });
});
