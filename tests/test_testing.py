"""``testing.HeadlessViewer`` against a real LocalAdServer, through the browser-relay handler."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import kontext_widget as kw
from kontext_widget._frame import inbound as _frame_messages
from kontext_widget.testing import DEFAULT_HEIGHT, HeadlessViewer


@pytest.fixture
def events() -> list[kw.AdEvent]:
    return []


@pytest.fixture
def session(server: kw.LocalAdServer, events: list[kw.AdEvent]) -> Iterator[kw.Session]:
    server.fill(revenue=0.25)
    with kw.create_session(
        publisher_token="pub-test",
        user_id="user-1",
        conversation_id="conv-1",
        ad_server_url=server.url,
        on_event=events.append,
    ) as created:
        yield created


def _filled_ad(session: kw.Session, code: str = "inlineAd") -> kw.Ad:
    turn = session.chat_turn("Which running shoes?", "Trail runners.", display=False, code=code)
    assert turn.ad.bid_id is not None
    return turn.ad


def _names(session: kw.Session) -> list[str]:
    return [event.name for event in session.events]


def test_render_reports_start_height_and_completion(session: kw.Session) -> None:
    ad = _filled_ad(session)
    HeadlessViewer(ad).render(height=90)
    assert _names(session) == [
        "ad.filled",
        "ad.render-started",
        "ad.height",
        "ad.render-completed",
    ]
    height = session.events[2]
    assert height == kw.AdHeight(bid_id=ad.bid_id or "", message_id="a1", height=90.0)
    assert ad.height == 90.0
    assert ad.visible is True


def test_view_and_click_carry_the_bid_and_reach_on_event(
    session: kw.Session, events: list[kw.AdEvent], server: kw.LocalAdServer
) -> None:
    ad = _filled_ad(session)
    viewer = HeadlessViewer(ad, content="Trail shoes, 20% off")
    viewer.view().click(url="https://shop.example/shoes", fallback_url="https://example.com")
    viewer.view()  # a creative reports a view once
    session.wait_idle()
    bid_id = ad.bid_id or ""
    viewed = kw.Viewed(
        bid_id=bid_id, content="Trail shoes, 20% off", message_id="a1", format="inline",
        revenue=0.25,
    )  # fmt: skip
    clicked = kw.Clicked(
        bid_id=bid_id, content="Trail shoes, 20% off", message_id="a1",
        url="https://shop.example/shoes", format="inline", area="body",
    )  # fmt: skip
    assert [e.name for e in events] == [
        "ad.filled",
        "ad.render-started",  # view() drew the creative first, as a real one is
        "ad.height",
        "ad.render-completed",
        "ad.viewed",
        "ad.clicked",
    ]
    assert events[-2:] == [viewed, clicked]
    assert ad.height == DEFAULT_HEIGHT


def test_the_default_click_url_is_the_ad_servers_click_page(
    session: kw.Session, server: kw.LocalAdServer
) -> None:
    ad = _filled_ad(session, code="inlineAd")
    HeadlessViewer(ad).click(area="cta")
    clicked = session.events[-1]
    assert isinstance(clicked, kw.Clicked)
    assert clicked.url.startswith(f"{server.url}/api/click/{ad.bid_id}?")
    assert "messageId=a1" in clicked.url
    assert clicked.area == "cta"


def test_format_follows_the_placement_code(server: kw.LocalAdServer) -> None:
    with kw.create_session(
        publisher_token="p",
        user_id="u",
        conversation_id="c",
        ad_server_url=server.url,
        enabled_placement_codes=["videoAd"],
    ) as session:
        ad = _filled_ad(session, code="videoAd")
        HeadlessViewer(ad).view()
        viewed = session.events[-1]
        assert isinstance(viewed, kw.Viewed)
        assert viewed.format == "video"


def test_every_message_goes_through_the_browser_relay_handler(
    session: kw.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The viewer feeds Ad._on_front_end_message -> FrameProtocol.handle, like js/view.ts does."""
    ad = _filled_ad(session)
    handled: list[tuple[str, str]] = []
    messages: list[dict[str, Any]] = []
    original = _frame_messages.FrameProtocol.handle

    def spy(self: Any, message: object, source: str = "inline") -> Any:
        assert isinstance(message, dict)
        handled.append((message["type"], message["data"]["code"]))
        messages.append(message)
        return original(self, message, source)

    monkeypatch.setattr(_frame_messages.FrameProtocol, "handle", spy)
    HeadlessViewer(ad).render().view().click(fallback_url="https://example.com/")
    assert [kind for kind, _code in handled] == [
        "init-iframe",
        "event-iframe",
        "show-iframe",
        "resize-iframe",
        "ad-done-iframe",
        "event-iframe",
        "view-iframe",
        "event-iframe",
        "click-iframe",
        "event-iframe",
    ]
    assert {code for _kind, code in handled} == {"inlineAd"}
    # Each message carries the official fields of its type and event (js/vocabulary.ts).
    vocabulary = _frame_messages.FRAME_VOCABULARY
    for message in messages:
        data = dict(message["data"])
        data.pop("code")
        assert set(data) <= set(vocabulary["frame_data_fields"][message["type"]]), message
        if message["type"] == "event-iframe":
            payload_fields = vocabulary["frame_event_fields"][data["name"]]
            assert set(data["payload"]) <= set(payload_fields), message


