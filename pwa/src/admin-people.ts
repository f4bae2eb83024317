/**
 * The admin's set-up screens: the unit (its full name, the prefix of its document numbers,
 * address and phone), its people (create, change name and role, reset a password, deactivate
 * and reactivate), each officer's 执法证 (issue, suspend, revoke, reactivate, renew for a new
 * period, photo) and the unit's phones (their 亮证 keys; revoke a lost one).
 *
 * Routes (admin.ts): #/admin/unit, #/admin/people, #/admin/people/<id>, #/admin/devices.
 * Lists are cards, not tables, so they read on a 360 px phone without sideways scrolling.
 */
import { ApiError, fetchBlob } from "./api";
import * as aapi from "./admin-api";
import type { Account, Credential, Device, Unit } from "./admin-api";
import { errorBox, explain, fmtDate, fmtTime, label } from "./console-ui";
import { shanghaiDate } from "./device-key";
import { h } from "./dom";
import { getLang, t, type Key } from "./i18n";

export const ROLES = ["officer", "supervisor", "legal", "leader", "admin"] as const;
/** Roles that hold a 执法证 (server/services/credentials.py HOLDER_ROLES). */
export const HOLDER_ROLES = ["officer", "supervisor"];
export const MIN_PASSWORD = 10;

// --- pure helpers ------------------------------------------------------------------------------

/** Today in Asia/Shanghai as YYYY-MM-DD (credential periods are local days). */
export function shanghaiToday(now: Date = new Date()): string {
  return shanghaiDate(now.getTime());
}

/** `YYYY-MM-DD` plus whole years (29 February → 28 February). */
export function addYears(day: string, years: number): string {
  const [y, m, d] = day.split("-").map(Number);
  const last = new Date(Date.UTC(y + years, m, 0)).getUTCDate();
  return `${y + years}-${String(m).padStart(2, "0")}-${String(Math.min(d, last)).padStart(2, "0")}`;
}

/** What a document number of this unit looks like now: 沪静市监罚〔2026〕1号. */
export function sampleNumber(prefix: string, year: number): string {
  return `${prefix}罚〔${year}〕1号`;
}

/** "市场监管，食品安全、药品" → ["市场监管", "食品安全", "药品"]. */
export function splitCategories(text: string): string[] {
  return text
    .split(/[,，、;；\s]+/)
    .map((c) => c.trim())
    .filter(Boolean);
}

const ERROR_KEYS: Record<string, Key> = {
  user_exists: "adm_err_user_exists",
  weak_password: "adm_err_weak_password",
  credential_exists: "adm_err_credential_exists",
  credential_revoked: "adm_err_credential_revoked",
  not_a_holder: "adm_err_not_a_holder",
  user_inactive: "adm_err_user_inactive",
  invalid_photo: "adm_err_photo",
  photo_too_large: "adm_err_photo",
  unsupported_media_type: "adm_err_photo",
  invalid: "form_has_errors",
};

/** An API error in the screen's language: known codes by our own words, else explain(). */
export function adminError(err: unknown, what: string): string {
  if (err instanceof ApiError && ERROR_KEYS[err.code]) {
    return `${what}${t("colon")}${t(ERROR_KEYS[err.code])}`;
  }
  return explain(err, what);
}

// --- small building blocks ----------------------------------------------------------------------

function input(name: string, attrs: Record<string, string | number | boolean> = {}) {
  return h("input", { name, "data-testid": `in-${name}`, ...attrs });
}

function field(text: string, control: HTMLElement, hint?: string): HTMLElement {
  return h(
    "label",
    { class: "field" },
    text,
    control,
    hint ? h("span", { class: "hint" }, hint) : "",
  );
}

function roleSelect(name: string, value = "officer"): HTMLSelectElement {
  const select = h(
    "select",
    { name, "data-testid": `in-${name}` },
    ROLES.map((r) => h("option", { value: r }, label("role", r))),
  );
  select.value = value;
  return select;
}

function statusLine(testid: string): HTMLElement {
  return h("div", { role: "status", "data-testid": testid });
}

