"""A hostile creative, tried as an attacker would (issue 8 item 3, docs/protocol.md §13).

The creative is third-party code: everything it posts reaches Python through
the browser relay (``Ad._on_front_end_message``, driven here exactly as the
front end drives it) against a real ``LocalAdServer``, and every attack is
checked where its damage would show: ``session.events``, the event log, the
``/error`` reports the server receives.
"""

from __future__ import annotations

import math
import time

import pytest

import kontext_widget as kw
from kontext_widget._frame.inbound import (
    MAX_FRAME_STRING,
    MAX_HEIGHT,
    REPORT_BURST,
    REPORT_WINDOW,
    FrameProtocol,
    ReportBudget,
    http_url,
)
from kontext_widget._network.wire import Bid

REVENUE = 0.0123  # LocalAdServer's default bid revenue


def post(ad: kw.Ad, message: object, source: str = "inline") -> None:
    """What the front end relays for one accepted frame message."""
    ad._on_front_end_message(
        ad, {"kind": "frame-message", "source": source, "message": message}, []
    )


def creative_event(ad: kw.Ad, name: str, **payload: object) -> None:
    post(ad, {"type": "event-iframe", "data": {"name": name, "payload": payload}})


def events_of(session: kw.Session, kind: type[kw.AdEvent]) -> list[kw.AdEvent]:
    assert session.wait_idle(5)
    return [event for event in session.events if isinstance(event, kind)]


# -- views: once per bid -----------------------------------------------------------------


def test_five_views_count_as_one_view_and_one_revenue(filled: tuple[kw.Session, kw.Ad]) -> None:
    session, ad = filled
    log = session.event_log()
    for index in range(5):
        creative_event(
            ad,
            "ad.viewed",
            id=f"fake-bid-{index}",
            content="Boots",
            messageId="a1",
            format="inline",
            revenue=1000,
        )
    viewed = events_of(session, kw.Viewed)
    assert viewed == [
        kw.Viewed(
            bid_id=ad.bid_id or "",
            content="Boots",
            message_id="a1",
            format="inline",
            revenue=REVENUE,
        )
    ]
    assert log.summary["views"] == 1
    assert log.summary["revenue"] == REVENUE


def test_a_new_ad_for_the_same_bid_cannot_view_it_again(
    filled: tuple[kw.Session, kw.Ad],
) -> None:
    session, ad = filled
    creative_event(ad, "ad.viewed", content="c", messageId="a1", format="inline")
    themed = session.create_ad("a1", theme="dark")  # replaces the ad, same bid
    assert themed.bid_id == ad.bid_id
    creative_event(themed, "ad.viewed", content="c", messageId="a1", format="inline")
    assert len(events_of(session, kw.Viewed)) == 1


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("video.started", kw.VideoStarted),
        ("video.completed", kw.VideoCompleted),
        ("reward.granted", kw.RewardGranted),
    ],
)
def test_a_repeated_video_event_or_reward_counts_once_per_bid(
    filled: tuple[kw.Session, kw.Ad], name: str, kind: type[kw.AdEvent]
) -> None:
    """A creative that grants the reward 50 times must not make the publisher pay 50."""
    session, ad = filled
    for _ in range(50):
        creative_event(ad, name)
    assert events_of(session, kind) == [kind(bid_id=ad.bid_id or "")]


# -- identity fields come from the ad --------------------------------------------------------


def test_message_id_and_bid_id_come_from_the_ad_not_the_creative(
    filled: tuple[kw.Session, kw.Ad],
) -> None:
    session, ad = filled
    other_bid = "0190f3c2-7d1e-7a6b-9c3d-2f4e5a6b7c8d"
    post(ad, {"type": "resize-iframe", "data": {"height": 80, "messageId": "victim"}})
    creative_event(ad, "ad.viewed", id=other_bid, content="c", messageId="victim", format="inline")
    creative_event(
        ad,
        "ad.clicked",
        id=other_bid,
        content="c",
        messageId="victim",
        url="https://ads.example/c",
        format="inline",
        area="cta",
    )
    assert session.wait_idle(5)
    for event in session.events:
        payload = event.payload
        if "messageId" in payload:
            assert payload["messageId"] == "a1", event
        if "id" in payload and not isinstance(event, kw.Filled):
            assert payload["id"] == ad.bid_id, event
    assert {type(event) for event in session.events} >= {kw.AdHeight, kw.Viewed, kw.Clicked}


