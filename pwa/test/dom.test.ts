/**
 * dom.ts patch(): a region built anew is brought onto the one on screen in place, keeping the
 * nodes the two share (a button being pressed must stay the same node).
 */
import { beforeEach, describe, expect, it } from "vitest";
import { h, patch } from "../src/dom";
import { installFakePage, press, type FakeElement } from "./fake-dom";

beforeEach(() => {
  installFakePage();
});

const el = (node: Element) => node as unknown as FakeElement;
const texts = (list: Element) => [...list.children].map((li) => li.textContent);

function list(items: { id: number; text: string }[], onpick: (id: number) => void) {
  return h(
    "ul",
    {},
    items.map((item) =>
      h("li", { "data-key": item.id }, h("button", { onclick: () => onpick(item.id) }, item.text)),
    ),
  );
}

describe("patch", () => {
  it("keeps keyed items when others come, go or change, and hands over their listeners", () => {
    const picked: string[] = [];
    const shown = list(
      [
        { id: 1, text: "one" },
        { id: 2, text: "two" },
        { id: 3, text: "three" },
      ],
      (id) => picked.push(`old ${id}`),
    );
    document.body.append(shown);
    const [one, , three] = [...shown.children];
    const finger = press(el(three.querySelector("button")!));

    patch(
      shown,
      list(
        [
          { id: 0, text: "zero" },
          { id: 1, text: "one" },
          { id: 3, text: "three, changed" },
        ],
        (id) => picked.push(`new ${id}`),
      ),
    );

    expect(texts(shown)).toEqual(["zero", "one", "three, changed"]);
    expect(shown.children[1]).toBe(one);
    expect(shown.children[2]).toBe(three);
    expect(finger.lift()).toBe(true);
    expect(picked).toEqual(["new 3"]); // the new closure, once: the old listener is gone
  });

  it("copies attributes and text, drops what the fresh copy has not", () => {
    const shown = h(
      "section",
      { class: "stack", "data-state": "a", hidden: true },
      h("h2", {}, "title"),
      h("p", { class: "error" }, "bad"),
      "",
      h("progress", { max: 100, value: 10 }),
    );
    const [title, , , progress] = [...shown.childNodes];
    patch(
      shown,
      h(
        "section",
        { class: "stack", "data-state": "b" },
        h("h2", {}, "title 2"),
        "",
        h("progress", { max: 100, value: 60 }),
      ),
    );
    expect(shown.getAttributeNames().sort()).toEqual(["class", "data-state"]);
    expect(shown.getAttribute("data-state")).toBe("b");
    expect(shown.childNodes[0]).toBe(title);
    expect(title.textContent).toBe("title 2");
    expect(shown.querySelector("p")).toBeNull();
    expect(shown.childNodes).toHaveLength(3);
    expect(shown.childNodes[2]).toBe(progress);
    expect((progress as Element).getAttribute("value")).toBe("60");
  });

  it("replaces an element by one of another tag, and leaves a node patched onto itself", () => {
    const shown = h("div", {}, h("p", {}, "hint"));
    patch(shown, h("div", {}, h("ul", {})));
    expect((shown.firstChild as Element).tagName).toBe("UL");
    const same = h("div", {}, "x");
    patch(same, same);
    expect(same.textContent).toBe("x");
  });

  it("moves a <select> the officer has picked from to the option the state now selects", () => {
    const stages = (current: string) =>
      h(
        "select",
        {},
        ["filing", "investigation", "evidence"].map((s) =>
          h("option", { value: s, selected: s === current }, s),
        ),
      );
    const shown = stages("evidence");
    document.body.append(shown);
    (shown as HTMLSelectElement).value = "filing"; // picked by hand: attributes stop counting
    patch(shown, stages("evidence")); // the stage moved on elsewhere (a sheet advanced it)
    expect((shown as HTMLSelectElement).value).toBe("evidence");
  });
});
