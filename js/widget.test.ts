import type { InitializeProps, RenderProps } from "@anywidget/types";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FACTS_SENT_KEY } from "./facts";
import { CLOSE_LABEL, MODAL_CLASS } from "./modal";
import { MAX_FRAME_HEIGHT, type AdTraits } from "./protocol";
import {
  dispatchFromFrame,
  FakeModel,
  FRAME_CONTEXT,
  IFRAME_URL,
  MODAL_URL,
  SERVER_ORIGIN,
} from "./test-support";
import { MAX_RELAYED_CHARS, RELAY_BURST } from "./relay";
import { CLICK_OPEN_DELAY_MS, DIMENSIONS_INTERVAL_MS } from "./view";
import type widgetModule from "./widget";

// A fresh module per test: anywidget evaluates the bundle once per model, so its
// module state (the ownership registry, the model's liveness) starts empty.
let widget: typeof widgetModule;
const initialized = new WeakSet<FakeModel>();

interface RenderedView {
  el: HTMLElement;
  cleanup: () => void;
  controller: AbortController;
}

const rendered: RenderedView[] = [];

function renderView(
  model: FakeModel,
  options: { withSignal?: boolean; initialize?: boolean } = {},
): RenderedView {
  const el = document.createElement("div");
  document.body.append(el);
  const controller = new AbortController();
  const props = {
    model,
    el,
    ...(options.withSignal === false ? {} : { signal: controller.signal }),
  } as unknown as RenderProps<AdTraits>;
  if (options.initialize !== false && !initialized.has(model)) {
    // What anywidget does once per model, before its first view.
    initialized.add(model);
    widget.initialize({
      model: model.initializeProxy(),
      signal: new AbortController().signal,
    } as unknown as InitializeProps<AdTraits>);
  }
  const cleanup = widget.render(props);
  const view = { el, cleanup, controller };
  rendered.push(view);
  return view;
}

/** What anywidget 0.11 does when a view goes: abort its signal, call the cleanup. */
function removeView(view: RenderedView): void {
  view.controller.abort();
  view.cleanup();
  view.el.remove();
}

function frameOf(view: RenderedView): HTMLIFrameElement {
  const frame = view.el.querySelector("iframe");
  if (frame === null) throw new Error("view has no iframe");
  return frame;
}

function windowOf(frame: HTMLIFrameElement): Window {
  if (frame.contentWindow === null) throw new Error("iframe is not attached");
  return frame.contentWindow;
}

function modalRoot(): HTMLElement | null {
  return document.body.querySelector<HTMLElement>(`:scope > .${MODAL_CLASS}`);
}

function modalFrame(): HTMLIFrameElement | null {
  return modalRoot()?.querySelector("iframe") ?? null;
}

function closeButton(): HTMLButtonElement | null {
  return modalRoot()?.querySelector("button") ?? null;
}

function pressKey(key: string): KeyboardEvent {
  const event = new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true });
  document.body.dispatchEvent(event);
  return event;
}

/** Sends `{type, data}` from the view's inline iframe. */
function fromInline(view: RenderedView, type: string, data?: unknown): void {
  dispatchFromFrame(windowOf(frameOf(view)), data === undefined ? { type } : { type, data });
}

function fromModal(type: string, data?: unknown): void {
  const modal = modalFrame();
  if (modal === null) throw new Error("no modal is open");
  dispatchFromFrame(windowOf(modal), data === undefined ? { type } : { type, data });
}

/** Two views of `model` (fake timers), the first one's creative having opened the modal. */
function twoViewsWithModalOpen(model: FakeModel): [RenderedView, RenderedView] {
  vi.useFakeTimers();
  const first = renderView(model);
  const second = renderView(model);
  fromInline(first, "open-component-iframe");
  expect(modalFrame()).not.toBeNull();
  return [first, second];
}

/** No view keeps an iframe, no modal is open and no timer (heartbeat) is left. */
function expectNothingLeft(views: RenderedView[]): void {
  for (const view of views) expect(view.el.querySelector("iframe")).toBeNull();
  expect(modalFrame()).toBeNull();
  expect(vi.getTimerCount()).toBe(0);
}

/** Records what the host posts to `frame` (jsdom would deliver it on a timer). */
function postSpy(frame: HTMLIFrameElement) {
  return vi.spyOn(windowOf(frame), "postMessage").mockImplementation(() => undefined);
}

beforeEach(async () => {
  delete (globalThis as Record<symbol, unknown>)[FACTS_SENT_KEY];
  delete (globalThis as Record<symbol, unknown>)[Symbol.for("kontext-widget.last-heights")];
  vi.resetModules();
  widget = (await import("./widget")).default;
});

afterEach(() => {
  for (const view of rendered.splice(0)) removeView(view);
  vi.useRealTimers();
  document.body.replaceChildren();
});

