import { afterEach, describe, expect, it } from "vitest";
import { ApiError } from "../src/api";
import {
  addYears,
  adminError,
  sampleNumber,
  shanghaiToday,
  splitCategories,
} from "../src/admin-people";
import { setLang } from "../src/i18n";

afterEach(() => setLang("zh-CN"));

describe("credential periods", () => {
  it("takes today's date in Asia/Shanghai, not the machine's zone", () => {
    // 2026-12-31 17:00 UTC is already 1 January in Shanghai
    expect(shanghaiToday(new Date("2026-12-31T17:00:00Z"))).toBe("2027-01-01");
    expect(shanghaiToday(new Date("2026-12-31T15:59:59Z"))).toBe("2026-12-31");
  });

  it("adds whole years, 29 February becoming 28 February", () => {
    expect(addYears("2026-12-08", 3)).toBe("2029-12-08");
    expect(addYears("2028-02-29", 1)).toBe("2029-02-28");
    expect(addYears("2028-02-29", 4)).toBe("2032-02-29");
  });
});

describe("the unit's document numbers and categories", () => {
  it("shows what a number will look like", () => {
    expect(sampleNumber("沪静市监", 2026)).toBe("沪静市监罚〔2026〕1号");
  });

  it("splits categories on Chinese and Latin separators", () => {
    expect(splitCategories("市场监管，食品安全、药品; 特种设备 ")).toEqual([
      "市场监管",
      "食品安全",
      "药品",
      "特种设备",
    ]);
    expect(splitCategories(" ，、 ")).toEqual([]);
  });
});

describe("refusals in the screen's language", () => {
  it("says known codes in our words, in either language", () => {
    const taken = new ApiError("user 'li' already exists", 409, "user_exists");
    expect(adminError(taken, "创建账号")).toBe("创建账号：该账号已存在，请换一个账号。");
    setLang("en");
    expect(adminError(taken, "Create")).toBe("Create: this username is taken; choose another.");
  });

  it("takes the Chinese or English half of a bilingual message", () => {
    const last = new ApiError(
      "这是本单位最后一个在用的管理员，请先设置另一名管理员 / this is the unit's last active admin",
      409,
      "last_admin",
    );
    expect(adminError(last, "停用账号")).toContain("最后一个在用的管理员");
    expect(adminError(last, "停用账号")).not.toContain("admin");
  });
});
