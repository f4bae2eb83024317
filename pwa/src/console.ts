/**
 * Supervisor console (监督台): case list with filters, case timeline and workflow, item review;
 * the legal reviewer's queue and the leader's inbox (legal.ts).
 *
 * Lives in the same build as the officer app; supervisors, legal reviewers and leaders land
 * here. Routes are in the location hash (#/console, #/console/case/<id>, #/console/media/<id>,
 * #/console/reviews, #/console/review/<id>, #/console/inbox) so the browser's back button and
 * bookmarks work. The console keeps its own DOM node: the app's re-renders (online/offline,
 * notices) never rebuild a playing <video>.
 */
import type { User } from "./api";
import { workflowPanel, type WorkflowCase } from "./case-workflow";
import { caseTeamPanel } from "./case-team";
import * as capi from "./console-api";
import type {
  CaptureInfoKept,
  CaseFilters,
  ConsoleCase,
  MediaDetail,
  MediaSummary,
} from "./console-api";
import { ACTIVITIES, STAGES } from "./cases";
import { h } from "./dom";
import { getLang, t, type Key } from "./i18n";
import { formatBytes } from "./time";
import {
  backLink,
  errorBox,
  explain,
  auditWords,
  flagText,
  fmtTime,
  gapMessage,
  joinList,
  label,
} from "./console-ui";
import { inboxPage, queuePage, reviewPage } from "./legal";
import { filePositionText, positionPlot, positionText } from "./map";
import { mayMoveItems, movableCard } from "./move-item";

export { explain };

const PER_PAGE = 25;
const KINDS = ["photo", "video", "audio", "document"];
/** media_pipeline/video.py make_thumb_strip(count=10): the sprite holds ten tiles. */
const STRIP_TILES = 10;

interface ListState {
  filters: CaseFilters;
  page: number;
  officers: Map<number, string>;
}

const list: ListState = { filters: {}, page: 1, officers: new Map() };
let container: HTMLElement | null = null;
let user: User | null = null;
let role = "supervisor";
let routeSeq = 0;

/** Where each role starts: reviewers at their queue, the leader at the inbox. */
function home(userRole: string): string {
  if (userRole === "legal") return "#/console/reviews";
  if (userRole === "leader") return "#/console/inbox";
  return "#/console";
}

/** The console's persistent node; `start` routes it from the hash. */
export function consoleElement(): HTMLElement {
  if (!container) container = h("div", { class: "console", "data-testid": "console" });
  return container;
}

export function startConsole(who: User): void {
  user = who;
  role = who.role;
  window.removeEventListener("hashchange", route);
  window.addEventListener("hashchange", route);
  if (!location.hash.startsWith("#/console")) history.replaceState(null, "", home(role));
  route();
}

export function stopConsole(): void {
  window.removeEventListener("hashchange", route);
  container?.replaceChildren();
  list.filters = {};
  list.page = 1;
  list.officers.clear();
  user = null;
  if (location.hash.startsWith("#/console")) history.replaceState(null, "", location.pathname);
}