def test_the_handlers_rules_apply_render_events_once(session: kw.Session) -> None:
    ad = _filled_ad(session)
    HeadlessViewer(ad).render(height=90)
    HeadlessViewer(ad).render(height=90)  # same height, render events already emitted
    assert _names(session).count("ad.render-started") == 1
    assert _names(session).count("ad.height") == 1


def test_viewers_of_one_ad_share_its_creative(session: kw.Session) -> None:
    ad = _filled_ad(session)
    HeadlessViewer(ad).view()
    HeadlessViewer(ad).view()
    assert _names(session).count("ad.viewed") == 1


def test_the_event_log_and_streams_see_what_the_viewer_did(session: kw.Session) -> None:
    ad = _filled_ad(session)
    log = session.event_log()
    stream = session.stream_events()
    HeadlessViewer(ad).view().click()
    session.wait_idle()
    summary = log.summary
    assert (summary["views"], summary["clicks"], summary["revenue"]) == (1, 1, 0.25)
    session.destroy()

    async def drain() -> list[str]:
        return [event.name async for event in stream]

    assert asyncio.run(drain()) == [
        "ad.render-started",
        "ad.height",
        "ad.render-completed",
        "ad.viewed",
        "ad.clicked",
    ]


def test_no_bid_no_creative(server: kw.LocalAdServer) -> None:
    server.no_fill("ads_disabled")
    with kw.create_session(
        publisher_token="p", user_id="u", conversation_id="c", ad_server_url=server.url
    ) as session:
        turn = session.chat_turn("hi", "hello", display=False)
        with pytest.raises(kw.KontextError, match="has no bid yet"):
            HeadlessViewer(turn.ad)


def test_a_destroyed_ad_has_no_creative(session: kw.Session) -> None:
    ad = _filled_ad(session)
    viewer = HeadlessViewer(ad)
    ad.destroy()
    with pytest.raises(kw.KontextError, match="destroyed"):
        viewer.view()
    with pytest.raises(kw.KontextError, match="destroyed"):
        HeadlessViewer(ad)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda ad: HeadlessViewer("ad"), "needs a kontext_widget.Ad"),  # type: ignore[arg-type]
        (lambda ad: HeadlessViewer(ad, content=3), "content must be"),
        (lambda ad: HeadlessViewer(ad).render(height="90"), "height must be"),
        (lambda ad: HeadlessViewer(ad).click(url=b"https://x"), "url must be"),
    ],
)
def test_bad_arguments_are_named(session: kw.Session, call: Any, error: str) -> None:
    ad = _filled_ad(session)
    with pytest.raises(TypeError, match=error):
        call(ad)


# -- automatic viewing ----------------------------------------------------------------------------


def test_displayed_ads_are_viewed_automatically(
    session: kw.Session, kontext_headless_viewer: None
) -> None:
    ad = _filled_ad(session)
    assert _names(session) == ["ad.filled"]  # created, not displayed: nothing
    ad._repr_mimebundle_()  # what display(ad) / ad.mount() call
    ad._repr_mimebundle_()  # displayed twice: still one creative
    assert _names(session) == [
        "ad.filled",
        "ad.render-started",
        "ad.height",
        "ad.render-completed",
        "ad.viewed",
    ]


def test_an_ad_displayed_before_its_bid_is_viewed_when_the_bid_arrives(
    server: kw.LocalAdServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KONTEXT_HEADLESS_VIEWER", "1")
    server.delay(0.3, times=1)
    viewed = threading.Event()
    with kw.create_session(
        publisher_token="p",
        user_id="u",
        conversation_id="c",
        ad_server_url=server.url,
        on_event=lambda e: viewed.set() if e.name == "ad.viewed" else None,
    ) as session:
        turn = session.chat_turn("hi", "hello", display=False, wait=None)
        turn.ad._repr_mimebundle_()
        assert _names(session) == []
        assert viewed.wait(10)
        assert _names(session)[-1] == "ad.viewed"


def test_without_the_switch_displaying_views_nothing(session: kw.Session) -> None:
    ad = _filled_ad(session)
    ad._repr_mimebundle_()
    assert _names(session) == ["ad.filled"]
