/**
 * 工作日历: the national holiday notices loaded (next year's is imported here once the State
 * Council publishes it), and the unit's own days off and make-up working days, which move only
 * this unit's deadlines (server/services/calendar.py). The reminder banner tells admins and
 * legal reviewers from 1 November that next year's notice is missing.
 */
import { request } from "./api";
import { errorBox, explain, fmtTime } from "./console-ui";
import { h } from "./dom";
import { getLang, t } from "./i18n";

export interface Words {
  zh: string;
  en: string;
}

export interface CalendarYearInfo {
  year: number;
  source: string;
  origin: "shipped" | "imported";
  imported_at: string | null;
}

export interface UnitDay {
  day: string;
  is_workday: boolean;
  note: string;
}

export interface CalendarState {
  items: UnitDay[];
  today: string;
  years: CalendarYearInfo[];
  missing_years: number[];
  remind: boolean;
  message: Words | null;
}

export interface Holiday {
  name: string;
  rest: string[];
  work: string[];
}

export interface Notice {
  year: number;
  source: string;
  holidays: Holiday[];
}

export const getCalendar = () => request<CalendarState>("GET", "/calendar");
export const importNotice = (notice: unknown) =>
  request<Notice>("POST", "/calendar/national", notice);
export const setUnitDays = (items: UnitDay[]) =>
  request<{ items: UnitDay[] }>("PUT", "/calendar", { items });

function words(w: Words): string {
  return getLang() === "en" ? w.en : w.zh;
}

/** The reminder to load next year's notice, or nothing. */
export async function calendarReminder(): Promise<HTMLElement | string> {
  try {
    const state = await getCalendar();
    return state.remind && state.message ? reminderBox(state.message) : "";
  } catch {
    return ""; // the calendar page itself says what failed
  }
}

function reminderBox(message: Words): HTMLElement {
  return h(
    "div",
    { class: "admin-warning", role: "alert", "data-testid": "calendar-reminder" },
    h("p", {}, words(message)),
  );
}

/** Read a notice the admin pasted or picked, enough to preview it; the server checks it. */
export function readNotice(text: string): Notice | null {
  try {
    const doc = JSON.parse(text) as Notice;
    if (typeof doc?.year !== "number" || !Array.isArray(doc.holidays)) return null;
    return doc;
  } catch {
    return null;
  }
}

function noticeTable(notice: Notice): HTMLElement {
  const span = (days: string[]) =>
    days.length === 0
      ? "—"
      : days.length === 1
        ? days[0]
        : t("cal_span", { first: days[0], last: days[days.length - 1], n: days.length });
  return h(
    "table",
    { class: "grid", "data-testid": "notice-preview" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", {}, t("cal_holiday")),
        h("th", {}, t("cal_rest")),
        h("th", {}, t("cal_work")),
      ),
    ),
    h(
      "tbody",
      {},
      notice.holidays.map((holiday) =>
        h(
          "tr",
          {},
          h("td", {}, holiday.name),
          h("td", {}, span(holiday.rest ?? [])),
          h("td", {}, (holiday.work ?? []).join(t("list_sep")) || "—"),
        ),
      ),
    ),
  );
}

function importForm(reload: () => void): HTMLElement {
  const text = h("textarea", {
    rows: "6",
    "data-testid": "notice-json",
    placeholder: t("cal_paste_hint"),
  }) as HTMLTextAreaElement;
  // The browser's own file button speaks the browser's language: hidden behind ours.
  const file = h("input", {
    type: "file",
    accept: ".json,application/json",
    class: "visually-hidden",
    "data-testid": "notice-file",
  }) as HTMLInputElement;
  const chosen = h(
    "span",
    { class: "hint", "data-testid": "notice-file-name" },
    t("no_file_chosen"),
  );
  const preview = h("div", { "data-testid": "notice-preview-slot" });
  const message = h("div", { "aria-live": "polite" });
  const confirm = h(
    "button",
    { class: "btn primary", type: "button", disabled: true, "data-testid": "notice-import" },
    t("cal_import"),
  ) as HTMLButtonElement;
  let notice: Notice | null = null;
  const show = () => {
    notice = readNotice(text.value);
    confirm.disabled = notice === null;
    message.replaceChildren(
      text.value.trim() && !notice ? errorBox(t("cal_not_json"), "notice-error") : "",
    );
    preview.replaceChildren(
      notice
        ? h(
            "div",
            {},
            h("p", {}, t("cal_preview", { year: notice.year, source: notice.source ?? "" })),
            noticeTable(notice),
          )
        : "",
    );
  };
  text.addEventListener("input", show);
  file.addEventListener("change", () => {
    const picked = file.files?.[0];
    chosen.textContent = picked ? picked.name : t("no_file_chosen");
    if (picked) void picked.text().then((content) => ((text.value = content), show()));
  });
  confirm.addEventListener("click", () => {
    if (!notice) return;
    confirm.disabled = true;
    importNotice(notice).then(
      (saved) => {
        message.replaceChildren(
          h(
            "p",
            { class: "good", "data-testid": "notice-imported" },
            t("cal_imported", { year: saved.year }),
          ),
        );
        setTimeout(reload, 600);
      },
      (err) => {
        confirm.disabled = false;
        message.replaceChildren(errorBox(explain(err, t("cal_import")), "notice-error"));
      },
    );
  });
  return h(
    "section",
    { class: "stack admin-form", "data-testid": "notice-form" },
    h("h3", {}, t("cal_import_title")),
    h("p", { class: "hint" }, t("cal_import_hint")),
    h(
      "div",
      { class: "field file-field" },
      h(
        "label",
        { class: "btn small file-pick", "data-testid": "notice-pick" },
        t("cal_file"),
        file,
      ),
      chosen,
    ),
    h("label", { class: "field" }, t("cal_paste"), text),
    preview,
    message,
    h("div", { class: "row" }, confirm),
  );
}