/** Re-draw the current page (after a language change). */
export function route(): void {
  const el = consoleElement();
  const seq = ++routeSeq;
  const hash = location.hash.replace(/^#/, "");
  const caseMatch = /^\/console\/case\/(\d+)(?:\/sign\/([0-9a-f]+))?$/.exec(hash);
  const mediaMatch = /^\/console\/media\/([^/]+)$/.exec(hash);
  const reviewMatch = /^\/console\/review\/(\d+)$/.exec(hash);
  document.querySelectorAll("video, audio").forEach((m) => (m as HTMLMediaElement).pause());
  const page = h("div", { class: "console-page" });
  el.replaceChildren(nav(hash), page);
  const current = () => seq === routeSeq;
  if (caseMatch) void casePage(page, Number(caseMatch[1]), seq, caseMatch[2]);
  else if (mediaMatch) void itemPage(page, decodeURIComponent(mediaMatch[1]), seq);
  else if (reviewMatch) void reviewPage(page, Number(reviewMatch[1]), role, current);
  else if (hash === "/console/reviews") void queuePage(page, current);
  else if (hash === "/console/inbox" && role === "leader") void inboxPage(page, current);
  else void listPage(page, seq);
}

/** The console's own menu: what this role works from. */
function nav(hash: string): HTMLElement {
  const entries: [string, string, string][] = [];
  if (role === "leader") entries.push(["inbox", "#/console/inbox", t("leader_inbox")]);
  if (role === "legal" || role === "leader" || role === "supervisor") {
    entries.push(["reviews", "#/console/reviews", t("review_queue")]);
  }
  entries.push(["cases", "#/console", t("console_cases")]);
  const active = (target: string) =>
    target === "#/console"
      ? !/^\/console\/(inbox|reviews|review\/)/.test(hash)
      : hash.startsWith(target.slice(1));
  return h(
    "nav",
    { class: "console-nav row", "data-testid": "console-nav" },
    entries.map(([name, target, text]) =>
      h(
        "a",
        {
          href: target,
          class: `btn small ${active(target) ? "primary" : "ghost"}`,
          "data-testid": `console-nav-${name}`,
          "aria-current": active(target) ? "page" : null,
          // The page one is on: a click loads it afresh (no hashchange would).
          onclick: (event: Event) => {
            if (location.hash === target) {
              event.preventDefault();
              route();
            }
          },
        },
        text,
      ),
    ),
  );
}

function go(hash: string): void {
  location.hash = hash;
}

function fmtDuration(s: number | null | undefined): string {
  if (s === null || s === undefined) return "";
  const total = Math.round(s);
  const pad = (n: number) => String(n).padStart(2, "0");
  const hours = Math.floor(total / 3600);
  const rest = `${pad(Math.floor((total % 3600) / 60))}:${pad(total % 60)}`;
  return hours ? `${hours}:${rest}` : rest;
}

// --- case list ---------------------------------------------------------------------------

async function listPage(el: HTMLElement, seq: number): Promise<void> {
  const results = h("div", { class: "results" }, h("p", { class: "hint" }, t("loading")));
  el.replaceChildren(h("h2", {}, t("console_cases")), filterForm(), results);
  try {
    const page = await capi.listCases(list.filters, list.page, PER_PAGE);
    if (seq !== routeSeq) return;
    for (const c of page.items) for (const o of c.officers ?? []) list.officers.set(o.id, o.name);
    results.replaceChildren(casesTable(page.items), pager(page.total, page.page, page.per_page));
    refreshOfficerOptions(el);
  } catch (err) {
    if (seq !== routeSeq) return;
    results.replaceChildren(errorBox(explain(err, t("console_cases"))));
  }
}

function select(name: string, options: [string, string][], value: string | undefined) {
  return h(
    "select",
    { name, "data-testid": `f-${name}` },
    h("option", { value: "" }, t("all")),
    options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)),
  );
}

function refreshOfficerOptions(el: HTMLElement): void {
  const sel = el.querySelector<HTMLSelectElement>("select[name=officer_id]");
  if (!sel) return;
  const value = list.filters.officer_id ?? "";
  sel.replaceChildren(
    h("option", { value: "" }, t("all")),
    ...[...list.officers].map(([id, name]) =>
      h("option", { value: String(id), selected: String(id) === value }, name),
    ),
  );
}

function filterForm(): HTMLElement {
  const f = list.filters;
  const input = (name: keyof CaseFilters, type = "text", placeholder = "") =>
    h("input", {
      name,
      type,
      value: f[name] ?? "",
      placeholder,
      "data-testid": `f-${name}`,
    });
  const form = h(
    "form",
    { class: "filters", "data-testid": "case-filters" },
    h("label", {}, t("case_number"), input("number", "search", "2026-")),
    h("label", {}, t("title_contains"), input("q", "search")),
    h("label", {}, t("officer"), select("officer_id", [], f.officer_id)),
    h("label", {}, t("date_from"), input("from", "date")),
    h("label", {}, t("date_to"), input("to", "date")),
    h(
      "label",
      {},
      t("stage"),
      select(
        "stage",
        STAGES.map((s) => [s, t(`stage_${s}` as Key)]),
        f.stage,
      ),
    ),
    h(
      "label",
      {},
      t("activity"),
      select(
        "activity",
        ACTIVITIES.map((a) => [a, t(`activity_${a}` as Key)]),
        f.activity,
      ),
    ),
    h(
      "label",
      {},
      t("media_kind"),
      select(
        "kind",
        KINDS.map((k) => [k, t(`kind_${k}` as Key)]),
        f.kind,
      ),
    ),
    h(
      "label",
      {},
      t("flag"),
      select(
        "flag",
        capi.FLAG_NAMES.map((k) => [k, t(`flag_${k}` as Key)]),
        f.flag,
      ),
    ),
    h(
      "div",
      { class: "row" },
      h("button", { class: "btn primary", type: "submit", "data-testid": "f-search" }, t("search")),
      h(
        "button",
        {
          class: "btn ghost",
          type: "button",
          onclick: () => {
            list.filters = {};
            list.page = 1;
            route();
          },
        },
        t("reset"),
      ),
    ),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const filters: CaseFilters = {};
    for (const [key, value] of data.entries()) {
      if (typeof value === "string" && value.trim()) filters[key as keyof CaseFilters] = value;
    }
    list.filters = filters;
    list.page = 1;
    route();
  });
  return form;
}

