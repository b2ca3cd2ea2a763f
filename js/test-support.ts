/** Test doubles shared by the js/*.test.ts files; never bundled. */

import type { AnyModel } from "@anywidget/types";
import { isJsonObject, type AdTraits, type FrameContext, type JsonObject } from "./protocol";

export const SERVER_ORIGIN = "http://127.0.0.1:8123";
export const IFRAME_URL = `${SERVER_ORIGIN}/api/frame/bid-1?code=inlineAd&messageId=m1&sdk=sdk-js`;
export const MODAL_URL = `${SERVER_ORIGIN}/api/modal/bid-1?code=inlineAd&messageId=m1&sdk=sdk-js`;

/** What Python's `Session._frame_context_locked` builds, typed as the host's `FrameContext`. */
export const FRAME_CONTEXT: JsonObject = {
  messages: [{ id: "m1", role: "assistant", content: "Hi", createdAt: "2025-01-01T00:00:00.000Z" }],
  sdk: "sdk-js",
  code: "inlineAd",
  messageId: "m1",
  otherParams: {},
} satisfies FrameContext;

// Backbone handlers take whatever the event carries, as in @anywidget/types.
type Handler = (...args: any[]) => void;

/**
 * Where the model's comm leads: `live`, a kernel whose Python `Ad` answers the
 * front end's `hello` at once (as when the kernel is idle); `silent`, nothing
 * answers (a model restored from saved widget state: static HTML export,
 * notebook reopened before its kernel runs, or a busy kernel).
 */
export type FakeKernel = "live" | "silent";

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
  /** Listeners added through `initializeProxy()` (anywidget's per-model `initialize`). */
  private readonly modelHandlers = new Map<string, Set<Handler>>();

  constructor(
    traits: Partial<AdTraits> = {},
    private readonly kernel: FakeKernel = "live",
  ) {
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
    addHandler(this.handlers, eventName, callback);
  }

  off(eventName?: string | null, callback?: Handler | null): void {
    removeHandlers(this.handlers, eventName, callback);
  }

  /**
   * The model as anywidget hands it to `initialize`: a proxy of its own, whose
   * listeners live as long as the model (they are not counted by `listenerCount`).
   */
  initializeProxy(): AnyModel<AdTraits> {
    return {
      get: this.get.bind(this),
      set: this.set.bind(this),
      save_changes: this.save_changes.bind(this),
      send: this.send.bind(this),
      on: (eventName: string, callback: Handler) => addHandler(this.modelHandlers, eventName, callback),
      off: (eventName?: string | null, callback?: Handler | null) =>
        removeHandlers(this.modelHandlers, eventName, callback),
      widget_manager: this.widget_manager,
    };
  }

  save_changes(): void {
    throw new Error("the front end must never write traits");
  }

  send(content: unknown): void {
    this.sent.push(content as JsonObject);
    if (this.kernel === "live" && isJsonObject(content) && content.kind === "hello") {
      this.sendFromPython({ kind: "live" });
    }
  }

  /** What ipywidgets does to every model when the kernel restarts: the comm is dead. */
  disconnect(): void {
    this.emit("comm_live_update");
  }

  /** A `widget.send(...)` from Python. */
  sendFromPython(content: JsonObject): void {
    this.emit("msg:custom", content, []);
  }

  /** Listeners the views added (what must be gone once they are). */
  listenerCount(): number {
    let count = 0;
    for (const handlers of this.handlers.values()) count += handlers.size;
    return count;
  }

  sentOfKind(kind: string): JsonObject[] {
    return this.sent.filter((message) => message.kind === kind);
  }

  private emit(eventName: string, ...args: unknown[]): void {
    const handlers = [...(this.modelHandlers.get(eventName) ?? []), ...(this.handlers.get(eventName) ?? [])];
    for (const handler of handlers) handler(...args);
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

function addHandler(map: Map<string, Set<Handler>>, eventName: string, callback: Handler): void {
  let handlers = map.get(eventName);
  if (handlers === undefined) {
    handlers = new Set();
    map.set(eventName, handlers);
  }
  handlers.add(callback);
}

function removeHandlers(
  map: Map<string, Set<Handler>>,
  eventName?: string | null,
  callback?: Handler | null,
): void {
  for (const [name, handlers] of map) {
    if (eventName && name !== eventName) continue;
    if (callback) handlers.delete(callback);
    else handlers.clear();
  }
}
