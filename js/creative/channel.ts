/**
 * The creative's side of the frame protocol (docs/protocol.md §6): typed posts to
 * the host and the dispatch of what the host posts. Names and payload shapes come
 * from `js/vocabulary.ts` and `js/protocol.ts` (the host's own types), so a
 * misspelt type or field, or a host → frame type without a handler, fails `tsc`.
 */

import type { HostToFrameData } from "../protocol";
import {
  isHostToFrameType,
  type FrameEventName,
  type FrameEventPayload,
  type FrameToHostData,
  type FrameToHostType,
  type HostToFrameType,
} from "../vocabulary";

/** Host data is untrusted: every field may be missing or of any type. */
export type Untrusted<T> = { [K in keyof T]?: unknown };

/** One handler per host → frame type; a missing one is a type error. */
export type HostHandlers = { [T in HostToFrameType]: (data: Untrusted<HostToFrameData[T]>) => void };

export interface Channel {
  post<T extends FrameToHostType>(type: T, data: FrameToHostData<T>): void;
  event<K extends FrameEventName>(name: K, payload: FrameEventPayload<K>): void;
  /** Dispatches one `message` event from the host to its handler (or ignores it). */
  receive(ev: Pick<MessageEvent, "source" | "data">, handlers: HostHandlers): void;
}

/**
 * The channel of a frame whose host is `parent`; `component` is `"modal"` in the
 * modal frame (docs/protocol.md §6.1 rule 3). A frame opened directly (`parent` is
 * itself) has nobody to talk to: it posts nothing and hears nothing.
 */
export function openChannel(self: Window, code: string, component: "modal" | null): Channel {
  const parent = self.parent;
  const alone = parent === self;
  return {
    post(type, data) {
      if (alone) return;
      const full: Record<string, unknown> = Object.assign({}, data, { code });
      if (component !== null) full.component = component;
      // The creative cannot know the embedding page's origin, hence "*"; the host
      // filters by origin and source (docs/protocol.md §6.1).
      parent.postMessage({ type, data: full }, "*");
    },
    event(name, payload) {
      this.post("event-iframe", { name, payload });
    },
    receive(ev, handlers) {
      if (alone || ev.source !== parent) return;
      const msg: unknown = ev.data;
      if (msg === null || typeof msg !== "object") return;
      const { type, data: raw } = msg as { type?: unknown; data?: unknown };
      if (typeof type !== "string" || !isHostToFrameType(type)) return;
      const data = (raw !== null && typeof raw === "object" ? raw : {}) as Record<string, unknown>;
      if (data.code !== undefined && data.code !== code) return;
      dispatch(type, data, handlers);
    },
  };
}

function dispatch<T extends HostToFrameType>(
  type: T,
  data: Untrusted<HostToFrameData[T]>,
  handlers: HostHandlers,
): void {
  (handlers[type] as (data: Untrusted<HostToFrameData[T]>) => void)(data);
}