function unitDaysSection(state: CalendarState, reload: () => void): HTMLElement {
  const day = h("input", {
    type: "date",
    required: true,
    "data-testid": "unit-day",
  }) as HTMLInputElement;
  const kind = h(
    "select",
    { "data-testid": "unit-day-kind" },
    h("option", { value: "rest" }, t("cal_day_rest")),
    h("option", { value: "work" }, t("cal_day_work")),
  ) as HTMLSelectElement;
  const note = h("input", {
    maxlength: "100",
    "data-testid": "unit-day-note",
    placeholder: t("cal_note_hint"),
  }) as HTMLInputElement;
  const message = h("div", { "aria-live": "polite" });
  const save = h(
    "button",
    { class: "btn primary", type: "submit", "data-testid": "unit-day-save" },
    t("save"),
  ) as HTMLButtonElement;
  const form = h(
    "form",
    { class: "stack admin-form", "data-testid": "unit-day-form" },
    h("label", { class: "field" }, t("cal_date"), day),
    h("label", { class: "field" }, t("cal_kind"), kind),
    h("label", { class: "field" }, t("cal_note"), note),
    save,
    message,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!day.value) return;
    save.disabled = true;
    setUnitDays([
      { day: day.value, is_workday: kind.value === "work", note: note.value.trim() },
    ]).then(
      () => reload(),
      (err) => {
        save.disabled = false;
        message.replaceChildren(errorBox(explain(err, t("cal_unit_days"))));
      },
    );
  });
  return h(
    "section",
    { class: "stack admin-form", "data-testid": "unit-days" },
    h("h3", {}, t("cal_unit_days")),
    h("p", { class: "hint" }, t("cal_unit_days_hint")),
    state.items.length
      ? h(
          "table",
          { class: "grid", "data-testid": "unit-day-list" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", {}, t("cal_date")),
              h("th", {}, t("cal_kind")),
              h("th", {}, t("cal_note")),
            ),
          ),
          h(
            "tbody",
            {},
            state.items.map((d) =>
              h(
                "tr",
                {},
                h("td", {}, d.day),
                h("td", {}, d.is_workday ? t("cal_day_work") : t("cal_day_rest")),
                h("td", {}, d.note || "—"),
              ),
            ),
          ),
        )
      : h("p", { class: "hint", "data-testid": "no-unit-days" }, t("cal_no_unit_days")),
    form,
  );
}

function yearsSection(state: CalendarState): HTMLElement {
  // The recent years and any imported one; older shipped years stay loaded but unlisted.
  const floor = Number(state.today.slice(0, 4)) - 1;
  const shown = state.years.filter((y) => y.year >= floor || y.origin === "imported").reverse();
  return h(
    "section",
    { class: "stack admin-form", "data-testid": "national-years" },
    h("h3", {}, t("cal_national")),
    h(
      "ul",
      { class: "stack" },
      shown.map((y) =>
        h(
          "li",
          { "data-testid": `year-${y.year}` },
          h("strong", {}, t("cal_year", { year: y.year })),
          " ",
          y.source,
          " · ",
          y.origin === "imported"
            ? t("cal_imported_at", { at: fmtTime(y.imported_at) })
            : t("cal_shipped"),
        ),
      ),
      state.missing_years.map((year) =>
        h(
          "li",
          { class: "error", "data-testid": `year-missing-${year}` },
          h("strong", {}, t("cal_year", { year })),
          " ",
          t("cal_missing"),
        ),
      ),
    ),
  );
}

export async function calendarPage(el: HTMLElement, current: () => boolean): Promise<void> {
  const title = () => h("h2", { "data-testid": "calendar-head" }, t("work_calendar"));
  el.replaceChildren(title(), h("p", { class: "hint" }, t("loading")));
  const reload = () => void calendarPage(el, current);
  try {
    const state = await getCalendar();
    if (!current()) return;
    el.replaceChildren(
      title(),
      state.remind && state.message ? reminderBox(state.message) : "",
      yearsSection(state),
      importForm(reload),
      unitDaysSection(state, reload),
    );
  } catch (err) {
    if (current()) el.replaceChildren(title(), errorBox(explain(err, t("work_calendar"))));
  }
}
