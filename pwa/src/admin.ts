/**
 * The admin's screens (管理员: accounts and configuration, no evidence): 行政执法公示 content
 * as simple forms with version history, the queue of decisions to publish (blocked ones show
 * where personal data was found, an editor to fix the text, publish, take down with a public
 * notice), and the yearly report (draft, freeze, publish).
 *
 * Routes live in the location hash (#/admin, #/admin/content/<kind>, #/admin/decisions,
 * #/admin/decision/<id>, #/admin/reports, #/admin/reports/<year>). The content forms reuse the
 * document form model of documents.ts (`buildForm`/`renderForm`/`collect`): a kind is described
 * as a list of fields, lists of rows get 添加/删除 buttons, a 422 lands next to its input.
 */
import type { DocField, User } from "./api";
import { ApiError } from "./api";
import * as aapi from "./admin-api";
import type { AnnualReport, ContentKind, Hit, PublicContent, PublishedDecision } from "./admin-api";
import { errorBox, explain, fmtDate, fmtTime, inParens, label } from "./console-ui";
import { localMessage } from "./completeness";
import {
  buildForm,
  checkRequired,
  collect,
  flattenErrors,
  renderForm,
  renderSummary,
} from "./documents";
import { shanghaiDate } from "./device-key";
import { h } from "./dom";
import { getLang, t, type Key } from "./i18n";
import { devicesPage, peoplePage, personPage, unitPage, unitWarning } from "./admin-people";
import { calendarPage, calendarReminder } from "./admin-calendar";

// --- pure: the content forms, public addresses, hits ----------------------------------------------

const L = (zh: string, en: string) => ({ zh, en });
const text = (name: string, zh: string, en: string, required = true): DocField => ({
  name,
  label: L(zh, en),
  type: "string",
  required,
});
const long = (name: string, zh: string, en: string, required = true): DocField => ({
  name,
  label: L(zh, en),
  type: "text",
  required,
});
const rows = (
  name: string,
  zh: string,
  en: string,
  fields: DocField[],
  required = true,
): DocField => ({
  name,
  label: L(zh, en),
  type: "list",
  required,
  min_items: required ? 1 : 0,
  fields,
});

/** Each kind's form: the fields of server/disclosure/service.py's schemas. */
export const CONTENT_FIELDS: Record<ContentKind, DocField[]> = {
  unit_info: [
    text("name", "单位名称", "Name of the unit"),
    text("address", "办公地址", "Address"),
    long("duties", "主要职责", "Duties"),
    {
      name: "complaint_contact",
      label: L("投诉举报方式", "Complaints"),
      type: "object",
      required: true,
      fields: [
        text("phone", "投诉电话", "Phone", false),
        text("address", "来信来访地址", "Address", false),
        text("online", "网上投诉", "Online", false),
      ],
    },
  ],
  power_list: [
    rows("items", "权责事项", "Powers", [
      text("item", "事项名称", "Power"),
      long("legal_basis", "法律依据", "Legal basis"),
      text("category", "类别", "Category"),
    ]),
  ],
  random_inspection_list: [
    rows("items", "抽查事项", "Inspection items", [
      text("item", "抽查事项", "Item"),
      long("basis", "抽查依据", "Basis"),
      text("object", "抽查对象", "Inspected"),
      text("method", "抽查方式", "Method"),
      text("frequency", "抽查比例和频次", "Frequency"),
    ]),
  ],
  procedures: [
    rows("steps", "一般程序步骤", "General procedure steps", [
      text("name", "步骤", "Step"),
      long("description", "说明", "Description", false),
    ]),
    rows(
      "simple_steps",
      "简易程序步骤",
      "Simple procedure steps",
      [text("name", "步骤", "Step"), long("description", "说明", "Description", false)],
      false,
    ),
  ],
  remedies: [
    text("reconsideration_body", "行政复议机关", "Reconsideration body"),
    {
      name: "reconsideration_days",
      label: L("申请行政复议期限（日）", "Days to apply for reconsideration"),
      type: "integer",
      required: false,
      min: 1,
    },
    text("court", "管辖人民法院", "Court"),
    {
      name: "litigation_months",
      label: L("提起行政诉讼期限（月）", "Months to sue"),
      type: "integer",
      required: false,
      min: 1,
    },
    rows(
      "complaint_channels",
      "投诉渠道",
      "Complaint channels",
      [text("name", "渠道", "Channel"), text("contact", "联系方式", "Contact")],
      false,
    ),
  ],
};

