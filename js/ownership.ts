/**
 * One ad iframe per bid, whatever the number of views (docs/protocol.md §11): each
 * iframe load is an impression, so a notebook that displays an `Ad` twice must
 * not count it twice.
 *
 * Views register under the ad's `iframe_url`, which names exactly one bid. The
 * first live view owns the iframe; the others wait in arrival order and the
 * oldest takes over when the owner goes. The key is the URL rather than the model
 * because anywidget hands each view a distinct model proxy, so there is no shared
 * model object to key on.
 */

export interface Claimant {
  /** Became the owner of `key`: show the iframe. */
  acquire(key: string): void;
  /** Lost ownership of `key` (it left): remove the iframe. */
  release(key: string): void;
}

interface Slot {
  owner: Claimant;
  waiting: Claimant[];
}

export class OwnershipRegistry {
  private readonly slots = new Map<string, Slot>();

  join(key: string, claimant: Claimant): void {
    const slot = this.slots.get(key);
    if (slot === undefined) {
      this.slots.set(key, { owner: claimant, waiting: [] });
      claimant.acquire(key);
    } else if (slot.owner !== claimant && !slot.waiting.includes(claimant)) {
      slot.waiting.push(claimant);
    }
  }

  leave(key: string, claimant: Claimant): void {
    const slot = this.slots.get(key);
    if (slot === undefined) return;
    if (slot.owner !== claimant) {
      slot.waiting = slot.waiting.filter((waiting) => waiting !== claimant);
      return;
    }
    claimant.release(key);
    const next = slot.waiting.shift();
    if (next === undefined) {
      this.slots.delete(key);
      return;
    }
    slot.owner = next;
    next.acquire(key);
  }

  ownerOf(key: string): Claimant | undefined {
    return this.slots.get(key)?.owner;
  }
}