function good(el: HTMLElement, text: string, testid: string): void {
  el.replaceChildren(h("p", { class: "good", "data-testid": testid }, text));
}

/** Run a button's action: disabled while it runs, errors into `status`. */
async function busy(
  button: HTMLButtonElement,
  status: HTMLElement,
  what: string,
  action: () => Promise<void>,
): Promise<void> {
  button.disabled = true;
  status.replaceChildren();
  try {
    await action();
  } catch (err) {
    status.replaceChildren(errorBox(adminError(err, what)));
  } finally {
    button.disabled = false;
  }
}

/** The warning every admin page shows until the unit has a name and a document prefix. */
export function unitWarning(unit: Unit | null): HTMLElement | string {
  if (!unit || !unit.missing.length) return "";
  return h(
    "div",
    { class: "admin-warning", role: "alert", "data-testid": "unit-warning" },
    unit.missing.includes("short_name") ? h("p", {}, t("unit_warn_prefix")) : "",
    unit.missing.includes("name") ? h("p", {}, t("unit_warn_name")) : "",
    h(
      "p",
      {},
      t("unit_warn_now", {
        number: sampleNumber(unit.number_prefix, Number(shanghaiToday().slice(0, 4))),
      }),
    ),
    location.hash === "#/admin/unit"
      ? ""
      : h(
          "a",
          { href: "#/admin/unit", class: "btn small", "data-testid": "unit-warning-fix" },
          t("unit_settings"),
        ),
  );
}

// --- the unit ------------------------------------------------------------------------------------

export async function unitPage(
  el: HTMLElement,
  current: () => boolean,
  changed: (unit: Unit) => void,
): Promise<void> {
  el.replaceChildren(h("h2", {}, t("unit_settings")), h("p", { class: "hint" }, t("loading")));
  let unit: Unit;
  try {
    unit = await aapi.unit();
  } catch (err) {
    if (current())
      el.replaceChildren(
        h("h2", {}, t("unit_settings")),
        errorBox(adminError(err, t("unit_settings"))),
      );
    return;
  }
  if (!current()) return;
  const name = input("name", {
    value: unit.missing.includes("name") ? "" : unit.name,
    maxlength: 200,
    required: true,
    placeholder: t("unit_name_example"),
  });
  const prefix = input("short_name", {
    value: unit.short_name,
    maxlength: 40,
    placeholder: t("unit_prefix_example"),
  });
  const address = input("address", { value: unit.address, maxlength: 300 });
  const phone = input("contact_phone", { value: unit.contact_phone, maxlength: 40, type: "tel" });
  const year = Number(shanghaiToday().slice(0, 4));
  const preview = h("p", { class: "hint", "data-testid": "number-preview" });
  const showPreview = () => {
    const p = prefix.value.trim() || name.value.trim() || unit.number_prefix;
    preview.textContent = t("unit_number_preview", { number: sampleNumber(p, year) });
  };
  prefix.addEventListener("input", showPreview);
  name.addEventListener("input", showPreview);
  showPreview();
  const status = statusLine("unit-status");
  const save = h(
    "button",
    { type: "submit", class: "btn primary", "data-testid": "unit-save" },
    t("save_changes"),
  );
  const form = h(
    "form",
    { class: "stack admin-form", novalidate: true, "data-testid": "unit-form" },
    field(`${t("unit_name")} *`, name),
    field(t("unit_prefix"), prefix, t("unit_prefix_hint")),
    preview,
    field(t("unit_address"), address),
    field(t("unit_phone"), phone),
    save,
    status,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!name.value.trim()) {
      status.replaceChildren(errorBox(t("unit_name_required")));
      name.focus();
      return;
    }
    void busy(save, status, t("unit_settings"), async () => {
      const saved = await aapi.saveUnit({
        name: name.value.trim(),
        short_name: prefix.value.trim(),
        address: address.value.trim(),
        contact_phone: phone.value.trim(),
      });
      changed(saved);
      if (!current()) return;
      warning.replaceChildren(unitWarning(saved));
      good(status, t("unit_saved"), "unit-saved");
    });
  });
  const warning = h("div", {}, unitWarning(unit));
  el.replaceChildren(
    h("h2", { "data-testid": "unit-head" }, t("unit_settings")),
    warning,
    h("p", { class: "hint" }, t("unit_code_is", { code: unit.code })),
    form,
  );
}

