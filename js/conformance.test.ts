/**
 * Conformance with the official web SDK's own message code (`@kontextso/sdk-common`,
 * pinned as a devDependency, never bundled): every frame → host message of its
 * `IframeMessages` union, built with its `makeIframeMessage`, from the inline frame
 * and from the modal, with and without `component`, with and without `code`, with
 * unknown extra fields; and the host → frame messages this host posts, fed to its
 * `handleIframeMessage`. The expectation table is keyed by the official union, so a
 * type added to sdk-common fails `tsc` here until the host's answer to it is decided.
 */

import {
  emitAdEvent,
  handleIframeMessage,
  makeIframeMessage,
  type IframeMessage,
  type IframeMessageEvent,
  type IframeMessageType,
  type IframeMessages,
} from "@kontextso/sdk-common";
import type { RenderProps } from "@anywidget/types";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { MODAL_CLASS } from "./modal";
import type { AdTraits, JsonObject } from "./protocol";
import { dispatchFromFrame, FakeModel, FRAME_CONTEXT, MODAL_URL, SERVER_ORIGIN } from "./test-support";
import { CLICK_OPEN_DELAY_MS } from "./view";
import widget from "./widget";

const CODE = "inlineAd";
const BID = "bid-1";

type DataOf<T extends IframeMessageType> =
  Extract<IframeMessages, { type: T }> extends { data: infer D } ? D : undefined;

/** One realistic `data` per official type, typed by the official union. */
const SAMPLES: { [T in IframeMessageType]: DataOf<T> } = {
  "init-iframe": undefined,
  "update-iframe": { otherParams: {}, messages: [], sdk: "sdk-js", messageId: "m1" },
  "update-dimensions-iframe": {
    windowWidth: 1,
    windowHeight: 1,
    containerWidth: 1,
    containerHeight: 1,
    containerX: 0,
    containerY: 0,
  },
  "show-iframe": undefined,
  "hide-iframe": undefined,
  "ad-done-iframe": { id: BID, content: "Trail shoes", messageId: "m1" },
  "view-iframe": { id: BID, content: "Trail shoes", messageId: "m1" },
  "click-iframe": { id: BID, content: "Trail shoes", messageId: "m1", url: "https://advertiser.test/landing" },
  "resize-iframe": { height: 120 },
  "set-styles-iframe": { containerStyles: { padding: "4px" }, iframeStyles: { borderRadius: "8px" } },
  "open-component-iframe": { timeout: 3000, componentParams: { step: 1 } },
  "open-skoverlay-iframe": { position: "bottom", dismissible: true },
  "close-skoverlay-iframe": undefined,
  "update-skoverlay-iframe": { open: true },
  "init-component-iframe": undefined,
  "error-component-iframe": undefined,
  "close-component-iframe": undefined,
  "ad-done-component-iframe": undefined,
  "retire-iframe": undefined,
  "event-iframe": {
    name: "ad.viewed",
    payload: { id: BID, content: "Trail shoes", messageId: "m1", format: "inline" },
  },
  "user-event-iframe": { name: "user.typing.started" },
  "error-iframe": undefined,
};

const TYPES = Object.keys(SAMPLES) as IframeMessageType[];

/** What the reader can see of the ad, and what left the page. */
interface HostState {
  display: string;
  height: string;
  slotPadding: string;
  frameRadius: string;
  /** "none", or the overlay's visibility, with "new" when another overlay replaced the last one. */
  modal: string;
  posted: string[];
  opened: string[];
}

type Effect = Partial<HostState>;

/**
 * The host's answer to each official type (docs/protocol.md §6.2, §6.4), from the
 * baseline below: the inline frame shown at 50 px, an interstitial opened by the
 * inline frame and still loading (hidden). Empty = relayed to Python only.
 */