/** The public page of each kind under /public/units/<code>. */
const PUBLIC_PAGES: Record<ContentKind, string> = {
  unit_info: "/",
  power_list: "/powers",
  random_inspection_list: "/random-inspections",
  procedures: "/procedures",
  remedies: "/remedies",
};

export function publicUnitUrl(code: string, kind?: ContentKind): string {
  const base = `/public/units/${encodeURIComponent(code)}`;
  return kind ? `${base}${PUBLIC_PAGES[kind]}` : `${base}/`;
}

/** The unit's code from the signed-in user (`unit` is `{id, code, name}`; older sessions a code). */
export function unitCode(user: Pick<User, "unit"> | null): string | null {
  const unit = user?.unit as unknown;
  if (typeof unit === "string") return unit || null;
  if (unit && typeof unit === "object" && typeof (unit as { code?: unknown }).code === "string") {
    return (unit as { code: string }).code;
  }
  return null;
}

const FIELD_KEYS: Record<string, Key> = {
  number: "pd_field_number",
  title: "pd_field_title",
  party_display: "pd_field_party",
  penalty_summary: "pd_field_penalty",
  body: "pd_field_body",
};

/** Fields the admin may fix in place (PUT /disclosure/decisions/<id>). */
export const EDITABLE_FIELDS = ["title", "party_display", "body"] as const;

export function fieldName(field: string): string {
  return FIELD_KEYS[field] ? t(FIELD_KEYS[field]) : field;
}

/** "正文第2行第9字起疑似电话号码：138****5678" — where, what kind, and only the masked excerpt. */
export function hitSentence(hit: Hit): string {
  return t("hit_sentence", {
    field: fieldName(hit.field),
    line: hit.line,
    column: hit.column,
    kind: label("pii", hit.kind),
    excerpt: hit.excerpt,
  });
}

/** The hits of a 409 `personal_data_found`, or null for any other error. */
export function hitsOf(err: unknown): Hit[] | null {
  if (!(err instanceof ApiError) || err.code !== "personal_data_found") return null;
  const hits = err.details.hits;
  return Array.isArray(hits) ? (hits as Hit[]) : [];
}

export function isEditable(status: string): boolean {
  return status === "pending" || status === "blocked";
}

export function canTakeDown(status: string): boolean {
  return status === "published" || status === "pending" || status === "blocked";
}

// --- the view --------------------------------------------------------------------------------------

let container: HTMLElement | null = null;
let admin: User | null = null;
let routeSeq = 0;
/** The admin's unit as last read: its missing name or prefix is warned about on every page. */
let adminUnit: aapi.Unit | null = null;

export function adminElement(): HTMLElement {
  if (!container) container = h("div", { class: "console admin", "data-testid": "admin" });
  return container;
}

export function startAdmin(user: User): void {
  admin = user;
  adminUnit = null;
  void aapi
    .unit()
    .then((unit) => {
      adminUnit = unit;
      if (admin === user) showUnitWarning();
    })
    .catch(() => undefined); // the pages say what failed
  window.removeEventListener("hashchange", routeAdmin);
  window.addEventListener("hashchange", routeAdmin);
  if (!location.hash.startsWith("#/admin")) history.replaceState(null, "", "#/admin");
  routeAdmin();
}

export function stopAdmin(): void {
  window.removeEventListener("hashchange", routeAdmin);
  container?.replaceChildren();
  admin = null;
  if (location.hash.startsWith("#/admin")) history.replaceState(null, "", location.pathname);
}

