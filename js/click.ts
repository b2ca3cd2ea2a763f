/**
 * Opening `click-iframe` URLs (docs/protocol.md §4, §6.2, §11).
 *
 * The creative asks the host to open a URL because the host can open it outside
 * the sandbox. We open only http(s) in a new tab with `noopener,noreferrer`, so
 * the advertiser's page gets neither a handle on the notebook window nor the
 * notebook's URL. The price: with `noopener` `window.open` returns null even when
 * it worked, so a popup blocker cannot be detected; "failed" here means a refused
 * or unparsable URL, or `window.open` throwing (see js/README.md).
 *
 * Hosts that render outputs in a frame without `allow-popups` (VS Code's notebook
 * webview) block `window.open` but take over clicks on links: their document
 * listener sees the anchor, cancels the click and opens the URL itself (VS Code:
 * in the system browser). So the URL is first offered to the page as a click on a
 * real `<a target=_blank rel="noopener noreferrer">`; only if nobody took it does
 * `window.open` run (see `openInNewTab`).
 */

/** Longest URL echoed back to Python in `click-failed` (a `data:` URL can be huge). */
const MAX_REPORTED_URL_LENGTH = 2048;

const OPENABLE_PROTOCOLS: ReadonlySet<string> = new Set(["http:", "https:"]);

export interface ClickTarget {
  /** Server URL as it prefixes frame URLs (may carry a path), for §4 `/…` URLs. */
  serverBase: string;
  /** Server origin, the base for any other relative form (e.g. `//host/x`). */
  serverOrigin: string;
  open: (url: string) => void;
}

export type ClickResult =
  | { status: "opened"; url: string }
  | { status: "failed"; url: string; reason: string }
  | { status: "no-url" };

type Attempt = { opened: true; url: string } | { opened: false; reason: string };

/** §4: a URL starting with `/` but not `//` is prefixed with the server URL. */
export function resolveClickUrl(url: string, serverBase: string): string {
  return url.startsWith("/") && !url.startsWith("//") ? `${serverBase}${url}` : url;
}

/**
 * The absolute http(s) URL to open, or why not. Other relative forms resolve
 * against the ad server, never against the notebook page, whose URL would be
 * meaningless to the advertiser.
 */
export function openableUrl(
  url: string,
  target: Pick<ClickTarget, "serverBase" | "serverOrigin">,
): { ok: true; href: string } | { ok: false; reason: string } {
  const resolved = resolveClickUrl(url, target.serverBase);
  let parsed: URL;
  try {
    parsed = target.serverOrigin === "" ? new URL(resolved) : new URL(resolved, `${target.serverOrigin}/`);
  } catch {
    return { ok: false, reason: "invalid URL" };
  }
  if (!OPENABLE_PROTOCOLS.has(parsed.protocol)) {
    return { ok: false, reason: `scheme ${parsed.protocol} is not allowed` };
  }
  return { ok: true, href: parsed.href };
}

function attempt(url: string, target: ClickTarget): Attempt {
  const checked = openableUrl(url, target);
  if (!checked.ok) return { opened: false, reason: checked.reason };
  try {
    target.open(checked.href);
  } catch (error) {
    return { opened: false, reason: `window.open failed: ${String(error)}` };
  }
  return { opened: true, url: checked.href };
}

function nonEmptyString(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value : null;
}

/** §6.2 `click-iframe`: open `url`; if that fails, `fallbackUrl` once; no `url`, nothing. */
export function handleClick(data: Record<string, unknown>, target: ClickTarget): ClickResult {
  const url = nonEmptyString(data.url);
  if (url === null) return { status: "no-url" };
  const first = attempt(url, target);
  if (first.opened) return { status: "opened", url: first.url };
  let reason = first.reason;
  const fallbackUrl = nonEmptyString(data.fallbackUrl);
  if (fallbackUrl !== null) {
    const second = attempt(fallbackUrl, target);
    if (second.opened) return { status: "opened", url: second.url };
    reason = `${reason}; fallbackUrl: ${second.reason}`;
  }
  return { status: "failed", url: url.slice(0, MAX_REPORTED_URL_LENGTH), reason };
}

/** The anchor's `rel`: the same guarantees as `window.open`'s features below. */
export const LINK_REL = "noopener noreferrer";

/**
 * The real opener: a new tab with no opener and no referrer.
 *
 * A hidden `<a href=url target=_blank rel="noopener noreferrer">` is clicked in
 * the view's document first. A host that handles link clicks itself cancels that
 * click (VS Code's notebook webview turns it into "open in the system browser",
 * where `window.open` is blocked by the sandbox); then we do nothing more. If the
 * click reaches the window uncancelled, no host took it: we cancel it and call
 * `window.open` as every browser host did before, so nothing changes there. A host
 * that stops the click without cancelling it leaves the browser to follow the
 * link, which has the same `noopener noreferrer` guarantees. Either way the URL
 * is opened at most once, and only http(s) URLs get here (`openableUrl`).
 */
export function openInNewTab(url: string, view: Window = window): void {
  const document = view.document;
  const link = document.createElement("a");
  link.href = url;
  link.target = "_blank";
  link.rel = LINK_REL;
  link.hidden = true;
  // An exception in a listener does not reach `click()`'s caller: carry it out by hand.
  let failure: { error: unknown } | null = null;
  const openIfUntaken = (event: Event): void => {
    if (event.target !== link || event.defaultPrevented) return;
    event.preventDefault();
    try {
      view.open(url, "_blank", "noopener,noreferrer");
    } catch (error) {
      failure = { error };
    }
  };
  // Registered last on the window, so it runs after every listener of the host page.
  view.addEventListener("click", openIfUntaken);
  (document.body ?? document.documentElement).append(link);
  try {
    link.click();
  } finally {
    view.removeEventListener("click", openIfUntaken);
    link.remove();
  }
  if (failure !== null) throw (failure as { error: unknown }).error;
}