const EXPECTED: { [T in IframeMessageType]: { inline: Effect; modal: Effect } } = {
  "init-iframe": { inline: { posted: ["update-iframe"] }, modal: {} },
  "update-iframe": { inline: {}, modal: {} },
  "update-dimensions-iframe": { inline: {}, modal: {} },
  "show-iframe": { inline: {}, modal: {} }, // already shown: no change
  "hide-iframe": { inline: { display: "none", height: "0px" }, modal: {} },
  "ad-done-iframe": { inline: {}, modal: {} },
  "view-iframe": { inline: {}, modal: {} },
  "click-iframe": {
    inline: { opened: ["https://advertiser.test/landing"] },
    modal: { opened: ["https://advertiser.test/landing"] },
  },
  "resize-iframe": { inline: { height: "120px" }, modal: {} },
  "set-styles-iframe": { inline: { slotPadding: "4px", frameRadius: "8px" }, modal: {} },
  "open-component-iframe": { inline: { modal: "hidden new" }, modal: {} },
  "open-skoverlay-iframe": { inline: {}, modal: {} },
  "close-skoverlay-iframe": { inline: {}, modal: {} },
  "update-skoverlay-iframe": { inline: {}, modal: {} },
  "init-component-iframe": { inline: {}, modal: { modal: "visible" } },
  "error-component-iframe": { inline: { modal: "none" }, modal: { modal: "none" } },
  "close-component-iframe": { inline: { modal: "none" }, modal: { modal: "none" } },
  "ad-done-component-iframe": { inline: {}, modal: {} },
  "retire-iframe": { inline: {}, modal: {} },
  "event-iframe": { inline: {}, modal: {} },
  "user-event-iframe": { inline: {}, modal: {} },
  "error-iframe": { inline: { display: "none", height: "0px", modal: "none" }, modal: { modal: "none" } },
};

type Source = "inline" | "modal";

interface Variant {
  label: string;
  code: string | undefined;
  component: string | undefined;
  extras: boolean;
}

/** Without `component`, with the modal's, with another official one; with and without `code`. */
const VARIANTS: Variant[] = [undefined, "modal", "skoverlay"].flatMap((component) => [
  { label: `component ${String(component)}, code`, code: CODE, component, extras: false },
  { label: `component ${String(component)}, no code, unknown fields`, code: undefined, component, extras: true },
]);

/** The official builder; the overloads allow `component` only on component types, a real creative may add it anywhere. */
const build = makeIframeMessage as unknown as (
  type: IframeMessageType,
  opts: { data?: unknown; code?: string; component?: string },
) => { type: string; data: JsonObject };

function official(type: IframeMessageType, variant: Omit<Variant, "label">): { type: string; data: JsonObject } {
  const sample = SAMPLES[type];
  const message = build(type, {
    ...(sample === undefined ? {} : { data: structuredClone(sample) }),
    code: variant.code,
    component: variant.component,
  } as { data?: unknown; code?: string; component?: string });
  if (!variant.extras) return message;
  // Unknown fields, in data and beside it, as a newer creative would send.
  return { ...message, version: 2, data: { ...message.data, futureField: { nested: [1, "x"] } } } as typeof message;
}

class Harness {
  readonly model = new FakeModel();
  readonly el = document.createElement("div");
  private readonly controller = new AbortController();
  private readonly cleanup: () => void;
  private readonly posted: string[] = [];
  private readonly opened: string[] = [];
  private lastModal: Element | null = null;

  constructor() {
    document.body.append(this.el);
    this.cleanup = widget.render({ model: this.model, el: this.el, signal: this.controller.signal } as unknown as RenderProps<AdTraits>);
  }

  /** Again for every baseline: vitest restores mocks after each test (`restoreMocks`). */
  private spy(): void {
    vi.spyOn(this.inlineWindow, "postMessage").mockImplementation((message: unknown) => {
      this.posted.push(String((message as JsonObject).type));
    });
    vi.spyOn(window, "open").mockImplementation((url?: string | URL) => {
      this.opened.push(String(url));
      return null;
    });
  }

  get frame(): HTMLIFrameElement {
    const frame = this.el.querySelector("iframe");
    if (frame === null) throw new Error("no inline iframe");
    return frame;
  }

  get inlineWindow(): Window {
    return this.frame.contentWindow as Window;
  }

  get modalRoot(): HTMLElement | null {
    return document.body.querySelector<HTMLElement>(`:scope > .${MODAL_CLASS}`);
  }

  get modalWindow(): Window {
    const frame = this.modalRoot?.querySelector("iframe");
    if (!frame?.contentWindow) throw new Error("no modal");
    return frame.contentWindow;
  }

  send(source: Source, message: unknown): void {
    dispatchFromFrame(source === "inline" ? this.inlineWindow : this.modalWindow, message);
  }

