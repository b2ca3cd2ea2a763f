/**
 * The anywidget entry point of `kontext_widget.Ad`, bundled into
 * `kontext_widget/static/widget.js` (see js/README.md for the contract).
 */

import type { RenderProps } from "@anywidget/types";
import { claimBrowserFactsReport, collectBrowserFacts } from "./facts";
import { OwnershipRegistry } from "./ownership";
import type { AdTraits } from "./protocol";
import { AdView } from "./view";

/** Shared by every view this module instance renders (one bid, one iframe). */
const registry = new OwnershipRegistry();

/**
 * anywidget 0.11 passes a per-view `signal` and also calls the returned cleanup
 * when the view goes; either ends the view, and older hosts only do the latter.
 */
function render({ model, el, signal }: RenderProps<AdTraits>): () => void {
  if (claimBrowserFactsReport()) {
    model.send({ kind: "browser-facts", facts: collectBrowserFacts() });
  }
  const view = new AdView(model, el, registry);
  view.start(signal as AbortSignal | undefined);
  return () => view.dispose();
}

export default { render };
