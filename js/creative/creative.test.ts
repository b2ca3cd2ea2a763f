/**
 * The local creative (js/creative/) in jsdom: its channel, and the frame page run in
 * a real jsdom iframe whose parent is this window. The real-browser tests are
 * tests/test_creative_browser.py and the JupyterLab tests under tests/browser/.
 */

import { handleIframeMessage, type IframeMessage, type IframeMessageEvent } from "@kontextso/sdk-common";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import catalogue from "../../kontext_widget/_local_server/creative/catalogue.json";
import { FRAME_EVENTS, FRAME_TO_HOST, HOST_TO_FRAME, type HostToFrameType } from "../vocabulary";
import { lastUserText, pickProduct, readCatalogue, snippet, FALLBACK } from "./catalogue";
import { openChannel, type HostHandlers } from "./channel";
import { startCreative } from "./creative";

type Posted = { type: string; data: Record<string, unknown> };

/** A frame window whose parent records what it is posted. */
function framed(): { self: Window; parent: Window; posted: [unknown, string][] } {
  const posted: [unknown, string][] = [];
  const parent = { postMessage: (message: unknown, target: string) => posted.push([message, target]) };
  const self = { parent } as unknown as Window;
  return { self, parent: parent as unknown as Window, posted };
}

function spyHandlers(): HostHandlers & Record<HostToFrameType, ReturnType<typeof vi.fn>> {
  return {
    "update-iframe": vi.fn(),
    "update-dimensions-iframe": vi.fn(),
    "user-event-iframe": vi.fn(),
  };
}

describe("creative channel", () => {
  it("adds the code to every post, and the modal's component, posting to '*'", () => {
    const inline = framed();
    openChannel(inline.self, "inlineAd", null).post("resize-iframe", { height: 120 });
    expect(inline.posted).toEqual([[{ type: "resize-iframe", data: { height: 120, code: "inlineAd" } }, "*"]]);
    const modal = framed();
    openChannel(modal.self, "inlineAd", "modal").event("ad.render-started", { id: "b1" });
    expect(modal.posted).toEqual([
      [
        {
          type: "event-iframe",
          data: { name: "ad.render-started", payload: { id: "b1" }, code: "inlineAd", component: "modal" },
        },
        "*",
      ],
    ]);
  });

  it("posts and hears nothing when opened directly", () => {
    const self = {} as { parent: unknown };
    self.parent = self;
    const channel = openChannel(self as unknown as Window, "inlineAd", null);
    const handlers = spyHandlers();
    channel.post("init-iframe", {});
    channel.receive({ source: self as unknown as Window, data: { type: "update-iframe", data: {} } }, handlers);
    expect(Object.values(handlers).every((h) => h.mock.calls.length === 0)).toBe(true);
  });

  it("hands every host -> frame type to its own handler, and nothing else", () => {
    const { self, parent } = framed();
    const channel = openChannel(self, "inlineAd", null);
    for (const type of HOST_TO_FRAME) {
      const handlers = spyHandlers();
      channel.receive({ source: parent, data: { type, data: { code: "inlineAd", n: 1 } } }, handlers);
      for (const other of HOST_TO_FRAME) {
        expect(handlers[other].mock.calls).toEqual(other === type ? [[{ code: "inlineAd", n: 1 }]] : []);
      }
    }
    const handlers = spyHandlers();
    const ignored: [unknown, unknown][] = [
      ...FRAME_TO_HOST.map((type): [unknown, unknown] => [parent, { type, data: {} }]),
      [parent, { type: "made-up-iframe" }],
      [parent, { type: "__proto__" }],
      [parent, { type: "update-iframe", data: { code: "otherAd" } }],
      [parent, null],
      [parent, "update-iframe"],
      [{}, { type: "update-iframe", data: {} }],
    ];
    for (const [source, data] of ignored) channel.receive({ source: source as Window, data }, handlers);
    expect(Object.values(handlers).every((h) => h.mock.calls.length === 0)).toBe(true);
    // A missing or non-object data is an empty one.
    channel.receive({ source: parent, data: { type: "update-iframe", data: 5 } }, handlers);
    expect(handlers["update-iframe"].mock.calls).toEqual([[{}]]);
  });
});

describe("creative catalogue", () => {
  it("picks the product the last user message is about, else the generic last entry", () => {
    const products = readCatalogue(JSON.stringify(catalogue));
    const messages = [
      { role: "user", content: "best hiking boots?" },
      { role: "assistant", content: "coffee" },
    ];
    expect(pickProduct(products, lastUserText(messages)).id).toBe("trail-boots");
    expect(pickProduct(products, "nothing in particular")).toBe(products[products.length - 1]);
    expect(pickProduct([], "boots")).toBe(FALLBACK);
    expect(readCatalogue("{not json")).toEqual([]);
    expect(readCatalogue('{"a": 1}')).toEqual([]);
    expect(lastUserText("not a list")).toBe("");
    expect(snippet(`  a\n\nb ${"x".repeat(80)}`)).toBe(`a b ${"x".repeat(55)}\u2026`);
  });
});