  /**
   * Shown at 50 px, unstyled, with an interstitial loading, through official
   * messages (styles are reset directly: no message can unset them).
   */
  baseline(): void {
    // The host relays at most a burst of messages at once to Python (relay.ts); one
    // view serves every case here, so each case starts a minute after the last.
    vi.spyOn(performance, "now").mockReturnValue((relayClock += 60_000));
    this.spy();
    (this.frame.parentElement as HTMLElement).style.removeProperty("padding");
    this.frame.style.removeProperty("border-radius");
    this.send("inline", makeIframeMessage("init-iframe", { code: CODE }));
    this.send("inline", makeIframeMessage("resize-iframe", { data: { height: 50 }, code: CODE }));
    this.send("inline", makeIframeMessage("show-iframe", { code: CODE }));
    // A still-loading overlay is the baseline already (creating iframes is what costs in jsdom).
    if (this.modalRoot?.style.visibility !== "hidden") {
      this.send(
        "inline",
        makeIframeMessage("open-component-iframe", { data: { timeout: 60_000 }, code: CODE, component: "modal" }),
      );
    }
    this.state();
    this.posted.length = 0;
    this.opened.length = 0;
    this.model.sent.length = 0;
  }

  state(): HostState {
    const root = this.modalRoot;
    let modal = "none";
    if (root !== null) {
      modal = root.style.visibility + (this.lastModal !== null && root !== this.lastModal ? " new" : "");
      this.lastModal = root;
    }
    const slot = this.frame.parentElement as HTMLElement;
    return {
      display: this.frame.style.display,
      height: this.frame.style.height,
      slotPadding: slot.style.padding,
      frameRadius: this.frame.style.borderRadius,
      modal,
      // The 200 ms dimensions heartbeat is no reaction to a message: left out.
      posted: this.posted.filter((type) => type !== "update-dimensions-iframe"),
      opened: [...this.opened],
    };
  }

  relayed(): JsonObject[] {
    return this.model.sentOfKind("frame-message");
  }

  dispose(): void {
    this.controller.abort();
    this.cleanup();
    this.el.remove();
  }
}

const harnesses: Harness[] = [];

/** A new host in its baseline; the previous one goes first (one iframe per bid URL). */
function harness(): Harness {
  for (const previous of harnesses.splice(0)) previous.dispose();
  const created = new Harness();
  harnesses.push(created);
  created.baseline();
  return created;
}

let relayClock = performance.now();

/** The host of the previous test if there is one: creating iframes is what costs in jsdom. */
function reusedHarness(): Harness {
  const [current] = harnesses;
  if (current === undefined) return harness();
  current.baseline();
  return current;
}

afterEach(() => {
  vi.useRealTimers();
});

afterAll(() => {
  for (const created of harnesses.splice(0)) created.dispose();
  document.body.replaceChildren();
});

describe("every official frame → host message (sdk-common makeIframeMessage)", () => {
  for (const type of TYPES) {
    for (const source of ["inline", "modal"] as const) {
      it(`${type} from the ${source} frame`, () => {
        vi.useFakeTimers();
        const host = reusedHarness();
        for (const variant of VARIANTS) {
          host.baseline();
          const before = host.state();
          const message = official(type, variant);
          host.send(source, message);
          // A click opens its tab a moment later (AdView.click).
          if (type === "click-iframe") vi.advanceTimersByTime(CLICK_OPEN_DELAY_MS);
          // §6.1 rule 3: only the modal's handler has a component to check.
          const accepted = source === "inline" || variant.component === undefined || variant.component === "modal";
          const after = host.state();
          const context = `${type} from ${source}, ${variant.label}`;
          if (!accepted) {
            expect(host.relayed(), context).toEqual([]);
            expect(after, context).toEqual(before);
            continue;
          }
          // Relayed as a JSON copy: the builder's undefined code/component vanish, unknown fields travel.
          expect(host.relayed(), context).toEqual([
            { kind: "frame-message", source, message: { type, data: JSON.parse(JSON.stringify(message.data)) } },
          ]);
          expect(after, context).toEqual({ ...before, ...EXPECTED[type][source] });
        }
      });
    }
  }

  it("ignores every official type carrying another placement's code", () => {
    vi.useFakeTimers();
    const host = reusedHarness();
    for (const type of TYPES) {
      for (const source of ["inline", "modal"] as const) {
        host.baseline();
        const before = host.state();
        host.send(source, official(type, { code: "otherAd", component: undefined, extras: false }));
        expect(host.relayed(), `${type} from ${source}`).toEqual([]);
        expect(host.state(), `${type} from ${source}`).toEqual(before);
      }
    }
  });

  it("opens the interstitial exactly as the official inline creative asks for it", () => {
    vi.useFakeTimers();
    for (const previous of harnesses.splice(0)) previous.dispose();
    const host = new Harness();
    harnesses.push(host);
    const open = makeIframeMessage("open-component-iframe", {
      data: { timeout: 3000, componentParams: { step: 1 } },
      code: CODE,
      component: "modal",
    });
    expect(open.data.component).toBe("modal"); // the builder puts it inside data
    host.send("inline", open);
    const frame = host.modalRoot?.querySelector("iframe");
    expect(frame?.src).toBe(`${MODAL_URL}&theme=light&componentParams=${encodeURIComponent('{"step":1}')}`);
    host.send("modal", makeIframeMessage("init-component-iframe", { code: CODE, component: "modal" }));
    expect(host.modalRoot?.style.visibility).toBe("visible");
    host.send("modal", makeIframeMessage("close-component-iframe", { code: CODE, component: "modal" }));
    expect(host.modalRoot).toBeNull();
  });
});

