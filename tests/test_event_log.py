"""``Session.event_log()``: rows, metrics table, plurals, stable repr, no HTML from event fields."""

from __future__ import annotations

import gc
import re
import time
import weakref
from pathlib import Path

import pytest

import kontext_widget as kw
from kontext_widget._notebook import event_log as _event_log
from kontext_widget._notebook.event_log import EventLog, plural


def _turn(session: kw.Session, number: int) -> None:
    session.add_message({"id": f"u{number}", "role": "user", "content": "running shoes?"})
    session.add_message({"id": f"a{number}", "role": "assistant", "content": "These."})
    assert session.wait_idle(10)


def test_history_first_then_live_events(session: kw.Session, server: kw.LocalAdServer) -> None:
    _turn(session, 1)
    log = session.event_log()
    assert [(row["name"], row["code"]) for row in log.rows] == [
        ("ad.filled", "inlineAd"),
        ("ad.filled", "videoAd"),
    ]
    first = log.rows[0]
    assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3}", first["time"])  # the session timed it
    assert first["details"] == "revenue=0.0123"
    assert first["kind"] == "fill"

    server.no_fill("ads_disabled", times=1)
    _turn(session, 2)
    assert [row["name"] for row in log.rows] == ["ad.filled", "ad.filled", "ad.no-fill"]
    no_fill = log.rows[2]
    assert (no_fill["code"], no_fill["message_id"], no_fill["bid"]) == ("all", "", "")
    assert no_fill["details"] == "skip_code=ads_disabled"
    assert no_fill["kind"] == "no-fill"
    assert log.summary["events"] == 3
    assert log.summary["no_fills"] == 1


def test_fills_show_their_message_once_the_bid_is_assigned(
    session: kw.Session, server: kw.LocalAdServer
) -> None:
    log = session.event_log()
    session.add_message({"id": "u1", "role": "user", "content": "boots?"})
    assert session.wait_idle(10)
    assert [row["message_id"] for row in log.rows] == ["", ""]  # no assistant message yet
    session.add_message({"id": "a1", "role": "assistant", "content": "These."})
    assert session.wait_idle(10)  # no event: the assignment alone refreshes the log
    assert [row["message_id"] for row in log.rows] == ["a1", "a1"]
    ad = session.create_ad("a1")
    assert log.rows[0]["bid_full"] == ad.bid_id
    assert log.rows[0]["bid"] == (ad.bid_id or "")[:8]


def test_summary_metrics_and_plurals(session: kw.Session) -> None:
    log = session.event_log()
    bid = "0b9a6a1e-4b9a-4f7e-9d7c-2f1a1b2c3d4e"
    for event, code in (
        (kw.Filled(bid_id=bid, code="inlineAd", revenue=0.5), "inlineAd"),
        (
            kw.Viewed(bid_id=bid, content="c", message_id="a1", format="inline", revenue=0.25),
            "inlineAd",
        ),
        (
            kw.Clicked(
                bid_id=bid,
                content="c",
                message_id="a1",
                url="https://x",
                format="inline",
                area="cta",
            ),
            "inlineAd",
        ),
        (kw.AdError(message="iframe error", err_code="iframe_error"), "videoAd"),
        (kw.NoFill(skip_code="no_fill"), None),
    ):
        session._state.recorder.emit(event, code=code, bid_id=getattr(event, "bid_id", None))
    assert session.wait_idle(5)
    assert log.summary == {
        "events": 5,
        "fills": 1,
        "no_fills": 1,
        "errors": 1,
        "views": 1,
        "clicks": 1,
        "revenue": 0.25,  # what the impressions earned, not the bids
    }
    assert log.summary_text == "1 fill · 1 no-fill · 1 error · 1 view · 1 click · revenue 0.25"
    assert repr(log) == (
        "EventLog(events=5, fills=1, no_fills=1, errors=1, views=1, clicks=1, revenue=0.25)"
    )
    inline, video, overall = log.metrics
    assert inline["code"] == "inlineAd" and overall["code"] == "all placements"
    assert overall["overall"] and not inline["overall"]
    assert (inline["fills"], inline["views"], inline["clicks"], inline["ctr"]) == (
        "1",
        "1",
        "1",
        "100%",
    )
    assert inline["fill_rate"] == "—"  # no /preload was made: no requests
    assert video["errors"] == "1" and video["titles"]["errors"] == "iframe_error: 1"
    assert inline["no_fills"] == video["no_fills"] == "1"  # a preload's no-fill is for every code
    assert overall["titles"]["no_fills"] == "no_fill: 1"
    assert log.rows[2]["details"] == "format=inline area=cta url=https://x"
    assert [row["kind"] for row in log.rows] == ["fill", "view", "click", "error", "no-fill"]