export function routeAdmin(): void {
  const el = adminElement();
  const seq = ++routeSeq;
  const current = () => seq === routeSeq;
  const hash = location.hash.replace(/^#/, "");
  const page = h("div", { class: "console-page" });
  el.replaceChildren(adminNav(hash), h("div", { "data-testid": "unit-warning-slot" }), page);
  showUnitWarning();
  let m: RegExpExecArray | null;
  if (hash === "/admin/unit") {
    void unitPage(page, current, (unit) => {
      adminUnit = unit;
      showUnitWarning();
    });
  } else if (hash === "/admin/people") {
    void peoplePage(page, current);
  } else if ((m = /^\/admin\/people\/(\d+)$/.exec(hash))) {
    void personPage(page, Number(m[1]), current, admin?.id ?? null);
  } else if (hash === "/admin/devices") {
    void devicesPage(page, current);
  } else if (hash === "/admin/calendar") {
    void calendarPage(page, current);
  } else if (
    (m = /^\/admin\/content\/(\w+)$/.exec(hash)) &&
    aapi.CONTENT_KINDS.includes(m[1] as ContentKind)
  ) {
    void contentPage(page, m[1] as ContentKind, current);
  } else if (hash.startsWith("/admin/decisions")) {
    const status = new URLSearchParams(hash.split("?")[1] ?? "").get("status") ?? "";
    void decisionsPage(page, status, current);
  } else if ((m = /^\/admin\/decision\/(\d+)$/.exec(hash))) {
    void decisionPage(page, Number(m[1]), current);
  } else if ((m = /^\/admin\/reports\/(\d{4})$/.exec(hash))) {
    void reportPage(page, Number(m[1]), current);
  } else if (hash === "/admin/reports") {
    void reportsPage(page, current);
  } else {
    void overviewPage(page, current);
  }
}

function adminNav(hash: string): HTMLElement {
  const code = unitCode(admin);
  const link = (name: string, target: string, text: string, active: boolean) =>
    h(
      "a",
      {
        href: target,
        class: `btn small ${active ? "primary" : "ghost"}`,
        "data-testid": `admin-nav-${name}`,
        "aria-current": active ? "page" : null,
        onclick: (event: Event) => {
          if (location.hash === target) {
            event.preventDefault();
            routeAdmin();
          }
        },
      },
      text,
    );
  return h(
    "nav",
    { class: "console-nav row", "data-testid": "admin-nav" },
    link("overview", "#/admin", t("admin_overview"), hash === "/admin" || hash === ""),
    link("unit", "#/admin/unit", t("unit_settings"), hash === "/admin/unit"),
    link("people", "#/admin/people", t("people"), hash.startsWith("/admin/people")),
    link("devices", "#/admin/devices", t("devices"), hash === "/admin/devices"),
    link("calendar", "#/admin/calendar", t("work_calendar"), hash === "/admin/calendar"),
    link("decisions", "#/admin/decisions", t("pd_queue"), hash.startsWith("/admin/decision")),
    link("reports", "#/admin/reports", t("annual_reports"), hash.startsWith("/admin/reports")),
    code
      ? h(
          "a",
          {
            href: publicUnitUrl(code),
            target: "_blank",
            rel: "noopener",
            class: "btn small ghost",
            "data-testid": "admin-public-link",
          },
          `${t("public_site")} ↗`,
        )
      : "",
  );
}

/** The unit's missing name or prefix, above every admin page except the unit form itself
 * (which shows it next to the fields). */
function showUnitWarning(): void {
  const slot = container?.querySelector('[data-testid="unit-warning-slot"]');
  if (!slot) return;
  slot.replaceChildren(location.hash === "#/admin/unit" ? "" : unitWarning(adminUnit));
}

function kindLabel(kind: string): string {
  return label("content", kind);
}

async function overviewPage(el: HTMLElement, current: () => boolean): Promise<void> {
  const list = h("ul", { class: "admin-kinds", "data-testid": "admin-kinds" });
  const queue = h(
    "div",
    { "data-testid": "admin-decision-counts" },
    h("p", { class: "hint" }, t("loading")),
  );
  const reminder = h("div", { "data-testid": "calendar-reminder-slot" });
  void calendarReminder().then((box) => {
    if (!current()) return;
    reminder.replaceChildren(box);
    reminder.dataset.loaded = "1";
  });
  const trusted = h("div", { "data-testid": "trusted-time-slot" });
  void aapi
    .trustedTime()
    .then((status) => {
      if (!current()) return;
      trusted.replaceChildren(
        h(
          "p",
          {
            class: status.state === "on" ? "hint" : "admin-warning",
            "data-testid": "trusted-time",
            "data-state": status.state,
          },
          getLang() === "en" ? status.message.en : status.message.zh,
        ),
      );
    })
    .catch(() => undefined); // the overview stands without it
  el.replaceChildren(
    h("h2", {}, t("admin_title")),
    reminder,
    trusted,
    h("p", { class: "hint" }, t("admin_no_evidence")),
    h("h3", {}, t("public_content")),
    list,
    h("h3", {}, t("pd_queue")),
    queue,
  );
  const latest = await Promise.all(
    aapi.CONTENT_KINDS.map((k) => aapi.content(k).catch((e) => e as Error)),
  );
  if (!current()) return;
  list.replaceChildren(
    ...aapi.CONTENT_KINDS.map((kind, i) => {
      const row = latest[i];
      return h(
        "li",
        { "data-testid": "admin-kind", "data-kind": kind },
        h("a", { href: `#/admin/content/${kind}`, class: "btn small" }, kindLabel(kind)),
        " ",
        row instanceof Error
          ? errorBox(explain(row, kindLabel(kind)))
          : row
            ? h(
                "span",
                { class: "hint" },
                t("last_updated_version", { at: fmtTime(row.created_at), v: row.version }),
              )
            : h("span", { class: "bad" }, t("not_yet_public")),
      );
    }),
  );
  try {
    const all = await aapi.decisions();
    if (!current()) return;
    const counts = new Map<string, number>();
    for (const d of all) counts.set(d.status, (counts.get(d.status) ?? 0) + 1);
    queue.replaceChildren(
      h(
        "p",
        { class: "chips" },
        aapi.DECISION_STATUSES.map((s) =>
          h(
            "a",
            {
              href: `#/admin/decisions?status=${s}`,
              class: `chip pd-${s}`,
              "data-testid": `count-${s}`,
            },
            `${label("pd_status", s)} ${counts.get(s) ?? 0}`,
          ),
        ),
      ),
    );
  } catch (err) {
    if (current()) queue.replaceChildren(errorBox(explain(err, t("pd_queue"))));
  }
}

// --- public content ---------------------------------------------------------------------------

async function contentPage(
  el: HTMLElement,
  kind: ContentKind,
  current: () => boolean,
): Promise<void> {
  el.replaceChildren(h("h2", {}, kindLabel(kind)), h("p", { class: "hint" }, t("loading")));
  let latest: PublicContent | null;
  let versions: PublicContent[];
  try {
    [latest, versions] = await Promise.all([aapi.content(kind), aapi.contentVersions(kind)]);
  } catch (err) {
    if (current())
      el.replaceChildren(h("h2", {}, kindLabel(kind)), errorBox(explain(err, kindLabel(kind))));
    return;
  }
  if (!current()) return;
  const code = unitCode(admin);
  const fields = CONTENT_FIELDS[kind];
  const formSlot = h("div", {});
  const status = h("div", { role: "status", "data-testid": "content-status" });

  const showForm = (values: Record<string, unknown>) => {
    const root = buildForm(fields, values, null);
    const view = renderForm(root);
    const save = h(
      "button",
      { type: "submit", class: "btn primary", "data-testid": "content-save" },
      t("save_new_version"),
    );
    const form = h(
      "form",
      {
        class: "stack doc-form content-form",
        novalidate: true,
        "data-testid": "content-form",
        "data-kind": kind,
      },
      h("p", { class: "hint" }, t("required_hint")),
      view.element,
      save,
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const local = checkRequired(root);
      if (Object.keys(local).length) {
        view.showErrors(local);
        view.firstInvalid()?.scrollIntoView({ block: "center" });
        status.replaceChildren(errorBox(t("form_has_errors")));
        return;
      }
      save.disabled = true;
      status.replaceChildren();
      try {
        const saved = await aapi.saveContent(kind, collect(root));
        if (!current()) return;
        await contentPage(el, kind, current);
        el.querySelector('[data-testid="content-status"]')?.replaceChildren(
          h(
            "p",
            { class: "good", "data-testid": "content-saved", "data-version": saved.version },
            t("content_saved", { v: saved.version, at: fmtTime(saved.created_at) }),
          ),
        );
      } catch (err) {
        const fieldErrors = err instanceof ApiError ? err.details.fields : undefined;
        if (fieldErrors && typeof fieldErrors === "object") {
          view.showErrors(flattenErrors(fieldErrors));
          view.firstInvalid()?.scrollIntoView({ block: "center" });
          status.replaceChildren(errorBox(`${t("form_has_errors")}`));
        } else {
          status.replaceChildren(errorBox(explain(err, kindLabel(kind))));
        }
        save.disabled = false;
      }
    });
    formSlot.replaceChildren(form);
  };
  showForm(latest?.content ?? {});

  el.replaceChildren(
    h("h2", { "data-testid": "content-head", "data-kind": kind }, kindLabel(kind)),
    h(
      "p",
      { "data-testid": "content-updated" },
      latest
        ? t("last_updated_version", { at: fmtTime(latest.created_at), v: latest.version })
        : t("not_yet_public"),
      " ",
      code
        ? h(
            "a",
            {
              href: publicUnitUrl(code, kind),
              target: "_blank",
              rel: "noopener",
              "data-testid": "content-public-link",
            },
            `${t("view_public_page")} ↗`,
          )
        : "",
    ),
    status,
    formSlot,
    h("h3", {}, t("version_history")),
    versions.length
      ? h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { class: "grid", "data-testid": "content-versions" },
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                [t("version"), t("saved_at"), t("saved_by"), ""].map((x) => h("th", {}, x)),
              ),
            ),
            h(
              "tbody",
              {},
              versions.map((v) => {
                const detail = h(
                  "details",
                  {},
                  h("summary", {}, t("show_content")),
                  renderSummary(fields, v.content),
                );
                const reuse = h(
                  "button",
                  { type: "button", class: "btn small ghost", "data-testid": "content-reuse" },
                  t("use_as_draft"),
                );
                reuse.addEventListener("click", () => {
                  showForm(v.content);
                  status.replaceChildren(
                    h("p", { class: "hint" }, t("draft_from_version", { v: v.version })),
                  );
                  formSlot.scrollIntoView({ block: "start" });
                });
                return h(
                  "tr",
                  { "data-testid": "content-version", "data-version": v.version },
                  h("td", {}, t("version_n", { n: v.version })),
                  h("td", {}, fmtTime(v.created_at)),
                  h("td", {}, v.created_by ? `#${v.created_by}` : "—"),
                  h("td", {}, detail, v === versions[0] ? "" : reuse),
                );
              }),
            ),
          ),
        )
      : h("p", { class: "hint" }, t("no_versions")),
  );
}