function countsLine(c: ConsoleCase): HTMLElement {
  const parts: HTMLElement[] = [];
  for (const stage of STAGES) {
    const counts = c.counts?.[stage];
    if (!counts) continue;
    const text = ["photo", "video", "audio"]
      .map((k) => `${t(`kind_${k}` as Key)} ${counts[k] ?? 0}`)
      .join(" · ");
    parts.push(h("span", { class: "count" }, `${t(`stage_${stage}` as Key)}${t("colon")}${text}`));
  }
  return h("div", { class: "counts" }, parts.length ? parts : "—");
}

function flagChips(flags: ConsoleCase["flags"]): HTMLElement {
  const chips = capi.FLAG_NAMES.filter((k) => (flags?.[k] ?? 0) > 0).map((k) =>
    h(
      "span",
      { class: `chip flag-${k}`, "data-testid": `flag-${k}`, "data-flag": k },
      capi.BOOLEAN_FLAGS.includes(k)
        ? t(`flag_${k}` as Key)
        : `${t(`flag_${k}` as Key)} ${flags[k]}`,
    ),
  );
  return h("div", { class: "chips" }, chips.length ? chips : h("span", { class: "ok" }, "✓"));
}

function casesTable(items: ConsoleCase[]): HTMLElement {
  if (items.length === 0) return h("p", { class: "hint" }, t("no_results"));
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "grid", "data-testid": "console-cases" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          [
            t("case_number"),
            t("case_title"),
            t("stage"),
            t("officer"),
            t("media_counts"),
            t("flags"),
          ].map((c) => h("th", {}, c)),
        ),
      ),
      h(
        "tbody",
        {},
        items.map((c) =>
          h(
            "tr",
            {
              class: "case-line",
              "data-testid": "console-case",
              "data-case-id": c.id,
              "data-number": c.number,
              onclick: () => go(`#/console/case/${c.id}`),
            },
            h("td", {}, h("a", { href: `#/console/case/${c.id}`, class: "case-number" }, c.number)),
            h(
              "td",
              {},
              c.title,
              c.major_property ? h("span", { class: "chip major" }, t("major_property")) : "",
            ),
            h("td", {}, label("stage", c.current_stage)),
            h("td", {}, joinList((c.officers ?? []).map((o) => o.name)) || "—"),
            h("td", {}, countsLine(c)),
            h("td", {}, flagChips(c.flags)),
          ),
        ),
      ),
    ),
  );
}

function pager(total: number, page: number, perPage: number): HTMLElement {
  const pages = Math.max(1, Math.ceil(total / perPage));
  const to = (p: number) => () => {
    list.page = p;
    route();
  };
  return h(
    "div",
    { class: "pager row" },
    h(
      "button",
      { class: "btn small", disabled: page <= 1, onclick: to(page - 1) },
      `‹ ${t("prev")}`,
    ),
    h("span", { "data-testid": "pager" }, t("page_of", { page, pages, total })),
    h(
      "button",
      { class: "btn small", disabled: page >= pages, onclick: to(page + 1) },
      `${t("next")} ›`,
    ),
  );
}

// --- case timeline -----------------------------------------------------------------------

