"""Checks shared by the JupyterLab and Notebook 7 tests: the core path of one ad.

Core path = the assistant message is added and its ad rendered in a cell; the ad
iframe appears in THAT cell's output at the frame URL of a bid the local server
served, the creative renders inside it, and the creative's render events reach
Python's ``on_event``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from playwright.sync_api import Frame, Locator, expect

from .jupyter import NotebookPage
from .notebooks import NotebookSpec
from .timings import record_timing

EXPECT_TIMEOUT_MS = 15_000
# ad.viewed needs >= 50% visible for one continuous second, seen through the
# 200 ms dimension heartbeat, after the creative loaded: a few seconds at most.
VIEWED_TIMEOUT = 15.0

# Records when an ad iframe is first shown with a box (display not none, not
# visibility hidden, height > 0), in the
# browser's clock (Date.now(), the same machine clock as the kernel's time.time()).
_WATCH_VISIBLE_JS = """
(prefix) => {
  window.__kwVisibleAt = null;
  const timer = setInterval(() => {
    for (const frame of document.querySelectorAll('iframe')) {
      if (!frame.src.startsWith(prefix)) continue;
      const style = getComputedStyle(frame);
      const shown = style.display !== 'none' && style.visibility !== 'hidden';
      if (shown && frame.getBoundingClientRect().height > 0) {
        window.__kwVisibleAt = Date.now();
        clearInterval(timer);
        return;
      }
    }
  }, 5);
}
"""


def frame_prefix(ad_server: Any) -> str:
    return f"{ad_server.url}/api/frame/"


def ad_iframes(page: Any, ad_server: Any) -> Locator:
    """Every inline ad iframe on the page, wherever it is."""
    return page.locator(f'iframe[src^="{frame_prefix(ad_server)}"]')


@dataclass
class RenderedAd:
    bid_id: str
    iframe: Locator
    frame: Frame


def render_and_check_mounted(
    notebook: NotebookPage,
    ad_server: Any,
    spec: NotebookSpec,
    *,
    render_index: int,
    message_id: str,
    code: str = "inlineAd",
) -> RenderedAd:
    """Run the render cell; check 1 (mounted in its output at the bid's URL) and 2 (rendered)."""
    page = notebook.page
    page.evaluate(_WATCH_VISIBLE_JS, frame_prefix(ad_server))
    notebook.run_cell(render_index)

    rendered = spec.log.mark("rendered")
    bid_id = rendered["bid_id"]
    assert bid_id, f"the ad got no bid when its assistant message was added: {rendered}"
    assert bid_id in ad_server.bids, f"bid {bid_id} was not served by the LocalAdServer"
    assert ad_server.bids[bid_id].code == code
    expected_src = (
        f"{ad_server.url}/api/frame/{bid_id}?code={code}&messageId={message_id}&sdk=sdk-js"
    )
    assert rendered["iframe_url"] == expected_src

    # 1. Mounted inside the output area of the cell that displayed it, and only there.
    iframe = notebook.output_area(render_index).locator(f'iframe[src^="{frame_prefix(ad_server)}"]')
    expect(iframe).to_have_count(1, timeout=EXPECT_TIMEOUT_MS)
    assert iframe.get_attribute("src") == expected_src
    expect(ad_iframes(page, ad_server)).to_have_count(1)

    # 2. The creative rendered: the iframe is shown with a height, and inside it the
    # creative's DOM is built from the conversation (update-iframe reached it).
    expect(iframe).to_be_visible(timeout=EXPECT_TIMEOUT_MS)
    frame = notebook.frame_of(iframe)
    assert frame.url == expected_src
    expect(frame.locator("html")).to_have_attribute(
        "data-state", "rendered", timeout=EXPECT_TIMEOUT_MS
    )
    expect(frame.locator("#ad .product")).not_to_be_empty()
    expect(frame.locator("#ad .because")).to_contain_text("Because you asked about")
    box = wait_for_box(iframe)
    assert box["height"] > 0
    assert box["width"] > 0

    visible_at = wait_for_js_value(page, "window.__kwVisibleAt")
    added_at = spec.log.mark("assistant-added")["t"]
    record_timing(
        f"assistant message added -> ad iframe visible ({notebook.ui})",
        visible_at / 1000 - added_at,
    )
    return RenderedAd(bid_id, iframe, frame)


def check_render_events_reached_python(spec: NotebookSpec, bid_id: str) -> None:
    """Check 3 from the live on_event log: render-started, height, render-completed, viewed."""
    viewed = spec.log.wait_for_event(
        "ad.viewed", timeout=VIEWED_TIMEOUT, where=lambda r: r["payload"].get("id") == bid_id
    )
    assert viewed["payload"]["format"] == "inline"
    assert viewed["payload"]["content"]
    names = [e["name"] for e in spec.log.events() if e["payload"].get("id") == bid_id]
    # Each render event once per ad, though the creative sends both sources (section 11).
    for name in ("ad.render-started", "ad.render-completed", "ad.viewed"):
        assert names.count(name) == 1, f"{name} reached Python {names.count(name)} times: {names}"
    assert "ad.height" in names, f"no ad.height reached Python: {names}"
    assert names.index("ad.render-started") < names.index("ad.render-completed")


def check_events_in_session_history(dump: dict[str, Any], bid_id: str, message_id: str) -> None:
    """Check 3 as read back from the kernel in a later cell (``session.events``)."""
    events = {e["name"]: e["payload"] for e in dump["events"] if e["payload"].get("id") == bid_id}
    for name in ("ad.render-started", "ad.height", "ad.render-completed", "ad.viewed"):
        assert name in events, f"session.events has no {name} for bid {bid_id}: {dump['events']}"
    assert events["ad.height"]["messageId"] == message_id
    assert events["ad.height"]["height"] > 0
    assert events["ad.viewed"]["messageId"] == message_id
    assert dump["visible"] is True
    assert dump["height"] == events["ad.height"]["height"]


def wait_for_box(locator: Locator, timeout: float = 10.0) -> dict[str, float]:
    """The element's box once it has a non-zero height."""
    deadline = time.monotonic() + timeout
    while True:
        box = locator.bounding_box()
        if box is not None and box["height"] > 0:
            return box
        if time.monotonic() >= deadline:
            raise AssertionError(f"the element has no height after {timeout}s (box {box})")
        time.sleep(0.05)


def wait_for_js_value(page: Any, expression: str, timeout: float = 10.0) -> Any:
    """Poll a page expression until it is neither null nor undefined."""
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(expression)
        if value is not None:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{expression} stayed empty for {timeout}s")
        time.sleep(0.05)