// --- decisions -------------------------------------------------------------------------------------

function statusChip(status: string): HTMLElement {
  return h(
    "span",
    { class: `chip pd-${status}`, "data-testid": "pd-status", "data-status": status },
    label("pd_status", status),
  );
}

async function decisionsPage(
  el: HTMLElement,
  status: string,
  current: () => boolean,
): Promise<void> {
  const results = h("div", {}, h("p", { class: "hint" }, t("loading")));
  const filter = (value: string, text: string) =>
    h(
      "a",
      {
        href: value ? `#/admin/decisions?status=${value}` : "#/admin/decisions",
        class: `btn small ${status === value ? "primary" : "ghost"}`,
        "data-testid": `pd-filter-${value || "all"}`,
      },
      text,
    );
  el.replaceChildren(
    h("h2", {}, t("pd_queue")),
    h("p", { class: "hint" }, t("pd_queue_hint")),
    h(
      "div",
      { class: "row" },
      filter("", t("all")),
      aapi.DECISION_STATUSES.map((s) => filter(s, label("pd_status", s))),
    ),
    results,
  );
  try {
    const items = await aapi.decisions(status || undefined);
    if (!current()) return;
    results.replaceChildren(
      items.length
        ? h(
            "div",
            { class: "table-wrap" },
            h(
              "table",
              { class: "grid", "data-testid": "pd-list" },
              h(
                "thead",
                {},
                h(
                  "tr",
                  {},
                  [
                    t("pd_field_number"),
                    t("pd_field_title"),
                    t("pd_field_party"),
                    t("decided_on"),
                    t("publish_by"),
                    t("status"),
                  ].map((x) => h("th", {}, x)),
                ),
              ),
              h(
                "tbody",
                {},
                items.map((d) =>
                  h(
                    "tr",
                    {
                      class: "case-line",
                      "data-testid": "pd-row",
                      "data-decision-id": d.id,
                      "data-status": d.status,
                      onclick: () => (location.hash = `#/admin/decision/${d.id}`),
                    },
                    h("td", {}, h("a", { href: `#/admin/decision/${d.id}` }, d.number)),
                    h("td", {}, d.title),
                    h("td", {}, d.party_display),
                    h("td", {}, fmtDate(d.decided_at)),
                    h("td", {}, fmtDate(d.due_by)),
                    h(
                      "td",
                      {},
                      statusChip(d.status),
                      d.block_hits.length
                        ? h(
                            "ul",
                            { class: "hits compact" },
                            d.block_hits.map((hit) => h("li", {}, hitSentence(hit))),
                          )
                        : "",
                    ),
                  ),
                ),
              ),
            ),
          )
        : h("p", { class: "hint" }, t("no_results")),
    );
  } catch (err) {
    if (current()) results.replaceChildren(errorBox(explain(err, t("pd_queue"))));
  }
}