describe("rendering", () => {
  it("creates one sandboxed, hidden iframe at iframe_url", () => {
    const view = renderView(new FakeModel());
    const frames = view.el.querySelectorAll("iframe");
    expect(frames).toHaveLength(1);
    const frame = frameOf(view);
    expect(frame.src).toBe(IFRAME_URL);
    expect(frame.getAttribute("sandbox")).toBe(
      "allow-scripts allow-same-origin allow-popups allow-popups-to-escape-sandbox",
    );
    expect(frame.getAttribute("allow")).toBe("autoplay; fullscreen");
    expect(frame.title).not.toBe("");
    // Hidden but laid out, at height 0: the creative can measure itself before show-iframe.
    expect(frame.style.visibility).toBe("hidden");
    expect(frame.style.display).toBe("block");
    expect(frame.style.height).toBe("0px");
    expect(frame.style.width).toBe("100%");
    // The creative's scheme (here the host's: light), so no opaque canvas is painted.
    expect(frame.style.getPropertyValue("color-scheme")).toBe("light");
    expect(frame.style.background).toContain("transparent");
  });

  it("takes no space and creates no iframe without a bid", () => {
    const model = new FakeModel({ iframe_url: "", server_origin: "" });
    const view = renderView(model);
    expect(view.el.querySelector("iframe")).toBeNull();
    const slot = view.el.querySelector<HTMLElement>(".kontext-ad-slot");
    expect(slot?.style.display).toBe("none");
  });

  it("shows the ad when a bid arrives later", () => {
    const model = new FakeModel({ iframe_url: "", server_origin: "" });
    const view = renderView(model);
    model.set("server_origin", SERVER_ORIGIN);
    model.set("iframe_url", IFRAME_URL);
    expect(frameOf(view).src).toBe(IFRAME_URL);
  });

  it("removes iframe, modal and listeners of every view on destroyed", () => {
    const model = new FakeModel();
    const [first, second] = twoViewsWithModalOpen(model);
    const inlineWindow = windowOf(frameOf(first));
    model.set("destroyed", true);
    expectNothingLeft([first, second]);
    expect(model.listenerCount()).toBe(0);
    const before = model.sent.length;
    dispatchFromFrame(inlineWindow, { type: "init-iframe" });
    expect(model.sent).toHaveLength(before);
  });

  it("renders nothing for a view created after destroy", () => {
    const model = new FakeModel({ destroyed: true });
    const view = renderView(model);
    expect(view.el.querySelector("iframe")).toBeNull();
    expect(model.listenerCount()).toBe(0);
  });
});

describe("only under a live session", () => {
  function slotOf(view: RenderedView): HTMLElement {
    const slot = view.el.querySelector<HTMLElement>(".kontext-ad-slot");
    if (slot === null) throw new Error("view has no slot");
    return slot;
  }

  it("loads nothing from saved state that no kernel answers for", () => {
    // A static HTML export, or a notebook reopened before its kernel runs.
    const model = new FakeModel({}, "silent");
    const view = renderView(model);
    expect(view.el.querySelector("iframe")).toBeNull();
    expect(modalFrame()).toBeNull();
    expect(slotOf(view).style.display).toBe("none");
    expect(slotOf(view).dataset.liveness).toBe("waiting");
    expect(model.sentOfKind("hello")).toHaveLength(1);
  });

  it("cannot be talked into loading by the page, a frame or the saved state", () => {
    // Only Python's custom message over the model's comm counts, never a window
    // message (any script or frame can post one) nor a trait (saved with the state).
    const model = new FakeModel({ frame_context: { kind: "live" } }, "silent");
    const view = renderView(model);
    for (const data of [{ kind: "live" }, { type: "live" }, { type: "live-iframe", data: {} }]) {
      dispatchFromFrame(window, data);
      dispatchFromFrame(null, data);
    }
    expect(view.el.querySelector("iframe")).toBeNull();
    expect(model.sentOfKind("hello")).toHaveLength(1);
  });

  it("mounts the frame when Python answers, however late", () => {
    const model = new FakeModel({}, "silent");
    const first = renderView(model);
    const second = renderView(model);
    model.sendFromPython({ kind: "live" });
    expect(frameOf(first).src).toBe(IFRAME_URL);
    expect(second.el.querySelector("iframe")).toBeNull(); // still one frame per ad
    expect(slotOf(first).dataset.liveness).toBe("live");
    expect(model.sentOfKind("hello")).toHaveLength(1); // once per model, not per view
  });

  it("shows at once when Python announced itself before the first view", () => {
    // Python sends `live` when the Ad is created, while the cell may still run.
    const model = new FakeModel({}, "silent");
    widget.initialize({
      model: model.initializeProxy(),
      signal: new AbortController().signal,
    } as unknown as InitializeProps<AdTraits>);
    initialized.add(model);
    model.sendFromPython({ kind: "live" });
    const view = renderView(model);
    expect(frameOf(view).src).toBe(IFRAME_URL);
    // It was answered before it asked: no hello, no kernel round trip (liveness.ts).
    expect(model.sentOfKind("hello")).toHaveLength(0);
  });

  it("asks from the view on hosts that do not call initialize", () => {
    const model = new FakeModel();
    const view = renderView(model, { initialize: false });
    expect(model.sentOfKind("hello")).toHaveLength(1);
    expect(frameOf(view).src).toBe(IFRAME_URL);
  });

  it("removes the frame, modal and heartbeat of every view on a kernel restart, for good", () => {
    const model = new FakeModel();
    const [first, second] = twoViewsWithModalOpen(model);
    model.disconnect();
    expectNothingLeft([first, second]);
    expect(slotOf(first).dataset.liveness).toBe("gone");
    // Nothing brings it back: not a new view, not a stray answer, not a new bid.
    model.sendFromPython({ kind: "live" });
    model.set("iframe_url", `${IFRAME_URL}&again=1`);
    const third = renderView(model);
    for (const view of [first, second, third]) expect(view.el.querySelector("iframe")).toBeNull();
  });
});

