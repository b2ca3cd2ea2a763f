"""``Session.event_log()``: history, live rows, summary, stable repr, no HTML from event fields."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import kontext_widget as kw
from kontext_widget import _event_log
from kontext_widget._event_log import EventLog
from kontext_widget._session import _Logged


@pytest.fixture
def session(server: kw.LocalAdServer) -> Iterator[kw.Session]:
    with kw.create_session(
        publisher_token="p", user_id="u", conversation_id="c", ad_server_url=server.url
    ) as created:
        yield created


def _turn(session: kw.Session, number: int) -> None:
    session.add_message({"id": f"u{number}", "role": "user", "content": "running shoes?"})
    session.add_message({"id": f"a{number}", "role": "assistant", "content": "These."})
    assert session.wait_idle(10)


def test_history_first_then_live_events(session: kw.Session, server: kw.LocalAdServer) -> None:
    _turn(session, 1)
    log = session.event_log()
    assert [row["name"] for row in log.rows] == ["ad.filled"]
    assert log.rows[0]["time"] == ""  # happened before the log existed
    assert log.rows[0]["details"] == "code=inlineAd revenue=0.0123"

    server.no_fill("ads_disabled", times=1)
    _turn(session, 2)
    assert [row["name"] for row in log.rows] == ["ad.filled", "ad.no-fill"]
    assert log.rows[1]["time"] != ""
    assert log.rows[1]["details"] == "skip_code=ads_disabled"
    assert log.summary["events"] == 2
    assert log.summary["no_fills"] == 1


def test_summary_counts_and_revenue_of_views(session: kw.Session) -> None:
    log = session.event_log()
    bid = "0b9a6a1e-4b9a-4f7e-9d7c-2f1a1b2c3d4e"
    other = "0b9a6a1e-4b9a-4f7e-9d7c-2f1a1b2c3d4f"  # one ad.viewed per bid: two bids
    for event in (
        kw.Filled(bid_id=bid, code="inlineAd", revenue=0.5),
        kw.Viewed(bid_id=bid, content="c", message_id="a1", format="inline", revenue=0.25),
        kw.Viewed(bid_id=other, content="c", message_id="a2", format="inline", revenue=0.125),
        kw.Clicked(
            bid_id=bid, content="c", message_id="a1", url="https://x", format="inline", area="cta"
        ),
        kw.AdError(message="iframe error", err_code="iframe_error"),
        kw.NoFill(skip_code="no_fill"),
    ):
        session._emit(event)
    assert session.wait_idle(5)
    assert log.summary == {
        "events": 6,
        "fills": 1,
        "no_fills": 1,
        "errors": 1,
        "views": 2,
        "clicks": 1,
        "revenue": 0.375,  # what the impressions earned, not the bids
    }
    assert repr(log) == (
        "EventLog(events=6, fills=1, no_fills=1, errors=1, views=2, clicks=1, revenue=0.375)"
    )
    assert log.rows[1]["message_id"] == "a1"
    assert log.rows[3]["details"] == "url=https://x"


def test_event_fields_are_text_never_markup(session: kw.Session) -> None:
    log = session.event_log()
    hostile = "<img src=x onerror=alert(1)>"
    session._emit(kw.AdError(message=hostile, err_code="<b>x</b>"))
    assert session.wait_idle(5)
    assert hostile in log.rows[-1]["details"]
    # The front end builds every cell with textContent; nothing is parsed as HTML.
    assert "textContent" in _event_log._ESM
    assert "innerHTML" not in _event_log._ESM
    assert "insertAdjacentHTML" not in _event_log._ESM


def test_an_event_in_the_history_and_delivered_later_is_shown_once(
    session: kw.Session,
) -> None:
    # Emitted without delivery: it is in the history when the log reads it, and the
    # listener (registered just before) would receive it too.
    event = kw.NoFill(skip_code="no_fill")
    with session._lock:
        session._history.append(_Logged(event, 0.0, None, None, None))
    log = session.event_log()
    log._on_event(event)
    log._on_event(kw.NoFill(skip_code="no_fill"))  # equal, but another event
    assert log.summary["no_fills"] == 2
    assert len(log.rows) == 2


def test_rows_are_bounded_but_counts_are_not(session: kw.Session) -> None:
    log = session.event_log()
    for _ in range(_event_log.MAX_ROWS + 5):
        session._emit(kw.NoFill(skip_code="no_fill"))
    assert session.wait_idle(10)
    assert len(log.rows) == _event_log.MAX_ROWS
    assert log.summary["no_fills"] == _event_log.MAX_ROWS + 5


def test_each_call_is_an_independent_log(session: kw.Session) -> None:
    first = session.event_log()
    _turn(session, 1)
    second = session.event_log()
    assert first is not second
    assert first.summary == second.summary


def test_not_constructed_with_unknown_arguments(session: kw.Session) -> None:
    with pytest.raises(TypeError, match=r"session\.event_log\(\)"):
        EventLog(session, colour="red")
