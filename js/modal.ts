/**
 * The interstitial overlay of PROTOCOL.md §6.4: a second, full-viewport iframe
 * that stays invisible until the creative says it is ready, and closes itself if
 * that never happens.
 */

import { isJsonObject } from "./protocol";
import { applyStyles, type StyleDeclaration } from "./styles";
import { applyFrameAttributes } from "./frame";

export const DEFAULT_MODAL_TIMEOUT_MS = 5000;

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

export class ModalOverlay {
  readonly frame: HTMLIFrameElement;
  private timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * Appended to `document.body`, not to the view: a transformed or contained
   * notebook cell would otherwise become the containing block of `position: fixed`.
   */
  constructor(
    url: string,
    iframeStyles: readonly StyleDeclaration[],
    timeoutMs: number,
    onTimeout: () => void,
  ) {
    const frame = document.createElement("iframe");
    applyFrameAttributes(frame, url, "Sponsored content (full screen)");
    const style = frame.style;
    style.position = "fixed";
    style.inset = "0";
    style.width = "100%";
    style.height = "100%";
    style.zIndex = "999999999";
    applyStyles(frame, iframeStyles);
    // Visibility rather than display: the creative loads and lays out while hidden,
    // and a hidden overlay cannot catch the notebook's clicks.
    style.visibility = "hidden";
    this.frame = frame;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      onTimeout();
    }, timeoutMs);
    document.body.append(frame);
  }

  /** `init-component-iframe`: the creative is ready. */
  reveal(): void {
    this.cancelTimer();
    this.frame.style.visibility = "visible";
  }

  close(): void {
    this.cancelTimer();
    this.frame.remove();
  }

  private cancelTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