describe("one iframe per ad", () => {
  it("lets only the first of two views own the iframe", () => {
    const model = new FakeModel();
    const first = renderView(model);
    const second = renderView(model);
    expect(first.el.querySelectorAll("iframe")).toHaveLength(1);
    expect(second.el.querySelector("iframe")).toBeNull();
    expect(document.querySelectorAll("iframe")).toHaveLength(1);
  });

  it("hands the iframe over when the owner view is removed", () => {
    const model = new FakeModel();
    const first = renderView(model);
    const second = renderView(model);
    removeView(first);
    expect(second.el.querySelectorAll("iframe")).toHaveLength(1);
    expect(document.querySelectorAll("iframe")).toHaveLength(1);
  });

  it("works with hosts that only call the cleanup (no signal)", () => {
    const model = new FakeModel();
    const first = renderView(model, { withSignal: false });
    const second = renderView(model, { withSignal: false });
    first.cleanup();
    expect(first.el.querySelector("iframe")).toBeNull();
    expect(second.el.querySelectorAll("iframe")).toHaveLength(1);
  });

  it("does not load a stale frame while views move to a new iframe_url", () => {
    const model = new FakeModel();
    const first = renderView(model);
    const second = renderView(model);
    const created = vi.spyOn(document, "createElement");
    const newUrl = IFRAME_URL.replace("bid-1", "bid-2");
    model.set("iframe_url", newUrl);
    expect(created.mock.calls.filter(([tag]) => tag === "iframe")).toHaveLength(1);
    expect(frameOf(first).src).toBe(newUrl);
    expect(second.el.querySelector("iframe")).toBeNull();
  });

  it("keeps ads with different bids apart", () => {
    const first = renderView(new FakeModel());
    const second = renderView(new FakeModel({ iframe_url: IFRAME_URL.replace("bid-1", "bid-2") }));
    expect(first.el.querySelectorAll("iframe")).toHaveLength(1);
    expect(second.el.querySelectorAll("iframe")).toHaveLength(1);
  });
});

describe("acceptance checks", () => {
  function relayed(model: FakeModel) {
    return model.sentOfKind("frame-message");
  }

  it("relays a flooding creative's messages up to the budget, and says so once", () => {
    vi.spyOn(performance, "now").mockReturnValue(1_000); // the flood takes no time
    const model = new FakeModel();
    const view = renderView(model);
    const frame = frameOf(view);
    for (let i = 1; i <= 10_000; i++) fromInline(view, "resize-iframe", { height: i % 500 });
    // The page still acts on every message; Python gets the burst and one notice.
    expect(frame.style.height).toBe(`${10_000 % 500}px`);
    expect(relayed(model)).toHaveLength(RELAY_BURST);
    expect(model.sentOfKind("frame-message-dropped")).toEqual([
      { kind: "frame-message-dropped", reason: "rate", type: "resize-iframe" },
    ]);
  });

  it("does not relay a message whose data is longer than the bound", () => {
    const model = new FakeModel();
    const view = renderView(model);
    const padding = "x".repeat(MAX_RELAYED_CHARS);
    for (let i = 0; i < 3; i++) fromInline(view, "error-iframe", { message: padding });
    fromInline(view, "resize-iframe", { height: 50, junk: padding });
    expect(relayed(model)).toEqual([]);
    expect(model.sentOfKind("frame-message-dropped")).toEqual([
      { kind: "frame-message-dropped", reason: "size", type: "error-iframe" },
    ]);
    expect(frameOf(view).style.height).toBe("50px"); // acted on all the same
    fromInline(view, "show-iframe");
    expect(relayed(model)).toHaveLength(1);
  });

  it("relays an accepted message with its source", () => {
    const model = new FakeModel();
    const view = renderView(model);
    fromInline(view, "event-iframe", { name: "ad.viewed", code: "inlineAd", payload: { id: "b" } });
    expect(relayed(model)).toEqual([
      {
        kind: "frame-message",
        source: "inline",
        message: { type: "event-iframe", data: { name: "ad.viewed", code: "inlineAd", payload: { id: "b" } } },
      },
    ]);
  });

  it("treats a missing data as {}", () => {
    const model = new FakeModel();
    const view = renderView(model);
    fromInline(view, "ad-done-iframe");
    expect(relayed(model)[0]?.message).toEqual({ type: "ad-done-iframe", data: {} });
  });

  it("ignores a message from another origin", () => {
    const model = new FakeModel();
    const view = renderView(model);
    dispatchFromFrame(windowOf(frameOf(view)), { type: "init-iframe" }, "http://127.0.0.1:9999");
    expect(relayed(model)).toEqual([]);
  });

  it("ignores a message from another window with the right origin", () => {
    const model = new FakeModel();
    renderView(model);
    const stranger = document.createElement("iframe");
    document.body.append(stranger);
    dispatchFromFrame(windowOf(stranger), { type: "init-iframe" });
    dispatchFromFrame(null, { type: "init-iframe" });
    expect(relayed(model)).toEqual([]);
  });

  it("tells two ads of the same code apart by source window", () => {
    const model = new FakeModel();
    const other = new FakeModel({ iframe_url: IFRAME_URL.replace("bid-1", "bid-2") });
    const view = renderView(model);
    renderView(other);
    fromInline(view, "ad-done-iframe", { code: "inlineAd" });
    expect(relayed(model)).toHaveLength(1);
    expect(relayed(other)).toHaveLength(0);
  });

  it("ignores another code and non-protocol data", () => {
    const model = new FakeModel();
    const view = renderView(model);
    fromInline(view, "init-iframe", { code: "otherAd" });
    const inline = windowOf(frameOf(view));
    dispatchFromFrame(inline, "init-iframe");
    dispatchFromFrame(inline, { type: "init" });
    dispatchFromFrame(inline, { type: 3 });
    dispatchFromFrame(inline, { type: "init-iframe", data: [1, 2] });
    expect(relayed(model)).toEqual([]);
  });

  it("accepts code-less messages and drops ones that cannot travel as JSON", () => {
    const model = new FakeModel();
    const view = renderView(model);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    fromInline(view, "event-iframe", cyclic);
    fromInline(view, "event-iframe", { name: "video.started" });
    expect(relayed(model).map((message) => message.message)).toEqual([
      { type: "event-iframe", data: { name: "video.started" } },
    ]);
  });
});

