/**
 * 文书: the case's enforcement documents on the phone — the list, a form generated from the
 * field descriptions of `GET /document-types`, on-screen signatures, issue, and the QR code the
 * party scans to take a copy (handover).
 *
 * The form is a small model (`buildForm`) the inputs write into; `collect` turns it into the
 * JSON the API expects (nested objects, lists of rows, numbers, booleans, ISO dates and times
 * with the phone's UTC offset), and a 422's `details.fields` (marshmallow's messages, keyed by
 * field, row index and nested field) land next to the input they are about (`flattenErrors`).
 *
 *     const form = buildForm(type.fields);
 *     setValue(form, "party.name", "某某公司");
 *     addRow(form, "inspectors");
 *     await api.createDocument(caseId, type.code, collect(form));
 */
import * as api from "./api";
import type {
  Case,
  DocField,
  DocType,
  EnforcementDocument,
  FieldType,
  SignerRole,
  User,
} from "./api";
import { STAGES } from "./cases";
import {
  localMessage,
  missingMessages,
  openCompleteness,
  openSheet,
  roleLabel,
  type CaseRef,
  type Sheet,
} from "./completeness";
import { svgDataUrl } from "./credential";
import { h } from "./dom";
import { getLang, t, type Key } from "./i18n";
import {
  documentPrefill,
  markPrefilled,
  prefilledBanner,
  type DocumentPrefill,
  type PrefillSource,
} from "./prefill";
import { createSignaturePad } from "./signature-pad";
import { isoWithOffset } from "./time";

// --- the form model ------------------------------------------------------------------------------

export interface ScalarNode {
  kind: "scalar";
  field: DocField;
  type: FieldType;
  path: string;
  /** What the input holds: its text (a `datetime-local` value for times), or a checkbox state. */
  value: string | boolean;
}

export interface GroupNode {
  kind: "group";
  /** null for the whole form and for the rows of a list. */
  field: DocField | null;
  path: string;
  children: FormNode[];
}

export interface ListNode {
  kind: "list";
  field: DocField;
  path: string;
  rows: FormNode[];
}

export type FormNode = ScalarNode | GroupNode | ListNode;

/** Error messages by field path (`party.name`, `inspectors.1.name`; `""` is the whole form). */
export type FieldErrors = Record<string, string[]>;

function joinPath(base: string, name: string | number): string {
  return base ? `${base}.${name}` : String(name);
}

