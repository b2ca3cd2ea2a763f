/**
 * Space reservation for the ad slot, so that the page does not jump (issue 13):
 * as soon as a view mounts the iframe (it has a bid) the slot takes the height the
 * ad will most likely have, and gives the reservation up once, when the creative
 * is shown at its real height. The creative's iframe starts hidden at height 0
 * (docs/protocol.md §5: `resize-iframe` then `show-iframe`), which without this
 * would insert the whole ad into the page some hundred milliseconds later.
 */

/** Used when nothing better is known: about one inline card of the local creative. */
export const DEFAULT_RESERVED_HEIGHT = 180;

/** A reservation is a guess, not a creative's word: bounded to a sane range. */
export const MAX_RESERVED_HEIGHT = 800;

const LAST_HEIGHTS_KEY = Symbol.for("kontext-widget.last-heights");

/**
 * The last height a creative of each placement code reported in this page. On
 * `globalThis` because anywidget evaluates the bundle once per model; bounded by
 * the number of placement codes a page uses (at most 64 kept).
 */
function lastHeights(): Map<string, number> {
  const store = globalThis as Record<symbol, unknown>;
  let heights = store[LAST_HEIGHTS_KEY];
  if (!(heights instanceof Map)) {
    heights = new Map<string, number>();
    store[LAST_HEIGHTS_KEY] = heights;
  }
  return heights as Map<string, number>;
}

/** Remembers a creative's reported height for the next ad of the same code. */
export function rememberHeight(code: string, height: number): void {
  if (!Number.isFinite(height) || height <= 0) return;
  const heights = lastHeights();
  heights.delete(code);
  heights.set(code, Math.min(height, MAX_RESERVED_HEIGHT));
  while (heights.size > 64) {
    const oldest = heights.keys().next().value;
    if (oldest === undefined) break;
    heights.delete(oldest);
  }
}

/**
 * The height to reserve: the ad's own last known height (the synced `height`
 * trait, known again after a page reload), else the last one of its code in this
 * page, else the default.
 */
export function reservedHeight(code: string, ownHeight: number): number {
  if (Number.isFinite(ownHeight) && ownHeight > 0) return Math.min(ownHeight, MAX_RESERVED_HEIGHT);
  return lastHeights().get(code) ?? DEFAULT_RESERVED_HEIGHT;
}

/**
 * The slot's reservation: `reserve` when the frame mounts; `settle` when the
 * creative is visible at a real height (the one change); `clear` when the frame
 * goes or hides itself, since an ad that hid itself should not leave a hole.
 */
export class SlotReservation {
  private active = false;

  constructor(private readonly slot: HTMLElement) {}

  reserve(height: number): void {
    this.active = true;
    this.slot.style.minHeight = `${Math.round(height)}px`;
  }

  /** Called with the frame's current state after each show/resize. */
  settle(frameShown: boolean, frameHeight: number): void {
    if (!this.active || !frameShown || !(frameHeight > 0)) return;
    this.clear();
  }

  clear(): void {
    this.active = false;
    this.slot.style.removeProperty("min-height");
  }

  get reserving(): boolean {
    return this.active;
  }
}
