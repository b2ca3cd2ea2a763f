import { beforeEach, describe, expect, it } from "vitest";
import {
  DEFAULT_RESERVED_HEIGHT,
  MAX_RESERVED_HEIGHT,
  rememberHeight,
  reservedHeight,
  SlotReservation,
} from "./slot";

beforeEach(() => {
  delete (globalThis as Record<symbol, unknown>)[Symbol.for("kontext-widget.last-heights")];
});

describe("reservedHeight", () => {
  it("is the ad's own last height, else its code's last height, else the default", () => {
    expect(reservedHeight("videoAd", 0)).toBe(DEFAULT_RESERVED_HEIGHT);
    rememberHeight("videoAd", 320);
    expect(reservedHeight("videoAd", 0)).toBe(320);
    expect(reservedHeight("inlineAd", 0)).toBe(DEFAULT_RESERVED_HEIGHT);
    expect(reservedHeight("videoAd", 210)).toBe(210);
  });

  it("ignores heights that say nothing and caps the rest", () => {
    for (const height of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) rememberHeight("inlineAd", height);
    expect(reservedHeight("inlineAd", Number.NaN)).toBe(DEFAULT_RESERVED_HEIGHT);
    rememberHeight("inlineAd", 1e9);
    expect(reservedHeight("inlineAd", 0)).toBe(MAX_RESERVED_HEIGHT);
    expect(reservedHeight("x", 1e9)).toBe(MAX_RESERVED_HEIGHT);
  });

  it("keeps at most 64 codes", () => {
    for (let i = 0; i < 100; i += 1) rememberHeight(`code${i}`, 100 + i);
    expect(reservedHeight("code0", 0)).toBe(DEFAULT_RESERVED_HEIGHT);
    expect(reservedHeight("code99", 0)).toBe(199);
  });
});

describe("SlotReservation", () => {
  it("holds the height until the frame is shown at a real height, then lets go once", () => {
    const slot = document.createElement("div");
    const reservation = new SlotReservation(slot);
    reservation.reserve(180.4);
    expect(slot.style.minHeight).toBe("180px");
    reservation.settle(false, 200); // resized while hidden: still reserved
    reservation.settle(true, 0); // shown before any height: still reserved
    expect(slot.style.minHeight).toBe("180px");
    reservation.settle(true, 200);
    expect(slot.style.minHeight).toBe("");
    expect(reservation.reserving).toBe(false);
  });
});
