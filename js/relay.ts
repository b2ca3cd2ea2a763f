/**
 * What a creative can make the page send to the kernel (docs/protocol.md §13.2).
 *
 * Every accepted frame message is relayed to Python over the widget's comm, so a
 * creative that posts as fast as it can, or posts megabytes of `data`, would
 * otherwise push all of it through jupyter_server into the kernel. The host still
 * acts on every accepted message in the page; only the copy for Python is bounded:
 * `RELAY_BURST` messages at once, refilled at `RELAY_PER_SECOND`, each at most
 * `MAX_RELAYED_CHARS` of JSON. Python hears of the first drop of each reason.
 */

import { isJsonObject, type JsonObject } from "./protocol";

/** Longest relayed `data`, as JSON text (Python keeps 1 024 characters of any string). */
export const MAX_RELAYED_CHARS = 16_384;
/** Messages relayed at once before the rate applies. */
export const RELAY_BURST = 100;
/** Sustained relays per second (a creative animating its height at 60 fps stays under). */
export const RELAY_PER_SECOND = 64;

export type DropReason = "rate" | "size";

/** A token bucket over `now()` in milliseconds. */
export class RelayBudget {
  private tokens = RELAY_BURST;
  private updated: number;

  constructor(private readonly now: () => number = () => performance.now()) {
    this.updated = now();
  }

  take(): boolean {
    const now = this.now();
    const elapsed = Math.max(0, now - this.updated);
    this.tokens = Math.min(RELAY_BURST, this.tokens + (elapsed * RELAY_PER_SECOND) / 1000);
    this.updated = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/**
 * `data` as a JSON copy for the comm, "size" when it is too long to relay, or null when
 * it has no JSON form. postMessage carries structured clones (cycles, Maps, BigInts)
 * that the kernel's JSON channel would reject or mangle; Python re-validates the fields
 * it uses.
 */
export function relayable(data: JsonObject): JsonObject | "size" | null {
  let text: string | undefined;
  try {
    text = JSON.stringify(data);
  } catch {
    return null;
  }
  if (text === undefined) return null;
  if (text.length > MAX_RELAYED_CHARS) return "size";
  const copy: unknown = JSON.parse(text);
  return isJsonObject(copy) ? copy : null;
}