describe("creative frame page", () => {
  let iframe: HTMLIFrameElement;
  let posted: Posted[];

  beforeEach(() => {
    iframe = document.createElement("iframe");
    document.body.append(iframe);
    const root = iframe.contentDocument!.documentElement;
    Object.assign(root.dataset, {
      mode: "frame",
      bidId: "bid-1",
      code: "inlineAd",
      format: "inline",
      messageId: "a1",
      catalogue: JSON.stringify(catalogue),
    });
    iframe.contentDocument!.body.innerHTML = '<main id="ad" class="ad ad-inline"></main>';
    posted = [];
    // jsdom's parent of a frame is its own window object, not vitest's global.
    vi.spyOn(iframe.contentWindow!.parent, "postMessage").mockImplementation((message: unknown) => {
      posted.push(message as Posted);
    });
  });

  afterEach(() => {
    iframe.remove();
  });

  function fromHost(type: string, data: Record<string, unknown>): void {
    iframe.contentWindow!.dispatchEvent(new MessageEvent("message", { data: { type, data }, source: iframe.contentWindow!.parent }));
  }

  it("asks for its context, renders it as text, and speaks only the vocabulary", () => {
    startCreative(iframe.contentWindow!);
    expect(posted).toEqual([{ type: "init-iframe", data: { code: "inlineAd" } }]);
    const hostile = "<img src=x onerror=alert(1)> best hiking boots?";
    fromHost("update-iframe", {
      code: "inlineAd",
      messageId: "a1",
      messages: [{ id: "u1", role: "user", content: hostile, createdAt: "2025-01-01T00:00:00.000Z" }],
      sdk: "sdk-js",
      otherParams: { theme: "dark" },
    });
    const doc = iframe.contentDocument!;
    expect(doc.documentElement.dataset.state).toBe("rendered");
    expect(doc.documentElement.dataset.theme).toBe("dark");
    expect(doc.querySelector(".product")?.textContent).toBe("Ridgeline Trail Boots");
    expect(doc.querySelector(".because")?.textContent).toContain("<img src=x");
    expect(doc.querySelector("img")).toBeNull();
    const types = posted.map((m) => m.type);
    expect(types).toEqual(["init-iframe", "event-iframe", "show-iframe", "ad-done-iframe", "event-iframe"]);
    expect(posted[3]?.data).toEqual({
      id: "bid-1",
      content: "Ridgeline Trail Boots \u2014 Waterproof, grippy and comfortable from the first mile.",
      messageId: "a1",
      code: "inlineAd",
    });

    // A second update-iframe (theme switch) re-themes without rendering again.
    fromHost("update-iframe", { code: "inlineAd", messages: [], otherParams: { theme: "light" } });
    expect(doc.documentElement.dataset.theme).toBe("light");
    expect(posted).toHaveLength(5);

    // user-event-iframe shows "typing"; another placement's message is not for this frame.
    fromHost("user-event-iframe", { code: "otherAd", name: "user.typing.started" });
    expect((doc.getElementById("typing") as HTMLElement).hidden).toBe(true);
    fromHost("user-event-iframe", { code: "inlineAd", name: "user.typing.started" });
    expect((doc.getElementById("typing") as HTMLElement).hidden).toBe(false);

    // Clicks need an http(s) page URL (the ad.clicked url is absolute): tests/test_creative_browser.py.

    for (const message of posted) {
      expect(FRAME_TO_HOST).toContain(message.type);
      if (message.type === "event-iframe") expect(FRAME_EVENTS).toContain(message.data.name);
    }
    // The official host-side handler (sdk-common, for this code) takes every one of them.
    const accepted: IframeMessage[] = [];
    const official = handleIframeMessage((m) => accepted.push(m), { code: "inlineAd" });
    for (const message of posted) {
      official(new MessageEvent("message", { data: message, origin: window.location.origin }) as IframeMessageEvent);
    }
    expect(accepted).toEqual(posted);
  });
  it("as the modal page: a dialog that announces itself and closes on request", () => {
    const root = iframe.contentDocument!.documentElement;
    Object.assign(root.dataset, { mode: "modal", format: "interstitial", context: "coffee beans?" });
    startCreative(iframe.contentWindow!);
    const card = iframe.contentDocument!.getElementById("ad")!;
    expect([card.getAttribute("role"), card.getAttribute("aria-modal"), card.classList.contains("modal")]).toEqual([
      "dialog",
      "true",
      true,
    ]);
    expect(card.querySelector(".product")?.textContent).toBe("Morning Ritual Coffee Kit");
    card.querySelector<HTMLButtonElement>(".close")!.click();
    iframe.contentDocument!.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape" }));
    const modal = { code: "inlineAd", component: "modal" };
    expect(posted).toEqual([
      { type: "init-component-iframe", data: modal },
      { type: "close-component-iframe", data: modal },
      { type: "close-component-iframe", data: modal },
    ]);
    // It hears nothing from the host (the modal gets no update-iframe, docs/protocol.md §6.4).
    fromHost("update-iframe", { code: "inlineAd", messages: [] });
    expect(posted).toHaveLength(3);
    const accepted: IframeMessage[] = [];
    const official = handleIframeMessage((m) => accepted.push(m), { code: "inlineAd", component: "modal" });
    for (const message of posted) {
      official(new MessageEvent("message", { data: message, origin: window.location.origin }) as IframeMessageEvent);
    }
    expect(accepted).toEqual(posted);
  });
});