/** `signDoc`: open the leader's signing dialog of that document (from the inbox). */
async function casePage(
  el: HTMLElement,
  caseId: number,
  seq: number,
  signDoc?: string,
): Promise<void> {
  el.replaceChildren(
    backLink("#/console", t("console_cases")),
    h("p", { class: "hint" }, t("loading")),
  );
  let tl: capi.Timeline;
  try {
    tl = await capi.timeline(caseId);
  } catch (err) {
    if (seq === routeSeq) el.append(errorBox(explain(err, t("timeline"))));
    return;
  }
  if (seq !== routeSeq) return;
  const c = tl.case;
  // A supervisor may move any item to another stage the case reached (not once archived).
  const reached = tl.stages.map((s) => s.stage);
  const card = (m: MediaSummary) =>
    mayMoveItems(role, c.archived_at) ? movableCard(mediaCard(m), m, reached, route) : mediaCard(m);
  el.replaceChildren(
    backLink("#/console", t("console_cases")),
    h(
      "h2",
      { class: "case-head", "data-testid": "timeline-head" },
      h("span", { class: "case-number" }, c.number),
      c.title,
      c.major_property ? h("span", { class: "chip major" }, t("major_property")) : "",
    ),
    h(
      "p",
      { class: "hint" },
      `${t("current_stage")}${t("colon")}${label("stage", c.current_stage)}`,
    ),
    user ? caseTeamPanel(c.id, user, () => route()) : "",
    user ? workflowPanel(c as unknown as WorkflowCase, user, () => route(), { sign: signDoc }) : "",
    tl.gaps.length
      ? h(
          "section",
          { class: "gaps", "data-testid": "gaps" },
          h("h3", {}, t("flag_gap")),
          h(
            "ul",
            {},
            tl.gaps.map((g) =>
              h(
                "li",
                { "data-testid": "gap", "data-code": g.code },
                h(
                  "strong",
                  {},
                  `${label("stage", g.stage)}${g.activity ? ` · ${label("activity", g.activity)}` : ""}`,
                ),
                `${t("colon")}${gapMessage(g)}`,
              ),
            ),
          ),
        )
      : h("p", { class: "ok", "data-testid": "no-gaps" }, t("no_gaps")),
    tl.credential_events.length
      ? h(
          "section",
          { class: "cred-events" },
          h("h3", {}, t("credential_events")),
          h(
            "ul",
            {},
            tl.credential_events.map((e) =>
              h(
                "li",
                { "data-testid": "credential-event" },
                `${fmtTime(e.at)} · ${e.officer} · ${t("credential_shown")}`,
              ),
            ),
          ),
        )
      : "",
    positionsSection([...tl.stages.flatMap((s) => s.items), ...tl.unattached]),
    ...tl.stages.map((s) =>
      h(
        "section",
        { class: "stage-block", "data-testid": "timeline-stage", "data-stage": s.stage },
        h(
          "h3",
          {},
          label("stage", s.stage),
          h(
            "small",
            {},
            ` ${fmtTime(s.started_at)}${s.ended_at ? ` – ${fmtTime(s.ended_at)}` : ""}`,
          ),
        ),
        s.items.length
          ? h("div", { class: "tiles" }, s.items.map(card))
          : h("p", { class: "hint" }, t("no_media")),
      ),
    ),
    tl.unattached.length
      ? h(
          "section",
          { class: "stage-block unattached", "data-testid": "timeline-unattached" },
          h("h3", {}, t("flag_unattached")),
          h("div", { class: "tiles" }, tl.unattached.map(card)),
        )
      : "",
  );
}

/** Where the case's items were recorded; nothing when the case has no items yet. */
function positionsSection(items: MediaSummary[]): HTMLElement | string {
  if (!items.length) return "";
  return h(
    "section",
    { class: "positions", "data-testid": "timeline-positions" },
    h("h3", {}, t("positions")),
    positionPlot(items),
  );
}

function flagChip(f: capi.MediaFlag): HTMLElement {
  const { label: text, detail } = flagText(f);
  return h("span", { class: "chip warn", title: detail || text, "data-flag": f.code }, text);
}

function mediaCard(m: MediaSummary): HTMLElement {
  const thumb = h("div", { class: "thumb" }, t(`kind_${m.kind}` as Key));
  const which = m.derivatives?.includes("thumbnail")
    ? "thumbnail"
    : m.derivatives?.includes("poster")
      ? "poster"
      : null;
  if (which) {
    capi
      .playbackUrl(m.id, which)
      .then((url) => thumb.replaceChildren(h("img", { src: url, alt: "", loading: "lazy" })))
      .catch(() => undefined); // the card still names the kind
  }
  return h(
    "a",
    {
      class: `media-card ${m.key_evidence ? "key" : ""}`,
      href: `#/console/media/${encodeURIComponent(m.id)}`,
      "data-testid": "media-card",
      "data-media-id": m.id,
      "data-kind": m.kind,
    },
    thumb,
    h(
      "div",
      { class: "card-text" },
      h(
        "strong",
        {},
        t(`kind_${m.kind}` as Key),
        m.duration_s ? ` ${fmtDuration(m.duration_s)}` : "",
        m.key_evidence ? h("span", { class: "chip key" }, t("key_evidence")) : "",
      ),
      h("span", {}, `${m.uploader?.name ?? "—"} · ${fmtTime(m.captured_at)}`),
      h("span", {}, label("activity", m.activity)),
      h("span", { class: "gps" }, positionText(m)),
      m.status !== "verified" ? h("span", { class: "chip warn" }, label("status", m.status)) : "",
      ...(m.flags ?? []).map(flagChip),
    ),
  );
}