function asRecord(value: unknown): Record<string, unknown> {
  return value && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/** Rows a list starts with and may not drop below: `min_items` when it is required. */
export function minRows(field: DocField): number {
  return field.required ? Math.max(field.min_items ?? 1, 1) : 0;
}

/**
 * The form for `fields`, filled from `initial` (a document's `fields`, for an edit or a
 * correction). A required date-and-time starts at `now`: records are written on the spot.
 */
export function buildForm(
  fields: DocField[],
  initial: Record<string, unknown> = {},
  now: Date | null = new Date(),
): GroupNode {
  return {
    kind: "group",
    field: null,
    path: "",
    children: fields.map((f) => buildNode(f, "", initial[f.name], now)),
  };
}

function buildNode(field: DocField, base: string, value: unknown, now: Date | null): FormNode {
  const path = joinPath(base, field.name);
  if (field.type === "object") {
    const values = asRecord(value);
    return {
      kind: "group",
      field,
      path,
      children: (field.fields ?? []).map((f) => buildNode(f, path, values[f.name], now)),
    };
  }
  if (field.type === "list") {
    const values = Array.isArray(value) ? value : [];
    const count = Math.max(values.length, minRows(field));
    return {
      kind: "list",
      field,
      path,
      rows: Array.from({ length: count }, (_, i) => buildRow(field, path, i, values[i], now)),
    };
  }
  return {
    kind: "scalar",
    field,
    type: field.type,
    path,
    value: initialValue(field, value, now),
  };
}

function buildRow(
  list: DocField,
  listPath: string,
  index: number,
  value: unknown,
  now: Date | null,
): FormNode {
  const path = joinPath(listPath, index);
  if (list.fields) {
    const values = asRecord(value);
    return {
      kind: "group",
      field: null,
      path,
      children: list.fields.map((f) => buildNode(f, path, values[f.name], now)),
    };
  }
  const field: DocField = {
    name: String(index),
    label: list.label,
    type: list.item_type ?? "string",
    required: false, // a blank row is left out
  };
  return { kind: "scalar", field, type: field.type, path, value: initialValue(field, value, null) };
}

function initialValue(field: DocField, value: unknown, now: Date | null): string | boolean {
  if (field.type === "boolean") return value === true;
  if (value === null || value === undefined || value === "") {
    return field.type === "datetime" && field.required && now ? localDateTime(now) : "";
  }
  if (field.type === "datetime") return toLocalDateTime(String(value));
  if (field.type === "date") return String(value).slice(0, 10);
  return String(value);
}

const pad2 = (n: number) => String(n).padStart(2, "0");
const SHANGHAI_OFFSET_MS = 8 * 3_600_000;

/**
 * A `datetime-local` input value for a moment, in Beijing time (Asia/Shanghai: UTC+8 all year),
 * whatever the phone's zone: the times on a 执法文书 are the unit's.
 */
export function localDateTime(date: Date): string {
  const wall = new Date(date.getTime() + SHANGHAI_OFFSET_MS).toISOString(); // …Z, read as +08:00
  const seconds = wall.slice(17, 19);
  return seconds === "00" ? wall.slice(0, 16) : wall.slice(0, 19);
}

/** ISO 8601 from the API ("2026-11-21T09:30:00+08:00") → a `datetime-local` value. */
export function toLocalDateTime(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso.slice(0, 16) : localDateTime(date);
}

/** A `datetime-local` value, Beijing time → ISO 8601: "2026-11-21T09:30:00+08:00". */
export function fromLocalDateTime(local: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(local);
  if (!m) return local; // the server says what is wrong with it
  const [, y, mo, d, hh, mm, ss] = m;
  return `${y}-${mo}-${d}T${hh}:${mm}:${ss ?? "00"}+08:00`;
}

/** The node at `path` ("" is the form), or null. */
export function findNode(root: FormNode, path: string): FormNode | null {
  if (root.path === path) return root;
  const children = root.kind === "group" ? root.children : root.kind === "list" ? root.rows : [];
  for (const child of children) {
    if (path === child.path || path.startsWith(`${child.path}.`)) {
      const found = findNode(child, path);
      if (found) return found;
    }
  }
  return null;
}

export function setValue(root: FormNode, path: string, value: string | boolean): void {
  const node = findNode(root, path);
  if (!node || node.kind !== "scalar") throw new Error(`no input at ${path}`);
  node.value = node.type === "boolean" ? value === true || value === "true" : String(value);
}

function listAt(root: FormNode, path: string): ListNode {
  const node = findNode(root, path);
  if (!node || node.kind !== "list") throw new Error(`no list at ${path}`);
  return node;
}

/** Append an empty row to the list at `path`; returns it. */
export function addRow(root: FormNode, path: string): FormNode {
  const list = listAt(root, path);
  const row = buildRow(list.field, list.path, list.rows.length, undefined, null);
  list.rows.push(row);
  return row;
}

/** Drop row `index` of the list at `path` (never below its minimum); later rows move up. */
export function removeRow(root: FormNode, path: string, index: number): boolean {
  const list = listAt(root, path);
  if (list.rows.length <= minRows(list.field) || index < 0 || index >= list.rows.length) {
    return false;
  }
  list.rows.splice(index, 1);
  list.rows.forEach((row, i) => repath(row, joinPath(list.path, i)));
  return true;
}

function repath(node: FormNode, path: string): void {
  node.path = path;
  if (node.kind === "group") node.children.forEach((c) => repath(c, joinPath(path, c.field!.name)));
  if (node.kind === "list") node.rows.forEach((r, i) => repath(r, joinPath(path, i)));
}

function hasContent(node: FormNode): boolean {
  if (node.kind === "scalar") {
    return node.type === "boolean" ? node.value === true : String(node.value).trim() !== "";
  }
  if (node.kind === "group") return node.children.some(hasContent);
  return node.rows.length > 0;
}

function scalarValue(node: ScalarNode): unknown {
  if (node.type === "boolean") return node.value === true;
  const raw = String(node.value).trim();
  if (raw === "") return undefined;
  switch (node.type) {
    case "integer":
      return /^[-+]?\d+$/.test(raw) ? Number(raw) : raw;
    case "decimal":
      return raw.replace(/[,，\s]/g, "");
    case "datetime":
      return fromLocalDateTime(raw);
    default:
      return raw;
  }
}

function collectNode(node: FormNode): unknown {
  if (node.kind === "scalar") return scalarValue(node);
  if (node.kind === "list") {
    if (node.rows.length === 0 && !node.field.required) return undefined;
    return node.rows.map(collectNode).filter((v) => v !== undefined);
  }
  // An optional block left blank is left out rather than sent half-empty.
  if (node.field && !node.field.required && !hasContent(node)) return undefined;
  const out: Record<string, unknown> = {};
  for (const child of node.children) {
    const value = collectNode(child);
    if (value !== undefined) out[child.field!.name] = value;
  }
  return out;
}

/** The `fields` JSON for `POST /cases/<id>/documents`; blank optional inputs are left out. */
export function collect(root: GroupNode): Record<string, unknown> {
  return collectNode(root) as Record<string, unknown>;
}

/** What can be told before asking the server: blank required inputs, too few rows. */
export function checkRequired(root: FormNode): FieldErrors {
  const errors: FieldErrors = {};
  const add = (path: string, message: string) => (errors[path] ??= []).push(message);
  const walk = (node: FormNode) => {
    if (node.kind === "scalar") {
      if (node.field.required && node.type !== "boolean" && String(node.value).trim() === "") {
        add(node.path, t("err_required"));
      }
      return;
    }
    if (node.kind === "list") {
      const min = minRows(node.field);
      if (node.rows.length < min) add(node.path, t("err_min_items", { n: min }));
      node.rows.forEach(walk);
      return;
    }
    if (node.field && !node.field.required && !hasContent(node)) return;
    node.children.forEach(walk);
  };
  walk(root);
  return errors;
}

/**
 * A 422's `details.fields` by path: `{"inspectors": {"1": {"name": ["…"]}}}` gives
 * `{"inspectors.1.name": ["…"]}`; `_schema` (a whole-object rule) goes to the object itself.
 */
export function flattenErrors(messages: unknown, base = ""): FieldErrors {
  const out: FieldErrors = {};
  const add = (path: string, message: string) => (out[path] ??= []).push(message);
  const walk = (value: unknown, path: string) => {
    if (typeof value === "string") add(path, value);
    else if (Array.isArray(value)) value.forEach((v) => walk(v, path));
    else if (value && typeof value === "object") {
      for (const [key, inner] of Object.entries(value)) {
        walk(inner, key === "_schema" ? path : joinPath(path, key));
      }
    }
  };
  walk(messages, base);
  return out;
}

/** marshmallow's English defaults as sentences an officer reads; the server's own are bilingual. */
export function readableMessage(message: string, node?: FormNode | null): string {
  const m = message.trim();
  const isList = node?.kind === "list";
  let match: RegExpExecArray | null;
  if (m === "Missing data for required field." || m === "Field may not be null.") {
    return t("err_required");
  }
  if ((match = /^Shorter than minimum length (\d+)\.$/.exec(m))) {
    const n = Number(match[1]);
    if (isList) return t("err_min_items", { n });
    return n <= 1 ? t("err_required") : t("err_min_length", { n });
  }
  if ((match = /^Longer than maximum length (\d+)\.$/.exec(m))) {
    return isList ? t("err_max_items", { n: match[1] }) : t("err_max_length", { n: match[1] });
  }
  if (
    (match = /^Must be greater than or equal to (\S+) and less than or equal to (\S+)\.$/.exec(m))
  )
    return t("err_range", { min: match[1], max: match[2] });
  if ((match = /^Must be greater than or equal to (\S+)\.$/.exec(m)))
    return t("err_min", { min: match[1] });
  if ((match = /^Must be less than or equal to (\S+)\.$/.exec(m)))
    return t("err_max", { max: match[1] });
  const simple: Record<string, Key> = {
    "Not a valid datetime.": "err_datetime",
    "Not a valid date.": "err_date",
    "Not a valid integer.": "err_integer",
    "Not a valid number.": "err_number",
    "Not a valid decimal.": "err_number",
    "Not a valid boolean.": "err_boolean",
    "Not a valid string.": "err_invalid",
    "Not a valid list.": "err_invalid",
    "Invalid input type.": "err_invalid",
    "Unknown field.": "err_unknown_field",
  };
  if (simple[m]) return t(simple[m]);
  if (m.startsWith("Must be one of:")) return t("err_choice");
  return localMessage(m);
}

export function fieldLabel(field: DocField): string {
  return (getLang() === "en" ? field.label.en : field.label.zh) || field.label.zh || field.name;
}

/** "检查人员 第2项 姓名" for `inspectors.1.name`: where an error without its own input is. */
export function pathLabel(root: FormNode, path: string): string {
  const parts: string[] = [];
  let node: FormNode = root;
  for (const segment of path.split(".")) {
    const children: FormNode[] =
      node.kind === "group" ? node.children : node.kind === "list" ? node.rows : [];
    const next: FormNode | undefined =
      node.kind === "list"
        ? children[Number(segment)]
        : children.find((c) => c.field?.name === segment);
    if (!next) {
      parts.push(segment);
      break;
    }
    parts.push(
      node.kind === "list" ? t("row_n", { n: Number(segment) + 1 }) : fieldLabel(next.field!),
    );
    node = next;
  }
  return parts.join(" ");
}

// --- the form on screen ----------------------------------------------------------------------

export interface FormView {
  element: HTMLElement;
  /** Put each message next to its input; messages without one go to the top of the form. */
  showErrors(errors: FieldErrors): void;
  /** The first input marked invalid, to scroll to. */
  firstInvalid(): HTMLElement | null;
}

const fieldId = (path: string) => `f-${path || "form"}`;
const errorId = (path: string) => `e-${path || "form"}`;

function errorSlot(path: string): HTMLElement {
  return h("p", {
    class: "field-error",
    id: errorId(path),
    "data-error-for": path,
    role: "alert",
    hidden: true,
  });
}

/** The inputs for a form model: each writes into its node as the officer types. */
export function renderForm(root: GroupNode): FormView {
  const general = h("div", {
    class: "error-box",
    "data-testid": "form-errors",
    role: "alert",
    hidden: true,
  });
  const element = h(
    "div",
    { class: "doc-fields stack" },
    general,
    root.children.map((child) => renderNode(child)),
  );
  const showErrors = (errors: FieldErrors) => {
    for (const slot of element.querySelectorAll<HTMLElement>("[data-error-for]")) {
      slot.hidden = true;
      slot.textContent = "";
    }
    for (const input of element.querySelectorAll("[aria-invalid]")) {
      input.removeAttribute("aria-invalid");
    }
    const loose: string[] = [];
    for (const [path, messages] of Object.entries(errors)) {
      const node = findNode(root, path);
      const text = messages
        .map((msg) => readableMessage(msg, node))
        .join(getLang() === "en" ? "; " : "；");
      const slot = path
        ? element.querySelector<HTMLElement>(`[data-error-for="${CSS.escape(path)}"]`)
        : null;
      if (slot) {
        slot.textContent = text;
        slot.hidden = false;
        element
          .querySelector(`[data-path="${CSS.escape(path)}"]`)
          ?.setAttribute("aria-invalid", "true");
      } else {
        loose.push(path ? `${pathLabel(root, path)}${t("colon")}${text}` : text);
      }
    }
    general.replaceChildren(...loose.map((line) => h("p", { class: "error" }, line)));
    general.hidden = loose.length === 0;
  };
  const firstInvalid = () =>
    general.hidden
      ? (element.querySelector<HTMLElement>("[data-error-for]:not([hidden])") ?? null)
      : general;
  return { element, showErrors, firstInvalid };
}

function renderNode(node: FormNode, label?: string): HTMLElement {
  if (node.kind === "scalar") return renderScalar(node, label);
  if (node.kind === "list") return renderList(node);
  const field = node.field!;
  return h(
    "fieldset",
    { class: "group", "data-path": node.path },
    h("legend", {}, fieldLabel(field), field.required ? requiredMark() : ""),
    node.children.map((child) => renderNode(child)),
    errorSlot(node.path),
  );
}

function requiredMark(): HTMLElement {
  return h("span", { class: "req", title: t("required") }, " *");
}

function renderScalar(node: ScalarNode, label?: string): HTMLElement {
  const field = node.field;
  const text = label ?? fieldLabel(field);
  const id = fieldId(node.path);
  const slot = errorSlot(node.path);
  const clearError = () => {
    slot.hidden = true;
    control.removeAttribute("aria-invalid");
  };
  const common = {
    id,
    name: node.path,
    "data-path": node.path,
    "data-type": node.type,
    "aria-describedby": errorId(node.path),
    "aria-required": field.required && node.type !== "boolean" ? "true" : null,
  };
  let control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;
  if (node.type === "boolean") {
    const box = h("input", { ...common, type: "checkbox", checked: node.value === true });
    box.addEventListener("change", () => {
      node.value = box.checked;
      clearError();
    });
    control = box;
    return h(
      "div",
      { class: "field" },
      h("label", { class: "check", for: id }, box, text, field.required ? requiredMark() : ""),
      slot,
    );
  }
  if (node.type === "choice") {
    control = h(
      "select",
      common,
      h("option", { value: "" }, t("choose")),
      (field.choices ?? []).map((choice) =>
        h(
          "option",
          { value: choice.value, selected: choice.value === node.value },
          getLang() === "en" ? choice.label.en : choice.label.zh,
        ),
      ),
    );
  } else if (node.type === "text") {
    control = h("textarea", { ...common, rows: 3 });
    control.value = String(node.value);
  } else {
    const types: Partial<Record<FieldType, Record<string, string | number | undefined>>> = {
      integer: { type: "number", inputmode: "numeric", step: 1, min: field.min, max: field.max },
      decimal: { type: "text", inputmode: "decimal" },
      date: { type: "date" },
      datetime: { type: "datetime-local", step: 60 },
    };
    control = h("input", { ...common, type: "text", ...types[node.type] });
    control.value = String(node.value);
  }
  const input = control;
  const write = () => {
    node.value = input.value;
    clearError();
  };
  input.addEventListener("input", write);
  input.addEventListener("change", write);
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, text, field.required ? requiredMark() : ""),
    input,
    slot,
  );
}

