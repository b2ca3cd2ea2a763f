/** Test doubles shared by the js/*.test.ts files; never bundled. */

import type { AnyModel } from "@anywidget/types";
import type { AdTraits, JsonObject } from "./protocol";

export const SERVER_ORIGIN = "http://127.0.0.1:8123";
export const IFRAME_URL = `${SERVER_ORIGIN}/api/frame/bid-1?code=inlineAd&messageId=m1&sdk=sdk-js`;
export const MODAL_URL = `${SERVER_ORIGIN}/api/modal/bid-1?code=inlineAd&messageId=m1&sdk=sdk-js`;

export const FRAME_CONTEXT: JsonObject = {
  messages: [{ id: "m1", role: "assistant", content: "Hi", createdAt: "2025-01-01T00:00:00.000Z" }],
  sdk: "sdk-js",
  code: "inlineAd",
  messageId: "m1",
  otherParams: {},
};

// Backbone handlers take whatever the event carries, as in @anywidget/types.
type Handler = (...args: any[]) => void;

/**
 * The part of a Backbone/ipywidgets model that anywidget exposes: traits with
 * `change:<name>` events, custom messages both ways, and `model.send` recorded.
 */
export class FakeModel implements AnyModel<AdTraits> {
  readonly sent: JsonObject[] = [];
  readonly widget_manager = {
    get_model: (): Promise<never> => Promise.reject(new Error("not in tests")),
  };
  private readonly traits: AdTraits;
  private readonly handlers = new Map<string, Set<Handler>>();

  constructor(traits: Partial<AdTraits> = {}) {
    this.traits = {
      iframe_url: IFRAME_URL,
      server_origin: SERVER_ORIGIN,
      modal_url: MODAL_URL,
      frame_context: FRAME_CONTEXT,
      code: "inlineAd",
      message_id: "m1",
      theme: "",
      height: 0,
      visible: false,
      destroyed: false,
      ...traits,
    };
  }

  get<K extends keyof AdTraits>(key: K): AdTraits[K] {
    return this.traits[key];
  }

  /** Python-side trait change: updates the value and fires `change:<key>`. */
  set<K extends keyof AdTraits>(key: K, value: AdTraits[K]): void {
    this.traits[key] = value;
    this.emit(`change:${key}`, this, value);
  }

  on(eventName: string, callback: Handler): void {
    let handlers = this.handlers.get(eventName);
    if (handlers === undefined) {
      handlers = new Set();
      this.handlers.set(eventName, handlers);
    }
    handlers.add(callback);
  }

  off(eventName?: string | null, callback?: Handler | null): void {
    for (const [name, handlers] of this.handlers) {
      if (eventName && name !== eventName) continue;
      if (callback) handlers.delete(callback);
      else handlers.clear();
    }
  }

  save_changes(): void {
    throw new Error("the front end must never write traits");
  }

  send(content: unknown): void {
    this.sent.push(content as JsonObject);
  }

  /** A `widget.send(...)` from Python. */
  sendFromPython(content: JsonObject): void {
    this.emit("msg:custom", content, []);
  }

  listenerCount(): number {
    let count = 0;
    for (const handlers of this.handlers.values()) count += handlers.size;
    return count;
  }

  sentOfKind(kind: string): JsonObject[] {
    return this.sent.filter((message) => message.kind === kind);
  }

  private emit(eventName: string, ...args: unknown[]): void {
    for (const handler of [...(this.handlers.get(eventName) ?? [])]) handler(...args);
  }
}

/** A `message` event as the browser would deliver it from `source`. */
export function frameEvent(
  source: Window | null,
  data: unknown,
  origin: string = SERVER_ORIGIN,
): MessageEvent {
  return new MessageEvent("message", { data, origin, source });
}

export function dispatchFromFrame(source: Window | null, data: unknown, origin?: string): void {
  window.dispatchEvent(frameEvent(source, data, origin));
}
