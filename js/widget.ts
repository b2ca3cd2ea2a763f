/**
 * The anywidget entry point of `kontext_widget.Ad`, bundled into
 * `kontext_widget/static/widget.js` (see js/README.md for the contract).
 */

import type { InitializeProps, RenderProps } from "@anywidget/types";
import { claimBrowserFactsReport, collectBrowserFacts } from "./facts";
import { Liveness } from "./liveness";
import { OwnershipRegistry } from "./ownership";
import type { AdTraits } from "./protocol";
import { AdView } from "./view";

/**
 * User Timing marks of the widget's start-up, for DevTools and bench/browser.py
 * (which breaks an ad's time to screen down by them). Each name keeps only its
 * latest entry, so a page with many ads holds two marks, not two per ad.
 */
function mark(name: string, messageId: string | null): void {
  try {
    performance.clearMarks(name);
    performance.mark(name, { detail: messageId });
  } catch {
    // A host without User Timing: nothing to record.
  }
}

mark("kontext-widget:evaluated", null);

/** Shared by every view this module instance renders (one bid, one iframe). */
const registry = new OwnershipRegistry();
/** anywidget evaluates the bundle once per model: this is the model's liveness. */
const liveness = new Liveness();

/**
 * Once per model, before any view: listen for Python's `live`, which precedes the
 * view when this page saw the `Ad` created. Only a view that renders without it
 * asks (liveness.ts).
 */
function initialize({ model, signal }: InitializeProps<AdTraits>): void {
  liveness.attach(model, signal, false);
}

/**
 * anywidget 0.11 passes a per-view `signal` and also calls the returned cleanup
 * when the view goes; either ends the view, and older hosts only do the latter.
 */
function render({ model, el, signal }: RenderProps<AdTraits>): () => void {
  mark("kontext-widget:render", model.get("message_id"));
  if (claimBrowserFactsReport()) {
    model.send({ kind: "browser-facts", facts: collectBrowserFacts() });
  }
  const view = new AdView(model, el, registry, liveness);
  view.start(signal as AbortSignal | undefined);
  return () => view.dispose();
}

export default { initialize, render };
