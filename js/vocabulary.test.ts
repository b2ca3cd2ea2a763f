import { describe, expect, it } from "vitest";
import copy from "../kontext_widget/_frame/vocabulary.json";
import {
  FRAME_DATA_FIELDS,
  FRAME_EVENT_FIELDS,
  FRAME_EVENTS,
  FRAME_TO_HOST,
  HOST_TO_FRAME,
  isFrameToHostType,
  isHostToFrameType,
} from "./vocabulary";

describe("frame vocabulary", () => {
  it("is what the package ships for Python (npm run build writes the copy)", () => {
    expect(copy.frame_to_host).toEqual([...FRAME_TO_HOST]);
    expect(copy.host_to_frame).toEqual([...HOST_TO_FRAME]);
    expect(copy.frame_events).toEqual([...FRAME_EVENTS]);
    expect(copy.frame_data_fields).toEqual(FRAME_DATA_FIELDS);
    expect(copy.frame_event_fields).toEqual(FRAME_EVENT_FIELDS);
  });

  it("lists the data fields of every frame -> host type and the payload fields of every event", () => {
    expect(Object.keys(FRAME_DATA_FIELDS).sort()).toEqual([...FRAME_TO_HOST].sort());
    expect(Object.keys(FRAME_EVENT_FIELDS).sort()).toEqual([...FRAME_EVENTS].sort());
  });

  it("tells frame -> host types from everything else", () => {
    for (const type of FRAME_TO_HOST) expect(isFrameToHostType(type)).toBe(true);
    for (const type of HOST_TO_FRAME) expect(isFrameToHostType(type)).toBe(false);
    expect(isFrameToHostType("made-up-iframe")).toBe(false);
    expect(isFrameToHostType("__proto__")).toBe(false);
    for (const type of HOST_TO_FRAME) expect(isHostToFrameType(type)).toBe(true);
    for (const type of FRAME_TO_HOST) expect(isHostToFrameType(type)).toBe(false);
    expect(isHostToFrameType("__proto__")).toBe(false);
  });
});