describe("host actions", () => {
  it("answers every init-iframe with frame_context, posted to the server origin", () => {
    const model = new FakeModel();
    const view = renderView(model);
    const post = postSpy(frameOf(view));
    fromInline(view, "init-iframe");
    fromInline(view, "init-iframe");
    expect(post).toHaveBeenCalledTimes(2);
    // No publisher theme: the host's (jsdom has no theme marker and no media query: light).
    const data = { ...FRAME_CONTEXT, otherParams: { theme: "light" } };
    expect(post).toHaveBeenCalledWith({ type: "update-iframe", data }, SERVER_ORIGIN);
  });

  it("uses the current frame_context", () => {
    const model = new FakeModel();
    const view = renderView(model);
    const post = postSpy(frameOf(view));
    const updated = { ...FRAME_CONTEXT, otherParams: { theme: "dark" } };
    model.set("frame_context", updated);
    fromInline(view, "init-iframe");
    expect(post).toHaveBeenCalledWith({ type: "update-iframe", data: updated }, SERVER_ORIGIN);
  });

  it("follows a switch of the notebook's theme without reloading the frame", async () => {
    document.body.dataset.jpThemeLight = "true";
    const view = renderView(new FakeModel());
    const frame = frameOf(view);
    const post = postSpy(frame);
    document.body.dataset.jpThemeLight = "false";
    await Promise.resolve();
    expect(post).not.toHaveBeenCalled(); // the creative has not asked yet
    fromInline(view, "init-iframe");
    expect(post).toHaveBeenLastCalledWith(
      { type: "update-iframe", data: { ...FRAME_CONTEXT, otherParams: { theme: "dark" } } },
      SERVER_ORIGIN,
    );
    document.body.dataset.jpThemeLight = "true";
    await Promise.resolve();
    expect(post).toHaveBeenLastCalledWith(
      { type: "update-iframe", data: { ...FRAME_CONTEXT, otherParams: { theme: "light" } } },
      SERVER_ORIGIN,
    );
    expect(frame.src).toBe(IFRAME_URL);
    expect(frameOf(view)).toBe(frame);
    expect(frame.style.getPropertyValue("color-scheme")).toBe("light");
    document.body.dataset.jpThemeLight = "false";
    await Promise.resolve();
    expect(frame.style.getPropertyValue("color-scheme")).toBe("dark");
    fromInline(view, "open-component-iframe");
    expect(modalFrame()?.style.getPropertyValue("color-scheme")).toBe("dark");
    expect(modalFrame()?.src).toBe(`${MODAL_URL}&theme=dark`);
    delete document.body.dataset.jpThemeLight;
  });

  it("lets an explicit theme win over the notebook's", async () => {
    document.body.dataset.jpThemeLight = "false";
    const context = { ...FRAME_CONTEXT, otherParams: { theme: "light" } };
    const view = renderView(new FakeModel({ theme: "light", frame_context: context }));
    const post = postSpy(frameOf(view));
    fromInline(view, "init-iframe");
    document.body.dataset.jpThemeLight = "true";
    await Promise.resolve();
    document.body.dataset.jpThemeLight = "false";
    await Promise.resolve();
    expect(post).toHaveBeenCalledTimes(1);
    expect(post).toHaveBeenCalledWith({ type: "update-iframe", data: context }, SERVER_ORIGIN);
    fromInline(view, "open-component-iframe");
    expect(modalFrame()?.src).toBe(MODAL_URL);
    delete document.body.dataset.jpThemeLight;
  });

  it("reserves the slot's space from the bid on and gives it up once, when shown", () => {
    const model = new FakeModel({ iframe_url: "", server_origin: "", height: 0 });
    const view = renderView(model);
    const slot = view.el.querySelector<HTMLElement>(".kontext-ad-slot");
    expect(slot?.style.minHeight).toBe("");
    model.set("server_origin", SERVER_ORIGIN);
    model.set("iframe_url", IFRAME_URL);
    expect(slot?.style.minHeight).toBe("180px");
    fromInline(view, "resize-iframe", { height: 188 });
    expect(slot?.style.minHeight).toBe("180px");
    fromInline(view, "show-iframe");
    expect(slot?.style.minHeight).toBe("");
    // The next ad of this code reserves what this one measured; its own height wins.
    const second = renderView(new FakeModel({ iframe_url: `${IFRAME_URL}&n=2` }));
    expect(second.el.querySelector<HTMLElement>(".kontext-ad-slot")?.style.minHeight).toBe("188px");
    const third = renderView(new FakeModel({ iframe_url: `${IFRAME_URL}&n=3`, height: 240 }));
    expect(third.el.querySelector<HTMLElement>(".kontext-ad-slot")?.style.minHeight).toBe("240px");
  });

  it("drops the reservation when the creative hides itself", () => {
    const view = renderView(new FakeModel());
    const slot = view.el.querySelector<HTMLElement>(".kontext-ad-slot");
    expect(slot?.style.minHeight).not.toBe("");
    fromInline(view, "error-iframe");
    expect(slot?.style.minHeight).toBe("");
  });

  it("applies finite non-negative heights only", () => {
    const view = renderView(new FakeModel());
    const frame = frameOf(view);
    fromInline(view, "resize-iframe", { height: 120.5 });
    expect(frame.style.height).toBe("120.5px");
    for (const height of [-1, "300", null, Number.POSITIVE_INFINITY]) {
      fromInline(view, "resize-iframe", { height });
    }
    expect(frame.style.height).toBe("120.5px");
    fromInline(view, "resize-iframe", { height: 0 });
    expect(frame.style.height).toBe("0px");
  });

  it("clamps a creative's huge height to 10,000 px", () => {
    const view = renderView(new FakeModel());
    const frame = frameOf(view);
    fromInline(view, "resize-iframe", { height: 1e308 });
    expect(frame.style.height).toBe("10000px");
    fromInline(view, "resize-iframe", { height: Number.MAX_VALUE });
    expect(frame.style.height).toBe("10000px");
  });

  it("shows, then hides and zeroes the height", () => {
    const view = renderView(new FakeModel());
    const frame = frameOf(view);
    fromInline(view, "resize-iframe", { height: 90 });
    fromInline(view, "show-iframe");
    expect(frame.style.display).toBe("block");
    expect(frame.style.visibility).toBe("visible");
    fromInline(view, "hide-iframe");
    expect(frame.style.display).toBe("none");
    expect(frame.style.height).toBe("0px");
    fromInline(view, "show-iframe");
    expect([frame.style.display, frame.style.visibility]).toEqual(["block", "visible"]);
  });

  it("hides itself on error-iframe", () => {
    const view = renderView(new FakeModel());
    const frame = frameOf(view);
    fromInline(view, "show-iframe");
    fromInline(view, "error-iframe");
    expect(frame.style.display).toBe("none");
  });

  it("applies allow-listed styles to the slot and the iframe only", () => {
    const view = renderView(new FakeModel());
    const frame = frameOf(view);
    const slot = frame.parentElement as HTMLElement;
    fromInline(view, "set-styles-iframe", {
      containerStyles: { maxWidth: "600px", "margin-top": 8, position: "fixed", zIndex: "99" },
      iframeStyles: {
        borderRadius: "12px",
        opacity: 0.5,
        backgroundImage: "url(https://evil.test/x.png)",
        background: "url(https://evil.test/x.png)",
        boxShadow: "0 0 2px red; position: fixed",
        display: "block",
      },
    });
    expect(slot.style.maxWidth).toBe("600px");
    expect(slot.style.marginTop).toBe("8px");
    expect(slot.style.position).toBe("");
    expect(slot.style.zIndex).toBe("");
    expect(frame.style.borderRadius).toBe("12px");
    expect(frame.style.opacity).toBe("0.5");
    expect(frame.style.background).toContain("transparent");
    expect(frame.style.boxShadow).toBe("");
    expect(frame.style.visibility).toBe("hidden");
  });

  it("keeps the slot in a host-owned clipping box that no style map reaches", () => {
    const view = renderView(new FakeModel());
    const frame = frameOf(view);
    const slot = frame.parentElement as HTMLElement;
    const bounds = slot.parentElement as HTMLElement;
    expect(bounds.className).toBe("kontext-ad-bounds");
    const before = bounds.getAttribute("style");
    fromInline(view, "set-styles-iframe", {
      containerStyles: { width: "5000px", minWidth: "5000px", marginTop: "-3000px", overflow: "visible" },
      iframeStyles: { width: "5000px", marginLeft: "-2000px", boxShadow: "0 0 0 3000px red" },
    });
    expect(slot.style.minWidth).toBe("5000px");
    expect(bounds.getAttribute("style")).toBe(before);
    expect(bounds.style.display).toBe("flow-root");
    expect(bounds.style.maxWidth).toBe("100%");
    expect(bounds.style.maxHeight).toBe(`${MAX_FRAME_HEIGHT}px`);
    expect(bounds.style.overflow).toBe("clip");
    view.cleanup();
    expect(bounds.isConnected).toBe(false);
  });

  it("posts dimensions every 200 ms while attached and stops on removal", () => {
    vi.useFakeTimers();
    const model = new FakeModel();
    const view = renderView(model);
    const post = postSpy(frameOf(view));
    vi.advanceTimersByTime(DIMENSIONS_INTERVAL_MS * 3);
    const dimensionPosts = post.mock.calls.filter(
      ([message]) => (message as { type: string }).type === "update-dimensions-iframe",
    );
    expect(dimensionPosts).toHaveLength(3);
    const [message, target] = dimensionPosts[0] ?? [];
    expect(target).toBe(SERVER_ORIGIN);
    expect(message).toEqual({
      type: "update-dimensions-iframe",
      data: {
        windowWidth: window.innerWidth,
        windowHeight: window.innerHeight,
        screenWidth: window.screen.width,
        screenHeight: window.screen.height,
        containerWidth: 0,
        containerHeight: 0,
        containerX: 0,
        containerY: 0,
        keyboardHeight: 0,
        code: "inlineAd",
      },
    });
    removeView(view);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("relays Python's user-event to the owned iframe", () => {
    const model = new FakeModel();
    const owner = renderView(model);
    renderView(model);
    const post = postSpy(frameOf(owner));
    model.sendFromPython({ kind: "user-event", name: "chat.focus", payload: { a: 1 } });
    model.sendFromPython({ kind: "user-event", name: "chat.blur" });
    model.sendFromPython({ kind: "user-event", name: 5 });
    model.sendFromPython({ kind: "something-else", name: "x" });
    expect(post.mock.calls).toEqual([
      [{ type: "user-event-iframe", data: { name: "chat.focus", payload: { a: 1 }, code: "inlineAd" } }, SERVER_ORIGIN],
      [{ type: "user-event-iframe", data: { name: "chat.blur", code: "inlineAd" } }, SERVER_ORIGIN],
    ]);
  });

  it("does nothing for a message after cleanup", () => {
    const model = new FakeModel();
    const view = renderView(model);
    const inline = windowOf(frameOf(view));
    removeView(view);
    dispatchFromFrame(inline, { type: "init-iframe" });
    expect(model.sentOfKind("frame-message")).toEqual([]);
    expect(model.listenerCount()).toBe(0);
  });
});

describe("clicks", () => {
  // The view opens click URLs CLICK_OPEN_DELAY_MS after the message.
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function openSpy() {
    return vi.spyOn(window, "open").mockImplementation(() => null);
  }

  it("relays the messages queued behind click-iframe before opening the tab", () => {
    const model = new FakeModel();
    const relayedAtOpen: number[] = [];
    vi.spyOn(window, "open").mockImplementation(() => {
      relayedAtOpen.push(model.sentOfKind("frame-message").length);
      return null;
    });
    const view = renderView(model);
    fromInline(view, "click-iframe", { url: "https://advertiser.test/landing" });
    fromInline(view, "event-iframe", { name: "ad.clicked", payload: { id: "bid-1" } });
    vi.advanceTimersByTime(CLICK_OPEN_DELAY_MS - 1);
    expect(relayedAtOpen).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(relayedAtOpen).toEqual([2]);
  });

  it("opens http(s) URLs in a new tab without opener or referrer", () => {
    const open = openSpy();
    const view = renderView(new FakeModel());
    fromInline(view, "click-iframe", { url: "https://advertiser.test/landing?x=1" });
    vi.runOnlyPendingTimers();
    expect(open).toHaveBeenCalledWith("https://advertiser.test/landing?x=1", "_blank", "noopener,noreferrer");
  });

  it("resolves server-relative and protocol-relative URLs against the ad server", () => {
    const open = openSpy();
    const view = renderView(new FakeModel());
    fromInline(view, "click-iframe", { url: "/api/redirect?id=1" });
    fromInline(view, "click-iframe", { url: "//advertiser.test/p" });
    vi.runOnlyPendingTimers();
    expect(open.mock.calls.map(([url]) => url)).toEqual([
      `${SERVER_ORIGIN}/api/redirect?id=1`,
      "http://advertiser.test/p",
    ]);
  });

  it("refuses javascript:, data: and vbscript: and reports click-failed", () => {
    const open = openSpy();
    const model = new FakeModel();
    const view = renderView(model);
    for (const url of ["javascript:alert(1)", "data:text/html,<b>x</b>", "vbscript:msgbox(1)"]) {
      fromInline(view, "click-iframe", { url });
    }
    vi.runOnlyPendingTimers();
    expect(open).not.toHaveBeenCalled();
    const failed = model.sentOfKind("click-failed");
    expect(failed.map((message) => message.url)).toEqual([
      "javascript:alert(1)",
      "data:text/html,<b>x</b>",
      "vbscript:msgbox(1)",
    ]);
    expect(failed[0]?.reason).toContain("javascript:");
  });

  it("opens fallbackUrl once when url is refused", () => {
    const open = openSpy();
    const model = new FakeModel();
    const view = renderView(model);
    fromInline(view, "click-iframe", { url: "amazon://item/1", fallbackUrl: "/fallback" });
    vi.runOnlyPendingTimers();
    expect(open.mock.calls).toEqual([[`${SERVER_ORIGIN}/fallback`, "_blank", "noopener,noreferrer"]]);
    expect(model.sentOfKind("click-failed")).toEqual([]);
  });

  it("reports click-failed when url and fallbackUrl both fail", () => {
    const open = vi.spyOn(window, "open").mockImplementation(() => {
      throw new Error("blocked");
    });
    const model = new FakeModel();
    const view = renderView(model);
    fromInline(view, "click-iframe", { url: "https://a.test/", fallbackUrl: "https://b.test/" });
    vi.runOnlyPendingTimers();
    expect(open).toHaveBeenCalledTimes(2);
    const [failed] = model.sentOfKind("click-failed");
    expect(failed?.url).toBe("https://a.test/");
    expect(failed?.reason).toContain("fallbackUrl");
  });

  it("does nothing without a url", () => {
    const open = openSpy();
    const model = new FakeModel();
    const view = renderView(model);
    fromInline(view, "click-iframe", { fallbackUrl: "https://b.test/" });
    vi.runOnlyPendingTimers();
    expect(open).not.toHaveBeenCalled();
    expect(model.sentOfKind("click-failed")).toEqual([]);
  });

  it("opens clicks coming from the modal", () => {
    const open = openSpy();
    const view = renderView(new FakeModel());
    fromInline(view, "open-component-iframe");
    fromModal("click-iframe", { url: "https://advertiser.test/", component: "modal" });
    vi.runOnlyPendingTimers();
    expect(open).toHaveBeenCalledTimes(1);
  });
});

describe("modal", () => {
  it("opens hidden at modal_url with componentParams, full screen over the page", () => {
    vi.useFakeTimers();
    const view = renderView(new FakeModel());
    fromInline(view, "set-styles-iframe", { iframeStyles: { borderRadius: "4px" } });
    fromInline(view, "open-component-iframe", { componentParams: { step: "quiz", n: 2 } });
    const modal = modalFrame();
    expect(modal?.src).toBe(
      `${MODAL_URL}&theme=light&componentParams=${encodeURIComponent(JSON.stringify({ step: "quiz", n: 2 }))}`,
    );
    const root = modalRoot();
    expect(root?.style.position).toBe("fixed");
    expect(root?.style.zIndex).toBe("999999999");
    expect(root?.style.visibility).toBe("hidden");
    expect(modal?.style.visibility).toBe("inherit");
    expect(modal?.style.borderRadius).toBe("4px");
    expect(modal?.getAttribute("sandbox")).toContain("allow-scripts");
  });

  it("never takes the creative's opacity (nor visibility, pointer-events, display)", () => {
    vi.useFakeTimers();
    const view = renderView(new FakeModel());
    fromInline(view, "set-styles-iframe", {
      iframeStyles: { opacity: 0, visibility: "hidden", pointerEvents: "none", display: "none", borderRadius: "8px" },
    });
    expect(frameOf(view).style.opacity).toBe("0");
    fromInline(view, "open-component-iframe", { component: "modal" });
    fromModal("init-component-iframe", { component: "modal" });
    const modal = modalFrame() as HTMLIFrameElement;
    expect(modal.style.borderRadius).toBe("8px");
    expect(modal.style.opacity).toBe("");
    expect(modal.style.pointerEvents).toBe("");
    expect(modal.style.display).toBe("block");
    expect(modalRoot()?.style.opacity).toBe("1");
    expect(modalRoot()?.style.pointerEvents).toBe("auto");
    expect(modalRoot()?.style.visibility).toBe("visible");
  });

  it("has a host-owned close button outside the creative's iframe, focused once revealed", () => {
    vi.useFakeTimers();
    const model = new FakeModel();
    const view = renderView(model);
    fromInline(view, "open-component-iframe", { component: "modal" });
    const button = closeButton() as HTMLButtonElement;
    expect(button.tagName).toBe("BUTTON");
    expect(button.type).toBe("button");
    expect(button.getAttribute("aria-label")).toBe(CLOSE_LABEL);
    expect(CLOSE_LABEL).toContain("Close");
    expect(button.parentElement).toBe(modalRoot());
    // After the frame in the same wrapper, with a z-index: painted on top of it.
    expect(button.previousElementSibling).toBe(modalFrame());
    expect(Number(button.style.zIndex)).toBeGreaterThan(0);
    fromModal("init-component-iframe", { component: "modal" });
    expect(document.activeElement).toBe(button);
    button.click();
    expect(modalRoot()).toBeNull();
    expect(document.activeElement).not.toBe(button);
    vi.advanceTimersByTime(10_000);
    expect(model.sentOfKind("modal-timeout")).toEqual([]);
    // The ad can open it again once the reader turns to it (focus in its frame).
    frameOf(view).focus();
    fromInline(view, "open-component-iframe", { component: "modal" });
    expect(modalRoot()).not.toBeNull();
  });

  it("does not let the ad reopen it by itself after the reader closed it", () => {
    vi.useFakeTimers();
    const view = renderView(new FakeModel());
    const frame = frameOf(view);
    frame.focus(); // the reader clicked the ad's offer
    fromInline(view, "open-component-iframe");
    fromModal("init-component-iframe");
    pressKey("Escape");
    expect(modalRoot()).toBeNull();
    // Focus did not go back into the ad: an automatic reopen is refused ...
    expect(document.activeElement).not.toBe(frame);
    fromInline(view, "open-component-iframe");
    expect(modalRoot()).toBeNull();
    // ... until the reader clicks or tabs into the ad again.
    frame.focus();
    fromInline(view, "open-component-iframe");
    expect(modalRoot()).not.toBeNull();
    // Closed by the creative, not the reader: the ad may reopen freely.
    fromModal("close-component-iframe", { component: "modal" });
    (document.activeElement as HTMLElement | null)?.blur();
    fromInline(view, "open-component-iframe");
    expect(modalRoot()).not.toBeNull();
  });

  it("works before the creative is ready too: the close button closes a loading overlay", () => {
    vi.useFakeTimers();
    const model = new FakeModel();
    const view = renderView(model);
    fromInline(view, "open-component-iframe");
    closeButton()?.click();
    expect(modalRoot()).toBeNull();
    vi.advanceTimersByTime(10_000);
    expect(model.sentOfKind("modal-timeout")).toEqual([]);
  });

  it("closes on Escape while the host page has focus, once revealed", () => {
    vi.useFakeTimers();
    const view = renderView(new FakeModel());
    fromInline(view, "open-component-iframe");
    // Still loading (invisible): Escape stays the notebook's.
    const early = pressKey("Escape");
    expect(early.defaultPrevented).toBe(false);
    expect(modalRoot()).not.toBeNull();
    fromModal("init-component-iframe");
    expect(pressKey("Enter").defaultPrevented).toBe(false);
    expect(modalRoot()).not.toBeNull();
    const escape = pressKey("Escape");
    expect(escape.defaultPrevented).toBe(true);
    expect(modalRoot()).toBeNull();
    // Its listener went with it.
    expect(pressKey("Escape").defaultPrevented).toBe(false);
  });

  it("closes when the ad is destroyed", () => {
    vi.useFakeTimers();
    const model = new FakeModel();
    const view = renderView(model);
    fromInline(view, "open-component-iframe");
    fromModal("init-component-iframe");
    model.set("destroyed", true);
    expect(modalRoot()).toBeNull();
    expect(pressKey("Escape").defaultPrevented).toBe(false);
  });

  it("closes when its view is removed, even once revealed", () => {
    vi.useFakeTimers();
    const view = renderView(new FakeModel());
    fromInline(view, "open-component-iframe");
    fromModal("init-component-iframe");
    removeView(view);
    expect(modalRoot()).toBeNull();
    expect(pressKey("Escape").defaultPrevented).toBe(false);
  });

  it("reveals on init-component-iframe and relays modal messages as modal", () => {
    vi.useFakeTimers();
    const model = new FakeModel();
    const view = renderView(model);
    fromInline(view, "open-component-iframe", { timeout: 1000 });
    fromModal("init-component-iframe", { component: "modal", code: "inlineAd" });
    expect(modalRoot()?.style.visibility).toBe("visible");
    vi.advanceTimersByTime(5000);
    expect(modalFrame()).not.toBeNull();
    expect(model.sentOfKind("modal-timeout")).toEqual([]);
    expect(model.sentOfKind("frame-message").slice(-1)[0]).toEqual({
      kind: "frame-message",
      source: "modal",
      message: { type: "init-component-iframe", data: { component: "modal", code: "inlineAd" } },
    });
  });

  it("does not reveal for an init-component-iframe from the inline frame", () => {
    vi.useFakeTimers();
    const view = renderView(new FakeModel());
    fromInline(view, "open-component-iframe");
    fromInline(view, "init-component-iframe");
    fromInline(view, "init-component-iframe", { component: "modal" });
    expect(modalRoot()?.style.visibility).toBe("hidden");
  });

  it("rejects a modal message claiming another component", () => {
    vi.useFakeTimers();
    const model = new FakeModel();
    const view = renderView(model);
    fromInline(view, "open-component-iframe");
    fromModal("init-component-iframe", { component: "inline" });
    expect(modalRoot()?.style.visibility).toBe("hidden");
    expect(model.sentOfKind("frame-message").filter((m) => m.source === "modal")).toEqual([]);
  });

  it("closes on timeout and reports modal-timeout (data.timeout, else 5000 ms)", () => {
    vi.useFakeTimers();
    const model = new FakeModel();
    const view = renderView(model);
    fromInline(view, "open-component-iframe", { timeout: 1500 });
    vi.advanceTimersByTime(1499);
    expect(modalFrame()).not.toBeNull();
    vi.advanceTimersByTime(1);
    expect(modalFrame()).toBeNull();
    expect(model.sentOfKind("modal-timeout")).toEqual([{ kind: "modal-timeout" }]);

    fromInline(view, "open-component-iframe", { timeout: -3 });
    vi.advanceTimersByTime(4999);
    expect(modalFrame()).not.toBeNull();
    vi.advanceTimersByTime(1);
    expect(modalFrame()).toBeNull();
    expect(model.sentOfKind("modal-timeout")).toHaveLength(2);
  });

  it("closes on close-component-iframe and error-component-iframe", () => {
    vi.useFakeTimers();
    const model = new FakeModel();
    const view = renderView(model);
    postSpy(frameOf(view));
    fromInline(view, "open-component-iframe");
    fromModal("close-component-iframe", { component: "modal" });
    expect(modalFrame()).toBeNull();
    fromInline(view, "open-component-iframe");
    fromModal("error-component-iframe", { message: "boom", errorType: "x" });
    expect(modalFrame()).toBeNull();
    vi.advanceTimersByTime(10_000);
    expect(model.sentOfKind("modal-timeout")).toEqual([]);
    expect(vi.getTimerCount()).toBe(1); // only the dimensions heartbeat is left
  });

  it("is removed with its timer when the view goes", () => {
    vi.useFakeTimers();
    const model = new FakeModel();
    const view = renderView(model);
    fromInline(view, "open-component-iframe");
    removeView(view);
    expect(modalRoot()).toBeNull();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("gets no update-iframe and no dimensions", () => {
    vi.useFakeTimers();
    const view = renderView(new FakeModel());
    fromInline(view, "open-component-iframe");
    const modal = modalFrame() as HTMLIFrameElement;
    const post = postSpy(modal);
    fromModal("init-iframe");
    vi.advanceTimersByTime(DIMENSIONS_INTERVAL_MS * 2);
    expect(post).not.toHaveBeenCalled();
  });
});

describe("browser facts", () => {
  it("are sent once per page, by the first view", () => {
    const first = new FakeModel();
    renderView(first);
    renderView(first);
    const second = new FakeModel({ iframe_url: "" });
    renderView(second);
    const facts = first.sentOfKind("browser-facts");
    expect(facts).toHaveLength(1);
    expect(second.sentOfKind("browser-facts")).toEqual([]);
    expect(facts[0]?.facts).toMatchObject({
      screen: { width: window.screen.width, height: window.screen.height, dpr: window.devicePixelRatio },
      locale: navigator.language,
      userAgent: navigator.userAgent,
    });
  });
});
