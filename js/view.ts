/**
 * One rendered view of an `Ad`. It answers the iframe protocol on its own, from
 * synced traits, because a busy kernel cannot answer in time (a running cell
 * blocks comm traffic); every accepted frame message is also relayed to Python,
 * which owns the public events.
 */

import type { AnyModel } from "@anywidget/types";
import { handleClick, openInNewTab } from "./click";
import { applyFrameAttributes } from "./frame";
import type { Liveness } from "./liveness";
import { ModalOverlay, modalTimeoutMs, modalUrlWithParams, ReopenGate } from "./modal";
import type { Claimant, OwnershipRegistry } from "./ownership";
import {
  acceptMessage,
  frameHeight,
  isJsonObject,
  type AcceptedMessage,
  type AdTraits,
  type DimensionsData,
  type JsonObject,
  type UserEventData,
} from "./protocol";
import { type DropReason, RelayBudget, relayable } from "./relay";
import { rememberHeight, reservedHeight, SlotReservation } from "./slot";
import { type HostToFrameType, isFrameToHostType } from "./vocabulary";
import {
  applyStyles,
  boundsElement,
  CONTAINER_PROPERTIES,
  IFRAME_PROPERTIES,
  sanitizeStyles,
  type StyleDeclaration,
} from "./styles";
import {
  contextWithTheme,
  detectHostTheme,
  frameTheme,
  modalUrlWithTheme,
  watchHostTheme,
  type Theme,
} from "./theme";

/** §6.3: the dimensions heartbeat period. */
export const DIMENSIONS_INTERVAL_MS = 200;

/**
 * How long after `click-iframe` the view opens the click's tab. A creative posts
 * its `ad.clicked` event right after `click-iframe`, and that event still has to
 * travel to the kernel (page, Jupyter server, kernel) when the tab opens. Opening
 * a tab blocks this page while the browser creates it, then keeps the machine's
 * CPUs busy starting its renderer; opened at once, it held the event for tens of
 * milliseconds on the way to Python (bench/RESULTS.md section 6: click -> on_event
 * median 130 ms before; 46 ms opened one task later; 20 ms opened after this delay,
 * on a loaded 2-core machine). 50 ms is below what a reader notices in a tab
 * opening, and far inside a click's transient user activation (5 s in Chromium).
 */
export const CLICK_OPEN_DELAY_MS = 50;

const FRAME_API_PATH = "/api/frame/";

/**
 * The server URL as it prefixes `iframe_url`, path included, for §4 click URLs;
 * the origin when the URL does not have the expected shape.
 */
export function serverBaseOf(iframeUrl: string, serverOrigin: string): string {
  const index = iframeUrl.indexOf(FRAME_API_PATH);
  return index > 0 ? iframeUrl.slice(0, index) : serverOrigin;
}

export type AdModel = AnyModel<AdTraits>;

export class AdView implements Claimant {
  /** Host-owned, never styled by the creative: what the ad may not paint outside of. */
  private readonly bounds: HTMLDivElement;
  /** The ad slot: the `containerStyles` target and the dimensions reference. */
  readonly slot: HTMLDivElement;
  private frame: HTMLIFrameElement | null = null;
  private modal: ModalOverlay | null = null;
  private readonly reopenGate = new ReopenGate();
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private iframeStyles: StyleDeclaration[] = [];
  private readonly relayBudget = new RelayBudget();
  private readonly dropsReported = new Set<DropReason>();
  private joinedKey = "";
  private readonly lifetime = new AbortController();
  private readonly reservation: SlotReservation;
  private hostTheme: Theme = detectHostTheme();
  /** The creative asked for `update-iframe` at least once: theme changes may follow. */
  private frameInitialized = false;

  constructor(
    private readonly model: AdModel,
    el: HTMLElement,
    private readonly registry: OwnershipRegistry,
    private readonly liveness: Liveness,
  ) {
    this.bounds = boundsElement();
    this.slot = document.createElement("div");
    this.slot.className = "kontext-ad-slot";
    this.slot.dataset.liveness = liveness.state;
    this.slot.style.display = "none";
    this.bounds.append(this.slot);
    el.append(this.bounds);
    this.reservation = new SlotReservation(this.slot);
  }

