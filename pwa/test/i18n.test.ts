import { afterEach, describe, expect, it } from "vitest";
import { DICTIONARY, setLang, t, type Key } from "../src/i18n";

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

  it("has no Chinese in English except where meant (the switch back to 中文)", () => {
    // Keys whose English text is allowed CJK characters, and why.
    const allowed: Record<string, string> = {
      language: "the language switch names the other language in its own script",
    };
    const cjk = /[\u2e80-\u9fff\u3000-\u303f\uf900-\ufaff\uff00-\uffef]/;
    const offending = Object.entries(DICTIONARY.en)
      .filter(([key, text]) => cjk.test(text) && !(key in allowed))
      .map(([key, text]) => `${key}: ${text}`);
    expect(offending).toEqual([]);
    for (const key of Object.keys(allowed)) expect(DICTIONARY.en).toHaveProperty(key);
  });

  it("keeps the same {placeholders} in both languages", () => {
    const names = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    const differ = Object.entries(DICTIONARY["zh-CN"])
      .filter(([key, zh]) => names(zh).join() !== names(DICTIONARY.en[key as Key]).join())
      .map(([key]) => key);
    expect(differ).toEqual([]);
  });

  it("defaults to Chinese and fills parameters", () => {
    expect(t("state_uploading", { percent: 40 })).toBe("上传中 40%");
    setLang("en");
    expect(t("state_uploading", { percent: 40 })).toBe("Uploading 40%");
  });
});
