import { describe, expect, it } from "vitest";
import { MAX_RELAYED_CHARS, RELAY_BURST, RELAY_PER_SECOND, RelayBudget, relayable } from "./relay";

describe("RelayBudget", () => {
  it("allows a burst, then the sustained rate", () => {
    let now = 1_000;
    const budget = new RelayBudget(() => now);
    let taken = 0;
    for (let i = 0; i < 10 * RELAY_BURST; i++) if (budget.take()) taken++;
    expect(taken).toBe(RELAY_BURST);
    now += 1_000; // one second later: the rate's worth, no more
    taken = 0;
    for (let i = 0; i < 10 * RELAY_BURST; i++) if (budget.take()) taken++;
    expect(taken).toBe(RELAY_PER_SECOND);
    now += 3_600_000; // a long pause refills the burst, never beyond it
    taken = 0;
    for (let i = 0; i < 10 * RELAY_BURST; i++) if (budget.take()) taken++;
    expect(taken).toBe(RELAY_BURST);
  });
});

describe("relayable", () => {
  it("copies what JSON can carry and drops the rest", () => {
    expect(relayable({ a: 1, f: undefined })).toEqual({ a: 1 });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(relayable(cyclic)).toBeNull();
    expect(relayable({ big: 1n } as Record<string, unknown>)).toBeNull();
  });

  it("refuses data longer than the bound as JSON text", () => {
    const fits = { s: "x".repeat(MAX_RELAYED_CHARS - '{"s":""}'.length) };
    expect(relayable(fits)).toEqual(fits);
    expect(relayable({ s: `${fits.s}x` })).toBe("size");
    // Length counts the JSON text: escapes make a short string long.
    expect(relayable({ s: "\u0001".repeat(MAX_RELAYED_CHARS / 4) })).toBe("size");
  });
});
