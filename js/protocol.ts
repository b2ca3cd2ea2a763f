/**
 * The two vocabularies this front end speaks: the iframe postMessage protocol
 * (docs/protocol.md §6) and the widget contract with Python (js/README.md).
 *
 * Acceptance lives here, apart from the DOM, so that the security-relevant rules
 * of §6.1 can be read and tested in one place. The message types below are
 * checked against the official web SDK's own (`@kontextso/sdk-common`) at
 * compile time in `conformance.types.ts`; the import here is type-only, so
 * nothing of that package reaches the bundle.
 */

import type { IframeMessageType } from "@kontextso/sdk-common";

export type JsonObject = Record<string, unknown>;

/** Which of the ad's two frames a message came from. */
export type FrameSource = "inline" | "modal";

/** A `{type, data}` envelope (§6.1); a missing `data` has been replaced by `{}`. */
export interface FrameMessage {
  type: string;
  data: JsonObject;
}

export interface AcceptedMessage {
  source: FrameSource;
  message: FrameMessage;
}

/** Every `type` of the official SDK's `IframeMessages` union (host and frame side). */
export type KnownMessageType = IframeMessageType;

/** The component the modal's handler has (§6.1 rule 3); the inline handler has none. */
export const MODAL_COMPONENT = "modal";

/**
 * The `data` fields the host reads from each frame → host type it acts on (§6.2,
 * §6.4). Each official message of that type must be assignable to this
 * (`conformance.types.ts`), so a renamed or retyped field fails `tsc`.
 */
export interface HostReads {
  "resize-iframe": { height: number };
  "set-styles-iframe": { containerStyles?: Record<string, unknown>; iframeStyles?: Record<string, unknown> };
  "click-iframe": { url?: string; fallbackUrl?: string };
  "open-component-iframe": { timeout?: number; componentParams?: Record<string, unknown> };
}

/** `update-dimensions-iframe` as this host posts it (§6.3). */
export interface DimensionsData {
  windowWidth: number;
  windowHeight: number;
  /** Beyond sdk-common's `Dimensions`: the native SDKs send the screen size too. */
  screenWidth: number;
  screenHeight: number;
  containerWidth: number;
  containerHeight: number;
  containerX: number;
  containerY: number;
  keyboardHeight: number;
  code: string;
}

/** A message in `update-iframe` (§6.3, §11); `createdAt` is the wire's ISO-8601 string. */
export interface FrameContextMessage {
  id: string;
  role: "user" | "assistant";
  content: string;
  createdAt: string;
}

/** `update-iframe` data: the `frame_context` trait Python keeps current (§11). */
export interface FrameContext {
  messages: FrameContextMessage[];
  sdk: "sdk-js";
  code: string;
  messageId: string;
  otherParams: { theme?: string };
}

/** `user-event-iframe` as this host posts it (§6.3). */
export interface UserEventData {
  name: string;
  payload?: unknown;
  code: string;
}

/**
 * What the host posts in `data` for each host → frame type (§6.3). A frame that
 * handles these keys handles the whole direction (`conformance.types.ts` checks
 * the keys are `HOST_TO_FRAME`; the local creative maps each to a handler).
 */
export interface HostToFrameData {
  "update-iframe": FrameContext;
  "update-dimensions-iframe": DimensionsData;
  "user-event-iframe": UserEventData;
}

/** Synced traits of `kontext_widget._ad.Ad`; Python writes them, JS only reads. */
export interface AdTraits {
  iframe_url: string;
  server_origin: string;
  modal_url: string;
  frame_context: JsonObject;
  code: string;
  message_id: string;
  /** None in Python (no theme) arrives as null. */
  theme: string | null;
  height: number;
  visible: boolean;
  destroyed: boolean;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Reads a protocol envelope, or null when `raw` is not one. The `-iframe` suffix
 * filters out the unrelated postMessage traffic every notebook page carries
 * (Jupyter, extensions, other widgets).
 */
export function parseEnvelope(raw: unknown): FrameMessage | null {
  if (!isJsonObject(raw)) return null;
  const { type, data } = raw;
  if (typeof type !== "string" || !type.endsWith("-iframe")) return null;
  if (data === undefined || data === null) return { type, data: {} };
  if (!isJsonObject(data)) return null;
  return { type, data };
}

/** What a view knows when a `message` event arrives; read fresh for every event. */
export interface AcceptanceContext {
  serverOrigin: string;
  code: string;
  inlineWindow: Window | null;
  modalWindow: Window | null;
}

/**
 * The §6.1 checks, in order: origin, source window, envelope, `code`, `component`.
 * The source check is what tells two ads of the same code apart on one page, and
 * what tells the inline frame from the modal: the `component` field cannot, since
 * the official builder (`makeIframeMessage`) puts `component: "modal"` in the
 * inline frame's own `open-component-iframe`. So, as in sdk-common's
 * `handleIframeMessage`, only a handler that has a component (the modal's) checks
 * it; the inline frame's handler accepts any. A JSON `null` counts as absent.
 */
export function acceptMessage(
  event: Pick<MessageEvent, "origin" | "source" | "data">,
  context: AcceptanceContext,
): AcceptedMessage | null {
  if (context.serverOrigin === "" || event.origin !== context.serverOrigin) return null;
  const source = frameSourceOf(event.source, context);
  if (source === null) return null;
  const message = parseEnvelope(event.data);
  if (message === null) return null;
  const { code, component } = message.data;
  if (code !== undefined && code !== null && code !== context.code) return null;
  if (source === "modal" && component !== undefined && component !== null && component !== MODAL_COMPONENT) {
    return null;
  }
  return { source, message };
}

function frameSourceOf(
  source: MessageEventSource | null,
  context: AcceptanceContext,
): FrameSource | null {
  if (source === null) return null;
  if (source === context.inlineWindow) return "inline";
  if (source === context.modalWindow) return "modal";
  return null;
}


/** Tallest inline frame in CSS px (docs/protocol.md §13): no creative pushes the notebook away. */
export const MAX_FRAME_HEIGHT = 10_000;

/**
 * The height a `resize-iframe` asks for, clamped to `MAX_FRAME_HEIGHT`, or null
 * when it is not a finite number >= 0 (the same rule as Python's `_frame_messages`).
 */
export function frameHeight(raw: unknown): number | null {
  if (typeof raw !== "number" || !Number.isFinite(raw) || raw < 0) return null;
  return Math.min(raw, MAX_FRAME_HEIGHT);
}
