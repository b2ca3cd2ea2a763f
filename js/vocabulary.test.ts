import { describe, expect, it } from "vitest";
import copy from "../kontext_widget/_frame/vocabulary.json";
import { FRAME_EVENTS, FRAME_TO_HOST, HOST_TO_FRAME, isFrameToHostType } from "./vocabulary";

describe("frame vocabulary", () => {
  it("is what the package ships for Python (npm run build writes the copy)", () => {
    expect(copy.frame_to_host).toEqual([...FRAME_TO_HOST]);
    expect(copy.host_to_frame).toEqual([...HOST_TO_FRAME]);
    expect(copy.frame_events).toEqual([...FRAME_EVENTS]);
  });

  it("tells frame -> host types from everything else", () => {
    for (const type of FRAME_TO_HOST) expect(isFrameToHostType(type)).toBe(true);
    for (const type of HOST_TO_FRAME) expect(isFrameToHostType(type)).toBe(false);
    expect(isFrameToHostType("made-up-iframe")).toBe(false);
    expect(isFrameToHostType("__proto__")).toBe(false);
  });
});
