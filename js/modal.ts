/**
 * The interstitial overlay of docs/protocol.md §6.4: a second, full-viewport
 * iframe that stays invisible until the creative says it is ready, and closes
 * itself if that never happens.
 *
 * A full-viewport frame over the notebook is the one thing a creative could use
 * to take the page from its reader, so the overlay is the host's, not the
 * creative's: a host-owned wrapper holds the frame and a real close button
 * outside it, the creative's styles never reach `opacity`, `visibility`,
 * `pointer-events` or `display`, and Escape closes it while the host page has
 * focus. The official web SDK has none of this (docs/protocol.md §12).
 */

import { isJsonObject } from "./protocol";
import { applyStyles, MODAL_PROPERTIES, type StyleDeclaration } from "./styles";
import { applyFrameAttributes } from "./frame";

export const DEFAULT_MODAL_TIMEOUT_MS = 5000;

/** Class of the host-owned wrapper, a direct child of `<body>`. */
export const MODAL_CLASS = "kontext-ad-modal";

/** Accessible name of the host's close button. */
export const CLOSE_LABEL = "Close ad";

/** §6.4 step 2. */
const MODAL_Z_INDEX = "999999999";

/** §6.4 step 1: `data.timeout` if > 0, else 5 000 ms. */
export function modalTimeoutMs(timeout: unknown): number {
  return typeof timeout === "number" && Number.isFinite(timeout) && timeout > 0
    ? timeout
    : DEFAULT_MODAL_TIMEOUT_MS;
}

/** §4: `componentParams`, only if an object, travels as one percent-encoded JSON value. */
export function modalUrlWithParams(modalUrl: string, componentParams: unknown): string {
  if (!isJsonObject(componentParams)) return modalUrl;
  const separator = modalUrl.includes("?") ? "&" : "?";
  return `${modalUrl}${separator}componentParams=${encodeURIComponent(JSON.stringify(componentParams))}`;
}

export interface ModalCallbacks {
  /** The creative did not send `init-component-iframe` in time. */
  onTimeout: () => void;
  /** The reader closed the overlay (close button or Escape). */
  onDismiss: () => void;
}

/**
 * Sets inline styles, with `all: initial` first (unless `keepFocusRing`) so that
 * no page stylesheet reaches the element. The close button keeps the browser's
 * focus ring: `all` would reset it too.
 */
function setStyles(element: HTMLElement, styles: Readonly<Record<string, string>>, keepFocusRing = false): void {
  if (!keepFocusRing) element.style.setProperty("all", "initial");
  for (const [property, value] of Object.entries(styles)) element.style.setProperty(property, value);
}

const ROOT_STYLES: Readonly<Record<string, string>> = {
  position: "fixed",
  inset: "0",
  width: "100%",
  height: "100%",
  margin: "0",
  padding: "0",
  "z-index": MODAL_Z_INDEX,
  isolation: "isolate",
  display: "block",
  opacity: "1",
  "pointer-events": "auto",
  // Visibility rather than display: the creative loads and lays out while
  // hidden, and a hidden overlay cannot catch the notebook's clicks.
  visibility: "hidden",
};

const FRAME_STYLES: Readonly<Record<string, string>> = {
  position: "absolute",
  inset: "0",
  width: "100%",
  height: "100%",
  display: "block",
  visibility: "inherit",
};

const CLOSE_STYLES: Readonly<Record<string, string>> = {
  position: "absolute",
  top: "12px",
  right: "12px",
  "z-index": "1",
  width: "36px",
  height: "36px",
  display: "flex",
  "align-items": "center",
  "justify-content": "center",
  "box-sizing": "border-box",
  margin: "0",
  padding: "0",
  border: "2px solid rgba(255, 255, 255, 0.9)",
  "border-radius": "50%",
  background: "rgba(0, 0, 0, 0.72)",
  color: "#fff",
  font: "600 22px/1 system-ui, sans-serif",
  cursor: "pointer",
  opacity: "1",
  visibility: "inherit",
  "pointer-events": "auto",
  "box-shadow": "0 1px 4px rgba(0, 0, 0, 0.5)",
  transform: "none",
  filter: "none",
};