// --- item --------------------------------------------------------------------------------

async function itemPage(el: HTMLElement, id: string, seq: number): Promise<void> {
  el.replaceChildren(h("p", { class: "hint" }, t("loading")));
  let m: MediaDetail;
  try {
    m = await capi.media(id);
  } catch (err) {
    if (seq === routeSeq)
      el.replaceChildren(
        backLink("#/console", t("console_cases")),
        errorBox(explain(err, t("media_item"))),
      );
    return;
  }
  if (seq !== routeSeq) return;
  const player = playerSection(m);
  const canAnnotate = role === "supervisor" || role === "legal";
  el.replaceChildren(
    backLink(`#/console/case/${m.case_id}`, t("timeline")),
    h(
      "h2",
      { "data-testid": "item-head" },
      `${t(`kind_${m.kind}` as Key)} · ${m.filename}`,
      m.key_evidence ? h("span", { class: "chip key" }, t("key_evidence")) : "",
    ),
    h(
      "div",
      { class: "item-layout" },
      h(
        "div",
        { class: "item-main" },
        player.section,
        m.kind === "video" || m.kind === "audio"
          ? bookmarksSection(m, player.media, canAnnotate)
          : "",
      ),
      h(
        "div",
        { class: "item-side" },
        metadataSection(m),
        itemPositionSection(m),
        role === "supervisor" ? keyEvidenceSection(m) : "",
        role === "supervisor" && (!m.attached_stage || m.attached_stage === "unattached")
          ? moveSection(m)
          : "",
      ),
    ),
    custodySection(m),
  );
}

function playerSection(m: MediaDetail): { section: HTMLElement; media: HTMLMediaElement | null } {
  const section = h("section", { class: "player" });
  const status = h("div", {});
  if (m.kind === "photo") {
    const img = h("img", { class: "photo", alt: m.filename, "data-testid": "photo" });
    capi
      .playbackUrl(m.id, m.derivatives.includes("preview") ? "preview" : "original")
      .then((url) => (img.src = url))
      .catch((err) => status.replaceChildren(errorBox(explain(err, t("playback")))));
    section.append(img, status);
    return { section, media: null };
  }
  if (m.kind !== "video" && m.kind !== "audio") {
    section.append(h("p", { class: "hint" }, t("no_preview")));
    return { section, media: null };
  }
  const media =
    m.kind === "video"
      ? h("video", {
          controls: true,
          preload: "metadata",
          playsinline: true,
          "data-testid": "player",
        })
      : h("audio", { controls: true, preload: "metadata", "data-testid": "player" });
  section.append(media);
  capi
    .playbackUrl(m.id, m.derivatives.includes("proxy") ? "proxy" : "original")
    .then((url) => (media.src = url))
    .catch((err) => status.replaceChildren(errorBox(explain(err, t("playback")))));
  const duration = m.duration_s ?? 0;
  if (m.kind === "video" && m.derivatives.includes("strip") && duration > 0) {
    section.append(stripView(m.id, duration, media));
  }
  if (m.derivatives.includes("waveform")) section.append(waveformView(m.id, duration, media));
  section.append(status);
  return { section, media };
}

function stripView(id: string, duration: number, media: HTMLMediaElement): HTMLElement {
  const strip = h("div", { class: "strip", "data-testid": "strip" });
  const times = capi.stripTimes(duration, STRIP_TILES);
  capi
    .playbackUrl(id, "strip")
    .then((url) => {
      strip.replaceChildren(
        ...times.map((at, i) =>
          h(
            "button",
            {
              class: "strip-tile",
              title: fmtDuration(at),
              "data-testid": "strip-tile",
              "data-at": at,
              style: `background-image:url("${url}");background-size:${STRIP_TILES * 100}% 100%;background-position:${(i / (STRIP_TILES - 1)) * 100}% 0`,
              onclick: () => {
                media.currentTime = at;
              },
            },
            h("span", {}, fmtDuration(at)),
          ),
        ),
      );
    })
    .catch(() => strip.remove());
  return strip;
}

