/**
 * Browser facts for the ad request's `device` (docs/protocol.md §8, §11): the kernel
 * cannot see the screen, the user agent or the network, so the first view of a
 * page reports them once and Python merges them into later preloads.
 */

export interface BrowserFacts {
  screen: {
    width: number;
    height: number;
    dpr: number;
    darkMode: boolean;
    orientation: "portrait" | "landscape";
  };
  locale: string;
  timezone: string;
  userAgent: string;
  network?: { type?: string; detail?: string };
}

/** The Network Information API is Chromium-only and missing from lib.dom. */
interface NetworkInformationLike {
  type?: unknown;
  effectiveType?: unknown;
}

function orientationOf(win: Window): "portrait" | "landscape" {
  const type = win.screen.orientation?.type;
  if (typeof type === "string") return type.startsWith("portrait") ? "portrait" : "landscape";
  return win.screen.height > win.screen.width ? "portrait" : "landscape";
}

function networkOf(win: Window): BrowserFacts["network"] {
  const connection = (win.navigator as Navigator & { connection?: NetworkInformationLike })
    .connection;
  if (connection === undefined || connection === null) return undefined;
  const network: { type?: string; detail?: string } = {};
  if (typeof connection.type === "string") network.type = connection.type;
  if (typeof connection.effectiveType === "string") network.detail = connection.effectiveType;
  return network;
}

export function collectBrowserFacts(win: Window = window): BrowserFacts {
  const facts: BrowserFacts = {
    screen: {
      width: win.screen.width,
      height: win.screen.height,
      dpr: win.devicePixelRatio,
      darkMode: win.matchMedia?.("(prefers-color-scheme: dark)").matches ?? false,
      orientation: orientationOf(win),
    },
    locale: win.navigator.language,
    timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
    userAgent: win.navigator.userAgent,
  };
  const network = networkOf(win);
  if (network !== undefined) facts.network = network;
  return facts;
}

/**
 * Kept on `globalThis`, not in this module: anywidget may evaluate the bundle once
 * per widget model, and "once per page" must hold across all of them.
 */
export const FACTS_SENT_KEY: unique symbol = Symbol.for("kontext-widget.browser-facts-sent");

/** True the first time it is called on a page, false afterwards. */
export function claimBrowserFactsReport(): boolean {
  const registry = globalThis as typeof globalThis & { [FACTS_SENT_KEY]?: boolean };
  if (registry[FACTS_SENT_KEY] === true) return false;
  registry[FACTS_SENT_KEY] = true;
  return true;
}