function renderList(node: ListNode): HTMLElement {
  const field = node.field;
  const min = minRows(field);
  const label = fieldLabel(field);
  const element: HTMLElement = h(
    "fieldset",
    { class: "list", "data-path": node.path, "data-testid": "list" },
    h(
      "legend",
      {},
      label,
      field.required ? requiredMark() : "",
      min > 1 ? h("span", { class: "hint" }, ` (${t("at_least_n", { n: min })})`) : "",
    ),
    node.rows.map((row, index) => {
      const remove = h(
        "button",
        {
          type: "button",
          class: "btn small ghost",
          "data-testid": "row-remove",
          "aria-label": `${t("remove_row")} ${label} ${index + 1}`,
          disabled: node.rows.length <= min,
        },
        t("remove_row"),
      );
      remove.addEventListener("click", () => {
        if (removeRow(node, node.path, node.rows.indexOf(row))) {
          element.replaceWith(renderList(node));
        }
      });
      const head = h(
        "div",
        { class: "row-head" },
        h("strong", {}, `${label} ${t("row_n", { n: index + 1 })}`),
        remove,
      );
      const content =
        row.kind === "group"
          ? row.children.map((child) => renderNode(child))
          : [renderNode(row, `${label} ${index + 1}`)];
      return h(
        "div",
        { class: "list-row", "data-testid": "list-row", "data-row": row.path },
        head,
        content,
      );
    }),
    errorSlot(node.path),
  );
  const add = h(
    "button",
    { type: "button", class: "btn small", "data-testid": "row-add", "data-path": node.path },
    `+ ${t("add_row", { what: label })}`,
  );
  add.addEventListener("click", () => {
    const row = addRow(node, node.path);
    const fresh = renderList(node);
    element.replaceWith(fresh);
    fresh
      .querySelector<HTMLElement>(
        `[data-row="${CSS.escape(row.path)}"] :is(input, select, textarea)`,
      )
      ?.focus();
  });
  element.append(add);
  return element;
}