// --- people --------------------------------------------------------------------------------------

function accountChip(a: Account): HTMLElement {
  return a.active
    ? h(
        "span",
        { class: "chip ok", "data-testid": "account-status", "data-active": "1" },
        t("account_active"),
      )
    : h(
        "span",
        { class: "chip", "data-testid": "account-status", "data-active": "0" },
        t("account_inactive"),
      );
}

export async function peoplePage(el: HTMLElement, current: () => boolean): Promise<void> {
  const list = h("div", {}, h("p", { class: "hint" }, t("loading")));
  el.replaceChildren(h("h2", {}, t("people")), newAccountForm(), list);
  try {
    const items = await aapi.accounts();
    if (!current()) return;
    list.replaceChildren(
      h(
        "ul",
        { class: "admin-cards", "data-testid": "people-list" },
        items.map((a) =>
          h(
            "li",
            { "data-testid": "person", "data-username": a.username, "data-user-id": a.id },
            h(
              "a",
              { href: `#/admin/people/${a.id}`, class: "card-link", "data-testid": "person-link" },
              h("strong", {}, a.name),
              ` ${a.username} · ${label("role", a.role)} `,
              accountChip(a),
            ),
          ),
        ),
      ),
    );
  } catch (err) {
    if (current()) list.replaceChildren(errorBox(adminError(err, t("people"))));
  }
}

function newAccountForm(): HTMLElement {
  const username = input("username", {
    autocomplete: "off",
    autocapitalize: "none",
    maxlength: 64,
  });
  const name = input("name", { maxlength: 100 });
  const role = roleSelect("role");
  const password = input("password", { type: "password", autocomplete: "new-password" });
  const status = statusLine("new-person-status");
  const save = h(
    "button",
    { type: "submit", class: "btn primary", "data-testid": "person-create" },
    t("person_create"),
  );
  const form = h(
    "form",
    { class: "stack admin-form", novalidate: true, "data-testid": "new-person" },
    field(`${t("username")} *`, username),
    field(`${t("person_name")} *`, name),
    field(t("person_role"), role),
    field(`${t("person_password")} *`, password, t("password_rule", { n: MIN_PASSWORD })),
    save,
    status,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!username.value.trim() || !name.value.trim()) {
      status.replaceChildren(errorBox(t("form_has_errors")));
      return;
    }
    if (password.value.length < MIN_PASSWORD) {
      status.replaceChildren(errorBox(t("password_rule", { n: MIN_PASSWORD })));
      password.focus();
      return;
    }
    void busy(save, status, t("person_create"), async () => {
      const made = await aapi.createAccount({
        username: username.value.trim(),
        name: name.value.trim(),
        role: role.value,
        password: password.value,
      });
      location.hash = `#/admin/people/${made.id}`;
    });
  });
  return h(
    "details",
    { class: "admin-new", "data-testid": "new-person-box" },
    h("summary", { class: "btn small", "data-testid": "new-person-open" }, t("person_new")),
    form,
  );
}