  /**
   * Starts listening. `hostSignal` is the view signal anywidget >= 0.10 passes to
   * `render`; older hosts only call the returned cleanup, which ends here too.
   */
  start(hostSignal: AbortSignal | undefined): void {
    const signal = this.lifetime.signal;
    if (hostSignal !== undefined) {
      if (hostSignal.aborted) {
        this.dispose();
        return;
      }
      hostSignal.addEventListener("abort", () => this.dispose(), { once: true, signal });
    }
    window.addEventListener("message", this.onWindowMessage, { signal });
    this.hostTheme = detectHostTheme();
    watchHostTheme(this.onHostTheme, signal);
    this.model.on("change:iframe_url", this.syncOwnership);
    this.model.on("change:destroyed", this.syncOwnership);
    this.model.on("msg:custom", this.onCustomMessage);
    // No frame without a live session (docs/protocol.md §11): see liveness.ts.
    this.liveness.attach(this.model, signal);
    this.liveness.subscribe(this.onLivenessChange, signal);
    this.syncOwnership();
  }

  /** Idempotent: anywidget may both abort the signal and call the cleanup. */
  dispose(): void {
    if (this.lifetime.signal.aborted) return;
    this.lifetime.abort();
    this.model.off("change:iframe_url", this.syncOwnership);
    this.model.off("change:destroyed", this.syncOwnership);
    this.model.off("msg:custom", this.onCustomMessage);
    this.leaveSlot();
    this.bounds.remove();
  }

  get ownsFrame(): boolean {
    return this.frame !== null;
  }

  acquire(key: string): void {
    // A handover can reach this view before its own change handler has run, e.g.
    // while every view leaves an old URL; it then must not load a stale frame.
    if (key !== this.wantedKey()) return;
    this.mountFrame(key);
  }

  release(): void {
    this.unmountFrame();
  }

  /** `iframe_url` while the ad lives under a live session, "" when there is nothing to show. */
  private wantedKey(): string {
    if (this.lifetime.signal.aborted || this.model.get("destroyed")) return "";
    if (!this.liveness.live) return "";
    return this.model.get("iframe_url") || "";
  }

  private readonly onLivenessChange = (): void => {
    this.slot.dataset.liveness = this.liveness.state;
    this.syncOwnership();
  };

  private readonly syncOwnership = (): void => {
    if (this.model.get("destroyed")) {
      this.dispose();
      return;
    }
    const key = this.wantedKey();
    if (key === this.joinedKey) return;
    this.leaveSlot();
    this.joinedKey = key;
    if (key !== "") this.registry.join(key, this);
  };

  private leaveSlot(): void {
    if (this.joinedKey === "") return;
    const key = this.joinedKey;
    this.joinedKey = "";
    this.registry.leave(key, this);
    this.unmountFrame();
  }

  private mountFrame(url: string): void {
    this.unmountFrame();
    const frame = document.createElement("iframe");
    applyFrameAttributes(frame, url, "Sponsored content");
    this.applyColorScheme(frame);
    // Hidden until show-iframe by visibility at height 0, not display:none: the
    // creative's document is laid out while hidden, so it can measure itself and
    // send its real height with show-iframe; a display:none frame measures 0 and
    // can only report its height one frame after being shown (docs/protocol.md §11).
    const style = frame.style;
    style.display = "block";
    style.visibility = "hidden";
    style.width = "100%";
    style.height = "0px";
    this.slot.style.display = "block";
    this.reservation.reserve(reservedHeight(this.model.get("code"), this.model.get("height")));
    this.slot.append(frame);
    this.frame = frame;
    this.frameInitialized = false;
    this.heartbeat = setInterval(this.postDimensions, DIMENSIONS_INTERVAL_MS);
  }

  private unmountFrame(): void {
    this.closeModal();
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    this.frame?.remove();
    this.frame = null;
    this.frameInitialized = false;
    this.reservation.clear();
    this.iframeStyles = [];
    this.slot.removeAttribute("style");
    this.slot.style.display = "none";
  }

  private closeModal(): void {
    this.modal?.close();
    this.modal = null;
  }