// --- reading a document ----------------------------------------------------------------------

function formatValue(field: DocField, value: unknown): string {
  if (field.type === "boolean") return value === true ? t("yes") : t("no");
  if (field.type === "choice") {
    const choice = field.choices?.find((c) => c.value === value);
    if (choice) return getLang() === "en" ? choice.label.en : choice.label.zh;
  }
  if (field.type === "datetime" && typeof value === "string") {
    return toLocalDateTime(value).replace("T", " ");
  }
  return String(value);
}

const isBlank = (v: unknown) =>
  v === null || v === undefined || v === "" || (Array.isArray(v) && v.length === 0);

/** The document's contents as label/value pairs, nested like the form. */
export function renderSummary(fields: DocField[], values: Record<string, unknown>): HTMLElement {
  return h(
    "dl",
    { class: "doc-summary" },
    fields
      .filter((f) => !isBlank(values[f.name]))
      .map((f) => {
        const value = values[f.name];
        let shown: HTMLElement | string;
        if (f.type === "object") shown = renderSummary(f.fields ?? [], asRecord(value));
        else if (f.type === "list" && Array.isArray(value)) {
          shown = h(
            "ol",
            {},
            value.map((item) =>
              h(
                "li",
                {},
                f.fields
                  ? renderSummary(f.fields, asRecord(item))
                  : formatValue({ ...f, type: f.item_type ?? "string" }, item),
              ),
            ),
          );
        } else shown = formatValue(f, value);
        return [h("dt", {}, fieldLabel(f)), h("dd", {}, shown)];
      })
      .flat(),
  );
}