export class ModalOverlay {
  /** The host-owned wrapper: frame + close button. */
  readonly root: HTMLDivElement;
  readonly frame: HTMLIFrameElement;
  readonly closeButton: HTMLButtonElement;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private revealed = false;
  private previousFocus: Element | null = null;
  private readonly listeners = new AbortController();

  /**
   * Appended to `document.body`, not to the view: a transformed or contained
   * notebook cell would otherwise become the containing block of `position: fixed`.
   */
  constructor(
    url: string,
    iframeStyles: readonly StyleDeclaration[],
    timeoutMs: number,
    private readonly callbacks: ModalCallbacks,
  ) {
    const root = document.createElement("div");
    root.className = MODAL_CLASS;
    root.setAttribute("role", "dialog");
    root.setAttribute("aria-modal", "true");
    root.setAttribute("aria-label", "Sponsored content");
    setStyles(root, ROOT_STYLES);

    const frame = document.createElement("iframe");
    setStyles(frame, FRAME_STYLES);
    applyFrameAttributes(frame, url, "Sponsored content (full screen)");
    applyStyles(
      frame,
      iframeStyles.filter(([property]) => MODAL_PROPERTIES.has(property)),
    );

    const close = document.createElement("button");
    close.type = "button";
    close.setAttribute("aria-label", CLOSE_LABEL);
    close.title = CLOSE_LABEL;
    close.textContent = "\u00d7";
    setStyles(close, CLOSE_STYLES, true);
    const signal = this.listeners.signal;
    close.addEventListener("click", () => this.callbacks.onDismiss(), { signal });
    // Capture on window: ahead of the notebook's own Escape handling (leaving edit mode).
    window.addEventListener("keydown", this.onKeyDown, { capture: true, signal });

    root.append(frame, close);
    this.root = root;
    this.frame = frame;
    this.closeButton = close;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.callbacks.onTimeout();
    }, timeoutMs);
    document.body.append(root);
  }

  /**
   * `init-component-iframe`: the creative is ready. Focus moves to the close
   * button (the dialog pattern), so Escape works at once and keyboard users
   * can leave.
   */
  reveal(): void {
    this.cancelTimer();
    if (this.revealed) return;
    this.revealed = true;
    this.root.style.visibility = "visible";
    this.previousFocus = document.activeElement;
    this.closeButton.focus({ preventScroll: true });
  }

  /**
   * Removes the overlay. Focus it held goes back where it was, except after the
   * reader's own dismissal (`restoreFocus` false): it must not land in the ad's
   * frame, which `ReopenGate` reads as the reader turning to the ad again.
   */
  close(restoreFocus = true): void {
    this.cancelTimer();
    this.listeners.abort();
    const hadFocus = this.root.contains(document.activeElement);
    this.root.remove();
    const previous = this.previousFocus;
    this.previousFocus = null;
    if (restoreFocus && hadFocus && previous instanceof HTMLElement && previous.isConnected) {
      previous.focus({ preventScroll: true });
    }
  }

  /** Only a revealed overlay takes Escape: a loading one is invisible to the reader. */
  private readonly onKeyDown = (event: KeyboardEvent): void => {
    if (!this.revealed || event.key !== "Escape") return;
    event.preventDefault();
    event.stopPropagation();
    this.callbacks.onDismiss();
  };

  private cancelTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/**
 * Once the reader has closed an interstitial with the host's control, the ad may
 * open another only after the reader turned to it again (focus inside its inline
 * frame: a click or Tab into the ad). Otherwise a creative could reopen the
 * overlay as soon as it is closed, in a loop the reader cannot leave.
 */
export class ReopenGate {
  private closedByReader = false;

  readerClosed(): void {
    this.closedByReader = true;
  }

  /** Whether `open-component-iframe` from `inlineFrame` may open the overlay now. */
  allows(inlineFrame: HTMLIFrameElement): boolean {
    if (!this.closedByReader) return true;
    if (document.activeElement !== inlineFrame) return false;
    this.closedByReader = false;
    return true;
  }
}
