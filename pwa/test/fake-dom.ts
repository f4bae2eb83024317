/**
 * Just enough of the DOM for the officer's screens (ui.ts, dom.ts's h() and patch()) under
 * Node, which has EventTarget and Event but no document: elements and text in a tree,
 * attributes, listeners (no bubbling: events reach the element they are sent to), and
 * querySelector with simple selectors (`main button.tab[data-testid=tab-queue]`).
 * Real Chromium runs the same screens in tests/browser/.
 *
 * `press(el)` models a finger on a button: the browser clicks it when the finger lifts, and only
 * if the pressed element is still in the document by then; one replaced meanwhile by a fresh
 * copy gets no click (the tap is lost).
 */
import { vi } from "vitest";

const ELEMENT_NODE = 1;
const TEXT_NODE = 3;
const DOCUMENT_NODE = 9;

export class FakeNode extends EventTarget {
  static readonly ELEMENT_NODE = ELEMENT_NODE;
  static readonly TEXT_NODE = TEXT_NODE;
  static readonly DOCUMENT_NODE = DOCUMENT_NODE;
  parentNode: FakeNode | null = null;
  readonly childNodes: FakeNode[] = [];

  constructor(readonly nodeType: number) {
    super();
  }

  get nodeValue(): string | null {
    return null;
  }
  set nodeValue(_value: string | null) {}

  get parentElement(): FakeElement | null {
    return this.parentNode instanceof FakeElement ? this.parentNode : null;
  }
  get firstChild(): FakeNode | null {
    return this.childNodes[0] ?? null;
  }
  get isConnected(): boolean {
    let node: FakeNode | null = this;
    while (node.parentNode) node = node.parentNode;
    return node.nodeType === DOCUMENT_NODE;
  }
  get textContent(): string {
    return this.childNodes.map((child) => child.textContent).join("");
  }
  set textContent(text: string) {
    this.replaceChildren(...(text ? [text] : []));
  }

  contains(other: FakeNode | null): boolean {
    for (let node = other; node; node = node.parentNode) if (node === this) return true;
    return false;
  }

  insertBefore<T extends FakeNode>(node: T, ref: FakeNode | null): T {
    if (ref && ref.parentNode !== this) throw new Error("insertBefore: not a child");
    if (node.contains(this)) throw new Error("insertBefore: would make a cycle");
    node.parentNode?.removeChild(node);
    const at = ref ? this.childNodes.indexOf(ref) : this.childNodes.length;
    this.childNodes.splice(at, 0, node);
    node.parentNode = this;
    return node;
  }
  appendChild<T extends FakeNode>(node: T): T {
    return this.insertBefore(node, null);
  }
  removeChild<T extends FakeNode>(node: T): T {
    const at = this.childNodes.indexOf(node);
    if (at < 0) throw new Error("removeChild: not a child");
    this.childNodes.splice(at, 1);
    node.parentNode = null;
    return node;
  }
  remove(): void {
    this.parentNode?.removeChild(this);
  }
  append(...nodes: (FakeNode | string)[]): void {
    for (const node of nodes)
      this.appendChild(typeof node === "string" ? new FakeText(node) : node);
  }
  replaceChildren(...nodes: (FakeNode | string)[]): void {
    for (const child of [...this.childNodes]) this.removeChild(child);
    this.append(...nodes);
  }

  get children(): FakeElement[] {
    return this.childNodes.filter((node): node is FakeElement => node instanceof FakeElement);
  }
  querySelectorAll(selector: string): FakeElement[] {
    const test = compile(selector);
    const found: FakeElement[] = [];
    const walk = (node: FakeNode) => {
      for (const child of node.children) {
        if (test(child)) found.push(child);
        walk(child);
      }
    };
    walk(this);
    return found;
  }
  querySelector(selector: string): FakeElement | null {
    return this.querySelectorAll(selector)[0] ?? null;
  }
}

export class FakeText extends FakeNode {
  constructor(public data: string) {
    super(TEXT_NODE);
  }
  override get nodeValue(): string {
    return this.data;
  }
  override set nodeValue(value: string | null) {
    this.data = value ?? "";
  }
  override get textContent(): string {
    return this.data;
  }
  override set textContent(text: string) {
    this.data = text;
  }
}

export class FakeElement extends FakeNode {
  readonly tagName: string;
  readonly style: Record<string, string> = {};
  /** an <input type=file>'s chosen files (set by a test) */
  files: File[] | null = null;
  private attrs = new Map<string, string>();
  private liveValue: string | null = null;
  private liveChecked: boolean | null = null;

  constructor(readonly localName: string) {
    super(ELEMENT_NODE);
    this.tagName = localName.toUpperCase();
  }

  getAttribute(name: string): string | null {
    return this.attrs.get(name) ?? null;
  }
  setAttribute(name: string, value: string): void {
    this.attrs.set(name, String(value));
  }
  removeAttribute(name: string): void {
    this.attrs.delete(name);
  }
  hasAttribute(name: string): boolean {
    return this.attrs.has(name);
  }
  getAttributeNames(): string[] {
    return [...this.attrs.keys()];
  }