async function decisionPage(el: HTMLElement, id: number, current: () => boolean): Promise<void> {
  const back = h(
    "a",
    { class: "btn small ghost back", href: "#/admin/decisions", "data-testid": "admin-back" },
    `‹ ${t("pd_queue")}`,
  );
  el.replaceChildren(back, h("p", { class: "hint" }, t("loading")));
  let d: PublishedDecision;
  try {
    d = await aapi.decision(id);
  } catch (err) {
    if (current()) el.replaceChildren(back, errorBox(explain(err, t("pd_queue"))));
    return;
  }
  if (!current()) return;
  const reload = () => void decisionPage(el, id, current);
  const hitsBox = h("div", { "data-testid": "decision-hits-box" });
  const status = h("div", { role: "status", "data-testid": "decision-status" });
  const inputs: Partial<
    Record<(typeof EDITABLE_FIELDS)[number], HTMLInputElement | HTMLTextAreaElement>
  > = {};

  const showHits = (hits: Hit[]) => {
    if (!hits.length) {
      hitsBox.replaceChildren();
      return;
    }
    hitsBox.replaceChildren(
      h(
        "div",
        { class: "error-box", role: "alert", "data-testid": "decision-hits" },
        h("p", { class: "error" }, t("pii_found", { n: hits.length })),
        h(
          "ul",
          { class: "hits" },
          hits.map((hit) => {
            const target = inputs[hit.field as (typeof EDITABLE_FIELDS)[number]];
            const locate = target
              ? h(
                  "button",
                  { type: "button", class: "btn small ghost", "data-testid": "hit-locate" },
                  t("locate"),
                )
              : h("span", { class: "hint" }, ` ${t("not_editable_field")}`);
            if (target && locate instanceof HTMLButtonElement) {
              locate.addEventListener("click", () => {
                target.focus();
                const end = Math.min(hit.end, target.value.length);
                target.setSelectionRange(Math.min(hit.start, end), end);
              });
            }
            return h(
              "li",
              {
                "data-testid": "hit",
                "data-field": hit.field,
                "data-kind": hit.kind,
                "data-line": hit.line,
              },
              hitSentence(hit),
              " ",
              locate,
            );
          }),
        ),
      ),
    );
  };

  const editable = isEditable(d.status);
  let dirty = false;
  const editor = editable
    ? h("form", { class: "stack", "data-testid": "decision-editor", novalidate: true })
    : null;
  if (editor) {
    const field = (name: (typeof EDITABLE_FIELDS)[number], big = false) => {
      const input = big
        ? h("textarea", { rows: 10, name, "data-testid": `edit-${name}` })
        : h("input", { name, "data-testid": `edit-${name}` });
      input.value = d[name];
      input.addEventListener("input", () => (dirty = true));
      inputs[name] = input;
      return h("label", {}, fieldName(name), input);
    };
    const save = h(
      "button",
      { type: "submit", class: "btn", "data-testid": "btn-save-decision" },
      t("save_changes"),
    );
    editor.append(
      field("title"),
      field("party_display"),
      field("body", true),
      h("div", { class: "row" }, save),
    );
    editor.addEventListener("submit", async (event) => {
      event.preventDefault();
      await saveText();
    });
  }

  /** PUT the editor's text; the server scans again and answers with the hits that remain. */
  const saveText = async (): Promise<PublishedDecision | null> => {
    const changes: aapi.DecisionChanges = {};
    for (const name of EDITABLE_FIELDS) {
      const input = inputs[name];
      if (input && input.value !== d[name]) changes[name] = input.value;
    }
    status.replaceChildren();
    try {
      const updated = Object.keys(changes).length ? await aapi.editDecision(d.id, changes) : d;
      d = updated;
      dirty = false;
      showHits(updated.block_hits);
      status.replaceChildren(
        h(
          "p",
          { class: updated.block_hits.length ? "bad" : "good", "data-testid": "decision-saved" },
          updated.block_hits.length ? t("saved_still_blocked") : t("saved_clean"),
          " ",
          statusChip(updated.status),
        ),
      );
      return updated;
    } catch (err) {
      status.replaceChildren(errorBox(explain(err, t("save_changes"))));
      return null;
    }
  };

  const actions = h("div", { class: "row" });
  if (editable) {
    const publish = h(
      "button",
      { type: "button", class: "btn primary", "data-testid": "btn-publish" },
      t("publish_now"),
    );
    publish.addEventListener("click", async () => {
      publish.disabled = true;
      if (dirty && !(await saveText())) {
        publish.disabled = false;
        return;
      }
      try {
        await aapi.publishDecision(d.id);
        reload();
      } catch (err) {
        const hits = hitsOf(err);
        if (hits) {
          showHits(hits);
          status.replaceChildren(errorBox(t("publish_blocked")));
        } else status.replaceChildren(errorBox(explain(err, t("publish_now"))));
        publish.disabled = false;
      }
    });
    actions.append(publish);
  }
  const takeDown = canTakeDown(d.status) ? takeDownForm(d, reload) : "";
  const publicLink =
    d.status === "published" || d.status === "taken_down"
      ? h(
          "a",
          {
            href: `/public/decisions/${d.id}`,
            target: "_blank",
            rel: "noopener",
            "data-testid": "public-decision-link",
          },
          `${t("view_public_page")} ↗`,
        )
      : "";

  el.replaceChildren(
    back,
    h("h2", { "data-testid": "decision-head", "data-decision-id": d.id }, d.title),
    h(
      "dl",
      { class: "facts" },
      [
        [t("status"), statusChip(d.status)],
        [t("pd_field_number"), d.number],
        [t("pd_field_party"), d.party_display],
        [t("decided_on"), fmtDate(d.decided_at)],
        [t("pd_field_penalty"), d.penalty_summary],
        [t("publish_by"), fmtDate(d.due_by)],
        [t("published_at"), fmtTime(d.published_at)],
        [t("offline_after"), fmtDate(d.offline_after)],
      ].flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
    ),
    d.withheld_reason
      ? h(
          "p",
          { class: "hint", "data-testid": "withheld-reason" },
          `${t("pd_status_withheld")}${t("colon")}${d.withheld_reason}`,
        )
      : "",
    d.takedown_notice
      ? h(
          "p",
          { class: "hint", "data-testid": "takedown-notice" },
          `${t("takedown_notice")}${t("colon")}${d.takedown_notice}${inParens(fmtTime(d.taken_down_at))}`,
        )
      : "",
    publicLink,
    hitsBox,
    editor ??
      h(
        "section",
        {},
        h("h3", {}, t("pd_field_body")),
        h("p", { class: "prewrap", "data-testid": "decision-body" }, d.body),
      ),
    actions,
    status,
    takeDown,
  );
  showHits(d.block_hits);
}

