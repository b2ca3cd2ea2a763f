/** Attributes shared by the inline and the modal iframe (docs/protocol.md §8). */

/**
 * Scripts and same-origin storage are what a creative needs to render and count
 * views; popups (escaping the sandbox) let a creative open links itself, as in the
 * web SDK. No top navigation, forms or downloads: the notebook page stays ours.
 */
export const FRAME_SANDBOX = "allow-scripts allow-same-origin allow-popups allow-popups-to-escape-sandbox";

export const FRAME_ALLOW = "autoplay; fullscreen";

/** Sandbox, permissions, title, source, and the borderless transparent look of §8. */
export function applyFrameAttributes(frame: HTMLIFrameElement, url: string, title: string): void {
  frame.style.border = "0";
  frame.style.background = "transparent";
  frame.style.setProperty("color-scheme", "auto");
  frame.setAttribute("sandbox", FRAME_SANDBOX);
  frame.setAttribute("allow", FRAME_ALLOW);
  frame.title = title;
  frame.src = url;
}
