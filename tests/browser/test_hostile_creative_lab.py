"""A hostile creative in JupyterLab (issue 8 item 3, docs/protocol.md §13).

The real ad iframe, on the ad server's origin, is made to post what an attacker's
creative would: the same view five times with a fake bid and message id, a
click event whose URL is ``javascript:``, an absurd height, 500 malformed
messages, and style maps that reach out of the output area. Each message takes
the real route (window listener, origin and source checks, comm relay, kernel),
and the damage is looked for where it would show: the iframe's CSS height and
layout, the kernel's events, the ``/error`` reports received.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import expect

from .ad_checks import EXPECT_TIMEOUT_MS, VIEWED_TIMEOUT, render_and_check_mounted
from .notebooks import (
    NotebookSpec,
    dump_cell,
    write_first_turn,
)

pytestmark = pytest.mark.browser

# Posts each message to the frame's parent (the notebook page), as a creative does.
_POST_TO_PARENT_JS = "(messages) => messages.forEach((m) => window.parent.postMessage(m, '*'))"
FAKE_BID = "0190f3c2-7d1e-7a6b-9c3d-2f4e5a6b7c8d"
REPORT_BURST = 10  # kontext_widget._frame.inbound.REPORT_BURST


def _event(name: str, **payload: Any) -> dict[str, Any]:
    return {"type": "event-iframe", "data": {"name": name, "payload": payload, "code": "inlineAd"}}


def _clicked(content: str, url: str) -> dict[str, Any]:
    return _event(
        "ad.clicked",
        id=FAKE_BID,
        content=content,
        messageId="victim",
        url=url,
        format="inline",
        area="cta",
    )


MALFORMED = "Malformed frame message"
RELAY_DROP = "Frame messages not relayed to the kernel: "


def _reports(ad_server: Any, bid_id: str, prefix: str) -> list[Any]:
    """The ``/error`` reports about ``bid_id`` whose text starts with ``prefix``."""
    return [
        r
        for r in ad_server.requests_to("/error")
        if r.json["error"].startswith(prefix) and r.json["additionalData"].get("bidId") == bid_id
    ]


def _wait_for_reports(
    ad_server: Any, bid_id: str, prefix: str, count: int = 1, timeout: float = 15
) -> None:
    deadline = time.monotonic() + timeout
    while len(found := _reports(ad_server, bid_id, prefix)) < count:
        assert time.monotonic() < deadline, (prefix, found)
        time.sleep(0.05)


def test_hostile_creative_is_bounded_in_jupyterlab(
    notebook_spec: NotebookSpec, open_notebook: Any, ad_server: Any
) -> None:
    write_first_turn(
        notebook_spec,
        ad_server.url,
        "conv-lab-hostile",
        dump_cell("after-attack"),
        reply="Waterproof leather boots with a deep lug sole.",
    )
    notebook = open_notebook(notebook_spec.name, "lab")
    notebook.run_cells([0, 1])
    ad = render_and_check_mounted(
        notebook, ad_server, notebook_spec, render_index=2, message_id="a1"
    )
    log = notebook_spec.log
    # The creative's own, genuine view comes first.
    log.wait_for_event(
        "ad.viewed", timeout=VIEWED_TIMEOUT, where=lambda r: r["payload"]["id"] == ad.bid_id
    )

    views = [
        _event("ad.viewed", id=FAKE_BID, content="again", messageId="victim", format="inline")
    ] * 5
    malformed = [{"type": "resize-iframe", "data": {"height": "tall"}}] * 500
    huge = {"type": "resize-iframe", "data": {"height": 1e308}}
    started = time.monotonic()
    ad.frame.evaluate(
        _POST_TO_PARENT_JS,
        [*views, _clicked("hostile", "javascript:alert(document.cookie)"), huge, *malformed],
    )
    # 507 messages at once: the page relays its burst to the kernel and drops the rest
    # (js/relay.ts), telling Python once, which reports it.
    _wait_for_reports(ad_server, ad.bid_id, RELAY_DROP + "rate")
    # Heights: clamped by the host page and by Python alike.
    expect(ad.iframe).to_have_css("height", "10000px", timeout=EXPECT_TIMEOUT_MS)

    # 5 MB in one message: the page acts on it, the kernel never receives it.
    bloated = {"type": "resize-iframe", "data": {"height": 77, "junk": "x" * 5_000_000}}
    ad.frame.evaluate(_POST_TO_PARENT_JS, [bloated])
    _wait_for_reports(ad_server, ad.bid_id, RELAY_DROP + "size")
    expect(ad.iframe).to_have_css("height", "77px", timeout=EXPECT_TIMEOUT_MS)

    # Positive control, posted last (again until the refilling budget lets it through):
    # once it reached the kernel, everything relayed before had.
    def control_arrived() -> bool:
        return any(e["payload"]["content"] == "control" for e in log.events("ad.clicked"))

    deadline = time.monotonic() + 30
    while not control_arrived():
        assert time.monotonic() < deadline, "the control click never reached the kernel"
        ad.frame.evaluate(_POST_TO_PARENT_JS, [_clicked("control", "https://ads.example/ok")])
        retry = time.monotonic() + 0.5
        while time.monotonic() < retry and not control_arrived():
            time.sleep(0.02)
    heights = [e["payload"]["height"] for e in log.events("ad.height")]
    assert max(heights) == 10_000, heights

    # One view for the bid, with our ids, whatever the creative claimed.
    viewed = log.events("ad.viewed")
    assert len(viewed) == 1, viewed
    assert viewed[0]["payload"]["id"] == ad.bid_id
    assert viewed[0]["payload"]["messageId"] == "a1"

    clicks = {e["payload"]["content"]: e["payload"] for e in log.events("ad.clicked")}
    assert "url" not in clicks["hostile"], clicks["hostile"]
    assert clicks["control"]["url"] == "https://ads.example/ok"
    for payload in clicks.values():
        assert (payload["id"], payload["messageId"]) == (ad.bid_id, "a1")

    # 500 malformed messages: the ad's report budget, not 500 reports.
    _wait_for_reports(ad_server, ad.bid_id, MALFORMED, count=REPORT_BURST, timeout=10)
    notebook.run_cell(3)
    elapsed = time.monotonic() - started
    reports = _reports(ad_server, ad.bid_id, MALFORMED)
    assert len(reports) <= REPORT_BURST + int(elapsed / 6), (len(reports), elapsed)

    # The kernel's own history agrees: one ad.viewed, the session still working, and the
    # bloated message's 77 px never arrived.
    dump = log.mark("after-attack")
    assert [e["name"] for e in dump["events"]].count("ad.viewed") == 1
    assert dump["height"] == 10_000

    # Lengths the style allow-list does not bound: widths, negative and huge margins,
    # paddings, a shadow. The host-owned box around the slot clips all of it.
    styles = {
        "containerStyles": {
            "minWidth": "5000px",
            "marginTop": "-3000px",
            "marginBottom": "20000px",
            "paddingLeft": "4000px",
        },
        "iframeStyles": {
            "minWidth": "6000px",
            "marginLeft": "-2000px",
            "boxShadow": "0 0 0 3000px red",
        },
    }
    ad.frame.evaluate(_POST_TO_PARENT_JS, [{"type": "set-styles-iframe", "data": styles}])
    expect(ad.iframe).to_have_css("min-width", "6000px", timeout=EXPECT_TIMEOUT_MS)
    geometry = ad.iframe.evaluate(_GEOMETRY_JS)
    frame, bounds = geometry["frame"], geometry["bounds"]
    # The attack took effect in layout: the frame's box reaches far out of the bounds.
    assert frame["top"] < bounds["top"] - 1000 and frame["right"] > bounds["right"] + 1000, geometry
    # ... and none of it shows or scrolls: no hit above or beside the ad, no overflow.
    assert geometry["hitAbove"] != "IFRAME" and geometry["hitLeft"] != "IFRAME", geometry
    assert bounds["height"] <= 10_000, geometry
    for scroller in ("output", "notebook"):
        assert geometry[scroller]["scrollWidth"] <= geometry[scroller]["clientWidth"], geometry
    notebook.page.screenshot(path="/tmp/kw-hostile-styles.png")


# Where the restyled frame is laid out and what the page shows around its bounds,
# scrolled so that 150 px of the notebook are above the bounds' top.
_GEOMETRY_JS = """(frame) => {
  const bounds = frame.closest('.kontext-ad-bounds');
  const output = frame.closest('.jp-OutputArea-output');
  const notebook = frame.closest('.jp-WindowedPanel-outer');
  bounds.scrollIntoView({ block: 'start' });
  notebook.scrollTop -= 150;
  const b = bounds.getBoundingClientRect();
  const o = output.getBoundingClientRect();
  const hit = (x, y) => document.elementFromPoint(x, y)?.tagName ?? null;
  const size = (el) => ({ scrollWidth: el.scrollWidth, clientWidth: el.clientWidth });
  return {
    frame: frame.getBoundingClientRect().toJSON(),
    bounds: b.toJSON(),
    hitAbove: hit(b.left + 20, b.top - 20),
    hitLeft: hit(Math.max(o.left - 20, 1), b.top + 20),
    output: size(output),
    notebook: size(notebook),
  };
}"""
