"""Checks shared by the marimo and Voilà tests: one ad under one reply, its events, its click.

Unlike ``ad_checks.py`` these do not drive cells: marimo and Voilà run the whole
notebook or app themselves when the page opens. So each check starts from the
page as the host rendered it, and finds the ad under the element that shows the
reply text.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from playwright.sync_api import Frame, Locator, Page, expect

from .ad_checks import (
    EXPECT_TIMEOUT_MS,
    RenderedAd,
    frame_prefix,
    wait_for_box,
    wait_for_js_value,
)
from .notebooks import KernelLog
from .timings import record_timing


def frame_of(iframe: Locator) -> Frame:
    frame = iframe.element_handle(timeout=EXPECT_TIMEOUT_MS).content_frame()
    if frame is None:
        raise AssertionError("the ad iframe has no content frame")
    return frame


@dataclass
class HostPage:
    """A page a host rendered by running the whole notebook or app itself.

    ``output`` is the selector of the host's cell output elements; ``reply`` the
    reply text the ad must sit under; ``timeout_ms`` how long the host may take
    to run the notebook and show that reply.
    """

    host: str
    page: Any
    log: KernelLog
    ad_server: Any
    output: str
    reply: str
    timeout_ms: float

    @cached_property
    def ad(self) -> RenderedAd:
        """The rendered ad, checked once (on first use) to sit under the reply."""
        output = self.page.locator(self.output).filter(has_text=self.reply)
        reply = output.get_by_text(self.reply)
        expect(reply).to_be_visible(timeout=self.timeout_ms)  # the host ran the notebook
        return check_ad_under_reply(
            self.page, self.ad_server, self.log, reply=reply, container=output
        )


def check_ad_under_reply(
    page: Any, ad_server: Any, log: KernelLog, *, reply: Locator, container: Locator
) -> RenderedAd:
    """The ad rendered in ``container`` (the reply's output), below ``reply``, at its bid's URL."""
    rendered = log.wait_for(
        lambda r: r["kind"] == "mark" and r["name"] == "rendered",
        timeout=EXPECT_TIMEOUT_MS / 1000,
        what="the 'rendered' mark",
    )
    bid_id = rendered["bid_id"]
    assert bid_id, f"the ad got no bid: {rendered}"
    assert bid_id in ad_server.bids, f"bid {bid_id} was not served by the LocalAdServer"
    expected_src = f"{ad_server.url}/api/frame/{bid_id}?code=inlineAd&messageId=a1&sdk=sdk-js"
    assert rendered["iframe_url"] == expected_src

    iframe = container.locator(f'iframe[src^="{frame_prefix(ad_server)}"]')
    expect(iframe).to_have_count(1, timeout=EXPECT_TIMEOUT_MS)
    assert iframe.get_attribute("src") == expected_src
    expect(page.locator(f'iframe[src="{expected_src}"]')).to_have_count(1)  # nowhere else

    expect(iframe).to_be_visible(timeout=EXPECT_TIMEOUT_MS)
    frame = frame_of(iframe)
    expect(frame.locator("html")).to_have_attribute(
        "data-state", "rendered", timeout=EXPECT_TIMEOUT_MS
    )
    expect(frame.locator("#ad .because")).to_contain_text("Because you asked about")
    box = wait_for_box(iframe)
    reply_box = reply.bounding_box()
    assert reply_box is not None, "the reply is not rendered"
    assert box["y"] >= reply_box["y"] + reply_box["height"] - 1, (
        f"the ad ({box}) is not under the reply ({reply_box})"
    )
    return RenderedAd(bid_id, iframe, frame)


def check_visible_at_creative_height(ad: RenderedAd, log: KernelLog) -> float:
    """The iframe is as tall as the creative asked (``ad.height`` as Python received it)."""
    event = log.wait_for_event(
        "ad.height",
        timeout=EXPECT_TIMEOUT_MS / 1000,
        where=lambda r: r["payload"]["id"] == ad.bid_id,
    )
    height = float(event["payload"]["height"])
    assert height > 0
    expect(ad.iframe).to_have_css("height", f"{height:g}px")
    assert abs(wait_for_box(ad.iframe)["height"] - height) <= 1
    # What the creative measured itself (it asked for its document's height).
    creative = ad.frame.evaluate("() => document.documentElement.getBoundingClientRect().height")
    assert abs(creative - height) <= 1, (creative, height)
    return height


def open_cta_tab(frame: Frame, cta: str = "#ad a.cta") -> Page:
    """Click the creative's CTA (selector ``cta``) in ``frame``; the tab it opened, loaded."""
    with frame.page.context.expect_page() as opened:
        frame.locator(cta).click()
    tab = opened.value
    tab.wait_for_load_state()
    return tab


def check_click_opens_tab_without_opener(
    ad: RenderedAd, ad_server: Any, log: KernelLog, *, host: str
) -> None:
    """Clicking the creative's CTA opens the landing page with no opener nor referrer,
    and ``ad.clicked`` with that URL reaches Python (the time it took is recorded for
    ``host``)."""
    ad.frame.evaluate(
        "() => document.addEventListener('click', () => { window.__kwClickAt = Date.now(); }, true)"
    )
    tab = open_cta_tab(ad.frame)
    try:
        assert tab.url.startswith(f"{ad_server.url}/api/click/{ad.bid_id}?"), tab.url
        assert tab.evaluate("window.opener") is None
        expect(tab.locator("h1.product")).not_to_be_empty()
    finally:
        tab.close()
    clicked = log.wait_for_event("ad.clicked", where=lambda r: r["payload"].get("id") == ad.bid_id)
    payload = clicked["payload"]
    assert payload["url"] == tab.url
    assert payload["area"] == "cta"
    assert payload["messageId"] == "a1"
    assert payload["format"] == "inline"
    click_at = wait_for_js_value(ad.frame, "window.__kwClickAt")
    record_timing(f"iframe click -> Python on_event ({host})", clicked["t"] - click_at / 1000)
    landing = ad_server.requests_to(f"/api/click/{ad.bid_id}")
    assert len(landing) == 1
    assert "Referer" not in landing[0].headers, "the click leaked the page's URL as referrer"


def check_destroy_button_removes_the_ad(host: HostPage) -> RenderedAd:
    """The page's "Destroy the ad" button (its handler calls ``ad.destroy()`` and marks
    ``destroyed``) removes the ad's iframe; the destroyed ad, for further checks."""
    ad = host.ad
    host.page.get_by_role("button", name="Destroy the ad").click()
    destroyed = host.log.wait_for(
        lambda r: r["kind"] == "mark" and r["name"] == "destroyed", what="the 'destroyed' mark"
    )
    assert destroyed["destroyed"] is True
    expect(ad.iframe).to_have_count(0, timeout=EXPECT_TIMEOUT_MS)
    return ad
