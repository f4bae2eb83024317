import { afterEach, describe, expect, it } from "vitest";
import { DICTIONARY, setLang } from "../src/i18n";
import { serverText, uploadErrorText } from "../src/words";

/** Latin a Chinese UI string may hold: names of formats and standards people know by them. */
const ALLOWED_LATIN = new Set([
  "PDF", "QR", "GPS", "SHA", "ID", "CSV", "HTTPS", "Wi", "Fi", "UTC", "JPEG", "PNG", "MP4",
  "English", "m", "MB", "KB", "GB", "px",
]); // prettier-ignore

/** zh keys whose value is meant to be in another script, and why. */
const LATIN_ALLOWED_KEYS: Record<string, string> = {
  language: "the language switch names the other language (English) in its own script",
  setup_unit_code_hint: "an example of the unit code the admin types (letters, digits, hyphens)",
};

function latinWords(text: string): string[] {
  const withoutPlaceholders = text.replace(/\{\w+\}/g, "");
  return (withoutPlaceholders.match(/[A-Za-z][A-Za-z_]*/g) ?? []).filter(
    (w) => !ALLOWED_LATIN.has(w),
  );
}

describe("the dictionaries", () => {
  it("say no English (and no codes) in Chinese", () => {
    const offending = Object.entries(DICTIONARY["zh-CN"])
      .filter(([key, text]) => !(key in LATIN_ALLOWED_KEYS) && latinWords(text).length > 0)
      .map(([key, text]) => `${key}: ${text}`);
    expect(offending).toEqual([]);
  });

  it("have every key in both languages", () => {
    const zh = Object.keys(DICTIONARY["zh-CN"]).sort();
    expect(Object.keys(DICTIONARY.en).sort()).toEqual(zh);
  });
});

describe("serverText", () => {
  afterEach(() => setLang("zh-CN"));

  it("says login refusals by code, with the wait", () => {
    expect(serverText("wrong username or password", 401, "invalid_credentials")).toBe(
      "账号或密码错误。",
    );
    expect(
      serverText("too many failed logins; try again in 4 s", 429, "login_throttled", {
        retry_after_s: 4,
      }),
    ).toBe("登录失败次数过多，请 4 秒后再试。");
    setLang("en");
    expect(serverText("x", 429, "login_throttled", { retry_after_s: 4 })).toBe(
      "Too many failed sign-ins. Try again in 4 s.",
    );
  });

  it("keeps the wanted half of a bilingual message and never shows English on a Chinese screen", () => {
    const both = "案件已归档 / the case is archived";
    expect(serverText(both, 409, "something_else")).toBe("案件已归档");
    expect(serverText("box header cut off at byte 7", 422, "odd_code")).toBe(
      "服务器未能完成此操作（422），请稍后重试或联系管理员。",
    );
    setLang("en");
    expect(serverText(both, 409, "something_else")).toBe("the case is archived");
    expect(serverText("box header cut off at byte 7", 422, "odd_code")).toBe(
      "box header cut off at byte 7",
    );
  });

  it("says an upload refusal by its code in the language of the moment", () => {
    const entry = {
      error: "the case has not reached stage review",
      errorCode: "stage_not_reached",
    };
    expect(uploadErrorText(entry)).toContain("案件尚未进入所选阶段");
    expect(uploadErrorText({ error: "some english", errorCode: "upload_refused" })).toBe(
      "服务器拒绝接收此文件，请联系监督人员。",
    );
    setLang("en");
    expect(uploadErrorText(entry)).toContain("has not reached the chosen stage");
  });
});