/** The latest version of each document series, newest first. */
export function latestVersions(docs: EnforcementDocument[]): EnforcementDocument[] {
  const latest = new Map<string, EnforcementDocument>();
  for (const doc of docs) {
    const seen = latest.get(doc.series_id);
    if (!seen || doc.version > seen.version) latest.set(doc.series_id, doc);
  }
  return [...latest.values()].sort((a, b) => b.created_at.localeCompare(a.created_at));
}

/** Roles signed in their own account (the server checks the account's role). */
const SIGNED_BY_ACCOUNT: Partial<Record<SignerRole, string[]>> = {
  officer: ["officer", "supervisor"],
  leader: ["leader"],
  reviewer: ["legal"],
  approver: ["supervisor", "leader"],
};

/** Whether this phone's user may capture the `role` signature (a party signs on their phone). */
export function canCapture(role: SignerRole, userRole: string): boolean {
  const who = SIGNED_BY_ACCOUNT[role];
  return !who || who.includes(userRole);
}

/** Who signs as `role` by default: the officer themself, the party named in the document. */
export function defaultSignerName(
  role: SignerRole,
  fields: Record<string, unknown>,
  user: Pick<User, "name" | "role">,
): string {
  if (role === "party") {
    const party = asRecord(fields.party ?? fields.interviewee);
    return typeof party.name === "string" ? party.name : "";
  }
  if (role === "recipient") return typeof fields.recipient === "string" ? fields.recipient : "";
  return canCapture(role, user.role) ? user.name : "";
}

export function missingSignatures(type: DocType, doc: EnforcementDocument): SignerRole[] {
  const have = new Set(doc.signatures.map((s) => s.role));
  return type.signatures.filter((role) => !have.has(role));
}

/** Document types to offer, the case's current stage first, then in the order of the procedure. */
export function typesForStage(types: DocType[], stage: string): DocType[][] {
  const creatable = types.filter((type) => type.signatures.length > 0); // the catalogue is generated
  const order = (s: string) => {
    const i = STAGES.indexOf(s as (typeof STAGES)[number]);
    return i < 0 ? STAGES.length : i;
  };
  // a document needed to leave this stage is offered here, whatever stage it belongs to
  const isHere = (type: DocType) =>
    type.stage === stage || (type.needed_to_leave ?? []).includes(stage);
  const here = creatable.filter(isHere);
  const others = creatable
    .filter((type) => !isHere(type))
    .sort((a, b) => order(a.stage) - order(b.stage));
  return [here, others];
}

function titleOf(title: { zh: string; en: string }): string {
  return getLang() === "en" ? title.en : title.zh;
}

function statusLabel(status: string): string {
  const key = `doc_status_${status}` as Key;
  const text = t(key);
  return text === key ? status : text;
}

/**
 * A moment on the documents screen, in Beijing time whatever the phone's zone: "2026/11/22 00:30"
 * in Chinese; "2026-11-22 00:30" in English (Swedish writes dates the ISO way), where a
 * locale's month/day order would be ambiguous.
 */
export function formatTime(iso: string | null): string {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime())
    ? iso
    : d.toLocaleString(getLang() === "en" ? "sv-SE" : getLang(), {
        hourCycle: "h23",
        dateStyle: "short",
        timeStyle: "short",
        timeZone: "Asia/Shanghai",
      });
}

// --- the 文书 screens ----------------------------------------------------------------------------

let typesCache: DocType[] | null = null;

async function loadTypes(): Promise<DocType[]> {
  typesCache ??= await api.documentTypes();
  return typesCache;
}

function errorText(err: unknown): string {
  return localMessage((err as Error).message);
}

/**
 * Where the 文书 sheet opens: a new document of a type, with fields filled in beforehand (the
 * guided flows of onsite-flow.ts and open-case.ts), or one document, or its handover QR.
 */
export type DocumentsStart =
  { type: string; fields?: Record<string, unknown> } | { docId: string; handover?: boolean };