function takeDownForm(d: PublishedDecision, done: () => void): HTMLElement {
  const notice = h("textarea", {
    rows: 3,
    "data-testid": "takedown-notice-text",
    "aria-label": t("takedown_notice"),
  });
  const status = h("div", {});
  const button = h(
    "button",
    { type: "submit", class: "btn", "data-testid": "btn-take-down" },
    t("take_down"),
  );
  const form = h(
    "form",
    { class: "stack takedown", "data-testid": "takedown-form" },
    h("h3", {}, t("take_down")),
    h("p", { class: "hint" }, t("takedown_hint")),
    h("label", {}, t("takedown_notice"), notice),
    button,
    status,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = notice.value.trim();
    if (!text) {
      status.replaceChildren(errorBox(t("write_something")));
      notice.focus();
      return;
    }
    if (!confirm(t("takedown_confirm", { number: d.number }))) return;
    button.disabled = true;
    try {
      await aapi.takeDownDecision(d.id, text);
      done();
    } catch (err) {
      status.replaceChildren(errorBox(explain(err, t("take_down"))));
      button.disabled = false;
    }
  });
  return form;
}

// --- yearly report ---------------------------------------------------------------------------------

function reportError(err: unknown, what: string): string {
  return err instanceof ApiError && err.status === 409
    ? localMessage(err.message)
    : explain(err, what);
}

