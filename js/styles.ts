/**
 * `set-styles-iframe` support (docs/protocol.md §6.2): the creative may restyle its
 * wrapper and its iframe, but only through an allow-list of layout and decoration
 * properties, one `setProperty` at a time. Nothing is ever written as cssText, and
 * values that could fetch or run something are refused, so a creative cannot
 * position itself over the notebook, load resources from the host page or smuggle
 * a second declaration into a value.
 */

import { MAX_FRAME_HEIGHT } from "./protocol";

const SIDES = ["top", "right", "bottom", "left"] as const;

const COMMON_PROPERTIES: readonly string[] = [
  "width",
  "height",
  "min-width",
  "max-width",
  "min-height",
  "max-height",
  "margin",
  ...SIDES.map((side) => `margin-${side}`),
  "padding",
  ...SIDES.map((side) => `padding-${side}`),
  "border",
  "border-width",
  "border-style",
  "border-color",
  ...SIDES.map((side) => `border-${side}`),
  ...SIDES.flatMap((side) => ["width", "style", "color"].map((part) => `border-${side}-${part}`)),
  "border-radius",
  "border-top-left-radius",
  "border-top-right-radius",
  "border-bottom-right-radius",
  "border-bottom-left-radius",
  "background",
  "background-color",
  "box-shadow",
  "opacity",
  "overflow",
  "overflow-x",
  "overflow-y",
  "transition",
  "color-scheme",
];

/** The wrapper may also change `display` (e.g. to center the frame). */
export const CONTAINER_PROPERTIES: ReadonlySet<string> = new Set([...COMMON_PROPERTIES, "display"]);

/** The iframe's `display` belongs to `show-iframe` / `hide-iframe`, so it is not here. */
export const IFRAME_PROPERTIES: ReadonlySet<string> = new Set(COMMON_PROPERTIES);

/**
 * The interstitial overlay (docs/protocol.md §6.4) takes the iframe styles too,
 * but never `opacity`: a see-through full-viewport frame would swallow the
 * notebook's clicks unseen. (`visibility`, `pointer-events` and `display` are in
 * neither list; the overlay filters them again by this set.)
 */
export const MODAL_PROPERTIES: ReadonlySet<string> = new Set(
  COMMON_PROPERTIES.filter((property) => property !== "opacity"),
);

const UNITLESS_PROPERTIES: ReadonlySet<string> = new Set(["opacity"]);

/**
 * Functions that load a resource (`url(`, `image(`, `image-set(` …) or run code
 * (`expression(`, `javascript:`), CSS escapes that could spell them in disguise,
 * and characters that only make sense when breaking out of a declaration.
 */
const FORBIDDEN_VALUE =
  /(?:url|image|image-set|cross-fade|element|src|expression|paint)\s*\(|javascript\s*:|[\\;{}<>@]/i;

const MAX_VALUE_LENGTH = 256;

/** One allowed declaration, kebab-case property and final value. */
export type StyleDeclaration = readonly [property: string, value: string];

/** `maxWidth` and `max-width` both name `max-width`, as React-style maps use camelCase. */
export function cssPropertyName(key: string): string {
  return key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

function cssValue(property: string, raw: unknown): string | null {
  if (typeof raw === "number") {
    if (!Number.isFinite(raw)) return null;
    if (HEIGHT_PROPERTIES.has(property)) return heightValue(`${raw}px`);
    return UNITLESS_PROPERTIES.has(property) || raw === 0 ? String(raw) : `${raw}px`;
  }
  if (typeof raw !== "string") return null;
  const value = raw.trim();
  if (value === "" || value.length > MAX_VALUE_LENGTH || FORBIDDEN_VALUE.test(value)) return null;
  return HEIGHT_PROPERTIES.has(property) ? heightValue(value) : value;
}

/**
 * Heights are bounded like `resize-iframe`'s (docs/protocol.md §13), so that no
 * style pushes the notebook away: px clamped to `MAX_FRAME_HEIGHT`, `%` and `vh`
 * to 100, sizing keywords kept, anything else (em, calc(), negative) refused.
 */
const HEIGHT_PROPERTIES: ReadonlySet<string> = new Set(["height", "min-height", "max-height"]);
const HEIGHT_KEYWORDS: ReadonlySet<string> = new Set(["auto", "none", "fit-content", "min-content", "max-content"]);
const HEIGHT_LENGTH = /^(\d+(?:\.\d+)?|\.\d+)(?:e\+?\d+)?(px|%|vh)?$/i;

function heightValue(value: string): string | null {
  if (HEIGHT_KEYWORDS.has(value.toLowerCase())) return value;
  const match = HEIGHT_LENGTH.exec(value);
  if (match === null) return null;
  const amount = Number.parseFloat(value);
  const unit = (match[2] ?? "").toLowerCase();
  if (!Number.isFinite(amount)) return null;
  if (unit === "") return amount === 0 ? "0" : null;
  return `${Math.min(amount, unit === "px" ? MAX_FRAME_HEIGHT : 100)}${unit}`;
}

/**
 * The allowed declarations of a style map, in its order; anything else (unknown
 * property, refused value, a non-object map) is dropped silently, as a browser
 * drops CSS it does not understand.
 */
export function sanitizeStyles(styles: unknown, allowed: ReadonlySet<string>): StyleDeclaration[] {
  if (typeof styles !== "object" || styles === null || Array.isArray(styles)) return [];
  const declarations: StyleDeclaration[] = [];
  for (const [key, raw] of Object.entries(styles)) {
    const property = cssPropertyName(key);
    if (!allowed.has(property)) continue;
    const value = cssValue(property, raw);
    if (value !== null) declarations.push([property, value]);
  }
  return declarations;
}

export function applyStyles(element: HTMLElement, declarations: readonly StyleDeclaration[]): void {
  for (const [property, value] of declarations) element.style.setProperty(property, value);
}

/**
 * The host-owned box around the ad's slot, which no style map reaches: whatever the
 * creative does with widths, margins, borders or shadows (lengths this list does not
 * bound), nothing of it is painted outside the output area's width or above the ad's
 * own box, and the whole ad never takes more than `MAX_FRAME_HEIGHT` of the notebook
 * (docs/protocol.md §13). `overflow: clip` clips without making a scroll container,
 * so an oversized creative is cut, never given a scrollbar (an
 * `overflow-clip-margin` would show as a few pixels of horizontal scroll).
 */
export function boundsElement(): HTMLDivElement {
  const bounds = document.createElement("div");
  bounds.className = "kontext-ad-bounds";
  const style = bounds.style;
  // Its own block formatting context: the slot's margins stay inside instead of
  // collapsing through it (a negative margin-top would move the box itself up).
  style.display = "flow-root";
  style.maxWidth = "100%";
  style.maxHeight = `${MAX_FRAME_HEIGHT}px`;
  style.overflow = "clip";
  return bounds;
}