function waveformView(id: string, duration: number, media: HTMLMediaElement): HTMLElement {
  const canvas = h("canvas", {
    class: "waveform",
    width: 800,
    height: 80,
    "data-testid": "waveform",
  });
  let peaks: number[] = [];
  const draw = () => {
    const ctx = canvas.getContext("2d");
    if (!ctx) return;
    const { width, height } = canvas;
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, width, height);
    ctx.fillStyle = "#0b3d91";
    const bar = width / Math.max(1, peaks.length);
    peaks.forEach((p, i) => {
      const hgt = Math.max(1, p * (height - 4));
      ctx.fillRect(i * bar, (height - hgt) / 2, Math.max(1, bar - 0.5), hgt);
    });
    const total = media.duration || duration;
    if (total > 0) {
      ctx.fillStyle = "#c40000";
      ctx.fillRect((media.currentTime / total) * width - 1, 0, 2, height);
    }
  };
  capi
    .playbackUrl(id, "waveform")
    .then((url) => fetch(url, { cache: "no-store" }))
    .then((resp) => (resp.ok ? resp.json() : Promise.reject(new Error(String(resp.status)))))
    .then((data) => {
      peaks = capi.normalizePeaks(data);
      draw();
    })
    .catch(() => canvas.remove());
  media.addEventListener("timeupdate", draw);
  canvas.addEventListener("click", (event) => {
    const total = media.duration || duration;
    const rect = canvas.getBoundingClientRect();
    if (total > 0) media.currentTime = ((event.clientX - rect.left) / rect.width) * total;
  });
  return canvas;
}

function bookmarksSection(m: MediaDetail, media: HTMLMediaElement | null, canAdd: boolean) {
  const listEl = h("ul", { class: "bookmarks", "data-testid": "bookmarks" });
  const status = h("div", {});
  const load = async () => {
    try {
      const items = await capi.bookmarks(m.id);
      listEl.replaceChildren(
        ...(items.length
          ? items
              .sort((a, b) => a.at_s - b.at_s)
              .map((b) =>
                h(
                  "li",
                  { "data-testid": "bookmark", "data-at": b.at_s },
                  h(
                    "button",
                    {
                      class: "btn small ghost",
                      onclick: () => media && (media.currentTime = b.at_s),
                    },
                    fmtDuration(b.at_s),
                  ),
                  h("span", { class: "note" }, b.note),
                  h("small", {}, ` — ${b.author?.name ?? ""} ${fmtTime(b.created_at)}`),
                ),
              )
          : [h("li", { class: "hint" }, t("no_bookmarks"))]),
      );
    } catch (err) {
      status.replaceChildren(errorBox(explain(err, t("bookmarks"))));
    }
  };
  void load();
  const note = h("input", {
    name: "note",
    placeholder: t("bookmark_note"),
    "data-testid": "bm-note",
    maxlength: 2000,
  });
  const at = h("span", { class: "bm-at", "data-testid": "bm-at" }, "00:00");
  media?.addEventListener("timeupdate", () => (at.textContent = fmtDuration(media.currentTime)));
  const form = h(
    "form",
    { class: "row bm-form" },
    h("span", {}, t("at_time")),
    at,
    note,
    h(
      "button",
      { class: "btn primary small", type: "submit", "data-testid": "bm-add" },
      t("add_bookmark"),
    ),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!media) return;
    status.replaceChildren();
    try {
      await capi.addBookmark(m.id, media.currentTime, note.value.trim());
      note.value = "";
      await load();
    } catch (err) {
      status.replaceChildren(errorBox(explain(err, t("add_bookmark"))));
    }
  });
  return h(
    "section",
    { class: "stack" },
    h("h3", {}, t("bookmarks")),
    listEl,
    canAdd ? form : "",
    status,
  );
}

