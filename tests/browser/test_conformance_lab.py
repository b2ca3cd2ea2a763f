"""The widget in JupyterLab against a creative built from the official web SDK's code.

The creative (``js/conformance-creative.ts``, bundled from ``@kontextso/sdk-common``
when the module starts) sends only what ``makeIframeMessage`` / ``emitAdEvent``
build, e.g. the interstitial request with ``component: "modal"`` inside ``data``,
and reads the host's messages through the official ``handleIframeMessage``. The
inline ad is rendered, viewed and clicked; the interstitial is opened and closed by
the host's own close button, by Escape, by the creative, by removing the view and
by destroying the ad.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Frame, Locator, expect

from .ad_checks import (
    EXPECT_TIMEOUT_MS,
    check_render_events_reached_python,
    render_and_check_mounted,
)
from .conformance_server import ConformanceAdServer, start_conformance_server
from .host_checks import open_cta_tab
from .jupyter import NotebookPage
from .kit_checks import set_lab_theme
from .notebooks import (
    NotebookSpec,
    write_first_turn,
)
from .pages import VIEWPORT, BrowserTab

pytestmark = pytest.mark.browser

USER_TEXT = "Which trail shoes grip on wet rock?"
ASSISTANT_TEXT = "Look for a sticky rubber outsole with deep lugs."
SESSION, USER, RENDER, REDISPLAY, DESTROY = range(5)
SCREENSHOT = "/tmp/kontext-conformance-interstitial.png"
SCREENSHOT_DARK = "/tmp/kontext-conformance-interstitial-dark.png"

_CLEAR_OUTPUT_JS = """
async (index) => {
  const app = window.jupyterapp;
  const notebook = app.shell.currentWidget.content;
  notebook.deselectAll();
  notebook.activeCellIndex = index;
  await app.commands.execute('notebook:clear-cell-output');
}
"""

# What the reader would hit at the centre of the host's close button, and the
# overlay's own geometry and styles.
_OVERLAY_FACTS_JS = """
(button) => {
  const root = button.closest('.kontext-ad-modal');
  const frame = root.querySelector('iframe');
  const r = button.getBoundingClientRect();
  const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  const rs = getComputedStyle(root);
  return {
    rootParentIsBody: root.parentElement === document.body,
    position: rs.position,
    zIndex: rs.zIndex,
    rootOpacity: rs.opacity,
    frameOpacity: getComputedStyle(frame).opacity,
    framePointerEvents: getComputedStyle(frame).pointerEvents,
    buttonIsOutsideFrame: !frame.contains(button) && button.parentElement === root,
    hitIsButton: hit === button,
    focused: document.activeElement === button,
  };
}
"""


@pytest.fixture(scope="module")
def conformance_server() -> Iterator[ConformanceAdServer]:
    server = start_conformance_server()
    yield server
    server.stop()


def _open_interstitial(notebook: NotebookPage, ad_frame: Frame) -> tuple[Locator, Frame]:
    """Click the creative's offer button; the overlay must open and be revealed."""
    root = notebook.page.locator(".kontext-ad-modal")
    expect(root).to_have_count(0)
    ad_frame.locator("button.open-interstitial").click()
    expect(root).to_have_count(1, timeout=EXPECT_TIMEOUT_MS)
    modal = root.locator("iframe")
    # Hidden until the modal page sent init-component-iframe (with component "modal").
    expect(modal).to_be_visible(timeout=EXPECT_TIMEOUT_MS)
    frame = notebook.frame_of(modal)
    expect(frame.locator("html")).to_have_attribute("data-state", "rendered")
    return root, frame


