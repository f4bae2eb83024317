/**
 * Moving an item to another stage from the case timeline (console, supervisor): any item, not
 * only an unattached one, to a stage the case has reached, with a written reason. The server
 * (`POST /media/<id>/attachment`) records the move in the chain of custody and keeps earlier
 * placements; an archived case is read-only and shows no move at all.
 */
import * as capi from "./console-api";
import type { MediaSummary } from "./console-api";
import { errorBox, explain, label } from "./console-ui";
import { h } from "./dom";
import { t } from "./i18n";

/** Whether this user may move items of this case (the server checks again). */
export function mayMoveItems(role: string | undefined, archivedAt: unknown): boolean {
  return role === "supervisor" && !archivedAt;
}

/** The stages an item may go to: the ones reached, other than where it is. */
export function moveTargets(reached: string[], item: Pick<MediaSummary, "attached_stage">) {
  return reached.filter((stage) => stage !== item.attached_stage);
}

/**
 * A timeline card with a 「改归阶段」 button under it that opens a small form: the target
 * stage, the reason, and the move. `onMoved` redraws the timeline.
 */
export function movableCard(
  card: HTMLElement,
  item: MediaSummary,
  reached: string[],
  onMoved: () => void,
): HTMLElement {
  const targets = moveTargets(reached, item);
  const slot = h("div", { class: "move-slot" });
  const open = h(
    "button",
    {
      type: "button",
      class: "btn small ghost",
      "data-testid": "btn-move-item",
      "data-media-id": item.id,
      disabled: targets.length === 0,
    },
    t("move_item"),
  );
  open.addEventListener("click", () => {
    if (slot.childElementCount) {
      slot.replaceChildren();
      return;
    }
    slot.replaceChildren(moveForm(item, targets, onMoved, () => slot.replaceChildren()));
    slot.querySelector<HTMLElement>("select")?.focus();
  });
  return h(
    "div",
    { class: "movable", "data-testid": "movable-item", "data-media-id": item.id },
    card,
    open,
    slot,
  );
}

function moveForm(
  item: MediaSummary,
  targets: string[],
  onMoved: () => void,
  cancel: () => void,
): HTMLElement {
  const stage = h(
    "select",
    { name: "stage", "data-testid": "move-item-stage", "aria-label": t("move_item_target") },
    targets.map((s) => h("option", { value: s }, label("stage", s))),
  );
  const reason = h("textarea", {
    rows: 2,
    name: "reason",
    "data-testid": "move-item-reason",
    "aria-label": t("move_item_reason"),
    placeholder: t("move_item_reason"),
  });
  const status = h("div", {});
  reason.addEventListener("input", () => status.replaceChildren());
  const save = h(
    "button",
    { type: "submit", class: "btn small primary", "data-testid": "move-item-save" },
    t("move_item_confirm"),
  );
  const back = h("button", { type: "button", class: "btn small ghost" }, t("cancel"));
  back.addEventListener("click", cancel);
  const form = h(
    "form",
    { class: "stack move-form", "data-testid": "move-item-form", "data-media-id": item.id },
    h("strong", {}, t("move_item_title")),
    h(
      "p",
      { class: "hint" },
      `${t("current_stage_of_item")}${t("colon")}${label("stage", item.attached_stage)}`,
    ),
    h("label", {}, t("move_item_target"), stage),
    h("label", {}, t("move_item_reason"), reason),
    h("p", { class: "hint" }, t("move_item_hint")),
    status,
    h("div", { class: "row" }, back, save),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const why = reason.value.trim();
    if (!why) {
      status.replaceChildren(errorBox(t("move_item_reason_needed"), "move-item-error"));
      reason.focus();
      return;
    }
    save.disabled = true;
    status.replaceChildren();
    try {
      await capi.attach(item.id, stage.value, why);
      onMoved();
    } catch (err) {
      status.replaceChildren(errorBox(explain(err, t("move_item")), "move-item-error"));
      save.disabled = false;
    }
  });
  return form;
}
