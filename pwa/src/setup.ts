/**
 * First run: while no account exists, the sign-in screen becomes a form that sets up the unit
 * (code, full name, document prefix, address, phone) and its first admin, then signs in.
 * The server accepts it only from the server machine itself or with the setup code that
 * `fieldtrace serve` prints (server/services/setup.py), and never once an account exists.
 */
import * as aapi from "./admin-api";
import { errorBox } from "./console-ui";
import { h } from "./dom";
import { t } from "./i18n";
import { adminError, MIN_PASSWORD } from "./admin-people";

/** Ask the server whether setup is needed; if so, put the setup form in place of `login`. */
export async function offerFirstRun(
  login: HTMLElement,
  signIn: (username: string, password: string) => Promise<void>,
): Promise<void> {
  let state: aapi.SetupState;
  try {
    state = await aapi.setupState();
  } catch {
    return; // offline or an older server: the sign-in form stays
  }
  if (!state.needed || !login.isConnected) return;
  login.replaceWith(setupForm(state.code_required, signIn));
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

function setupForm(
  codeRequired: boolean,
  signIn: (username: string, password: string) => Promise<void>,
): HTMLElement {
  const input = (name: string, attrs: Record<string, string | number | boolean> = {}) =>
    h("input", { name, "data-testid": `setup-${name}`, ...attrs });
  const code = input("unit_code", { autocapitalize: "characters", maxlength: 64, required: true });
  const name = input("unit_name", {
    maxlength: 200,
    required: true,
    placeholder: t("unit_name_example"),
  });
  const prefix = input("short_name", {
    maxlength: 40,
    required: true,
    placeholder: t("unit_prefix_example"),
  });
  const address = input("address", { maxlength: 300 });
  const phone = input("contact_phone", { maxlength: 40, type: "tel" });
  const username = input("username", {
    autocomplete: "username",
    autocapitalize: "none",
    maxlength: 64,
    required: true,
  });
  const person = input("name", { maxlength: 100, required: true });
  const password = input("password", {
    type: "password",
    autocomplete: "new-password",
    required: true,
  });
  const setupCode = codeRequired
    ? input("code", { autocomplete: "off", autocapitalize: "characters" })
    : null;
  const status = h("div", { role: "status", "data-testid": "setup-status" });
  const submit = h(
    "button",
    { type: "submit", class: "btn primary big", "data-testid": "setup-submit" },
    t("setup_submit"),
  );
  const form = h(
    "form",
    { class: "stack setup-form", novalidate: true, "data-testid": "setup-form" },
    h("h2", {}, t("setup_title")),
    h("p", { class: "hint" }, t("setup_intro")),
    h(
      "fieldset",
      { class: "stack" },
      h("legend", {}, t("setup_unit")),
      field(`${t("unit_name")} *`, name),
      field(`${t("unit_prefix")} *`, prefix, t("unit_prefix_hint")),
      field(`${t("setup_unit_code")} *`, code, t("setup_unit_code_hint")),
      field(t("unit_address"), address),
      field(t("unit_phone"), phone),
    ),
    h(
      "fieldset",
      { class: "stack" },
      h("legend", {}, t("setup_admin")),
      field(`${t("username")} *`, username),
      field(`${t("person_name")} *`, person),
      field(`${t("password")} *`, password, t("password_rule", { n: MIN_PASSWORD })),
    ),
    setupCode ? field(`${t("setup_code")} *`, setupCode, t("setup_code_hint")) : "",
    submit,
    status,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const required = [name, prefix, code, username, person, ...(setupCode ? [setupCode] : [])];
    const empty = required.find((el) => !el.value.trim());
    if (empty) {
      status.replaceChildren(errorBox(t("form_has_errors")));
      empty.focus();
      return;
    }
    if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(code.value.trim())) {
      status.replaceChildren(errorBox(t("setup_unit_code_hint")));
      code.focus();
      return;
    }
    if (password.value.length < MIN_PASSWORD) {
      status.replaceChildren(errorBox(t("password_rule", { n: MIN_PASSWORD })));
      password.focus();
      return;
    }
    submit.disabled = true;
    status.replaceChildren();
    try {
      await aapi.runSetup({
        unit: {
          code: code.value.trim(),
          name: name.value.trim(),
          short_name: prefix.value.trim(),
          address: address.value.trim(),
          contact_phone: phone.value.trim(),
        },
        admin: {
          username: username.value.trim(),
          name: person.value.trim(),
          password: password.value,
        },
        ...(setupCode ? { setup_code: setupCode.value.trim() } : {}),
      });
      await signIn(username.value.trim(), password.value);
    } catch (err) {
      status.replaceChildren(errorBox(adminError(err, t("setup_error"))));
      submit.disabled = false;
    }
  });
  return form;
}
