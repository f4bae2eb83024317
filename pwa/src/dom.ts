/** A tiny element builder: h("button", { class: "big", onclick }, "拍照"), and patch(). */
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;
type Child = Node | string | number | null | undefined | false;

/** The listeners h() added, per element and event type, for patch() to hand over. */
const handlers = new WeakMap<Node, Map<string, EventListener>>();

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      const type = name.slice(2);
      el.addEventListener(type, value as EventListener);
      const own = handlers.get(el) ?? new Map<string, EventListener>();
      own.set(type, value as EventListener);
      handlers.set(el, own);
    } else if (value === true) {
      el.setAttribute(name, "");
    } else {
      el.setAttribute(name, String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

const ELEMENT_NODE = 1;
const TEXT_NODE = 3;

function keyOf(node: Node): string | null {
  return node.nodeType === ELEMENT_NODE ? (node as Element).getAttribute("data-key") : null;
}

function sameKind(shown: Node, fresh: Node): boolean {
  if (shown.nodeType !== fresh.nodeType) return false;
  if (shown.nodeType !== ELEMENT_NODE) return true;
  return (shown as Element).tagName === (fresh as Element).tagName && keyOf(shown) === keyOf(fresh);
}

/**
 * Bring `shown` (on screen) up to date with `fresh` (the same region built anew by the same
 * code, not in the document) in place: nodes the two have in common stay, only what differs
 * changes. A button the officer is pressing while data arrives is then never swapped for a copy
 * (the browser would drop the tap), and what did not change does not move or flicker.
 *
 * Children with a `data-key` attribute are paired by key, so a list item stays the same node
 * when others come, go or change; the others in order, an element with the next one of its tag.
 * Attributes and text are copied; listeners set through h() move over to the kept node (so a
 * tap lands in the new closure). Listeners added otherwise and live properties (a value typed,
 * a box ticked) stay as they are on the kept node.
 */
export function patch(shown: Element, fresh: Element): void {
  if (shown === fresh) return;
  for (const name of shown.getAttributeNames()) {
    if (!fresh.hasAttribute(name)) shown.removeAttribute(name);
  }
  for (const name of fresh.getAttributeNames()) {
    const value = fresh.getAttribute(name)!;
    if (shown.getAttribute(name) !== value) shown.setAttribute(name, value);
  }
  const before = handlers.get(shown);
  const after = handlers.get(fresh);
  before?.forEach((listener, type) => shown.removeEventListener(type, listener));
  after?.forEach((listener, type) => shown.addEventListener(type, listener));
  if (after) handlers.set(shown, after);
  else handlers.delete(shown);
  patchChildren(shown, [...fresh.childNodes]);
  // A <select> mirrors the app's state (its options' `selected`), but once the officer has
  // picked an option the browser ignores that attribute: carry the choice over as a value.
  if (shown.tagName === "SELECT" && "value" in fresh) {
    (shown as HTMLSelectElement).value = (fresh as HTMLSelectElement).value;
  }
}

/** Make `parent`'s children `wanted`, keeping those of its nodes that match (see patch). */
export function patchChildren(parent: Element, wanted: Node[]): void {
  const keyed = new Map<string, Node>();
  const unkeyed: Node[] = [];
  for (const child of parent.childNodes) {
    const key = keyOf(child);
    if (key === null) unkeyed.push(child);
    else keyed.set(key, child);
  }
  let next = 0; // the first unkeyed child not yet paired or passed over
  const result = wanted.map((fresh): Node => {
    if (fresh.parentNode === parent) return fresh; // the very node, already there
    const key = keyOf(fresh);
    let match: Node | undefined;
    if (key !== null) {
      match = keyed.get(key);
      keyed.delete(key);
    } else if (fresh.nodeType === TEXT_NODE) {
      // text (often an empty placeholder) pairs only in place, never skipping elements
      if (unkeyed[next]?.nodeType === TEXT_NODE) match = unkeyed[next++];
    } else {
      const at = unkeyed.findIndex((child, i) => i >= next && sameKind(child, fresh));
      if (at >= 0) {
        match = unkeyed[at];
        next = at + 1;
      }
    }
    if (!match || !sameKind(match, fresh)) return fresh;
    if (match.nodeType === ELEMENT_NODE) patch(match as Element, fresh as Element);
    else if (match.nodeValue !== fresh.nodeValue) match.nodeValue = fresh.nodeValue;
    return match;
  });
  const keep = new Set(result);
  for (const child of [...parent.childNodes]) {
    if (!keep.has(child)) parent.removeChild(child);
  }
  result.forEach((node, i) => {
    const at = parent.childNodes[i] ?? null;
    if (at !== node) parent.insertBefore(node, at);
  });
}
