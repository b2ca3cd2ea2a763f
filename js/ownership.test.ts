import { describe, expect, it } from "vitest";
import { OwnershipRegistry, type Claimant } from "./ownership";

function claimant(log: string[], name: string): Claimant {
  return {
    acquire: (key) => log.push(`${name}+${key}`),
    release: (key) => log.push(`${name}-${key}`),
  };
}

describe("OwnershipRegistry", () => {
  it("hands ownership to the oldest waiting claimant", () => {
    const log: string[] = [];
    const registry = new OwnershipRegistry();
    const [a, b, c] = [claimant(log, "a"), claimant(log, "b"), claimant(log, "c")];
    registry.join("u", a);
    registry.join("u", b);
    registry.join("u", c);
    registry.join("u", b);
    registry.leave("u", a);
    registry.leave("u", b);
    expect(log).toEqual(["a+u", "a-u", "b+u", "b-u", "c+u"]);
    expect(registry.ownerOf("u")).toBe(c);
  });

  it("forgets a waiting claimant that leaves, and an empty key", () => {
    const log: string[] = [];
    const registry = new OwnershipRegistry();
    const [a, b] = [claimant(log, "a"), claimant(log, "b")];
    registry.join("u", a);
    registry.join("u", b);
    registry.leave("u", b);
    registry.leave("u", a);
    expect(log).toEqual(["a+u", "a-u"]);
    expect(registry.ownerOf("u")).toBeUndefined();
    registry.leave("u", a);
    expect(log).toHaveLength(2);
  });

  it("keeps keys independent", () => {
    const log: string[] = [];
    const registry = new OwnershipRegistry();
    registry.join("u", claimant(log, "a"));
    registry.join("v", claimant(log, "b"));
    expect(log).toEqual(["a+u", "b+v"]);
  });
});
