/**
 * The notebook's light/dark theme, for ads created without one (docs/protocol.md §11:
 * an explicit theme wins; otherwise the host's current theme is sent and followed).
 *
 * The ad iframe's own `prefers-color-scheme` is the operating system's, not the
 * notebook's, so the host has to tell the creative. Each host marks its theme on
 * the page in its own way; the OS preference is only the last resort.
 */

import { isJsonObject, type JsonObject } from "./protocol";

export type Theme = "light" | "dark";

/** Attributes whose change can mean a theme switch (watched on `<html>` and `<body>`). */
export const THEME_ATTRIBUTES: readonly string[] = ["class", "data-jp-theme-light", "data-theme"];

const DARK_CLASSES = ["dark", "dark-theme", "dark-mode"] as const;
const LIGHT_CLASSES = ["light", "light-theme", "light-mode"] as const;

function fromElement(element: HTMLElement | null): Theme | null {
  if (element === null) return null;
  // JupyterLab 4 and Notebook 7: `data-jp-theme-light="true"|"false"` on <body>.
  const jupyter = element.dataset.jpThemeLight;
  if (jupyter === "true") return "light";
  if (jupyter === "false") return "dark";
  const classes = element.classList;
  // VS Code webviews (notebook outputs included): vscode-light / vscode-dark /
  // vscode-high-contrast(-light).
  if (classes.contains("vscode-high-contrast-light") || classes.contains("vscode-light")) return "light";
  if (classes.contains("vscode-dark") || classes.contains("vscode-high-contrast")) return "dark";
  // marimo and most class-based pages: `dark` / `dark-theme` on <html> or <body>.
  if (DARK_CLASSES.some((name) => classes.contains(name))) return "dark";
  if (LIGHT_CLASSES.some((name) => classes.contains(name))) return "light";
  const named = element.dataset.theme;
  if (named === "dark" || named === "light") return named;
  return null;
}

/** The host page's current theme: its own marker first, the OS preference last. */
export function detectHostTheme(doc: Document = document): Theme {
  const marked = fromElement(doc.body) ?? fromElement(doc.documentElement);
  if (marked !== null) return marked;
  const view = doc.defaultView;
  if (view !== null && typeof view.matchMedia === "function") {
    return view.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }
  return "light";
}

/**
 * Calls `onChange` with the new theme whenever the host's theme changes, until
 * `signal` aborts. One MutationObserver on the theme attributes of `<html>` and
 * `<body>` (JupyterLab swaps `data-jp-theme-light` when `apputils:change-theme`
 * runs) plus the OS media query; unchanged values are not reported.
 */
export function watchHostTheme(onChange: (theme: Theme) => void, signal: AbortSignal, doc: Document = document): void {
  if (signal.aborted) return;
  let current = detectHostTheme(doc);
  const check = (): void => {
    const next = detectHostTheme(doc);
    if (next === current) return;
    current = next;
    onChange(next);
  };
  const observer = new MutationObserver(check);
  const options: MutationObserverInit = { attributes: true, attributeFilter: [...THEME_ATTRIBUTES] };
  observer.observe(doc.documentElement, options);
  if (doc.body !== null) observer.observe(doc.body, options);
  signal.addEventListener("abort", () => observer.disconnect(), { once: true });
  const view = doc.defaultView;
  if (view !== null && typeof view.matchMedia === "function") {
    const query = view.matchMedia("(prefers-color-scheme: dark)");
    if (typeof query.addEventListener === "function") query.addEventListener("change", check, { signal });
  }
}

/**
 * `update-iframe` data with the host theme in `otherParams` when the publisher
 * gave none (`explicit` empty); an explicit theme is already there and wins.
 */
export function contextWithTheme(context: JsonObject, explicit: string | null | undefined, host: Theme): JsonObject {
  const other = isJsonObject(context.otherParams) ? context.otherParams : {};
  if (explicit || typeof other.theme === "string") return context;
  return { ...context, otherParams: { ...other, theme: host } };
}

/**
 * The modal URL with the host theme (docs/protocol.md §4 order: `theme` after `sdk`,
 * before `componentParams`, which `modalUrlWithParams` appends later) unless the
 * publisher's theme is already in it. The modal gets no `update-iframe` (§6.4), so
 * the URL is its only way to learn the theme; it takes the theme current at opening.
 */
export function modalUrlWithTheme(modalUrl: string, explicit: string | null | undefined, host: Theme): string {
  if (explicit || modalUrl === "") return modalUrl;
  const separator = modalUrl.includes("?") ? "&" : "?";
  return `${modalUrl}${separator}theme=${host}`;
}

/** The light/dark scheme the creative is drawn in, or null for a publisher theme that is neither. */
export function frameTheme(explicit: string | null | undefined, host: Theme): Theme | null {
  if (!explicit) return host;
  return explicit === "light" || explicit === "dark" ? explicit : null;
}