def test_plurals() -> None:
    assert [plural(n, "click") for n in (0, 1, 2)] == ["0 clicks", "1 click", "2 clicks"]
    assert plural(1, "no-fill") == "1 no-fill"
    assert _event_log.summary_text(kw.PlacementMetrics(code="x")) == (
        "0 fills · 0 no-fills · 0 errors · 0 views · 0 clicks · revenue 0"
    )


def test_event_fields_are_text_never_markup(session: kw.Session) -> None:
    log = session.event_log()
    hostile = "<img src=x onerror=alert(1)>"
    session._state.recorder.emit(kw.AdError(message=hostile, err_code="<b>x</b>"))
    assert session.wait_idle(5)
    assert hostile in log.rows[-1]["details"]
    # The front end fills every cell with textContent and title; nothing is parsed as HTML.
    assert "textContent" in EventLog._esm
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"):
        assert sink not in EventLog._esm


def test_long_fields_are_capped(session: kw.Session) -> None:
    log = session.event_log()
    session._state.recorder.emit(
        kw.AdError(message="x" * 100_000, err_code="e"), message_id="m" * 5000
    )
    assert session.wait_idle(5)
    row = log.rows[-1]
    assert len(row["details"]) == _event_log.MAX_CELL_CHARS
    assert row["details"].endswith("…")
    assert len(row["message_id"]) == _event_log.MAX_CELL_CHARS


def test_rows_are_bounded_but_counts_are_not(session: kw.Session) -> None:
    log = session.event_log()
    for _ in range(_event_log.MAX_ROWS + 5):
        session._state.recorder.emit(kw.NoFill(skip_code="no_fill"))
    assert session.wait_idle(10)
    assert len(log.rows) == _event_log.MAX_ROWS
    assert log.summary["no_fills"] == _event_log.MAX_ROWS + 5


def test_each_call_is_an_independent_log(session: kw.Session) -> None:
    first = session.event_log()
    _turn(session, 1)
    second = session.event_log()
    assert first is not second
    assert first.summary == second.summary
    assert first.rows == second.rows


def test_a_single_code_has_no_overall_row(server: kw.LocalAdServer) -> None:
    with kw.create_session(
        publisher_token="p", user_id="u", conversation_id="c", ad_server_url=server.url
    ) as session:
        assert [row["code"] for row in session.event_log().metrics] == ["inlineAd"]


def test_not_constructed_with_unknown_arguments(session: kw.Session) -> None:
    with pytest.raises(TypeError, match=r"session\.event_log\(\)"):
        EventLog(session, colour="red")


def test_the_front_end_is_the_built_bundle_held_as_text(server: kw.LocalAdServer) -> None:
    # The committed js/event_log.ts bundle (npm run check-bundle keeps it current), as
    # its text: anywidget would watch a Path with a signal holding every widget alive.
    bundle = Path(_event_log.__file__).parent.parent / "static" / "event_log.js"
    assert EventLog._esm == bundle.read_text(encoding="utf-8")
    assert "Generated from js/event_log.ts" in EventLog._esm
    session = kw.create_session(
        publisher_token="pub-log", user_id="u", conversation_id="gc", ad_server_url=server.url
    )
    log = session.event_log()
    ref = weakref.ref(log)
    log.close()
    session.destroy()
    del log, session
    # The destroyed session's last I/O task lets go of it (and its listeners) shortly.
    deadline = time.monotonic() + 10
    while ref() is not None and time.monotonic() < deadline:
        gc.collect()
        time.sleep(0.05)
    assert ref() is None
