/**
 * Compile-time conformance of this host's message types with the official web
 * SDK's (`@kontextso/sdk-common`, a pinned devDependency). Nothing here runs or is
 * bundled: `tsc` (npm run typecheck) fails when either side drifts, e.g. when
 * sdk-common renames a field the host reads, retypes it, or drops a type the host
 * acts on, or when this host starts posting a field the official frame does not
 * know. Runtime behaviour is covered by `conformance.test.ts`.
 */

import type {
  AdEventMap,
  Component,
  IframeMessageData,
  IframeMessageType,
  Message,
  SDK,
} from "@kontextso/sdk-common";
import type {
  DimensionsData,
  FrameContext,
  FrameContextMessage,
  HostReads,
  HostToFrameData,
  KnownMessageType,
  UserEventData,
} from "./protocol";
import { MODAL_COMPONENT } from "./protocol";
import type { FRAME_DATA_FIELDS, FRAME_EVENT_FIELDS, FrameEventName, FrameToHostType, HostToFrameType } from "./vocabulary";

type Assert<T extends true> = T;
/** Non-distributive: `A` is assignable to `B`. */
type Extends<A, B> = [A] extends [B] ? true : false;
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Every key of `A` is a key of `B` (catches a misspelt optional field, which assignability does not). */
type KeysWithin<A, B> = Extends<keyof A, keyof B>;
/** `true` only if every member of the union is `true`. */
type All<T extends boolean> = Extends<T, true>;

// The host's vocabulary is the official union.
export type TypesAreOfficial = Assert<Equals<KnownMessageType, IframeMessageType>>;

// The frame vocabulary (js/vocabulary.ts, copied for Python) is the whole official
// union, split into two directions that share no type, and the official event names.
export type VocabularyIsOfficial = Assert<Equals<FrameToHostType | HostToFrameType, IframeMessageType>>;
export type DirectionsAreDisjoint = Assert<Equals<Extract<FrameToHostType, HostToFrameType>, never>>;
export type EventNamesAreOfficial = Assert<Equals<FrameEventName, keyof AdEventMap>>;
// The field lists copied for Python are exactly the official data and payload keys.
type DataFieldsConform = {
  [T in FrameToHostType]: Equals<
    (typeof FRAME_DATA_FIELDS)[T][number],
    Exclude<keyof IframeMessageData<T>, "code" | "component">
  >;
};
export type DataFieldsAreOfficial = Assert<All<DataFieldsConform[FrameToHostType]>>;
type EventFieldsConform = {
  // An event without payload (`undefined`) has no fields (`keyof never` would be every key).
  [K in FrameEventName]: Equals<
    (typeof FRAME_EVENT_FIELDS)[K][number],
    AdEventMap[K] extends undefined ? never : keyof AdEventMap[K]
  >;
};
export type EventFieldsAreOfficial = Assert<All<EventFieldsConform[FrameEventName]>>;
// Each host → frame type has its data shape, and only those types.
export type HostToFrameDataIsComplete = Assert<Equals<keyof HostToFrameData, HostToFrameType>>;

// Frame → host: every type the host acts on is official, and every official message
// of that type gives the host the fields it reads, with the types it reads them as.
type ReadsConform = {
  [T in keyof HostReads]: T extends IframeMessageType
    ? Extends<IframeMessageData<T>, HostReads[T]> extends true
      ? KeysWithin<HostReads[T], IframeMessageData<T>>
      : false
    : false;
};
export type HostReadsAreOfficial = Assert<All<ReadsConform[keyof HostReads]>>;

// §6.1 rule 3: the modal's handler component is the official one.
export type ModalComponentIsOfficial = Assert<Extends<typeof MODAL_COMPONENT, Component>>;

// Host → frame: what the host posts is what the official frame-side types describe.
export type DimensionsAreOfficial = Assert<
  All<
    | Extends<DimensionsData, IframeMessageData<"update-dimensions-iframe">>
    // screenWidth/screenHeight are the native SDKs' additions (docs/protocol.md §12).
    | KeysWithin<Omit<DimensionsData, "screenWidth" | "screenHeight">, IframeMessageData<"update-dimensions-iframe">>
  >
>;

// The official map types user event names; Python forwards any name (documented difference),
// so the shape is checked with an official name.
type OfficialUserEvent = Omit<UserEventData, "name" | "payload"> & {
  name: "user.typing.started";
  payload?: undefined;
};
export type UserEventIsOfficial = Assert<
  All<
    | Extends<OfficialUserEvent, IframeMessageData<"user-event-iframe">>
    | KeysWithin<UserEventData, IframeMessageData<"user-event-iframe">>
  >
>;

// update-iframe: the official `Message.createdAt` is a `Date` (structured-cloned by
// sdk-react); ours is the wire's ISO string (documented difference), so it is
// compared apart from `createdAt`.
type ContextWithoutDates = Omit<FrameContext, "messages"> & {
  messages: Omit<FrameContextMessage, "createdAt">[];
};
export type FrameContextIsOfficial = Assert<
  All<
    | Extends<ContextWithoutDates, IframeMessageData<"update-iframe">>
    | KeysWithin<FrameContext, IframeMessageData<"update-iframe">>
    | KeysWithin<FrameContextMessage, Message>
    | Extends<Omit<FrameContextMessage, "createdAt">, Omit<Message, "createdAt">>
    | Extends<FrameContext["sdk"], SDK>
  >
>;