export async function personPage(
  el: HTMLElement,
  id: number,
  current: () => boolean,
  me: number | null,
): Promise<void> {
  const back = h(
    "a",
    { class: "btn small ghost back", href: "#/admin/people", "data-testid": "admin-back" },
    `‹ ${t("people")}`,
  );
  el.replaceChildren(back, h("p", { class: "hint" }, t("loading")));
  let person: Account;
  let creds: Credential[];
  let phones: Device[];
  try {
    [person, creds, phones] = await Promise.all([
      aapi.account(id),
      aapi.credentials(id),
      aapi.devices(),
    ]);
  } catch (err) {
    if (current()) el.replaceChildren(back, errorBox(adminError(err, t("people"))));
    return;
  }
  if (!current()) return;
  const reload = () => void personPage(el, id, current, me);
  phones = phones.filter((d) => d.holder.id === id);

  // name and role
  const name = input("name", { value: person.name, maxlength: 100 });
  const role = roleSelect("role", person.role);
  const editStatus = statusLine("person-edit-status");
  const saveEdit = h(
    "button",
    { type: "submit", class: "btn", "data-testid": "person-save" },
    t("save_changes"),
  );
  const edit = h(
    "form",
    { class: "stack admin-form", novalidate: true, "data-testid": "person-edit" },
    field(t("person_name"), name),
    field(t("person_role"), role, t("role_change_hint")),
    saveEdit,
    editStatus,
  );
  edit.addEventListener("submit", (event) => {
    event.preventDefault();
    void busy(saveEdit, editStatus, t("save_changes"), async () => {
      await aapi.updateAccount(id, { name: name.value.trim(), role: role.value });
      reload();
    });
  });

  // password
  const password = input("new_password", { type: "password", autocomplete: "new-password" });
  const pwStatus = statusLine("password-status");
  const pwButton = h(
    "button",
    { type: "submit", class: "btn", "data-testid": "password-reset" },
    t("password_reset"),
  );
  const pwForm = h(
    "form",
    { class: "stack admin-form", novalidate: true, "data-testid": "password-form" },
    field(t("person_password_new"), password, t("password_reset_hint", { n: MIN_PASSWORD })),
    pwButton,
    pwStatus,
  );
  pwForm.addEventListener("submit", (event) => {
    event.preventDefault();
    if (password.value.length < MIN_PASSWORD) {
      pwStatus.replaceChildren(errorBox(t("password_rule", { n: MIN_PASSWORD })));
      return;
    }
    void busy(pwButton, pwStatus, t("password_reset"), async () => {
      await aapi.resetPassword(id, password.value);
      password.value = "";
      good(pwStatus, t("password_reset_done"), "password-done");
    });
  });

  // deactivate / reactivate
  const reason = input("active_reason", { maxlength: 2000 });
  const activeStatus = statusLine("active-status");
  const toggle = h(
    "button",
    {
      type: "submit",
      class: `btn ${person.active ? "danger" : "primary"}`,
      "data-testid": person.active ? "person-deactivate" : "person-reactivate",
    },
    person.active ? t("person_deactivate") : t("person_reactivate"),
  );
  const activeForm = h(
    "form",
    { class: "stack admin-form", novalidate: true, "data-testid": "active-form" },
    person.active ? h("p", { class: "hint" }, t("person_deactivate_hint")) : "",
    field(t("reason_optional"), reason),
    toggle,
    activeStatus,
  );
  activeForm.addEventListener("submit", (event) => {
    event.preventDefault();
    if (person.active && !confirm(t("person_deactivate_confirm", { name: person.name }))) return;
    void busy(toggle, activeStatus, toggle.textContent ?? "", async () => {
      await aapi.setActive(id, !person.active, reason.value.trim());
      reload();
    });
  });

  const holder = HOLDER_ROLES.includes(person.role);
  el.replaceChildren(
    back,
    h(
      "h2",
      { "data-testid": "person-head", "data-user-id": id },
      person.name,
      " ",
      accountChip(person),
    ),
    h(
      "dl",
      { class: "facts" },
      [
        [t("username"), person.username],
        [t("person_role"), label("role", person.role)],
        [t("cred_unit"), person.unit.display_name],
        [t("created_at"), fmtTime(person.created_at)],
      ].flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
    ),
    id === me ? h("p", { class: "hint" }, t("person_is_you")) : "",
    h("h3", {}, t("person_edit")),
    edit,
    h("h3", {}, t("password_reset")),
    pwForm,
    h("h3", {}, person.active ? t("person_deactivate") : t("person_reactivate")),
    activeForm,
    h("h3", {}, t("credentials_of")),
    holder
      ? h(
          "div",
          { class: "stack" },
          creds.length
            ? h(
                "ul",
                { class: "admin-cards", "data-testid": "credential-list" },
                creds.map((c) => credentialCard(c, reload)),
              )
            : h("p", { class: "hint", "data-testid": "no-credentials" }, t("no_credentials_yet")),
          person.active ? issueForm(person, reload) : "",
        )
      : h("p", { class: "hint" }, t("not_a_holder_hint")),
    h("h3", {}, t("devices")),
    phones.length
      ? h(
          "ul",
          { class: "admin-cards" },
          phones.map((d) => deviceCard(d, reload)),
        )
      : h("p", { class: "hint" }, t("no_devices")),
  );
}