def test_a_message_for_another_placement_code_is_ignored(
    filled: tuple[kw.Session, kw.Ad],
) -> None:
    session, ad = filled
    before = len(session.events)
    post(
        ad,
        {
            "type": "event-iframe",
            "data": {
                "code": "someoneElsesAd",
                "name": "ad.viewed",
                "payload": {"content": "c", "messageId": "a1", "format": "inline"},
            },
        },
    )
    assert session.wait_idle(5)
    assert len(session.events) == before


# -- click URLs ---------------------------------------------------------------------------

HOSTILE_URLS = [
    "javascript:alert(document.cookie)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "javascript://ads.example/%0aalert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "blob:https://ads.example/uuid",
    "http:ads.example",  # no authority
    "//ads.example/c",  # scheme-relative
    "/api/click",
    "https://ads.example/\nSet-Cookie: x",
    "https://[::1",  # unbalanced bracket
    "https://ads.example/" + "a" * 5000,  # too long to be kept whole
    "",
]


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_click_url_is_kept_only_if_http(filled: tuple[kw.Session, kw.Ad], url: str) -> None:
    session, ad = filled
    creative_event(
        ad, "ad.clicked", content="c", messageId="a1", url=url, format="inline", area="cta"
    )
    clicked = events_of(session, kw.Clicked)
    assert len(clicked) == 1
    assert clicked[0].url is None  # type: ignore[attr-defined]
    assert "url" not in clicked[0].payload
    assert "url=" not in session.event_log().rows[-1]["details"]


@pytest.mark.parametrize(
    "url", ["https://ads.example/c?q=1#x", "HTTP://ADS.EXAMPLE", "http://[::1]:8080/c"]
)
def test_http_click_urls_are_kept(filled: tuple[kw.Session, kw.Ad], url: str) -> None:
    session, ad = filled
    creative_event(
        ad, "ad.clicked", content="c", messageId="a1", url=url, format="inline", area="cta"
    )
    assert events_of(session, kw.Clicked)[0].payload["url"] == url


def test_http_url_never_raises() -> None:
    for value in (None, 3, b"https://x", "https://x" + "\x00", "h" * 10_000, "https://"):
        assert http_url(value) is None


# -- /error reports: rate-limited per ad -----------------------------------------------------

MALFORMED: list[object] = [
    None,
    "resize-iframe",
    ["resize-iframe"],
    {"type": 7},
    {"type": "resize-iframe", "data": "x"},
    {"type": "resize-iframe", "data": {"height": "tall"}},
    {"type": "resize-iframe", "data": {"height": -5}},
    {"type": "event-iframe", "data": {"name": 3}},
    {"type": "event-iframe", "data": {"name": "ad.viewed", "payload": {"content": 1}}},
    {"type": "event-iframe", "data": {"name": "ad.clicked", "payload": {}}},
]


def error_reports(server: kw.LocalAdServer) -> list[str]:
    return [request.json["error"] for request in server.requests_to("/error")]


def test_five_hundred_malformed_messages_send_at_most_ten_reports(
    filled: tuple[kw.Session, kw.Ad], server: kw.LocalAdServer
) -> None:
    session, ad = filled
    started = time.monotonic()
    for index in range(500):
        post(ad, MALFORMED[index % len(MALFORMED)])
    for _ in range(100):
        ad._on_front_end_message(
            ad, {"kind": "click-failed", "url": "javascript:x", "reason": "scheme"}, []
        )
    server.wait_for_request("/error", count=REPORT_BURST)
    assert session.wait_idle(5)  # covers every report already started (docs/protocol.md §2.3)
    elapsed = time.monotonic() - started
    allowed = REPORT_BURST + math.floor(elapsed / (REPORT_WINDOW / REPORT_BURST))
    reports = error_reports(server)
    assert REPORT_BURST <= len(reports) <= allowed, reports
    # The ad still works after the flood.
    post(ad, {"type": "resize-iframe", "data": {"height": 42}})
    assert session.wait_idle(5)
    assert ad.height == 42.0