/** Open the case's 文书 sheet. */
export function openDocuments(
  c: CaseRef,
  user: User,
  onCaseChanged?: (c: Case) => void,
  start?: DocumentsStart,
): Sheet {
  let leave: (() => void) | null = null;
  const sheet = openSheet("documents-screen", `${t("documents")} · ${c.number}`, () => {
    leave?.();
    leave = null;
  });
  const show = (title: string, back: (() => void) | null, ...parts: (Node | string)[]) => {
    leave?.();
    leave = null;
    sheet.setTitle(title);
    sheet.setBack(back);
    sheet.body.replaceChildren(...parts);
    sheet.element.scrollTop = 0;
  };
  const errorLine = () => h("p", { class: "error", role: "alert", "data-testid": "doc-error" });
  const typeOf = (code: string) => typesCache?.find((type) => type.code === code);

  // The case's documents and the types to start a new one from.
  const showList = async () => {
    show(`${t("documents")} · ${c.number}`, null, h("p", { class: "hint" }, t("loading")));
    let types: DocType[];
    let docs: EnforcementDocument[];
    try {
      [types, docs] = await Promise.all([loadTypes(), api.caseDocuments(c.id)]);
    } catch (err) {
      const retry = h("button", { type: "button", class: "btn" }, t("retry"));
      retry.addEventListener("click", () => void showList());
      show(
        `${t("documents")} · ${c.number}`,
        null,
        h("p", { class: "error", role: "alert" }, errorText(err)),
        retry,
      );
      return;
    }
    const [here, others] = typesForStage(types, c.current_stage);
    const typeButton = (type: DocType) =>
      h(
        "li",
        {},
        h(
          "button",
          {
            type: "button",
            class: "doc-type",
            "data-testid": "doc-type",
            "data-code": type.code,
            onclick: () => void showNewForm(type),
          },
          h("span", { class: "doc-type-title" }, titleOf(type.title)),
          h("span", { class: "case-meta" }, t(`stage_${type.stage}` as Key)),
        ),
      );
    const completeness = h(
      "button",
      { type: "button", class: "btn ghost", "data-testid": "btn-open-completeness" },
      t("completeness"),
    );
    completeness.addEventListener("click", () => openCompleteness(c, user, onCaseChanged));
    const latest = latestVersions(docs);
    show(
      `${t("documents")} · ${c.number}`,
      null,
      h("p", { class: "case-meta" }, c.title, " · ", t(`stage_${c.current_stage}` as Key)),
      completeness,
      h("h3", {}, t("case_documents")),
      latest.length === 0
        ? h("p", { class: "hint" }, t("no_documents"))
        : h(
            "ul",
            { class: "doc-list" },
            latest.map((doc) =>
              h(
                "li",
                {},
                h(
                  "button",
                  {
                    type: "button",
                    class: `doc-row ${doc.status}`,
                    "data-testid": "doc-row",
                    "data-doc-id": doc.id,
                    "data-status": doc.status,
                    onclick: () => void showDoc(doc.id),
                  },
                  h("span", { class: "doc-type-title" }, titleOf(doc.title)),
                  h(
                    "span",
                    { class: "case-meta" },
                    doc.number ?? t("unnumbered"),
                    " · ",
                    statusLabel(doc.status),
                    doc.version > 1 ? ` · ${t("version_n", { n: doc.version })}` : "",
                  ),
                ),
              ),
            ),
          ),
      h("h3", {}, t("new_document")),
      here.length
        ? h("ul", { class: "doc-types", "data-testid": "doc-types-here" }, here.map(typeButton))
        : h("p", { class: "hint" }, t("no_types_for_stage")),
      others.length
        ? h(
            "details",
            { class: "more-types" },
            h("summary", {}, t("other_stage_documents")),
            h("ul", { class: "doc-types" }, others.map(typeButton)),
          )
        : "",
    );
  };

  // A new document starts from what the case already knows (prefill.ts), marked for checking;
  // values `given` by a guided flow win over the suggestions.
  const showNewForm = async (type: DocType, given: Record<string, unknown> = {}) => {
    show(titleOf(type.title), () => void showList(), h("p", { class: "hint" }, t("loading")));
    let known: DocumentPrefill | null = null;
    try {
      known = await documentPrefill(c.id, type.code);
    } catch {
      known = null; // the form still opens, without suggestions
    }
    const sources = Object.fromEntries(
      Object.entries(known?.sources ?? {}).filter(([name]) => !(name in given)),
    );
    showForm(type, "create", undefined, { ...(known?.fields ?? {}), ...given }, sources);
  };

  // The generated form: a new document, an edit of an unsigned draft, or a correction.
  const showForm = (
    type: DocType,
    mode: "create" | "edit" | "correct",
    doc?: EnforcementDocument,
    prefill?: Record<string, unknown>,
    sources: Record<string, PrefillSource> = {},
  ) => {
    const root = buildForm(type.fields, doc?.fields ?? prefill ?? {});
    const view = renderForm(root);
    const prefilled = Object.keys(sources).length > 0;
    if (prefilled) markPrefilled(view.element, sources);
    const problem = errorLine();
    const save = h(
      "button",
      { type: "submit", class: "btn primary big", "data-testid": "btn-save-doc" },
      t("save_and_sign"),
    );
    const form = h(
      "form",
      {
        class: "stack doc-form",
        novalidate: true,
        "data-testid": "doc-form",
        "data-code": type.code,
      },
      mode === "correct" ? h("p", { class: "hint" }, t("correction_hint")) : "",
      prefilled ? prefilledBanner() : "",
      h("p", { class: "hint" }, t("required_hint")),
      view.element,
      problem,
      save,
    );
    const reportErrors = (errors: FieldErrors, message: string) => {
      view.showErrors(errors);
      problem.textContent = message;
      (view.firstInvalid() ?? problem).scrollIntoView({ block: "center" });
    };
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const local = checkRequired(root);
      if (Object.keys(local).length) {
        reportErrors(local, t("form_has_errors"));
        return;
      }
      save.disabled = true;
      save.textContent = t("working");
      problem.textContent = "";
      try {
        const fields = collect(root);
        const saved =
          mode === "create"
            ? await api.createDocument(c.id, type.code, fields)
            : mode === "edit"
              ? await api.updateDocument(doc!.id, fields)
              : await api.correctDocument(doc!.id, fields);
        void showDoc(saved.id, saved);
      } catch (err) {
        const fieldsErr = err instanceof api.ApiError ? err.details.fields : undefined;
        if (fieldsErr && typeof fieldsErr === "object") {
          reportErrors(flattenErrors(fieldsErr), `${errorText(err)}${t("see_marked")}`);
        } else {
          problem.textContent = errorText(err);
        }
        save.disabled = false;
        save.textContent = t("save_and_sign");
      }
    });
    show(titleOf(type.title), () => (doc ? void showDoc(doc.id, doc) : void showList()), form);
  };

  // One document: its contents, who has signed, issue, handover.
  const showDoc = async (id: string, known?: EnforcementDocument) => {
    let doc = known;
    try {
      await loadTypes();
      doc = known ?? (await api.getDocument(id));
    } catch (err) {
      show(t("documents"), () => void showList(), h("p", { class: "error" }, errorText(err)));
      return;
    }
    const type = typeOf(doc.type);
    if (!type) {
      show(titleOf(doc.title), () => void showList(), h("p", { class: "error" }, doc.type));
      return;
    }
    const d = doc;
    const problem = errorLine();
    const missing = missingSignatures(type, d);
    const draft = d.status === "draft";
    const parts: (Node | string)[] = [
      h(
        "div",
        { class: "summary-box", "data-testid": "doc-head", "data-status": d.status },
        h(
          "p",
          {},
          h("strong", {}, statusLabel(d.status)),
          d.version > 1 ? ` · ${t("version_n", { n: d.version })}` : "",
        ),
        d.number
          ? h("p", { class: "doc-number", "data-testid": "doc-number" }, d.number)
          : h("p", { class: "hint" }, t("number_on_issue")),
        d.issued_at
          ? h("p", { class: "case-meta" }, t("issued_at"), t("colon"), formatTime(d.issued_at))
          : "",
      ),
    ];
    if (d.status === "issued" && d.for_the_party) {
      const handover = h(
        "button",
        { type: "button", class: "btn primary big", "data-testid": "btn-handover" },
        t("handover"),
      );
      handover.addEventListener("click", () => void showHandover(d));
      parts.push(handover, h("p", { class: "hint" }, t("handover_hint")));
    }
    parts.push(
      h(
        "details",
        { class: "doc-content", open: draft },
        h("summary", {}, t("doc_content")),
        renderSummary(type.fields, d.fields),
      ),
    );
    if (draft && d.signatures.length === 0) {
      const edit = h("button", { type: "button", class: "btn" }, t("edit_content"));
      edit.addEventListener("click", () => showForm(type, "edit", d));
      parts.push(edit);
    } else if (draft && !d.signatures.some((s) => s.role === "leader")) {
      // A signature attests what it was given under: a correction is a new version.
      const correct = h(
        "button",
        { type: "button", class: "btn", "data-testid": "btn-correct-signed" },
        t("correct_signed"),
      );
      correct.addEventListener("click", () => showForm(type, "correct", d));
      parts.push(correct, h("p", { class: "hint" }, t("correct_signed_hint")));
    }
    parts.push(
      h("h3", {}, t("signatures")),
      h(
        "ul",
        { class: "sig-list" },
        type.signatures.map((role) => {
          const signed = d.signatures.find((s) => s.role === role);
          let state: HTMLElement | string;
          if (signed) {
            state = h(
              "span",
              { class: "good" },
              t("signed_by", { name: signed.signer_name, at: formatTime(signed.signed_at) }),
            );
          } else if (!draft) {
            state = h("span", { class: "hint" }, t("not_signed"));
          } else if (canCapture(role, user.role)) {
            const sign = h(
              "button",
              {
                type: "button",
                class: "btn primary",
                "data-testid": "btn-sign",
                "data-role": role,
              },
              t("sign_as", { role: roleLabel(role) }),
            );
            sign.addEventListener("click", () => showSign(d, type, role));
            state = sign;
          } else {
            state = h(
              "span",
              { class: "hint" },
              t("sign_in_own_account", { role: roleLabel(role) }),
            );
          }
          return h(
            "li",
            { "data-testid": "sig-role", "data-role": role, "data-signed": String(!!signed) },
            h("strong", {}, roleLabel(role)),
            state,
          );
        }),
      ),
    );
    if (draft) {
      const issue = h(
        "button",
        {
          type: "button",
          class: "btn primary big",
          "data-testid": "btn-issue",
          disabled: missing.length > 0,
        },
        t("issue"),
      );
      issue.addEventListener("click", async () => {
        issue.disabled = true;
        issue.textContent = t("working");
        problem.textContent = "";
        try {
          const issued = await api.issueDocument(d.id);
          void showDoc(issued.id, issued);
        } catch (err) {
          const lines =
            err instanceof api.ApiError && err.code === "signatures_missing"
              ? [
                  t("missing_signatures", {
                    roles: missingMessages(err.details).join(t("list_sep")),
                  }),
                ]
              : [errorText(err)];
          problem.textContent = lines.join(" ");
          issue.disabled = false;
          issue.textContent = t("issue");
        }
      });
      parts.push(
        missing.length
          ? h(
              "p",
              { class: "hint", "data-testid": "issue-blocked" },
              t("missing_signatures", { roles: missing.map(roleLabel).join(t("list_sep")) }),
            )
          : h("p", { class: "hint" }, t("issue_hint")),
        issue,
      );
    } else {
      const correct = h("button", { type: "button", class: "btn ghost" }, t("correct"));
      correct.addEventListener("click", () => showForm(type, "correct", d));
      if (d.status === "issued") parts.push(correct);
      if (d.status === "superseded") parts.push(h("p", { class: "hint" }, t("superseded_hint")));
    }
    const completeness = h(
      "button",
      { type: "button", class: "btn ghost", "data-testid": "btn-open-completeness" },
      t("completeness"),
    );
    completeness.addEventListener("click", () => openCompleteness(c, user, onCaseChanged));
    parts.push(problem, completeness);
    show(titleOf(d.title), () => void showList(), ...parts);
  };

  // A signature on the pad, for one role.
  const showSign = (doc: EnforcementDocument, type: DocType, role: SignerRole) => {
    const name = h("input", {
      id: "signer-name",
      name: "signer_name",
      "data-testid": "signer-name",
      autocomplete: "off",
    });
    name.value = defaultSignerName(role, doc.fields, user);
    const problem = errorLine();
    const confirm = h(
      "button",
      {
        type: "button",
        class: "btn primary big",
        "data-testid": "btn-sign-confirm",
        disabled: true,
      },
      t("confirm_signature"),
    );
    let busy = false;
    const pad = createSignaturePad({
      label: t("sig_area_for", { role: roleLabel(role) }),
      onChange: (empty) => (confirm.disabled = empty || busy),
    });
    const cancel = h("button", { type: "button", class: "btn ghost" }, t("cancel"));
    cancel.addEventListener("click", () => void showDoc(doc.id, doc));
    confirm.addEventListener("click", async () => {
      const signer = name.value.trim();
      if (!signer) {
        problem.textContent = t("signer_name_needed");
        name.focus();
        return;
      }
      if (pad.isEmpty()) return;
      busy = true;
      confirm.disabled = true;
      confirm.textContent = t("working");
      problem.textContent = "";
      try {
        const signed = await api.signDocument(doc.id, {
          role,
          signer_name: signer,
          image: pad.toDataURL(),
          device_signed_at: isoWithOffset(),
        });
        void showDoc(signed.id, signed);
      } catch (err) {
        problem.textContent = errorText(err);
        busy = false;
        confirm.disabled = pad.isEmpty();
        confirm.textContent = t("confirm_signature");
      }
    });
    const who = role === "party" || role === "recipient" ? "sign_hint_party" : "sign_hint_officer";
    show(
      t("sign_as", { role: roleLabel(role) }),
      () => void showDoc(doc.id, doc),
      h("p", { class: "hint" }, t(who)),
      h(
        "details",
        { class: "doc-content" },
        h("summary", {}, `${t("doc_content")}${t("colon")}${titleOf(doc.title)}`),
        renderSummary(type.fields, doc.fields),
      ),
      h("label", { for: "signer-name" }, t("signer_name")),
      name,
      pad.element,
      problem,
      h("div", { class: "row sign-actions" }, cancel, confirm),
    );
    leave = () => pad.destroy();
  };

  // The QR code the party scans to open the PDF on their own phone.
  const showHandover = async (doc: EnforcementDocument) => {
    const back = () => void showDoc(doc.id, doc);
    show(t("handover_title"), back, h("p", { class: "hint" }, t("loading")));
    let offer: api.Handover;
    try {
      offer = await api.handoverDocument(doc.id);
    } catch (err) {
      const retry = h("button", { type: "button", class: "btn" }, t("retry"));
      retry.addEventListener("click", () => void showHandover(doc));
      show(
        t("handover_title"),
        back,
        h("p", { class: "error", role: "alert" }, errorText(err)),
        retry,
      );
      return;
    }
    const countdown = h("p", { class: "handover-countdown", "data-testid": "handover-countdown" });
    const again = h("button", { type: "button", class: "btn", hidden: true }, t("handover_again"));
    again.addEventListener("click", () => void showHandover(doc));
    const tick = () => {
      const left = Math.max(0, Math.floor((Date.parse(offer.expires_at) - Date.now()) / 1000));
      countdown.textContent =
        left > 0
          ? t("handover_left", { m: Math.floor(left / 60), s: pad2(left % 60) })
          : t("handover_expired");
      countdown.classList.toggle("bad", left === 0);
      again.hidden = left > 0;
    };
    tick();
    const timer = setInterval(tick, 1000);
    let wakeLock: WakeLockSentinel | null = null;
    void navigator.wakeLock
      ?.request("screen")
      .then((lock) => (wakeLock = lock))
      .catch(() => null);
    show(
      t("handover_title"),
      back,
      h("p", { class: "doc-number" }, titleOf(doc.title), " ", doc.number ?? ""),
      h(
        "div",
        { class: "handover-qr" },
        h("img", {
          src: svgDataUrl(offer.qr_svg),
          alt: t("handover_qr_alt"),
          "data-testid": "handover-qr",
          "data-url": offer.url,
        }),
      ),
      h("p", { class: "handover-tell" }, t("handover_tell")),
      h(
        "p",
        { "data-testid": "handover-expires" },
        t("handover_until", { at: formatTime(offer.expires_at) }),
      ),
      countdown,
      again,
      h("p", { class: "case-meta handover-url", "data-testid": "handover-url" }, offer.url),
    );
    leave = () => {
      clearInterval(timer);
      void wakeLock?.release().catch(() => undefined);
    };
  };

  const begin = async () => {
    if (!start) return showList();
    if ("docId" in start) {
      if (!start.handover) return showDoc(start.docId);
      try {
        await loadTypes();
        return showHandover(await api.getDocument(start.docId));
      } catch {
        return showDoc(start.docId);
      }
    }
    try {
      const type = (await loadTypes()).find((x) => x.code === start.type);
      return type ? showForm(type, "create", undefined, start.fields) : showList();
    } catch {
      return showList();
    }
  };
  void begin();
  return sheet;
}
