"""The ad widget in JupyterLab 4, against the real bundle, LocalAdServer and creative.

One notebook serves the checks of this module (opening a notebook and starting a
kernel dominates the run time); its cells are written up front and each test runs
the ones it needs. The tests run in file order; each relies only on the ad being
rendered (``core.rendered()`` does that, with its own checks, on first use), except
the last one, which destroys the ad. The interstitial gets a notebook of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Frame, expect

from kontext_widget._local_server import LocalAdServer

from .ad_checks import (
    EXPECT_TIMEOUT_MS,
    RenderedAd,
    ad_iframes,
    check_events_in_session_history,
    check_render_events_reached_python,
    render_and_check_mounted,
)
from .host_checks import check_click_opens_tab_without_opener
from .jupyter import JupyterServer, NotebookPage
from .notebooks import (
    NotebookSpec,
    dump_cell,
    user_message_cell,
    write_first_turn,
)
from .pages import VIEWPORT, BrowserTab

pytestmark = pytest.mark.browser

CONVERSATION = "conv-lab-core"

# Cell indices of the shared notebook.
SESSION, USER, RENDER, DUMP, TYPING, NEXT_USER, REDISPLAY, DESTROY = range(8)


@dataclass
class CoreNotebook:
    notebook: NotebookPage
    spec: NotebookSpec
    ad_server: Any
    _ad: RenderedAd | None = None

    def rendered(self) -> RenderedAd:
        """The rendered ad; the first call runs the render cell and checks 1 and 2."""
        if self._ad is None:
            self._ad = render_and_check_mounted(
                self.notebook, self.ad_server, self.spec, render_index=RENDER, message_id="a1"
            )
        return self._ad

    @property
    def page(self) -> Any:
        return self.notebook.page


@pytest.fixture(scope="module")
def core(
    module_context: BrowserTab,
    jupyter_server: JupyterServer,
    local_ad_server: Any,
    kernel_logs: Any,
) -> Iterator[CoreNotebook]:
    local_ad_server.reset()
    spec = NotebookSpec.new("lab-core", jupyter_server.root_dir, kernel_logs)
    write_first_turn(
        spec,
        local_ad_server.url,
        CONVERSATION,
        dump_cell("after-view"),
        'session.send_user_event("user.typing.started")',
        user_message_cell("u2", "And which socks keep feet dry?"),
        "display(ad)",
        'ad.destroy()\nmark("destroyed", destroyed=ad.destroyed)',
    )
    page = module_context.new_page("lab")
    notebook = NotebookPage.open(page, jupyter_server, spec.name, "lab")
    notebook.run_cells([SESSION, USER])
    yield CoreNotebook(notebook, spec, local_ad_server)
    notebook.close()


def preloads_of(ad_server: Any, conversation_id: str) -> list[Any]:
    """The /preload requests of one conversation (the LocalAdServer is shared)."""
    return [
        r
        for r in ad_server.requests_to("/preload")
        if isinstance(r.json, dict) and r.json.get("conversationId") == conversation_id
    ]


def test_ad_iframe_mounted_in_its_cell_output_and_rendered(core: CoreNotebook) -> None:
    ad = core.rendered()
    # The ad sits under cell RENDER, not under any other cell.
    for index in (SESSION, USER):
        expect(core.notebook.output_area(index).locator("iframe")).to_have_count(0)
    assert ad.bid_id in core.ad_server.bids


def test_render_events_reach_python(core: CoreNotebook) -> None:
    ad = core.rendered()
    check_render_events_reached_python(core.spec, ad.bid_id)
    core.notebook.run_cell(DUMP)
    dump = core.spec.log.mark("after-view")
    assert dump["bid_id"] == ad.bid_id
    check_events_in_session_history(dump, ad.bid_id, "a1")
    # The height Python mirrors is the one the front end applied to the iframe.
    css_height = ad.iframe.evaluate("f => parseFloat(f.style.height)")
    assert css_height == dump["height"]


def test_browser_facts_reach_the_next_preload(core: CoreNotebook) -> None:
    core.rendered()
    first = preloads_of(core.ad_server, CONVERSATION)[0].json["device"]
    assert "screen" not in first, f"the preload before any view already had screen facts: {first}"
    core.notebook.run_cell(NEXT_USER)
    device = preloads_of(core.ad_server, CONVERSATION)[-1].json["device"]
    assert device["screen"]["width"] == core.page.evaluate("screen.width") == 1920
    assert device["screen"]["height"] == core.page.evaluate("screen.height") == 1200
    assert device["screen"]["dpr"] == core.page.evaluate("devicePixelRatio") == 1
    assert device["network"]["userAgent"] == core.page.evaluate("navigator.userAgent")
    assert device["hardware"] == {"type": "desktop"}


def test_user_event_reaches_the_creative(core: CoreNotebook) -> None:
    ad = core.rendered()
    typing = ad.frame.locator("#typing")
    expect(typing).to_be_hidden()
    core.notebook.run_cell(TYPING)
    # The creative shows its indicator for 3 s after user-event-iframe.
    expect(typing).to_be_visible(timeout=EXPECT_TIMEOUT_MS)


# Posts each message to the frame's parent (the notebook page), as a creative would.
_POST_TO_PARENT_JS = "(messages) => messages.forEach((m) => window.parent.postMessage(m, '*'))"

_INJECT_FRAME_JS = """
([id, src]) => new Promise((resolve) => {
  const frame = document.createElement('iframe');
  frame.id = id;
  frame.src = src;
  frame.style.cssText = 'position:fixed;left:0;bottom:0;width:200px;height:100px;border:0';
  frame.addEventListener('load', () => resolve(true), { once: true });
  document.body.append(frame);
})
"""


def _inject_frame(page: Any, element_id: str, src: str) -> Frame:
    page.evaluate(_INJECT_FRAME_JS, [element_id, src])
    frame = page.locator(f"#{element_id}").element_handle().content_frame()
    assert frame is not None
    return frame


def test_foreign_messages_are_ignored(core: CoreNotebook) -> None:
    ad = core.rendered()
    page = core.page
    original_height = ad.iframe.evaluate("f => parseFloat(f.style.height)")
    ad.iframe.evaluate(
        """f => {
          window.__kwHeights = [];
          new MutationObserver(() => window.__kwHeights.push(f.style.height))
            .observe(f, { attributes: true, attributeFilter: ['style'] });
        }"""
    )
    pages_before = len(page.context.pages)

    def resize(height: int, **data: str) -> dict[str, Any]:
        return {"type": "resize-iframe", "data": {"height": height, "code": "inlineAd", **data}}

    def clicked(code: str = "inlineAd") -> dict[str, Any]:
        payload = {
            "id": ad.bid_id,
            "content": "intruder",
            "messageId": "a1",
            "url": "http://127.0.0.1:9/intruder",
            "format": "inline",
            "area": "intruder",
        }
        return {
            "type": "event-iframe",
            "data": {"name": "ad.clicked", "payload": payload, "code": code},
        }

    open_tab = {
        "type": "click-iframe",
        "data": {
            "id": ad.bid_id,
            "content": "intruder",
            "url": f"/api/click/{ad.bid_id}?area=intruder",
            "code": "inlineAd",
        },
    }
    # The notebook page itself: the right shape from the wrong origin and source.
    page.evaluate(
        "(messages) => messages.forEach((m) => window.postMessage(m, '*'))",
        [resize(911), clicked(), open_tab],
    )
    # Another frame on the ad server's own origin: right origin, wrong source.
    same_origin = _inject_frame(page, "kw-intruder-same-origin", f"{core.ad_server.url}/")
    same_origin.evaluate(_POST_TO_PARENT_JS, [resize(912), clicked(), open_tab])
    # A frame on another loopback origin.
    with LocalAdServer() as other:
        foreign = _inject_frame(page, "kw-intruder-other-origin", f"{other.url}/")
        foreign.evaluate(_POST_TO_PARENT_JS, [resize(913), clicked(), open_tab])
    # The ad's own frame, but for another placement code. (A `component` does not
    # matter from the inline frame: its handler has none, docs/protocol.md §6.1.)
    ad.frame.evaluate(
        _POST_TO_PARENT_JS,
        [resize(914, code="otherCode"), clicked("otherCode")],
    )
    # Positive control, posted last by the ad frame itself: it must get through, so
    # the route above was live and everything before it has been dispatched.
    ad.frame.evaluate(_POST_TO_PARENT_JS, [resize(321)])
    core.spec.log.wait_for_event("ad.height", where=lambda r: r["payload"]["height"] == 321)
    expect(ad.iframe).to_have_css("height", "321px")

    heights = page.evaluate("window.__kwHeights")
    for bad in range(911, 915):
        assert f"{bad}px" not in heights, f"a foreign message set the height: {heights}"
    for event in core.spec.log.events():
        assert event["payload"].get("content") != "intruder", f"foreign event reached {event}"
        if event["name"] == "ad.height":
            assert not 911 <= event["payload"]["height"] <= 914, event
    assert len(page.context.pages) == pages_before, "a foreign click-iframe opened a tab"

    ad.frame.evaluate(_POST_TO_PARENT_JS, [resize(int(original_height))])
    page.evaluate("() => document.querySelectorAll('[id^=kw-intruder]').forEach((f) => f.remove())")
    expect(ad.iframe).to_have_css("height", f"{int(original_height)}px")


def test_click_opens_landing_tab_without_opener(core: CoreNotebook) -> None:
    ad, log = core.rendered(), core.spec.log
    check_click_opens_tab_without_opener(ad, core.ad_server, log, host="lab")


def test_second_display_adds_no_second_iframe(core: CoreNotebook) -> None:
    ad = core.rendered()
    frame_loads = len(core.ad_server.requests_to(f"/api/frame/{ad.bid_id}"))
    core.notebook.run_cell(REDISPLAY)
    second = core.notebook.output_area(REDISPLAY).locator(".kontext-ad-slot")
    expect(second).to_have_count(1, timeout=EXPECT_TIMEOUT_MS)  # the second view did render
    expect(second.locator("iframe")).to_have_count(0)
    expect(ad_iframes(core.page, core.ad_server)).to_have_count(1)
    expect(core.notebook.output_area(RENDER).locator("iframe")).to_have_count(1)
    assert len(core.ad_server.requests_to(f"/api/frame/{ad.bid_id}")) == frame_loads
    started = core.spec.log.events("ad.render-started")
    assert len(started) == 1, started


def test_destroy_removes_the_iframe(core: CoreNotebook) -> None:
    core.rendered()
    core.notebook.run_cell(DESTROY)
    assert core.spec.log.mark("destroyed")["destroyed"] is True
    expect(ad_iframes(core.page, core.ad_server)).to_have_count(0, timeout=EXPECT_TIMEOUT_MS)
    expect(core.page.locator(".kontext-ad-slot iframe")).to_have_count(0)


def test_no_uncaught_errors_in_the_lab_page(module_context: BrowserTab, core: CoreNotebook) -> None:
    # Last of the shared notebook's tests: everything above ran in this page. (A clean
    # JupyterLab page has none, so any error here comes from the widget or creative.)
    assert module_context.page_errors() == []


def test_interstitial_opens_and_closes_the_modal_overlay(
    notebook_spec: NotebookSpec, open_notebook: Any, ad_server: Any, browser_context: BrowserTab
) -> None:
    code = "interstitialAd"
    write_first_turn(notebook_spec, ad_server.url, "conv-lab-interstitial", code=code)
    notebook = open_notebook(notebook_spec.name, "lab")
    notebook.run_cells([0, 1])
    ad = render_and_check_mounted(
        notebook, ad_server, notebook_spec, render_index=2, message_id="a1", code=code
    )
    page = notebook.page
    modal = page.locator(f'iframe[src^="{ad_server.url}/api/modal/{ad.bid_id}?"]')
    expect(modal).to_have_count(1, timeout=EXPECT_TIMEOUT_MS)
    # Hidden until the modal page sent init-component-iframe, then over everything,
    # in the host's own overlay (a child of <body>) with the host's close button.
    expect(modal).to_be_visible(timeout=EXPECT_TIMEOUT_MS)
    style = modal.evaluate(
        """f => {
          const root = f.parentElement;
          const s = getComputedStyle(root);
          const parentIsBody = root.parentElement === document.body;
          return {position: s.position, zIndex: s.zIndex, parentIsBody};
        }"""
    )
    assert style == {"position": "fixed", "zIndex": "999999999", "parentIsBody": True}
    box = modal.bounding_box()
    assert box == {"x": 0, "y": 0, "width": VIEWPORT["width"], "height": VIEWPORT["height"]}
    expect(page.get_by_role("button", name="Close ad")).to_be_visible()
    page.screenshot(path="/tmp/kontext-local-interstitial.png")
    assert f"componentParams=%7B%22bidId%22%3A%22{ad.bid_id}%22%7D" in (
        modal.get_attribute("src") or ""
    )

    modal_frame = notebook.frame_of(modal)
    modal_frame.locator("button.close").click()
    expect(modal).to_have_count(0, timeout=EXPECT_TIMEOUT_MS)
    expect(ad.iframe).to_be_visible()
    assert browser_context.page_errors() == []