async function reportsPage(el: HTMLElement, current: () => boolean): Promise<void> {
  const year = h("input", {
    type: "number",
    min: 2000,
    max: 2100,
    step: 1,
    "data-testid": "report-year",
    "aria-label": t("year"),
  });
  year.value = String(Number(shanghaiDate(Date.now()).slice(0, 4)) - 1);
  const status = h("div", {});
  const draft = h(
    "button",
    { type: "submit", class: "btn primary", "data-testid": "btn-report-draft" },
    t("report_draft"),
  );
  const form = h("form", { class: "row" }, h("label", {}, t("year"), year), draft);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    draft.disabled = true;
    status.replaceChildren();
    try {
      const r = await aapi.draftReport(Number(year.value));
      location.hash = `#/admin/reports/${r.year}`;
    } catch (err) {
      status.replaceChildren(errorBox(reportError(err, t("report_draft"))));
      draft.disabled = false;
    }
  });
  const listSlot = h("div", {}, h("p", { class: "hint" }, t("loading")));
  el.replaceChildren(
    h("h2", {}, t("annual_reports")),
    h("p", { class: "hint" }, t("report_hint")),
    form,
    status,
    listSlot,
  );
  try {
    const items = await aapi.reports();
    if (!current()) return;
    listSlot.replaceChildren(
      items.length
        ? h(
            "div",
            { class: "table-wrap" },
            h(
              "table",
              { class: "grid", "data-testid": "report-list" },
              h(
                "thead",
                {},
                h(
                  "tr",
                  {},
                  [t("year"), t("status"), t("computed_at"), t("published_at")].map((x) =>
                    h("th", {}, x),
                  ),
                ),
              ),
              h(
                "tbody",
                {},
                items.map((r) =>
                  h(
                    "tr",
                    {
                      class: "case-line",
                      "data-testid": "report-row",
                      "data-year": r.year,
                      onclick: () => (location.hash = `#/admin/reports/${r.year}`),
                    },
                    h("td", {}, h("a", { href: `#/admin/reports/${r.year}` }, String(r.year))),
                    h("td", {}, label("report_status", r.status)),
                    h("td", {}, fmtTime(r.computed_at)),
                    h("td", {}, fmtTime(r.published_at)),
                  ),
                ),
              ),
            ),
          )
        : h("p", { class: "hint" }, t("no_results")),
    );
  } catch (err) {
    if (current()) listSlot.replaceChildren(errorBox(explain(err, t("annual_reports"))));
  }
}