describe("host → frame messages, through sdk-common handleIframeMessage", () => {
  /** What the official frame-side handler passes on; the page origin is what a frame sees as `event.origin`. */
  function frameSide(message: unknown, opts: Parameters<typeof handleIframeMessage>[1]): IframeMessage[] {
    const received: IframeMessage[] = [];
    const handler = handleIframeMessage((m) => received.push(m), opts);
    handler(new MessageEvent("message", { data: message, origin: window.location.origin }) as IframeMessageEvent);
    return received;
  }

  function capture(host: Harness): { message: JsonObject; targetOrigin: unknown }[] {
    const calls = vi.mocked(host.inlineWindow.postMessage).mock.calls;
    return calls.map(([message, targetOrigin]) => ({ message: message as JsonObject, targetOrigin }));
  }

  it("update-iframe, update-dimensions-iframe and user-event-iframe are accepted for our code only", () => {
    vi.useFakeTimers();
    const host = harness();
    host.send("inline", makeIframeMessage("init-iframe", { code: CODE }));
    vi.advanceTimersByTime(200);
    host.model.sendFromPython({ kind: "user-event", name: "user.typing.started" });
    host.model.sendFromPython({ kind: "user-event", name: "user.typing.started", payload: { n: 1 } });
    const posts = capture(host);
    const types = new Set(posts.map(({ message }) => message.type));
    expect(types).toEqual(new Set(["update-iframe", "update-dimensions-iframe", "user-event-iframe"]));
    for (const { message, targetOrigin } of posts) {
      expect(targetOrigin).toBe(SERVER_ORIGIN);
      const options = { origin: window.location.origin, code: CODE };
      expect(frameSide(message, options), String(message.type)).toEqual([message]);
      // The frame's modal-side handler (component "modal") takes them too: we send no component.
      expect(frameSide(message, { ...options, component: "modal" })).toEqual([message]);
      expect(frameSide(message, { ...options, code: "otherAd" })).toEqual([]);
    }
  });

  it("have the official shapes", () => {
    vi.useFakeTimers();
    const host = harness();
    host.send("inline", makeIframeMessage("init-iframe", { code: CODE }));
    vi.advanceTimersByTime(200);
    host.model.sendFromPython({ kind: "user-event", name: "user.typing.started" });
    const byType = new Map(capture(host).map(({ message }) => [message.type, message.data as JsonObject]));

    const update = byType.get("update-iframe") as JsonObject;
    // No publisher theme: the host's (jsdom: light) is added, as docs/protocol.md §11 says.
    expect(update).toEqual({ ...FRAME_CONTEXT, otherParams: { theme: "light" } });
    expect(update.otherParams).toEqual(expect.any(Object));
    for (const message of update.messages as JsonObject[]) {
      expect(message).toMatchObject({ id: expect.any(String), content: expect.any(String) });
      expect(["user", "assistant"]).toContain(message.role);
    }

    const dimensions = byType.get("update-dimensions-iframe") as JsonObject;
    const official: IframeMessage<"update-dimensions-iframe">["data"] = {
      windowWidth: 0,
      windowHeight: 0,
      containerWidth: 0,
      containerHeight: 0,
      containerX: 0,
      containerY: 0,
      keyboardHeight: 0,
      code: CODE,
    };
    for (const key of Object.keys(official)) {
      expect(typeof dimensions[key], key).toBe(typeof official[key as keyof typeof official]);
    }
    expect(dimensions.code).toBe(CODE);

    expect(byType.get("user-event-iframe")).toEqual({ name: "user.typing.started", code: CODE });
  });
});