  /** §6.1 sending rule: only to the server origin, never `"*"`. */
  private post(target: HTMLIFrameElement | null, type: HostToFrameType, data: JsonObject): void {
    const serverOrigin = this.model.get("server_origin");
    const targetWindow = target?.contentWindow;
    if (!serverOrigin || !targetWindow) return;
    targetWindow.postMessage({ type, data }, serverOrigin);
  }

  private readonly postDimensions = (): void => {
    const frame = this.frame;
    if (frame === null || !frame.isConnected) return;
    const rect = this.slot.getBoundingClientRect();
    const dimensions: DimensionsData = {
      windowWidth: window.innerWidth,
      windowHeight: window.innerHeight,
      screenWidth: window.screen.width,
      screenHeight: window.screen.height,
      containerWidth: rect.width,
      containerHeight: rect.height,
      containerX: rect.left,
      containerY: rect.top,
      keyboardHeight: 0,
      code: this.model.get("code"),
    };
    this.post(frame, "update-dimensions-iframe", { ...dimensions });
  };

  private readonly onWindowMessage = (event: MessageEvent): void => {
    if (this.frame === null) return;
    const accepted = acceptMessage(event, {
      serverOrigin: this.model.get("server_origin"),
      code: this.model.get("code"),
      inlineWindow: this.frame.contentWindow,
      modalWindow: this.modal?.frame.contentWindow ?? null,
    });
    if (accepted === null) return;
    // Act first: `update-iframe` and the frame's show are on the ad's way to the
    // screen, the copy for Python is not (it is queued behind them, not dropped).
    try {
      this.act(accepted);
    } finally {
      this.relay(accepted);
    }
  };

  /** The copy for Python, bounded in rate and size (relay.ts, docs/protocol.md §13.2). */
  private relay({ source, message }: AcceptedMessage): void {
    const data = this.relayBudget.take() ? relayable(message.data) : "rate";
    if (data === null) return;
    if (data === "rate" || data === "size") {
      if (this.dropsReported.has(data)) return;
      this.dropsReported.add(data);
      this.model.send({ kind: "frame-message-dropped", reason: data, type: message.type });
      return;
    }
    this.model.send({ kind: "frame-message", source, message: { type: message.type, data } });
  }

  /** The host actions of docs/protocol.md §6.2 / §6.4, by type and source. */
  private act({ source, message: { type, data } }: AcceptedMessage): void {
    const frame = this.frame;
    if (frame === null) return;
    const inline = source === "inline";
    // Unknown types are only relayed (Python ignores them too). The switch covers
    // every frame -> host type of js/vocabulary.ts: tsc fails on a missing case.
    if (!isFrameToHostType(type)) return;
    switch (type) {
      case "init-iframe":
        if (inline) {
          this.frameInitialized = true;
          this.postContext(frame);
        }
        break;
      case "resize-iframe": {
        const height = frameHeight(data.height);
        if (inline && height !== null) {
          frame.style.height = `${height}px`;
          rememberHeight(this.model.get("code"), height);
          this.settleSlot(frame);
        }
        break;
      }
      case "show-iframe":
        if (inline) {
          frame.style.display = "block";
          frame.style.visibility = "visible";
          this.settleSlot(frame);
        }
        break;
      case "hide-iframe":
      case "error-iframe":
        // §11: an erroring ad hides itself and stays destroyable; an erroring modal closes.
        if (inline) this.hideFrame(frame, type === "error-iframe");
        else if (type === "error-iframe") this.closeModal();
        break;
      case "set-styles-iframe":
        if (inline) this.setStyles(frame, data);
        break;
      case "click-iframe":
        this.click(data);
        break;
      case "open-component-iframe":
        if (inline && this.reopenGate.allows(frame)) this.openModal(data);
        break;
      case "init-component-iframe":
        if (!inline) this.modal?.reveal();
        break;
      case "close-component-iframe":
      case "error-component-iframe":
        this.closeModal();
        break;
      // Measurement and events are Python's (relayed above); the SKOverlay and
      // retire types are the native SDKs' (docs/protocol.md §6.2).
      case "ad-done-iframe":
      case "view-iframe":
      case "event-iframe":
      case "ad-done-component-iframe":
      case "open-skoverlay-iframe":
      case "close-skoverlay-iframe":
      case "update-skoverlay-iframe":
      case "retire-iframe":
        break;
      default: {
        const unhandled: never = type;
        return unhandled;
      }
    }
  }

