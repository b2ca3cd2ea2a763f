/**
 * Whether this page talks to the live kernel that owns the `Ad` (docs/protocol.md
 * §11: an ad frame loads only under a live session). Widget state outlives its
 * kernel: publishing tools save it into the notebook (with `iframe_url`, a frame URL
 * for a bid served once) and static HTML exports and reopened notebooks run the
 * widget again from it. Only the Python `Ad` can say it is alive, over its comm:
 *
 * - Python sends `{"kind": "live"}` once when the `Ad` is created, so a page that
 *   sees the widget being created knows at once, even while the cell still runs;
 * - any other page (reloaded, a second tab) asks with `{"kind": "hello"}` and
 *   Python answers `{"kind": "live"}` when the kernel is free. The first view asks,
 *   not the model's `initialize`: Python sends `live` before it displays the `Ad`,
 *   so a page that saw it created has the answer before any view renders, and
 *   asking anyway costs a kernel round trip whose answer (and the kernel's
 *   busy/idle status) reaches the page while the ad frame loads (bench/RESULTS.md
 *   section 6).
 *
 * Custom messages are never part of saved widget state, and a model restored from
 * saved state has no comm (its `send` goes nowhere), so a published notebook never
 * gets an answer. When the host declares the comm dead (ipywidgets sets
 * `comm_live` to false on a kernel restart) the ad is gone for good: a restarted
 * kernel does not own this model.
 *
 * anywidget evaluates this bundle once per model, so one `Liveness` per module
 * instance is one per model, shared by all its views.
 */

import type { AnyModel } from "@anywidget/types";
import { isJsonObject } from "./protocol";

export type LivenessState = "waiting" | "live" | "gone";

/** What the front end sends to ask whether the Python `Ad` is there. */
export const HELLO = { kind: "hello" } as const;
/** The Python `Ad`'s announcement and answer. */
export const LIVE_KIND = "live";
/** The ipywidgets model event fired when the host marks the comm dead (kernel restart). */
export const COMM_LIVE_EVENT = "comm_live_update";

type ModelLike = Pick<AnyModel, "send" | "on" | "off">;

export class Liveness {
  private current: LivenessState = "waiting";
  private asked = false;
  private readonly listeners = new Set<() => void>();

  get state(): LivenessState {
    return this.current;
  }

  get live(): boolean {
    return this.current === "live";
  }

  /**
   * Listens on `model` (a view's or `initialize`'s proxy) until `signal` aborts and,
   * with `ask`, asks Python once per model if no answer came yet. Several proxies
   * may be attached; answers are idempotent.
   */
  attach(model: ModelLike, signal: AbortSignal, ask = true): void {
    if (signal.aborted) return;
    const onMessage = (content: unknown): void => {
      if (isJsonObject(content) && content.kind === LIVE_KIND) this.set("live");
    };
    const onCommLive = (): void => this.set("gone");
    model.on("msg:custom", onMessage);
    model.on(COMM_LIVE_EVENT, onCommLive);
    signal.addEventListener(
      "abort",
      () => {
        model.off("msg:custom", onMessage);
        model.off(COMM_LIVE_EVENT, onCommLive);
      },
      { once: true },
    );
    if (ask && !this.asked && this.current === "waiting") {
      this.asked = true;
      model.send(HELLO);
    }
  }

  /** Calls `listener` on every state change until `signal` aborts. */
  subscribe(listener: () => void, signal: AbortSignal): void {
    if (signal.aborted) return;
    this.listeners.add(listener);
    signal.addEventListener("abort", () => this.listeners.delete(listener), { once: true });
  }

  /** `gone` is final: a `live` after it (there is none from a dead comm) is ignored. */
  private set(next: LivenessState): void {
    if (this.current === next || this.current === "gone") return;
    this.current = next;
    for (const listener of [...this.listeners]) listener();
  }
}