function metadataSection(m: MediaDetail): HTMLElement {
  const match =
    m.hashes_match === null
      ? t("hash_pending")
      : m.hashes_match
        ? `✓ ${t("hash_match")}`
        : `✗ ${t("hash_differs")}`;
  const rows: [string, string | HTMLElement][] = [
    [t("device_sha256"), h("code", {}, m.device_sha256)],
    [t("server_sha256"), h("code", {}, m.server_sha256 ?? "—")],
    [
      t("hashes"),
      h(
        "strong",
        { class: m.hashes_match === false ? "bad" : "good", "data-testid": "hash-match" },
        match,
      ),
    ],
    [t("status"), label("status", m.status)],
    [t("captured_device"), fmtTime(m.captured_at)],
    [t("captured_end"), fmtTime(m.captured_end_at)],
    [t("captured_file"), fmtTime(m.file_captured_at)],
    [t("received_server"), fmtTime(m.received_at)],
    [t("stored_at"), fmtTime(m.stored_at)],
    [t("verified_at"), fmtTime(m.verified_at)],
    [t("locked_until"), fmtTime(m.locked_until)],
    [
      t("clock_offset"),
      m.device_clock_offset_s === null ? "—" : `${m.device_clock_offset_s.toFixed(1)} s`,
    ],
    [t("device"), m.device_id],
    [t("gps"), positionText(m)],
    [t("gps_file"), filePositionText(m.probe?.location)],
    [t("capture_info"), h("span", { "data-testid": "capture-info" }, captureText(m.capture))],
    [t("uploader"), m.uploader?.name ?? "—"],
    [t("stage"), label("stage", m.attached_stage ?? m.stage)],
    [t("activity"), label("activity", m.activity)],
    [t("size"), formatBytes(m.size)],
    [t("content_type"), contentTypeText(m.detected_content_type, m.claimed_content_type)],
    [t("duration"), fmtDuration(m.duration_s) || "—"],
    [t("dimensions"), m.width && m.height ? `${m.width}×${m.height}` : "—"],
  ];
  const flags = m.flags ?? [];
  return h(
    "section",
    { class: "meta", "data-testid": "metadata" },
    h("h3", {}, t("metadata")),
    h(
      "dl",
      {},
      rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
    ),
    h("h4", {}, t("flags")),
    flags.length
      ? h(
          "ul",
          { "data-testid": "item-flags" },
          flags.map((f) => {
            const { label: text, detail } = flagText(f);
            return h(
              "li",
              { "data-flag": f.code },
              text,
              detail ? h("small", {}, ` — ${detail}`) : "",
            );
          }),
        )
      : h("p", { class: "ok" }, t("no_flags")),
  );
}

const FACING_WORDS: Record<string, Key> = {
  environment: "capture_facing_environment",
  user: "capture_facing_user",
  left: "capture_facing_left",
  right: "capture_facing_right",
};

/** How the app took a photo, in words: 「相机原图 4000×3000 · 后置摄像头」 (as the custody
 * record says it, server/services/capture_info.py); "—" when the phone said nothing. */
export function captureText(c: CaptureInfoKept | null | undefined): string {
  if (!c) return "—";
  const method =
    c.method === "image_capture" || c.method === "video_frame" ? t(`capture_${c.method}`) : "";
  const head = [method, c.width && c.height ? `${c.width}×${c.height}` : ""]
    .filter(Boolean)
    .join(" ");
  const parts = head ? [head] : [];
  const facing = FACING_WORDS[c.facing ?? ""];
  if (facing) parts.push(t(facing));
  if (typeof c.zoom === "number" && Math.abs(c.zoom - 1) > 0.01)
    parts.push(t("capture_zoom", { zoom: Number(c.zoom.toFixed(2)) }));
  if (c.method === "video_frame" && c.stream_max)
    parts.push(t("capture_stream_max", { size: `${c.stream_max.width}×${c.stream_max.height}` }));
  if (c.camera) parts.push(`“${c.camera}”`);
  return parts.join(" · ") || "—";
}

/** The item's position as text and, when known, a one-point plot with its accuracy circle. */
function itemPositionSection(m: MediaDetail): HTMLElement {
  return h(
    "section",
    { class: "item-position", "data-testid": "item-position" },
    h("h3", {}, t("position_map")),
    h("p", { "data-testid": "item-position-text" }, positionText(m)),
    m.latitude !== null && m.longitude !== null
      ? positionPlot([m], {
          width: 320,
          height: 200,
          padding: 24,
          // room for the whole accuracy circle around the one point
          minSpanM: Math.max(200, 2.5 * (m.accuracy_m ?? 0)),
          link: false,
        })
      : "",
  );
}