def test_official_sdk_messages_drive_the_widget_in_jupyterlab(
    notebook_spec: NotebookSpec,
    open_notebook: Any,
    conformance_server: ConformanceAdServer,
    browser_context: BrowserTab,
) -> None:
    server = conformance_server
    write_first_turn(
        notebook_spec,
        server.url,
        "conv-lab-conformance",
        "display(ad)",
        'ad.destroy()\nmark("destroyed", destroyed=ad.destroyed)',
        question=USER_TEXT,
        reply=ASSISTANT_TEXT,
    )
    notebook = open_notebook(notebook_spec.name, "lab")
    page = notebook.page
    notebook.run_cells([SESSION, USER])

    # Rendered and viewed, from official messages only.
    ad = render_and_check_mounted(
        notebook, server, notebook_spec, render_index=RENDER, message_id="a1"
    )
    check_render_events_reached_python(notebook_spec, ad.bid_id)
    # The host's messages passed the official frame-side handler (code checked).
    received = ad.frame.evaluate("window.__received")
    assert "update-iframe" in received and "update-dimensions-iframe" in received, received
    expect(ad.iframe).to_have_css("opacity", "0.95")

    # Clicked: the host opens the click-iframe URL; ad.clicked reaches Python.
    tab = open_cta_tab(ad.frame)
    try:
        assert tab.url == f"{server.url}/api/click/{ad.bid_id}?area=cta"
        assert tab.evaluate("window.opener") is None
    finally:
        tab.close()
    clicked = notebook_spec.log.wait_for_event(
        "ad.clicked", where=lambda r: r["payload"].get("id") == ad.bid_id
    )
    assert clicked["payload"]["area"] == "cta"
    assert clicked["payload"]["messageId"] == "a1"

    # Interstitial, closed with the host's own button.
    root, _ = _open_interstitial(notebook, ad.frame)
    src = root.locator("iframe").get_attribute("src") or ""
    modal_url = f"{server.url}/api/modal/{ad.bid_id}?code=inlineAd&messageId=a1&sdk=sdk-js"
    # No publisher theme: the notebook's (JupyterLab Light here) rides in the URL (§4 order).
    assert src.startswith(f"{modal_url}&theme=light&componentParams="), src
    close = page.get_by_role("button", name="Close ad")
    expect(close).to_be_visible()
    expect(close).to_be_focused()
    facts = close.evaluate(_OVERLAY_FACTS_JS)
    assert facts == {
        "rootParentIsBody": True,
        "position": "fixed",
        "zIndex": "999999999",
        "rootOpacity": "1",
        # The creative set opacity 0.95 on its iframe: the overlay does not take it.
        "frameOpacity": "1",
        "framePointerEvents": "auto",
        "buttonIsOutsideFrame": True,
        "hitIsButton": True,
        "focused": True,
    }
    assert root.bounding_box() == {
        "x": 0,
        "y": 0,
        "width": VIEWPORT["width"],
        "height": VIEWPORT["height"],
    }
    page.screenshot(path=SCREENSHOT)
    close.click()
    expect(root).to_have_count(0, timeout=EXPECT_TIMEOUT_MS)
    expect(ad.iframe).to_be_visible()

    # Closed by the reader, it does not come back by itself: the ad's own request,
    # with no click in the ad since, is refused. (A resize posted after it is the
    # positive control: once it applied, the request before it was handled.)
    height = ad.iframe.evaluate("f => parseFloat(f.style.height)")
    ad.frame.evaluate("() => window.__openInterstitial()")
    ad.frame.evaluate("(h) => window.__resize(h)", 77)
    expect(ad.iframe).to_have_css("height", "77px")
    expect(page.locator(".kontext-ad-modal")).to_have_count(0)
    ad.frame.evaluate("(h) => window.__resize(h)", height)
    expect(ad.iframe).to_have_css("height", f"{height:g}px")

    # Escape, while the host page has focus (the close button took it on reveal);
    # in the dark theme, for a look at the close button there (throwaway screenshot).
    set_lab_theme(page, "JupyterLab Dark")
    root, _ = _open_interstitial(notebook, ad.frame)
    expect(close).to_be_focused()
    page.screenshot(path=SCREENSHOT_DARK)
    page.keyboard.press("Escape")
    expect(root).to_have_count(0, timeout=EXPECT_TIMEOUT_MS)

    # The creative's own close: close-component-iframe with component "modal".
    root, modal_frame = _open_interstitial(notebook, ad.frame)
    modal_frame.locator("button.creative-close").click()
    expect(root).to_have_count(0, timeout=EXPECT_TIMEOUT_MS)

    # A click inside the interstitial opens its URL too.
    root, modal_frame = _open_interstitial(notebook, ad.frame)
    tab = open_cta_tab(modal_frame, "a.cta")
    try:
        assert tab.url == f"{server.url}/api/click/{ad.bid_id}?area=interstitial"
    finally:
        tab.close()
    notebook_spec.log.wait_for_event(
        "ad.clicked", where=lambda r: r["payload"].get("area") == "interstitial"
    )
    page.get_by_role("button", name="Close ad").click()
    expect(root).to_have_count(0, timeout=EXPECT_TIMEOUT_MS)

    # The view goes (its output cleared) while the interstitial is open: it goes too.
    _open_interstitial(notebook, ad.frame)
    page.evaluate(_CLEAR_OUTPUT_JS, RENDER)
    expect(ad.iframe).to_have_count(0, timeout=EXPECT_TIMEOUT_MS)
    expect(page.locator(".kontext-ad-modal")).to_have_count(0, timeout=EXPECT_TIMEOUT_MS)

    # A new view of the same ad; the ad is destroyed while its interstitial is open.
    notebook.run_cell(REDISPLAY)
    iframe = notebook.output_area(REDISPLAY).locator(f'iframe[src^="{server.url}/api/frame/"]')
    expect(iframe).to_be_visible(timeout=EXPECT_TIMEOUT_MS)
    frame = notebook.frame_of(iframe)
    expect(frame.locator("html")).to_have_attribute(
        "data-state", "rendered", timeout=EXPECT_TIMEOUT_MS
    )
    _open_interstitial(notebook, frame)
    notebook.run_cell(DESTROY)
    assert notebook_spec.log.mark("destroyed")["destroyed"] is True
    expect(page.locator(".kontext-ad-modal")).to_have_count(0, timeout=EXPECT_TIMEOUT_MS)
    expect(iframe).to_have_count(0)

    # Python got no error from any of it, and the page threw nothing.
    errors = notebook_spec.log.events("ad.error")
    assert errors == [], errors
    assert browser_context.page_errors() == []