// --- credentials ---------------------------------------------------------------------------------

function credentialChip(c: Credential): HTMLElement {
  const expired = c.status === "active" && c.valid_to < shanghaiToday();
  const status = expired ? "expired" : c.status;
  return h(
    "span",
    { class: `chip cred-${status}`, "data-testid": "credential-status", "data-status": status },
    label("cred_status", status),
  );
}

function credentialCard(c: Credential, reload: () => void): HTMLElement {
  const status = statusLine("credential-action-status");
  const photo = h("div", { class: "cred-photo-slot" });
  if (c.photo_sha256) {
    void fetchBlob(`/api/v1/credentials/${c.id}/photo`)
      .then((blob) => {
        photo.replaceChildren(
          h("img", {
            src: URL.createObjectURL(blob),
            alt: t("cred_photo_alt"),
            class: "cred-photo-thumb",
            "data-testid": "credential-photo",
          }),
        );
      })
      .catch((err) => photo.replaceChildren(errorBox(adminError(err, t("cred_photo")))));
  } else {
    photo.replaceChildren(
      h("p", { class: "bad", "data-testid": "credential-no-photo" }, t("cred_no_photo")),
    );
  }

  // photo upload
  // The browser's own file button speaks the browser's language: hide it behind ours.
  const file = h("input", {
    type: "file",
    accept: "image/jpeg,image/png",
    "data-testid": "photo-file",
    class: "visually-hidden",
  });
  file.addEventListener("change", () => {
    const chosen = file.files?.[0];
    if (!chosen) return;
    const reader = new FileReader();
    reader.onload = async () => {
      status.replaceChildren(h("p", { class: "hint" }, t("cred_photo_uploading")));
      try {
        await aapi.uploadPhoto(c.id, String(reader.result));
        reload();
      } catch (err) {
        status.replaceChildren(errorBox(adminError(err, t("cred_photo"))));
      }
    };
    reader.readAsDataURL(chosen);
  });

  const actions = h("div", { class: "row" });
  const reason = input("status_reason", { maxlength: 2000 });
  const act = (target: string, text: string, testid: string, confirmKey?: Key) => {
    const button = h(
      "button",
      {
        type: "button",
        class: `btn small ${target === "revoked" ? "danger" : ""}`,
        "data-testid": testid,
      },
      text,
    );
    button.addEventListener("click", () => {
      if (!reason.value.trim()) {
        status.replaceChildren(errorBox(t("cred_reason_needed")));
        reason.focus();
        return;
      }
      if (confirmKey && !confirm(t(confirmKey, { number: c.number }))) return;
      void busy(button, status, text, async () => {
        await aapi.changeCredentialStatus(c.id, target, reason.value.trim());
        reload();
      });
    });
    return button;
  };
  if (c.status === "active") actions.append(act("suspended", t("cred_suspend"), "cred-suspend"));
  if (c.status === "suspended")
    actions.append(act("active", t("cred_reactivate"), "cred-reactivate"));
  if (c.status !== "revoked")
    actions.append(act("revoked", t("cred_revoke"), "cred-revoke", "cred_revoke_confirm"));

  const manage =
    c.status === "revoked"
      ? h("p", { class: "hint" }, t("cred_revoked_final"))
      : h(
          "div",
          { class: "stack" },
          h(
            "div",
            { class: "field file-field" },
            h(
              "label",
              { class: "btn small file-pick", "data-testid": "photo-pick" },
              c.photo_sha256 ? t("cred_photo_replace") : t("cred_photo_upload"),
              file,
            ),
            h("span", { class: "hint" }, t("cred_photo_hint")),
          ),
          field(t("cred_status_reason"), reason),
          actions,
          renewForm(c, reload),
        );

  return h(
    "li",
    {
      class: "cred-card",
      "data-testid": "credential",
      "data-number": c.number,
      "data-credential-id": c.id,
    },
    h(
      "div",
      { class: "cred-card-head" },
      photo,
      h(
        "div",
        {},
        h("strong", {}, `${t("cred_number")} ${c.number}`),
        " ",
        credentialChip(c),
        h(
          "p",
          { class: "hint" },
          `${t("cred_valid")}${t("colon")}${fmtDate(c.valid_from)} – ${fmtDate(c.valid_to)}`,
        ),
        h(
          "p",
          { class: "hint" },
          `${c.categories.join(getLang() === "en" ? ", " : "、")} · ${c.area} · ${c.issuing_authority}`,
        ),
      ),
    ),
    manage,
    status,
  );
}