async function reportPage(el: HTMLElement, year: number, current: () => boolean): Promise<void> {
  const back = h(
    "a",
    { class: "btn small ghost back", href: "#/admin/reports", "data-testid": "admin-back" },
    `‹ ${t("annual_reports")}`,
  );
  el.replaceChildren(back, h("p", { class: "hint" }, t("loading")));
  let r: AnnualReport;
  try {
    r = await aapi.report(year);
  } catch (err) {
    if (current()) el.replaceChildren(back, errorBox(explain(err, t("annual_reports"))));
    return;
  }
  if (!current()) return;
  const reload = () => void reportPage(el, year, current);
  const status = h("div", { role: "status" });
  const act = (testid: string, text: string, call: () => Promise<unknown>, primary = false) => {
    const button = h(
      "button",
      { type: "button", class: `btn ${primary ? "primary" : ""}`, "data-testid": testid },
      text,
    );
    button.addEventListener("click", async () => {
      button.disabled = true;
      status.replaceChildren();
      try {
        await call();
        reload();
      } catch (err) {
        status.replaceChildren(errorBox(reportError(err, text)));
        button.disabled = false;
      }
    });
    return button;
  };
  const draft = r.status === "draft";
  const narrative = h("textarea", {
    rows: 10,
    "data-testid": "report-narrative",
    readonly: !draft,
  });
  narrative.value = r.narrative;
  el.replaceChildren(
    back,
    h(
      "h2",
      { "data-testid": "report-head", "data-status": r.status },
      t("annual_report_of", { year: r.year }),
    ),
    h(
      "dl",
      { class: "facts" },
      [
        [t("status"), label("report_status", r.status)],
        [t("computed_at"), fmtTime(r.computed_at)],
        [t("freeze_deadline"), fmtDate(r.freeze_deadline)],
        [t("frozen_at"), `${fmtTime(r.frozen_at)}${r.frozen_late ? ` (${t("frozen_late")})` : ""}`],
        [t("published_at"), fmtTime(r.published_at)],
        ["SHA-256", r.snapshot_sha256 ? h("code", {}, r.snapshot_sha256) : "—"],
      ].flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
    ),
    r.public_url
      ? h(
          "a",
          {
            href: r.public_url,
            target: "_blank",
            rel: "noopener",
            "data-testid": "report-public-link",
          },
          `${t("view_public_page")} ↗`,
        )
      : "",
    h(
      "label",
      {},
      `${t("report_narrative")}${r.narrative_edited ? ` (${t("edited")})` : ""}`,
      narrative,
    ),
    h(
      "div",
      { class: "row" },
      draft
        ? act("btn-report-save", t("save_changes"), () =>
            aapi.editNarrative(r.year, narrative.value),
          )
        : "",
      draft && r.narrative_edited
        ? act("btn-report-regenerate", t("report_regenerate"), () =>
            aapi.editNarrative(r.year, null),
          )
        : "",
      draft ? act("btn-report-redraft", t("report_redraft"), () => aapi.draftReport(r.year)) : "",
      draft
        ? act("btn-report-freeze", t("report_freeze"), () => aapi.freezeReport(r.year), true)
        : "",
      r.status === "frozen"
        ? act("btn-report-publish", t("report_publish"), () => aapi.publishReport(r.year), true)
        : "",
    ),
    status,
    r.figures
      ? h(
          "details",
          {},
          h("summary", {}, t("report_figures")),
          h("pre", { class: "figures" }, JSON.stringify(r.figures, null, 2)),
        )
      : "",
  );
}
