/**
 * The frame protocol's vocabulary (docs/protocol.md §6): every message `type`
 * in each direction and every `event-iframe` event name. This file is the one
 * source: the host (`view.ts`) switches over these types, `conformance.types.ts`
 * checks them against the official union (`@kontextso/sdk-common`), and
 * `npm run build` writes them to `kontext_widget/_frame/vocabulary.json`, which
 * Python reads (`kontext_widget/_frame/inbound.py`; `npm run check-bundle` fails when that
 * copy is stale, a Python test when Python's handling misses a name). The local
 * creative (`js/creative/`) posts and handles the same names with the payload
 * types below, so a misspelt type or field, or a host → frame type it does not
 * handle, is a `tsc` error there too.
 */

import type { AdEventMap, IframeMessageData, IframeMessageType } from "@kontextso/sdk-common";

/** What an ad's frames (inline or modal) post to the host (§6.2, §6.4). */
export const FRAME_TO_HOST = [
  "init-iframe",
  "show-iframe",
  "hide-iframe",
  "ad-done-iframe",
  "view-iframe",
  "click-iframe",
  "resize-iframe",
  "set-styles-iframe",
  "open-component-iframe",
  "open-skoverlay-iframe",
  "close-skoverlay-iframe",
  "update-skoverlay-iframe",
  "init-component-iframe",
  "error-component-iframe",
  "close-component-iframe",
  "ad-done-component-iframe",
  "retire-iframe",
  "event-iframe",
  "error-iframe",
] as const satisfies readonly IframeMessageType[];

/** What the host posts to a frame (§6.3). */
export const HOST_TO_FRAME = [
  "update-iframe",
  "update-dimensions-iframe",
  "user-event-iframe",
] as const satisfies readonly IframeMessageType[];

/** The `name` of an `event-iframe` message (§6.5). */
export const FRAME_EVENTS = [
  "ad.clicked",
  "ad.viewed",
  "ad.filled",
  "ad.no-fill",
  "ad.render-started",
  "ad.render-completed",
  "ad.error",
  "reward.granted",
  "video.started",
  "video.completed",
] as const satisfies readonly (keyof AdEventMap)[];

/**
 * The `data` fields of each frame → host type (besides `code` and `component`,
 * which any message may carry), as the official types have them; copied for
 * Python, whose reads are checked against them (tests/test_frame_vocabulary.py).
 * `conformance.types.ts` checks each list is exactly the official type's keys.
 */
export const FRAME_DATA_FIELDS = {
  "init-iframe": [],
  "show-iframe": [],
  "hide-iframe": [],
  "ad-done-iframe": ["id", "content", "messageId", "cachedContent"],
  "view-iframe": ["id", "content", "messageId"],
  "click-iframe": ["id", "content", "url", "messageId", "target", "fallbackUrl", "appStoreId"],
  "resize-iframe": ["height"],
  "set-styles-iframe": ["containerStyles", "iframeStyles"],
  "open-component-iframe": ["timeout", "brightnessDelta", "componentParams"],
  "open-skoverlay-iframe": ["position", "dismissible", "appStoreId"],
  "close-skoverlay-iframe": [],
  "update-skoverlay-iframe": ["open"],
  "init-component-iframe": [],
  "error-component-iframe": [],
  "close-component-iframe": [],
  "ad-done-component-iframe": [],
  "retire-iframe": [],
  "event-iframe": ["name", "payload"],
  "error-iframe": [],
} as const satisfies { [T in FrameToHostType]: readonly string[] };

/** The payload fields of each `event-iframe` name (the official `AdEventMap`), likewise. */
export const FRAME_EVENT_FIELDS = {
  "ad.clicked": ["id", "content", "messageId", "url", "format", "area"],
  "ad.viewed": ["id", "content", "messageId", "format"],
  "ad.filled": [],
  "ad.no-fill": ["skipCode"],
  "ad.render-started": ["id"],
  "ad.render-completed": ["id"],
  "ad.error": ["message", "errCode"],
  "reward.granted": ["id"],
  "video.started": ["id"],
  "video.completed": ["id"],
} as const satisfies { [K in FrameEventName]: readonly string[] };

export type FrameToHostType = (typeof FRAME_TO_HOST)[number];
export type HostToFrameType = (typeof HOST_TO_FRAME)[number];
export type FrameEventName = (typeof FRAME_EVENTS)[number];

/**
 * What a frame puts in `data` for each frame → host type: the official shape
 * (`@kontextso/sdk-common`), whose `code` the sender adds to every message.
 */
export type FrameToHostData<T extends FrameToHostType> = Omit<IframeMessageData<T>, "code">;

/** The official payload of each `event-iframe` name (§6.5). */
export type FrameEventPayload<K extends FrameEventName> = AdEventMap[K];

// Pure: a bundle that never asks (the widget, the creative) drops the set it does not use.
const frameToHost: ReadonlySet<string> = /* @__PURE__ */ new Set(FRAME_TO_HOST);
const hostToFrame: ReadonlySet<string> = /* @__PURE__ */ new Set(HOST_TO_FRAME);

/** Whether `type` is one a frame may post to the host. */
export function isFrameToHostType(type: string): type is FrameToHostType {
  return frameToHost.has(type);
}

/** Whether `type` is one the host posts to a frame. */
export function isHostToFrameType(type: string): type is HostToFrameType {
  return hostToFrame.has(type);
}
