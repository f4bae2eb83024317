import { afterEach, describe, expect, it } from "vitest";
import { ApiError } from "../src/api";
import {
  explain,
  flagText,
  fmtTime,
  gapMessage,
  humanizeCodes,
  inParens,
  joinList,
} from "../src/console-ui";
import { setLang } from "../src/i18n";

const TYPES = [
  { code: "filing_approval", title: { zh: "立案审批表", en: "Case filing approval form" } },
];

describe("console words", () => {
  afterEach(() => setLang("zh-CN"));

  it("says an object of another unit is not found, a missing endpoint is missing", () => {
    setLang("en");
    const gone = new ApiError("case 9 not found", 404, "case_not_found");
    expect(explain(gone, "Case timeline")).toBe(
      "Case timeline: not found. It does not exist or belongs to another unit.",
    );
    const route = new ApiError("The requested URL was not found", 404, "not_found");
    expect(explain(route, "Bookmarks")).toContain("does not offer this");
    setLang("zh-CN");
    expect(explain(gone, "案件时间线")).toBe("案件时间线：未找到，该对象不存在或不属于本单位。");
  });

  it("joins names and asides the way each language does", () => {
    expect(joinList(["李明", "王芳"])).toBe("李明、王芳");
    expect(inParens("备注")).toBe("（备注）");
    setLang("en");
    expect(joinList(["Li", "Wang"])).toBe("Li, Wang");
    expect(inParens("note")).toBe(" (note)");
  });

  it("names media flags by the server's label, never by code; English detail only in English", () => {
    const late = {
      code: "late_upload",
      message: "uploaded 30.0 h after capture",
      label: { zh: "拍摄后很久才上传", en: "Uploaded long after capture" },
    };
    const bomb = {
      code: "decompression_bomb",
      message: "Image size (90000000 pixels) exceeds limit",
      label: { zh: "照片像素数超出上限", en: "The photo has too many pixels" },
    };
    const unlabelled = { code: "something_new", message: "a new check" };
    expect(flagText(late)).toEqual({ label: "拍摄后很久才上传", detail: "" });
    expect(flagText(bomb)).toEqual({ label: "照片像素数超出上限", detail: "" });
    expect(flagText(unlabelled)).toEqual({ label: "其他处理发现", detail: "" });
    setLang("en");
    expect(flagText(late)).toEqual({ label: "Uploaded long after capture", detail: late.message });
    expect(flagText(unlabelled)).toEqual({
      label: "Another processing finding",
      detail: "a new check",
    });
    const chinese = { ...late, message: "无法确定所属办案环节" };
    expect(flagText(chinese).detail).toBe("");
  });

  it("shows a finding's figures in the pipeline's Chinese sentence on a Chinese screen", () => {
    const early = {
      code: "video_stops_early",
      message: "the picture stops at 0.3 s; the sound goes on to 5 s",
      message_zh: "画面在 0.3 秒处中断，声音持续到 5 秒",
      label: { zh: "录像画面早于声音中断", en: "The picture stops before the sound does" },
    };
    expect(flagText(early)).toEqual({ label: "录像画面早于声音中断", detail: early.message_zh });
    setLang("en");
    expect(flagText(early)).toEqual({
      label: "The picture stops before the sound does",
      detail: early.message,
    });
  });

  it("says recording gaps in English by their code", () => {
    const gap = {
      code: "major_property_no_video",
      message: "涉及重大财产权益的案件，立案环节的现场执法须全程视频记录",
    };
    expect(gapMessage(gap)).toBe(gap.message);
    setLang("en");
    expect(gapMessage(gap)).toMatch(/^a major-property case needs continuous video/);
    expect(gapMessage({ ...gap, message_en: "from the server" })).toBe("from the server");
    expect(gapMessage({ code: "unknown", message: "x" })).toBe("x");
  });

  it("turns codes in the server's English sentences into names", () => {
    setLang("en");
    expect(humanizeCodes("issue: filing_approval", TYPES)).toBe("Issue: Case filing approval form");
    expect(humanizeCodes("onsite_inspection in filing must be filmed or audio-recorded")).toBe(
      "On-site inspection in Filing must be filmed or audio-recorded",
    );
    expect(humanizeCodes("keeps some_unknown_code")).toBe("Keeps some_unknown_code");
    setLang("zh-CN");
    expect(humanizeCodes("须出具《立案审批表》", TYPES)).toBe("须出具《立案审批表》");
  });

  it("writes Beijing time, unambiguously in English", () => {
    setLang("en");
    expect(fmtTime("2026-11-27T08:46:13Z")).toBe("2026-11-27 16:46:13");
    expect(fmtTime(null)).toBe("—");
    setLang("zh-CN"); // the same form beside fmtDate's 2026-12-22, and 00 for midnight
    expect(fmtTime("2026-11-27T08:46:13Z")).toBe("2026-11-27 16:46:13");
    expect(fmtTime("2026-11-27T16:05:00Z")).toBe("2026-11-28 00:05:00");
  });
});
