from __future__ import annotations

import dataclasses

import pytest

import kontext_widget as kw

EXPECTED = [
    (
        kw.Filled(bid_id="b", code="inlineAd", revenue=0.5),
        "ad.filled",
        {"id": "b", "code": "inlineAd", "revenue": 0.5},
    ),
    (kw.Filled(bid_id="b", code="inlineAd"), "ad.filled", {"id": "b", "code": "inlineAd"}),
    (kw.NoFill(skip_code="unfilled_bid"), "ad.no-fill", {"skipCode": "unfilled_bid"}),
    (
        kw.AdHeight(bid_id="b", message_id="m", height=120.0),
        "ad.height",
        {"id": "b", "messageId": "m", "height": 120.0},
    ),
    (
        kw.Viewed(bid_id="b", content="c", message_id="m", format="inline", revenue=1.0),
        "ad.viewed",
        {"id": "b", "content": "c", "messageId": "m", "format": "inline", "revenue": 1.0},
    ),
    (
        kw.Clicked(
            bid_id="b", content="c", message_id="m", url="https://x", format="inline", area="cta"
        ),
        "ad.clicked",
        {
            "id": "b",
            "content": "c",
            "messageId": "m",
            "url": "https://x",
            "format": "inline",
            "area": "cta",
        },
    ),
    (kw.RenderStarted(bid_id="b"), "ad.render-started", {"id": "b"}),
    (kw.RenderCompleted(bid_id="b"), "ad.render-completed", {"id": "b"}),
    (
        kw.AdError(message="boom", err_code="request_failed"),
        "ad.error",
        {"message": "boom", "errCode": "request_failed"},
    ),
    (kw.VideoStarted(bid_id="b"), "video.started", {"id": "b"}),
    (kw.VideoCompleted(bid_id="b"), "video.completed", {"id": "b"}),
    (kw.RewardGranted(bid_id="b"), "reward.granted", {"id": "b"}),
]


@pytest.mark.parametrize(("event", "name", "payload"), EXPECTED)
def test_wire_names_and_payload_keys(
    event: kw.AdEvent, name: str, payload: dict[str, object]
) -> None:
    assert event.name == name == type(event).name
    assert event.to_dict() == {"name": name, "payload": payload}
    assert isinstance(event, kw.AdEvent)


def test_events_are_frozen() -> None:
    event = kw.NoFill(skip_code="x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.skip_code = "y"  # type: ignore[misc]


def test_every_event_class_is_covered() -> None:
    covered = {type(event) for event, _, _ in EXPECTED}
    assert covered == set(kw.AdEvent.__subclasses__())
