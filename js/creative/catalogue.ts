/**
 * Choosing the ad: the local server's product catalogue (`catalogue.json`, put in
 * the page's `data-catalogue` attribute) matched against the reader's last question.
 * Conversation text is untrusted: it is only ever compared and quoted as text.
 */

import type { FrameContextMessage } from "../protocol";
import type { Untrusted } from "./channel";

export interface Product {
  id?: string;
  brand?: string;
  name?: string;
  tagline?: string;
  cta?: string;
  accent?: string;
  keywords?: unknown;
}

/** The ad shown when the catalogue is empty or unreadable. */
export const FALLBACK: Product = {
  id: "kontext-demo",
  brand: "Kontext",
  name: "Kontext Local Demo Ad",
  tagline: "A contextual ad served offline.",
  cta: "Learn more",
  accent: "#3b5bdb",
  keywords: [],
};

/** The catalogue from its JSON text; an empty list when it is not a JSON array. */
export function readCatalogue(json: string | undefined): Product[] {
  try {
    const parsed: unknown = JSON.parse(json || "[]");
    return Array.isArray(parsed) ? (parsed as Product[]) : [];
  } catch {
    return [];
  }
}

/** The content of the last user message in `messages` (an `update-iframe` list), or "". */
export function lastUserText(messages: unknown): string {
  if (!Array.isArray(messages)) return "";
  for (let i = messages.length - 1; i >= 0; i -= 1) {
    const m = messages[i] as Untrusted<FrameContextMessage> | null | undefined;
    if (m && m.role === "user" && typeof m.content === "string") return m.content;
  }
  return "";
}

/** The product whose keywords `text` mentions most; the catalogue's last entry when none. */
export function pickProduct(catalogue: readonly Product[], text: string): Product {
  const lowered = text.toLowerCase();
  let best: Product | null = null;
  let bestScore = 0;
  for (const product of catalogue) {
    const keywords: unknown[] = Array.isArray(product.keywords) ? product.keywords : [];
    let score = 0;
    for (const keyword of keywords) {
      if (typeof keyword === "string" && keyword && lowered.includes(keyword)) score += 1;
    }
    if (score > bestScore) {
      best = product;
      bestScore = score;
    }
  }
  return best || catalogue[catalogue.length - 1] || FALLBACK;
}

/** The question as the card quotes it: one line, at most 60 characters. */
export function snippet(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > 60 ? flat.slice(0, 59).trimEnd() + "\u2026" : flat;
}