describe("the official lifecycle, as Python receives it", () => {
  const BID_ID = "0190f3c2-7d1e-7a6b-9c3d-2f4e5a6b7c8d";
  const CONTENT = "Trail shoes";

  /** What sdk-common's `emitAdEvent` posts (it posts to `window.parent` with "*"). */
  function emitted(name: string, opts: { payload?: Record<string, unknown>; component?: "modal" }): unknown {
    const captured: unknown[] = [];
    vi.spyOn(window.parent, "postMessage").mockImplementation((message: unknown) => {
      captured.push(message);
    });
    emitAdEvent(name, { code: CODE, ...opts });
    vi.mocked(window.parent.postMessage).mockRestore();
    expect(captured).toHaveLength(1);
    return captured[0];
  }

  /**
   * tests/fixtures/sdk_common_lifecycle.json: one ad's life in official messages,
   * as the relay hands them to Python (a JSON copy), for tests/test_frame_messages.py.
   * Written by `npx vitest run -u`; a plain run fails if sdk-common builds anything else.
   */
  it("is the committed fixture", async () => {
    const viewed = { id: BID_ID, content: CONTENT, messageId: "a1", format: "inline" };
    const clickUrl = `${SERVER_ORIGIN}/api/click/${BID_ID}?area=cta`;
    const clicked = { ...viewed, url: clickUrl, area: "cta" };
    const steps: [string, Source, unknown][] = [
      ["init", "inline", makeIframeMessage("init-iframe", { code: CODE })],
      ["render-started", "inline", emitted("ad.render-started", { payload: { id: BID_ID } })],
      ["resize", "inline", makeIframeMessage("resize-iframe", { data: { height: 120 }, code: CODE })],
      ["show", "inline", makeIframeMessage("show-iframe", { code: CODE })],
      ["ad-done", "inline", makeIframeMessage("ad-done-iframe", { data: { id: BID_ID, content: CONTENT, messageId: "a1" }, code: CODE })],
      ["render-completed", "inline", emitted("ad.render-completed", { payload: { id: BID_ID } })],
      ["view", "inline", makeIframeMessage("view-iframe", { data: { id: BID_ID, content: CONTENT, messageId: "a1" }, code: CODE })],
      ["viewed", "inline", emitted("ad.viewed", { payload: viewed })],
      ["click", "inline", makeIframeMessage("click-iframe", { data: { id: BID_ID, content: CONTENT, messageId: "a1", url: clickUrl }, code: CODE })],
      ["clicked", "inline", emitted("ad.clicked", { payload: clicked })],
      [
        "open-component",
        "inline",
        makeIframeMessage("open-component-iframe", { data: { timeout: 5000, componentParams: { step: 1 } }, code: CODE, component: "modal" }),
      ],
      ["init-component", "modal", makeIframeMessage("init-component-iframe", { code: CODE, component: "modal" })],
      ["modal-clicked", "modal", emitted("ad.clicked", {
          payload: { ...clicked, url: clickUrl.replace("=cta", "=interstitial"), area: "interstitial" },
          component: "modal",
        })],
      ["ad-done-component", "modal", makeIframeMessage("ad-done-component-iframe", { code: CODE, component: "modal" })],
      ["error-component", "modal", makeIframeMessage("error-component-iframe", { code: CODE, component: "modal" })],
      ["close-component", "modal", makeIframeMessage("close-component-iframe", { code: CODE, component: "modal" })],
      ["video-started", "inline", emitted("video.started", { payload: { id: BID_ID } })],
      ["video-completed", "inline", emitted("video.completed", { payload: { id: BID_ID } })],
      ["reward-granted", "inline", emitted("reward.granted", { payload: { id: BID_ID } })],
      ["retire", "inline", makeIframeMessage("retire-iframe", { code: CODE })],
      ["hide", "inline", makeIframeMessage("hide-iframe", { code: CODE })],
      ["error", "inline", makeIframeMessage("error-iframe", { code: CODE })],
      ["other-code", "inline", makeIframeMessage("resize-iframe", { data: { height: 999 }, code: "otherAd" })],
    ];
    const fixture = steps.map(([step, source, message]) => ({
      step,
      source,
      message: JSON.parse(JSON.stringify(message)) as unknown,
    }));
    await expect(`${JSON.stringify(fixture, null, 2)}\n`).toMatchFileSnapshot(
      "../tests/fixtures/sdk_common_lifecycle.json",
    );
  });
});
