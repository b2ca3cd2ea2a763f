"""Frame -> host messages mapped to public events (docs/protocol.md §6.5), without a browser."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import kontext_widget as kw
from kontext_widget._frame.inbound import FrameProtocol
from kontext_widget._network.wire import Bid

BID = Bid("0190f3c2-7d1e-7a6b-9c3d-2f4e5a6b7c8d", "inlineAd", 0.25)


def protocol(with_bid: bool = True) -> FrameProtocol:
    frame = FrameProtocol("inlineAd", "a1")
    if with_bid:
        frame.bid = BID
    return frame


def msg(kind: str, **data: object) -> dict[str, object]:
    return {"type": kind, "data": data}


def event(name: str, **payload: object) -> dict[str, object]:
    return msg("event-iframe", name=name, payload=payload)


def test_render_events_from_both_sources_at_most_once() -> None:
    frame = protocol()
    assert frame.handle(msg("init-iframe")).events == [kw.RenderStarted(bid_id=BID.bid_id)]
    assert frame.handle(event("ad.render-started")).events == []
    assert frame.handle(msg("init-iframe")).events == []
    assert frame.handle(event("ad.render-completed")).events == [
        kw.RenderCompleted(bid_id=BID.bid_id)
    ]
    assert frame.handle(msg("ad-done-iframe", id="x", content="c")).events == []


def test_resize_emits_height_only_on_change() -> None:
    frame = protocol()
    first = frame.handle(msg("resize-iframe", height=120))
    assert first.height == 120.0
    assert first.events == [kw.AdHeight(bid_id=BID.bid_id, message_id="a1", height=120.0)]
    again = frame.handle(msg("resize-iframe", height=120.0))
    assert again.height == 120.0 and again.events == []
    assert frame.handle(msg("resize-iframe", height=0)).events[0].height == 0.0  # type: ignore[attr-defined]


@pytest.mark.parametrize("height", ["120", None, float("inf"), float("nan"), -1, True])
def test_bad_heights_are_dropped_and_reported(height: object) -> None:
    outcome = protocol().handle(msg("resize-iframe", height=height))
    assert outcome.height is None and outcome.events == []
    assert outcome.report is not None


def test_show_hide() -> None:
    frame = protocol()
    frame.handle(msg("resize-iframe", height=50))
    assert frame.handle(msg("show-iframe")).visible is True
    hidden = frame.handle(msg("hide-iframe"))
    assert (hidden.visible, hidden.height) == (False, 0.0)
    # after hide a resize to the old height is a change again
    assert frame.handle(msg("resize-iframe", height=50)).events


def test_viewed_takes_revenue_from_the_bid() -> None:
    outcome = protocol().handle(
        event("ad.viewed", id="x", content="Boots", messageId="a1", format="inline", revenue=99)
    )
    assert outcome.events == [
        kw.Viewed(
            bid_id=BID.bid_id, content="Boots", message_id="a1", format="inline", revenue=0.25
        )
    ]


def test_viewed_requires_string_fields() -> None:
    outcome = protocol().handle(event("ad.viewed", content="Boots", messageId=3, format="inline"))
    assert outcome.events == [] and outcome.report


def test_clicked() -> None:
    payload = {
        "content": "c",
        "messageId": "a1",
        "url": "https://x",
        "format": "inline",
        "area": "cta",
    }
    assert protocol().handle(event("ad.clicked", **payload)).events == [
        kw.Clicked(
            bid_id=BID.bid_id,
            content="c",
            message_id="a1",
            url="https://x",
            format="inline",
            area="cta",
        )
    ]
    assert protocol().handle(event("ad.clicked", content="c")).events == []


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("video.started", kw.VideoStarted),
        ("video.completed", kw.VideoCompleted),
        ("reward.granted", kw.RewardGranted),
    ],
)
def test_bid_only_events(name: str, cls: type[kw.AdEvent]) -> None:
    assert protocol().handle(event(name)).events == [cls(bid_id=BID.bid_id)]  # type: ignore[call-arg]
    assert protocol().handle(event("ad." + name)).events == []


def test_events_wait_for_a_bid() -> None:
    frame = protocol(with_bid=False)
    for message in (
        msg("init-iframe"),
        event("ad.viewed", content="c", messageId="a1", format="f"),
        event("video.started"),
    ):
        assert frame.handle(message).events == []
    assert frame.handle(msg("resize-iframe", height=10)).height == 10.0


def test_iframe_error() -> None:
    outcome = protocol().handle(msg("error-iframe"))
    assert outcome.events == [kw.AdError(message="iframe error", err_code="iframe_error")]
    assert (outcome.visible, outcome.height) == (False, 0.0)


def test_modal_errors_and_timeout() -> None:
    frame = protocol()
    assert frame.handle(msg("error-component-iframe", component="modal"), "modal").events == [
        kw.AdError(message="Modal component error", err_code="modal_component_error")
    ]
    assert frame.handle(
        msg("error-component-iframe", message="boom", errorType="x", component="modal"), "modal"
    ).events == [kw.AdError(message="boom", err_code="x")]
    assert frame.modal_timeout().events == [
        kw.AdError(message="modal init timeout", err_code="timeout")
    ]


def test_code_and_component_checks() -> None:
    frame = protocol()
    assert frame.handle(msg("init-iframe", code="otherAd")).events == []
    assert frame.handle(msg("error-component-iframe", component="drawer"), "modal").events == []
    assert frame.handle(msg("error-component-iframe", component="skoverlay"), "modal").events == []


@pytest.mark.parametrize(
    "message",
    [
        msg("init-iframe"),
        msg("resize-iframe", height=999),
        msg("show-iframe"),
        msg("hide-iframe"),
        msg("ad-done-iframe", component="modal"),
    ],
)
def test_the_modal_cannot_change_the_inline_ad(message: dict[str, object]) -> None:
    """As in the front end, these act only from the inline frame."""
    outcome = protocol().handle(message, "modal")
    assert (outcome.events, outcome.height, outcome.visible, outcome.report) == (
        [],
        None,
        None,
        None,
    )


def test_error_iframe_from_the_modal_is_a_modal_error() -> None:
    outcome = protocol().handle(msg("error-iframe", component="modal"), "modal")
    assert outcome.events == [
        kw.AdError(message="Modal component error", err_code="modal_component_error")
    ]
    assert (outcome.height, outcome.visible) == (None, None)


def test_inline_handler_accepts_any_component() -> None:
    """docs/protocol.md 6.1 rule 3, as sdk-common's handleIframeMessage: the inline
    handler has no component, so messages naming one (the official builder's
    open-component-iframe, event-iframe from emitAdEvent) are not dropped."""
    frame = protocol()
    modal_error = kw.AdError(message="Modal component error", err_code="modal_component_error")
    for component in ("modal", "skoverlay"):
        outcome = frame.handle(msg("error-component-iframe", component=component), "inline")
        assert outcome.events == [modal_error]
    assert frame.handle(msg("error-component-iframe"), "modal").events == [modal_error]
    assert frame.handle(msg("error-component-iframe", component="modal"), "modal").events == [
        modal_error
    ]


@pytest.mark.parametrize(
    "message", [None, 3, "init-iframe", [], {"type": 3}, {"type": "x", "data": []}]
)
def test_malformed_messages_are_reported_not_raised(message: object) -> None:
    outcome = protocol().handle(message)
    assert outcome.events == [] and outcome.report


def test_unknown_and_measurement_types_are_ignored() -> None:
    for kind in (
        "retire-iframe",
        "show-skoverlay-iframe",
        "brand-new-iframe",
        "view-iframe",
        "click-iframe",
    ):
        outcome = protocol().handle(msg(kind))
        assert outcome.events == [] and outcome.report is None


def test_missing_data_means_empty_object() -> None:
    assert protocol().handle({"type": "show-iframe"}).visible is True


def test_the_official_web_sdk_lifecycle() -> None:
    """One ad's life in messages built by the official web SDK's own code
    (@kontextso/sdk-common makeIframeMessage / emitAdEvent), as the front end
    relays them; the fixture is checked against sdk-common by js/conformance.test.ts."""
    fixture = Path(__file__).parent / "fixtures" / "sdk_common_lifecycle.json"
    steps = json.loads(fixture.read_text(encoding="utf-8"))
    frame = protocol()
    outcomes = {step["step"]: frame.handle(step["message"], step["source"]) for step in steps}
    assert all(outcome.report is None for outcome in outcomes.values()), outcomes

    def clicked(area: str) -> kw.Clicked:
        url = f"http://127.0.0.1:8123/api/click/{BID.bid_id}?area={area}"
        return kw.Clicked(
            bid_id=BID.bid_id,
            content="Trail shoes",
            message_id="a1",
            url=url,
            format="inline",
            area=area,
        )

    viewed = kw.Viewed(
        bid_id=BID.bid_id, content="Trail shoes", message_id="a1", format="inline", revenue=0.25
    )
    expected_events: dict[str, list[kw.AdEvent]] = {
        "init": [kw.RenderStarted(bid_id=BID.bid_id)],
        "resize": [kw.AdHeight(bid_id=BID.bid_id, message_id="a1", height=120.0)],
        "ad-done": [kw.RenderCompleted(bid_id=BID.bid_id)],
        "viewed": [viewed],
        "clicked": [clicked("cta")],
        "modal-clicked": [clicked("interstitial")],
        "error-component": [
            kw.AdError(message="Modal component error", err_code="modal_component_error")
        ],
        "video-started": [kw.VideoStarted(bid_id=BID.bid_id)],
        "video-completed": [kw.VideoCompleted(bid_id=BID.bid_id)],
        "reward-granted": [kw.RewardGranted(bid_id=BID.bid_id)],
        "error": [kw.AdError(message="iframe error", err_code="iframe_error")],
    }
    assert {step: outcome.events for step, outcome in outcomes.items()} == {
        step: expected_events.get(step, []) for step in outcomes
    }
    assert outcomes["show"].visible is True
    assert (outcomes["hide"].visible, outcomes["hide"].height) == (False, 0.0)
    assert outcomes["other-code"].height is None