function keyEvidenceSection(m: MediaDetail): HTMLElement {
  const box = h("input", {
    type: "checkbox",
    checked: !!m.key_evidence,
    "data-testid": "key-toggle",
  });
  const reason = h("input", {
    name: "reason",
    placeholder: t("reason"),
    required: true,
    "data-testid": "key-reason",
  });
  const status = h("div", {});
  const form = h(
    "form",
    { class: "stack" },
    h("h3", {}, t("key_evidence")),
    m.key_evidence
      ? h(
          "p",
          { class: "hint", "data-testid": "key-by" },
          t("key_marked_by", {
            who: m.key_evidence_by?.name ?? "—",
            at: fmtTime(m.key_evidence_at),
            reason: m.key_evidence_reason ?? "",
          }),
        )
      : "",
    h("label", { class: "check" }, box, t("mark_key")),
    reason,
    h("button", { class: "btn small", type: "submit", "data-testid": "key-save" }, t("save")),
    status,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await capi.setKeyEvidence(m.id, box.checked, reason.value.trim());
      route(); // the heading, the card and this form show the new state
    } catch (err) {
      status.replaceChildren(errorBox(explain(err, t("key_evidence"))));
    }
  });
  return form;
}

function moveSection(m: MediaDetail): HTMLElement {
  const stage = h(
    "select",
    { name: "stage", "data-testid": "move-stage" },
    STAGES.map((s) => h("option", { value: s }, t(`stage_${s}` as Key))),
  );
  const reason = h("input", {
    name: "reason",
    placeholder: t("reason"),
    required: true,
    "data-testid": "move-reason",
  });
  const status = h("div", {});
  const form = h(
    "form",
    { class: "stack" },
    h("h3", {}, t("move_to_stage")),
    stage,
    reason,
    h("button", { class: "btn small", type: "submit", "data-testid": "move-save" }, t("move")),
    status,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await capi.attach(m.id, stage.value, reason.value.trim());
      route();
    } catch (err) {
      status.replaceChildren(errorBox(explain(err, t("move_to_stage"))));
    }
  });
  return form;
}

/** `image/jpeg` → JPEG; with the declared type when it differs: "JPEG（声明为 PNG）". */
function contentTypeText(detected: string | null | undefined, claimed: string): string {
  const name = (type: string) => type.split("/")[1]?.split(";")[0].replace(/^x-/, "").toUpperCase();
  const real = detected ? name(detected) : null;
  const said = name(claimed) || claimed;
  if (!real) return t("content_type_pending", { claimed: said });
  return real === said ? real : t("content_type_differs", { real, claimed: said });
}

function custodySection(m: MediaDetail): HTMLElement {
  const body = h("div", {});
  const status = h("div", {});
  const exportButton = (what: "custody.pdf" | "custody.csv", text: string) =>
    h(
      "button",
      {
        class: "btn small",
        "data-testid": `export-${what.split(".")[1]}`,
        onclick: async () => {
          status.replaceChildren();
          try {
            const url = await capi.playbackUrl(m.id, what);
            const lang = getLang() === "en" ? "&lang=en" : "";
            const href = `${url}${url.includes("?") ? "&" : "?"}download=1${lang}`;
            const a = h("a", { href, download: `custody-${m.id}.${what.split(".")[1]}` });
            document.body.append(a);
            a.click();
            a.remove();
          } catch (err) {
            status.replaceChildren(errorBox(explain(err, text)));
          }
        },
      },
      text,
    );
  const show = async () => {
    body.replaceChildren(h("p", { class: "hint" }, t("loading")));
    try {
      const entries = await capi.custody(m.id);
      body.replaceChildren(
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { class: "grid custody", "data-testid": "custody" },
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                [t("time"), t("actor"), t("action"), t("details"), t("entry_hash")].map((c) =>
                  h("th", {}, c),
                ),
              ),
            ),
            h(
              "tbody",
              {},
              entries.map((e) =>
                h(
                  "tr",
                  { "data-testid": "custody-entry", "data-action": e.action },
                  h("td", {}, fmtTime(e.at)),
                  h("td", {}, e.actor === "system" ? t("actor_system") : e.actor),
                  h("td", { "data-code": e.action }, auditWords(e).action),
                  h("td", {}, auditWords(e).details),
                  h("td", {}, h("code", { title: e.entry_hash }, `${e.entry_hash.slice(0, 12)}…`)),
                ),
              ),
            ),
          ),
        ),
      );
    } catch (err) {
      body.replaceChildren(errorBox(explain(err, t("custody"))));
    }
  };
  return h(
    "section",
    { class: "stack custody-section" },
    h(
      "div",
      { class: "row" },
      h("h3", {}, t("custody")),
      h(
        "button",
        { class: "btn small", "data-testid": "custody-show", onclick: () => void show() },
        t("show_custody"),
      ),
      exportButton("custody.pdf", t("export_pdf")),
      exportButton("custody.csv", t("export_csv")),
    ),
    status,
    body,
  );
}
