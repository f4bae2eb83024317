import { afterEach, describe, expect, it } from "vitest";
import { DICTIONARY, setLang, t } from "../src/i18n";

describe("i18n", () => {
  afterEach(() => setLang("zh-CN"));

  it("has every key in both languages, none empty", () => {
    const zh = Object.keys(DICTIONARY["zh-CN"]).sort();
    expect(Object.keys(DICTIONARY.en).sort()).toEqual(zh);
    for (const lang of ["zh-CN", "en"] as const) {
      for (const [key, text] of Object.entries(DICTIONARY[lang])) {
        expect(text.trim(), `${lang}.${key}`).not.toBe("");
      }
    }
  });

  it("defaults to Chinese and fills parameters", () => {
    expect(t("state_uploading", { percent: 40 })).toBe("上传中 40%");
    setLang("en");
    expect(t("state_uploading", { percent: 40 })).toBe("Uploading 40%");
  });
});