  get id(): string {
    return this.getAttribute("id") ?? "";
  }
  get classList() {
    const names = () => (this.getAttribute("class") ?? "").split(/\s+/).filter(Boolean);
    const write = (list: string[]) => this.setAttribute("class", list.join(" "));
    return {
      contains: (name: string) => names().includes(name),
      add: (name: string) => write([...new Set([...names(), name])]),
      remove: (name: string) => write(names().filter((n) => n !== name)),
      toggle: (name: string, force?: boolean) => {
        const on = force ?? !names().includes(name);
        write(on ? [...new Set([...names(), name])] : names().filter((n) => n !== name));
        return on;
      },
    };
  }
  private flag(name: string, on: boolean): void {
    if (on) this.setAttribute(name, "");
    else this.removeAttribute(name);
  }
  get hidden(): boolean {
    return this.hasAttribute("hidden");
  }
  set hidden(on: boolean) {
    this.flag("hidden", on);
  }
  get disabled(): boolean {
    return this.hasAttribute("disabled");
  }
  set disabled(on: boolean) {
    this.flag("disabled", on);
  }
  /** as in a browser: the attribute until the value is set, then the value set */
  get value(): string {
    if (this.liveValue !== null) return this.liveValue;
    if (this.tagName === "SELECT") {
      // like a browser: the option marked `selected`, else the first; once the user has
      // picked one (value set), the attributes no longer count
      const options = this.querySelectorAll("option");
      const chosen = options.find((o) => o.hasAttribute("selected")) ?? options[0];
      return chosen ? (chosen.getAttribute("value") ?? chosen.textContent ?? "") : "";
    }
    return this.getAttribute("value") ?? "";
  }
  set value(value: string) {
    this.liveValue = String(value);
  }
  get checked(): boolean {
    return this.liveChecked ?? this.hasAttribute("checked");
  }
  set checked(on: boolean) {
    this.liveChecked = on;
  }
  get accept(): string {
    return this.getAttribute("accept") ?? "";
  }
  set accept(value: string) {
    this.setAttribute("accept", value);
  }
  set innerHTML(html: string) {
    this.replaceChildren(html); // kept as text: enough to compare and to show
  }

  click(): void {
    if (!this.disabled) this.dispatchEvent(new Event("click"));
  }
}

export class FakeDocument extends FakeNode {
  readonly documentElement = new FakeElement("html");
  readonly body = new FakeElement("body");
  visibilityState = "visible";

  constructor() {
    super(DOCUMENT_NODE);
    this.appendChild(this.documentElement);
    this.documentElement.appendChild(this.body);
  }
  createElement(tag: string): FakeElement {
    return new FakeElement(tag.toLowerCase());
  }
  createTextNode(text: string): FakeText {
    return new FakeText(text);
  }
}

/**
 * Compound selectors (tag, `.class`, `#id`, `[attr]`, `[attr=value]` quoted or not), joined by
 * the descendant combinator (a space); nothing else.
 */
function compile(selector: string): (el: FakeElement) => boolean {
  const [last, ...ancestors] = selector.trim().split(/\s+/).map(compound).reverse();
  return (el) => {
    if (!last(el)) return false;
    let node = el.parentElement;
    for (const test of ancestors) {
      while (node && !test(node)) node = node.parentElement;
      if (!node) return false;
      node = node.parentElement;
    }
    return true;
  };
}

function compound(selector: string): (el: FakeElement) => boolean {
  const tests: ((el: FakeElement) => boolean)[] = [];
  const token =
    /^(?:([a-z][a-z0-9-]*)|\.([\w-]+)|#([\w-]+)|\[([\w-]+)(?:=(?:"([^"]*)"|'([^']*)'|([^\]]*)))?\])/i;
  let rest = selector;
  while (rest) {
    const m = token.exec(rest);
    if (!m) throw new Error(`fake-dom: unsupported selector ${JSON.stringify(selector)}`);
    const [whole, tag, cls, id, attr, dq, sq, bare] = m;
    if (tag) tests.push((el) => el.localName === tag.toLowerCase());
    else if (cls) tests.push((el) => el.classList.contains(cls));
    else if (id) tests.push((el) => el.id === id);
    else {
      const value = dq ?? sq ?? bare;
      tests.push((el) =>
        value === undefined ? el.hasAttribute(attr) : el.getAttribute(attr) === value,
      );
    }
    rest = rest.slice(whole.length);
  }
  return (el) => tests.every((test) => test(el));
}

export interface FakePage {
  document: FakeDocument;
  window: EventTarget;
  navigator: { onLine: boolean } & Record<string, unknown>;
  /** The network goes (false) or comes back (true), with the window's event. */
  setOnline(online: boolean): void;
}

/** Stub `document`, `window`, `navigator` and `Node` with a fresh page; returns it. */
export function installFakePage(navigator: Record<string, unknown> = {}): FakePage {
  const page: FakePage = {
    document: new FakeDocument(),
    window: new EventTarget(),
    navigator: { onLine: true, ...navigator },
    setOnline(online) {
      page.navigator.onLine = online;
      page.window.dispatchEvent(new Event(online ? "online" : "offline"));
    },
  };
  vi.stubGlobal("document", page.document);
  vi.stubGlobal("window", page.window);
  vi.stubGlobal("navigator", page.navigator);
  vi.stubGlobal("Node", FakeNode);
  // the address bar, as far as the app reads and sets it (the console's #/console routes)
  const location = { hash: "" };
  vi.stubGlobal("location", location);
  vi.stubGlobal("history", {
    replaceState: (_state: unknown, _title: string, url?: string) => {
      if (url !== undefined) location.hash = url.includes("#") ? url.slice(url.indexOf("#")) : "";
    },
  });
  return page;
}

/**
 * A finger on `el`: `lift()` clicks it if it is still in the document, as a browser does, and
 * says whether the click happened.
 */
export function press(el: FakeElement | null): { lift(): boolean } {
  if (!el) throw new Error("press: no such element");
  el.dispatchEvent(new Event("pointerdown"));
  return {
    lift() {
      if (!el.isConnected) return false;
      el.dispatchEvent(new Event("pointerup"));
      el.click();
      return true;
    },
  };
}
