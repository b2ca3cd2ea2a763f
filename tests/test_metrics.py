"""``Session.metrics()`` and ``Session.to_records()`` against a real LocalAdServer.

Frame events go through the same handler the browser relay uses
(``Ad._on_front_end_message``), so the figures are the ones a notebook shows.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from datetime import datetime, timezone

import pytest

import kontext_widget as kw

CODES = ["inlineAd", "videoAd"]  # the `session` fixture's placements (conftest.py)


def frame(ad: kw.Ad, kind: str, **data: object) -> None:
    message = {"type": kind, "data": data}
    ad._on_front_end_message(
        ad, {"kind": "frame-message", "source": "inline", "message": message}, []
    )


def seen(ad: kw.Ad, *, click: bool = False) -> None:
    """What the creative sends when it renders, is seen and (optionally) clicked."""
    frame(ad, "init-iframe")
    frame(ad, "resize-iframe", height=120)
    frame(ad, "ad-done-iframe")
    common = {"content": "c", "messageId": ad.message_id, "format": "inline"}
    frame(ad, "event-iframe", name="ad.viewed", payload=common)
    if click:
        payload = common | {"url": "https://example.com/x", "area": "cta"}
        frame(ad, "event-iframe", name="ad.clicked", payload=payload)


def test_a_fresh_session_has_zero_metrics_and_no_rates(session: kw.Session) -> None:
    metrics = session.metrics()
    assert list(metrics.placements) == CODES
    for figures in (metrics.overall, metrics["inlineAd"], metrics["videoAd"]):
        assert (figures.preloads, figures.fills, figures.views, figures.revenue) == (0, 0, 0, 0.0)
        assert (figures.fill_rate, figures.view_rate, figures.ctr) == (None, None, None)
    assert metrics.overall.code == "(all)"
    with pytest.raises(KeyError, match="'sidebarAd' is not an enabled placement code"):
        metrics["sidebarAd"]


def test_counts_and_rates_per_placement(session: kw.Session, server: kw.LocalAdServer) -> None:
    server.fill(revenue=0.25)
    first = session.chat_turn("shoes?", "these", display=False)
    video = session.create_ad(first.assistant.id, code="videoAd")
    seen(first.ad, click=True)
    seen(video)
    seen(video)  # a creative repeating itself: render events count once per ad
    server.no_fill("ads_disabled", times=1)
    session.chat_turn("more?", "sure", display=False)
    server.error("geo_disabled", times=1)
    session.chat_turn("again?", "ok", display=False)
    assert session.wait_idle(10)

    metrics = session.metrics()
    inline, video_m, overall = metrics["inlineAd"], metrics["videoAd"], metrics.overall
    assert (inline.preloads, inline.requests, inline.fills) == (3, 3, 1)
    assert inline.no_fills == {"ads_disabled": 1} == video_m.no_fills == overall.no_fills
    assert inline.errors == {"geo_disabled": 1} == video_m.errors == overall.errors
    assert (inline.renders, inline.views, inline.clicks) == (1, 1, 1)
    assert (video_m.renders, video_m.clicks) == (1, 0)
    assert inline.fill_rate == pytest.approx(1 / 3)
    assert inline.view_rate == 1.0 and inline.ctr == 1.0
    assert video_m.ctr == 0.0
    assert (overall.preloads, overall.requests, overall.fills) == (3, 6, 2)
    assert overall.fill_rate == pytest.approx(2 / 6)
    assert overall.revenue == pytest.approx(inline.revenue + video_m.revenue)
    assert inline.revenue == 0.25  # revenue of the view, not of the bid
    assert (overall.no_fill_count, overall.error_count) == (1, 1)
    # Typed, frozen and deterministic: the same calls give equal snapshots.
    assert metrics == session.metrics()
    with pytest.raises(dataclasses.FrozenInstanceError):
        inline.fills = 9  # type: ignore[misc]
    rows = metrics.to_records()
    assert [row["code"] for row in rows] == [*CODES, "(all)"]
    assert rows[0]["fill_rate"] == inline.fill_rate
    assert rows[0]["no_fills_by_skip_code"] == {"ads_disabled": 1}


def test_records_name_the_message_code_and_bid_of_every_ad_event(
    session: kw.Session, server: kw.LocalAdServer
) -> None:
    before = datetime.now(timezone.utc)
    turn = session.chat_turn("boots?", "these boots", display=False)
    seen(turn.ad)
    server.no_fill("no_fill", times=1)
    session.chat_turn("and?", "and", display=False)
    assert session.wait_idle(10)
    records = session.to_records()

    assert [r["name"] for r in records] == [
        "ad.filled",
        "ad.filled",
        "ad.render-started",
        "ad.height",
        "ad.render-completed",
        "ad.viewed",
        "ad.no-fill",
    ]
    for record in records:
        assert set(record) == {"time", "name", "message_id", "code", "bid_id", "payload"}
        assert before <= record["time"] <= datetime.now(timezone.utc)
    # The fills came before their message existed; the assignment names it afterwards.
    filled = {r["code"]: r for r in records if r["name"] == "ad.filled"}
    assert filled["inlineAd"]["message_id"] == "a1" == filled["videoAd"]["message_id"]
    assert filled["inlineAd"]["bid_id"] == turn.ad.bid_id
    payload = filled["inlineAd"]["payload"]
    assert (payload["id"], payload["code"]) == (turn.ad.bid_id, "inlineAd")
    for record in records[2:6]:
        assert (record["message_id"], record["code"], record["bid_id"]) == (
            "a1",
            "inlineAd",
            turn.ad.bid_id,
        )
    no_fill = records[-1]
    assert (no_fill["message_id"], no_fill["code"], no_fill["bid_id"]) == (None, None, None)
    assert no_fill["payload"] == {"skipCode": "no_fill"}
    # Plain data: a second call is a copy, not a view of the session's state.
    records[0]["payload"]["id"] = "changed"
    assert session.to_records()[0]["payload"]["id"] == turn.ad.bid_id


@pytest.mark.skipif(importlib.util.find_spec("pandas") is None, reason="pandas is not installed")
def test_records_load_straight_into_pandas(session: kw.Session) -> None:
    import pandas as pd

    session.chat_turn("boots?", "these", display=False)
    assert session.wait_idle(10)
    frame_ = pd.DataFrame(session.to_records())
    assert list(frame_.columns) == ["time", "name", "message_id", "code", "bid_id", "payload"]
    assert str(frame_["time"].dtype).startswith("datetime64")
    metrics = pd.DataFrame(session.metrics().to_records()).set_index("code")
    assert metrics.loc["inlineAd", "fills"] == 1


def test_history_and_metrics_stay_bounded(session: kw.Session, server: kw.LocalAdServer) -> None:
    from kontext_widget._constants import MAX_EVENT_HISTORY

    server.no_fill("no_fill")
    for index in range(3):
        session.add_message({"id": f"u{index}", "role": "user", "content": "x"})
        assert session.wait_idle(10)
    for _ in range(MAX_EVENT_HISTORY + 5):
        session._state.recorder.emit(kw.NoFill(skip_code="synthetic"))
    assert len(session.to_records()) == MAX_EVENT_HISTORY
    # The counters cover the whole session, not only the kept history.
    assert session.metrics().overall.no_fills == {"no_fill": 3, "synthetic": MAX_EVENT_HISTORY + 5}