def test_each_ad_has_its_own_report_budget(
    server: kw.LocalAdServer, filled: tuple[kw.Session, kw.Ad]
) -> None:
    session, ad = filled
    session.add_message({"id": "u2", "role": "user", "content": "more"})
    session.add_message({"id": "a2", "role": "assistant", "content": "More!"})
    assert session.wait_idle(10)
    second = session.create_ad("a2")
    for _ in range(50):
        post(ad, None)
        post(second, None)
    server.wait_for_request("/error", count=2 * REPORT_BURST)
    assert session.wait_idle(5)  # any report beyond the budgets would have arrived by now
    bids = [request.json["additionalData"]["bidId"] for request in server.requests_to("/error")]
    assert sorted({bids.count(ad.bid_id), bids.count(second.bid_id)}) == [REPORT_BURST]


def test_report_budget_refills_at_ten_a_minute() -> None:
    now = [0.0]
    budget = ReportBudget(clock=lambda: now[0])
    assert sum(budget.take() for _ in range(100)) == REPORT_BURST
    now[0] += 5.9
    assert not budget.take()
    now[0] += 0.1  # 6 s: one more
    assert budget.take() and not budget.take()
    now[0] += 3600  # an hour later: a full burst, never more
    assert sum(budget.take() for _ in range(100)) == REPORT_BURST


# -- heights and strings ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("height", "expected"),
    [(1e308, MAX_HEIGHT), (10**400, MAX_HEIGHT), (99_999, MAX_HEIGHT), (10_000, 10_000.0)],
)
def test_huge_heights_are_clamped(
    filled: tuple[kw.Session, kw.Ad], height: float, expected: float
) -> None:
    session, ad = filled
    post(ad, {"type": "resize-iframe", "data": {"height": height}})
    heights = events_of(session, kw.AdHeight)
    assert ad.height == expected
    assert [event.height for event in heights] == [expected]  # type: ignore[attr-defined]


@pytest.mark.parametrize("height", [math.inf, -math.inf, math.nan, -1, -(10**400)])
def test_non_finite_or_negative_heights_are_dropped(
    filled: tuple[kw.Session, kw.Ad], height: float
) -> None:
    session, ad = filled
    post(ad, {"type": "resize-iframe", "data": {"height": 50}})
    post(ad, {"type": "resize-iframe", "data": {"height": height}})
    assert session.wait_idle(5)
    assert ad.height == 50.0
    assert len(events_of(session, kw.AdHeight)) == 1


def test_long_strings_from_the_creative_are_cut(filled: tuple[kw.Session, kw.Ad]) -> None:
    session, ad = filled
    huge = "x" * 1_000_000
    creative_event(ad, "ad.viewed", content=huge, messageId=huge, format=huge)
    post(ad, {"type": "error-component-iframe", "data": {"message": huge, "errorType": huge}})
    assert session.wait_idle(5)
    viewed = events_of(session, kw.Viewed)[0]
    assert len(viewed.content) == len(viewed.format) == MAX_FRAME_STRING  # type: ignore[attr-defined]
    error = events_of(session, kw.AdError)[-1]
    assert len(error.message) == len(error.err_code) == MAX_FRAME_STRING  # type: ignore[attr-defined]


def test_frame_protocol_alone_clamps_and_takes_ids_from_the_ad() -> None:
    """The same rules without a session: what any relay (e.g. a headless viewer) gets."""
    frame = FrameProtocol("inlineAd", "a1")
    frame.bid = Bid("0190f3c2-7d1e-7a6b-9c3d-2f4e5a6b7c8d", "inlineAd", 0.5)
    resized = frame.handle({"type": "resize-iframe", "data": {"height": 1e308}})
    assert resized.height == MAX_HEIGHT
    clicked = frame.handle(
        {
            "type": "event-iframe",
            "data": {
                "name": "ad.clicked",
                "payload": {
                    "content": "c",
                    "messageId": "victim",
                    "url": "javascript:alert(1)",
                    "format": "inline",
                    "area": "cta",
                },
            },
        }
    )
    assert clicked.events == [
        kw.Clicked(
            bid_id=frame.bid.bid_id,
            content="c",
            message_id="a1",
            url=None,
            format="inline",
            area="cta",
        )
    ]
