import { describe, expect, it } from "vitest";
import {
  acceptMessage,
  frameHeight,
  MAX_FRAME_HEIGHT,
  parseEnvelope,
  type AcceptanceContext,
} from "./protocol";

const inlineWindow = { name: "inline" } as unknown as Window;
const modalWindow = { name: "modal" } as unknown as Window;
const context: AcceptanceContext = {
  serverOrigin: "https://ads.test",
  code: "inlineAd",
  inlineWindow,
  modalWindow,
};

function event(data: unknown, source: Window | null = inlineWindow, origin = "https://ads.test") {
  return { data, source, origin };
}

describe("parseEnvelope", () => {
  it.each([
    [{ type: "init-iframe" }, { type: "init-iframe", data: {} }],
    [{ type: "init-iframe", data: null }, { type: "init-iframe", data: {} }],
    [{ type: "x-iframe", data: { a: 1 } }, { type: "x-iframe", data: { a: 1 } }],
  ])("reads %j", (raw, expected) => {
    expect(parseEnvelope(raw)).toEqual(expected);
  });

  it.each([null, "init-iframe", [], { type: "init" }, { type: 1 }, { type: "a-iframe", data: "x" }, { type: "a-iframe", data: [] }])(
    "rejects %j",
    (raw) => {
      expect(parseEnvelope(raw)).toBeNull();
    },
  );
});

describe("acceptMessage (docs/protocol.md §6.1)", () => {
  it("accepts inline and modal traffic with their source", () => {
    expect(acceptMessage(event({ type: "init-iframe" }), context)?.source).toBe("inline");
    expect(acceptMessage(event({ type: "init-component-iframe", data: { component: "modal" } }, modalWindow), context)?.source).toBe("modal");
  });

  it("requires the exact server origin", () => {
    expect(acceptMessage(event({ type: "init-iframe" }, inlineWindow, "https://ads.test:444"), context)).toBeNull();
    expect(acceptMessage(event({ type: "init-iframe" }, inlineWindow, "null"), context)).toBeNull();
    expect(acceptMessage(event({ type: "init-iframe" }, inlineWindow, ""), { ...context, serverOrigin: "" })).toBeNull();
  });

  it("requires this ad's windows", () => {
    expect(acceptMessage(event({ type: "init-iframe" }, null), context)).toBeNull();
    expect(acceptMessage(event({ type: "init-iframe" }, { name: "other" } as unknown as Window), context)).toBeNull();
    expect(acceptMessage(event({ type: "init-iframe" }, modalWindow), { ...context, modalWindow: null })).toBeNull();
  });

  it("checks code and component when present", () => {
    expect(acceptMessage(event({ type: "init-iframe", data: { code: "inlineAd" } }), context)).not.toBeNull();
    expect(acceptMessage(event({ type: "init-iframe", data: { code: "other" } }), context)).toBeNull();
    expect(acceptMessage(event({ type: "init-iframe", data: { code: null } }), context)).not.toBeNull();
    expect(acceptMessage(event({ type: "close-component-iframe" }, modalWindow), context)).not.toBeNull();
    expect(acceptMessage(event({ type: "close-component-iframe", data: { component: "x" } }, modalWindow), context)).toBeNull();
    expect(acceptMessage(event({ type: "close-component-iframe", data: { component: "skoverlay" } }, modalWindow), context)).toBeNull();
  });

  it("checks the component only in the modal's handler (§6.1 rule 3)", () => {
    // The official builder sends the inline frame's open-component-iframe with component "modal".
    const open = { type: "open-component-iframe", data: { timeout: 5000, code: "inlineAd", component: "modal" } };
    expect(acceptMessage(event(open), context)).toEqual({ source: "inline", message: open });
    expect(acceptMessage(event({ type: "event-iframe", data: { component: "skoverlay" } }), context)).not.toBeNull();
    expect(acceptMessage(event({ type: "init-component-iframe", data: { component: "modal" } }, modalWindow), context)).not.toBeNull();
    expect(acceptMessage(event({ type: "init-component-iframe", data: { component: null } }, modalWindow), context)).not.toBeNull();
  });
});


describe("frameHeight (docs/protocol.md §13: heights clamped)", () => {
  it("keeps finite heights >= 0, clamps the huge ones, drops the rest", () => {
    expect(frameHeight(0)).toBe(0);
    expect(frameHeight(120.5)).toBe(120.5);
    expect(frameHeight(MAX_FRAME_HEIGHT)).toBe(MAX_FRAME_HEIGHT);
    expect(frameHeight(MAX_FRAME_HEIGHT + 1)).toBe(MAX_FRAME_HEIGHT);
    expect(frameHeight(1e308)).toBe(MAX_FRAME_HEIGHT);
    expect(frameHeight(Number.MAX_VALUE)).toBe(MAX_FRAME_HEIGHT);
    for (const bad of [-1, -0.001, Number.NaN, Number.POSITIVE_INFINITY, "300", null, undefined, true, {}]) {
      expect(frameHeight(bad)).toBeNull();
    }
  });
});