function renewForm(c: Credential, reload: () => void): HTMLElement {
  const start = c.valid_to >= shanghaiToday() ? c.valid_to : shanghaiToday();
  const number = input("renew_number", { maxlength: 64 });
  const from = input("renew_from", { type: "date", value: start });
  const to = input("renew_to", { type: "date", value: addYears(start, 3) });
  const status = statusLine("renew-status");
  const button = h(
    "button",
    { type: "submit", class: "btn", "data-testid": "cred-renew" },
    t("cred_renew"),
  );
  const form = h(
    "form",
    { class: "stack admin-form", novalidate: true, "data-testid": "renew-form" },
    h("p", { class: "hint" }, t("cred_renew_hint")),
    field(`${t("cred_new_number")} *`, number),
    field(t("cred_valid_from"), from),
    field(t("cred_valid_to"), to),
    button,
    status,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!number.value.trim() || !from.value || !to.value || to.value < from.value) {
      status.replaceChildren(errorBox(t("form_has_errors")));
      return;
    }
    void busy(button, status, t("cred_renew"), async () => {
      await aapi.renewCredential(c.id, {
        number: number.value.trim(),
        valid_from: from.value,
        valid_to: to.value,
      });
      reload();
    });
  });
  return h(
    "details",
    { "data-testid": "renew-box" },
    h("summary", { class: "btn small ghost", "data-testid": "renew-open" }, t("cred_renew")),
    form,
  );
}

function issueForm(person: Account, reload: () => void): HTMLElement {
  const today = shanghaiToday();
  const number = input("cred_number", { maxlength: 64 });
  const authority = input("cred_authority", {
    maxlength: 200,
    placeholder: t("cred_authority_example"),
  });
  const categories = input("cred_categories", {
    maxlength: 300,
    placeholder: t("cred_categories_example"),
  });
  const area = input("cred_area", { maxlength: 200 });
  const from = input("cred_from", { type: "date", value: today });
  const to = input("cred_to", { type: "date", value: addYears(today, 3) });
  const status = statusLine("issue-status");
  const button = h(
    "button",
    { type: "submit", class: "btn primary", "data-testid": "cred-issue" },
    t("cred_issue"),
  );
  const form = h(
    "form",
    { class: "stack admin-form", novalidate: true, "data-testid": "issue-form" },
    field(`${t("cred_number")} *`, number),
    field(`${t("cred_authority")} *`, authority),
    field(`${t("cred_categories")} *`, categories, t("cred_categories_hint")),
    field(`${t("cred_area")} *`, area),
    field(t("cred_valid_from"), from),
    field(t("cred_valid_to"), to),
    button,
    status,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const cats = splitCategories(categories.value);
    if (
      !number.value.trim() ||
      !authority.value.trim() ||
      !cats.length ||
      !area.value.trim() ||
      !from.value ||
      !to.value ||
      to.value < from.value
    ) {
      status.replaceChildren(errorBox(t("form_has_errors")));
      return;
    }
    void busy(button, status, t("cred_issue"), async () => {
      await aapi.issueCredential({
        user_id: person.id,
        number: number.value.trim(),
        issuing_authority: authority.value.trim(),
        categories: cats,
        area: area.value.trim(),
        valid_from: from.value,
        valid_to: to.value,
      });
      reload();
    });
  });
  return h(
    "details",
    { class: "admin-new", "data-testid": "issue-box" },
    h("summary", { class: "btn small", "data-testid": "issue-open" }, t("cred_issue")),
    form,
  );
}