  /** `update-iframe`: `frame_context`, plus the host theme when the ad has none (§11). */
  private postContext(frame: HTMLIFrameElement): void {
    const context = this.model.get("frame_context") ?? {};
    this.post(frame, "update-iframe", contextWithTheme(context, this.model.get("theme"), this.hostTheme));
  }

  /** The notebook switched theme: tell a creative that follows it, without reloading it. */
  private readonly onHostTheme = (theme: Theme): void => {
    this.hostTheme = theme;
    if (this.model.get("theme") || this.frame === null) return;
    this.applyColorScheme(this.frame);
    if (this.frameInitialized) this.postContext(this.frame);
  };

  /**
   * The iframe element's `color-scheme` is the creative's theme: Chromium paints an
   * opaque canvas behind a frame whose document's scheme differs from its element's,
   * which would put a white (or black) box around a transparent creative.
   */
  private applyColorScheme(frame: HTMLIFrameElement): void {
    const theme = frameTheme(this.model.get("theme"), this.hostTheme);
    if (theme !== null) frame.style.setProperty("color-scheme", theme);
  }

  /** The reservation ends once, when the creative is visible at a real height. */
  private settleSlot(frame: HTMLIFrameElement): void {
    const shown = frame.style.display === "block" && frame.style.visibility === "visible";
    this.reservation.settle(shown, Number.parseFloat(frame.style.height) || 0);
  }

  private hideFrame(frame: HTMLIFrameElement, closeModal: boolean): void {
    this.reservation.clear();
    frame.style.display = "none";
    frame.style.height = "0px";
    if (closeModal) this.closeModal();
  }

  private setStyles(frame: HTMLIFrameElement, data: JsonObject): void {
    applyStyles(this.slot, sanitizeStyles(data.containerStyles, CONTAINER_PROPERTIES));
    const iframeStyles = sanitizeStyles(data.iframeStyles, IFRAME_PROPERTIES);
    applyStyles(frame, iframeStyles);
    // Remembered for the modal (§6.4 step 2), later maps overriding earlier ones.
    const merged = new Map(this.iframeStyles);
    for (const [property, value] of iframeStyles) merged.set(property, value);
    this.iframeStyles = [...merged];
  }

  /** Opens the click URL `CLICK_OPEN_DELAY_MS` later (see there). */
  private click(data: JsonObject): void {
    const serverOrigin = this.model.get("server_origin");
    const serverBase = serverBaseOf(this.model.get("iframe_url"), serverOrigin);
    setTimeout(() => {
      const result = handleClick(data, { serverOrigin, serverBase, open: openInNewTab });
      if (result.status === "failed") {
        this.model.send({ kind: "click-failed", url: result.url, reason: result.reason });
      }
    }, CLICK_OPEN_DELAY_MS);
  }

  private openModal(data: JsonObject): void {
    const modalUrl = modalUrlWithTheme(this.model.get("modal_url"), this.model.get("theme"), this.hostTheme);
    if (!modalUrl) return;
    this.closeModal();
    const modal = new ModalOverlay(
      modalUrlWithParams(modalUrl, isJsonObject(data.componentParams) ? data.componentParams : undefined),
      this.iframeStyles,
      modalTimeoutMs(data.timeout),
      {
        onTimeout: () => {
          if (this.modal !== modal) return;
          this.closeModal();
          this.model.send({ kind: "modal-timeout" });
        },
        onDismiss: () => {
          if (this.modal !== modal) return;
          this.reopenGate.readerClosed();
          this.modal = null;
          modal.close(false);
        },
      },
    );
    this.applyColorScheme(modal.frame);
    this.modal = modal;
  }

  /** Python's `user-event` goes to the iframe this view owns (§6.3 `user-event-iframe`). */
  private readonly onCustomMessage = (content: unknown): void => {
    if (this.frame === null || !isJsonObject(content) || content.kind !== "user-event") return;
    if (typeof content.name !== "string") return;
    const data: UserEventData = { name: content.name, code: this.model.get("code") };
    if (content.payload !== undefined) data.payload = content.payload;
    this.post(this.frame, "user-event-iframe", { ...data });
  };
}