// --- phones --------------------------------------------------------------------------------------

function deviceCard(d: Device, reload: () => void): HTMLElement {
  const live = d.keys.filter((k) => !k.revoked_at);
  const status = statusLine("device-status");
  let manage: HTMLElement | string = "";
  if (live.length) {
    const reason = input("device_reason", { maxlength: 2000 });
    const button = h(
      "button",
      { type: "submit", class: "btn small danger", "data-testid": "device-revoke" },
      t("device_revoke"),
    );
    const form = h(
      "form",
      { class: "stack admin-form", novalidate: true },
      field(t("reason"), reason),
      button,
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!reason.value.trim()) {
        status.replaceChildren(errorBox(t("cred_reason_needed")));
        return;
      }
      if (!confirm(t("device_revoke_confirm", { name: d.holder.name }))) return;
      void busy(button, status, t("device_revoke"), async () => {
        await aapi.revokeDevice(d.id, reason.value.trim());
        reload();
      });
    });
    manage = form;
  } else {
    manage = h("p", { class: "hint" }, d.keys.length ? "" : t("device_no_key"));
  }
  const revokedKey = d.keys.find((k) => k.revoked_at);
  return h(
    "li",
    { "data-testid": "device", "data-device-id": d.id },
    h("strong", {}, d.holder.name),
    " ",
    d.revoked
      ? h(
          "span",
          { class: "chip", "data-testid": "device-state", "data-state": "revoked" },
          t("device_revoked"),
        )
      : live.length
        ? h(
            "span",
            { class: "chip ok", "data-testid": "device-state", "data-state": "live" },
            t("device_live"),
          )
        : h(
            "span",
            { class: "chip muted", "data-testid": "device-state", "data-state": "nokey" },
            t("device_uploads_only"),
          ),
    h(
      "p",
      { class: "hint", title: d.id },
      `${t("device_registered")}${t("colon")}${fmtTime(d.registered_at ?? d.last_upload_at)}`,
    ),
    h(
      "p",
      { class: "hint" },
      `${t("device_last_seen")}${t("colon")}${fmtTime(d.last_seen_at ?? d.last_upload_at)} · ${t("device_uploads", { n: d.uploads })}`,
    ),
    d.revoked && revokedKey
      ? h(
          "p",
          { class: "hint" },
          `${t("device_revoked_at")}${t("colon")}${fmtTime(revokedKey.revoked_at)} · ${revokedKey.revoked_reason}`,
        )
      : "",
    manage,
    status,
  );
}

export async function devicesPage(el: HTMLElement, current: () => boolean): Promise<void> {
  el.replaceChildren(h("h2", {}, t("devices")), h("p", { class: "hint" }, t("loading")));
  try {
    const items = await aapi.devices();
    if (!current()) return;
    el.replaceChildren(
      h("h2", { "data-testid": "devices-head" }, t("devices")),
      h("p", { class: "hint" }, t("devices_hint")),
      items.length
        ? h(
            "ul",
            { class: "admin-cards", "data-testid": "device-list" },
            items.map((d) => deviceCard(d, () => void devicesPage(el, current))),
          )
        : h("p", { class: "hint", "data-testid": "no-devices" }, t("no_devices")),
    );
  } catch (err) {
    if (current())
      el.replaceChildren(h("h2", {}, t("devices")), errorBox(adminError(err, t("devices"))));
  }
}
