"""Network and server faults against real loopback sockets (issue 5, docs/protocol.md §2, §3.1).

For every fault: ``add_message`` returns, ``wait_idle()`` returns True, exactly
the event docs/protocol.md §2.2 names is emitted, ``/error`` is reported for
case #8 failures only, and the next preload after the fault fills. Retry waits
and timeouts are shortened through ``TIMING`` (restored by monkeypatch).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import count

import pytest
from fault_servers import (
    Behaviour,
    FaultServer,
    Received,
    drip,
    endless,
    fill,
    hang,
    raw,
    reset_mid_body,
    status,
)

from kontext_widget import AdError, AdEvent, Filled, Message, NoFill, Session, create_session
from kontext_widget._constants import TIMING
from kontext_widget._network.client import MAX_RESPONSE_BYTES

TOKEN = "pub-faults"
TERMINAL = (Filled, NoFill, AdError)
ATTEMPTS = 4  # docs/protocol.md §1: 3 retries

_ids = count(1)


class Recorder:
    """``on_event`` that keeps every event (``Session.events`` is capped at 1,000)."""

    def __init__(self) -> None:
        self.events: list[AdEvent] = []

    def __call__(self, event: AdEvent) -> None:
        self.events.append(event)


@pytest.fixture
def fast_timing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(TIMING, "retry_waits", (0.005, 0.005, 0.005))
    monkeypatch.setattr(TIMING, "init_timeout", 2.0)
    monkeypatch.setattr(TIMING, "preload_timeout", 2.0)
    monkeypatch.setattr(TIMING, "report_timeout", 1.0)


@pytest.fixture
def server(fast_timing: None) -> Iterator[FaultServer]:
    with FaultServer() as fault_server:
        yield fault_server


def open_session(url: str, recorder: Recorder) -> Session:
    return create_session(
        publisher_token=TOKEN,
        user_id="user-faults",
        conversation_id="conv-faults",
        ad_server_url=url,
        on_event=recorder,
    )


@contextmanager
def initialised_session(server: FaultServer, recorder: Recorder) -> Iterator[Session]:
    """A session on ``server`` that has had its ``/init`` answer and handled it."""
    with open_session(server.url, recorder) as session:
        server.wait_for("/init")
        assert session.wait_idle(5)
        yield session


def user_turn(session: Session, recorder: Recorder, text: str = "best hiking boots?") -> AdEvent:
    """One user message; returns its single terminal event (and checks it is single)."""
    before = len(recorder.events)
    session.add_message(Message(id=f"m{next(_ids)}", role="user", content=text))
    assert session.wait_idle(15), "wait_idle timed out"
    terminal = [e for e in recorder.events[before:] if isinstance(e, TERMINAL)]
    assert len(terminal) == 1, f"expected one terminal event, got {recorder.events[before:]}"
    return terminal[0]


def assert_request_failed(event: AdEvent, message_part: str = "") -> None:
    assert isinstance(event, AdError), event
    assert event.err_code == "request_failed"
    assert message_part in event.message


def preload_errors(server: FaultServer) -> list[Received]:
    return [r for r in server.requests("/error") if "preloading" in r.json["error"]]


def assert_reported(server: FaultServer) -> Received:
    """Section 2.2 #8: the failure reaches ``/error`` with the session's identity."""
    server.wait_for("/error", timeout=5.0)
    deadline = time.monotonic() + 5.0
    while not preload_errors(server) and time.monotonic() < deadline:
        time.sleep(0.01)
    reports = preload_errors(server)
    assert len(reports) == 1, [r.json for r in server.requests("/error")]
    report = reports[0]
    assert report.json["error"].startswith("Error preloading ads: ")
    assert report.json["additionalData"]["publisherToken"] == TOKEN
    assert report.json["additionalData"]["sdk"]["name"] == "sdk-js"
    assert "kontextso-publisher-token" not in report.headers  # section 2.3: no token header
    return report


def assert_not_reported(server: FaultServer, session: Session) -> None:
    """No preload failure was reported: ``wait_idle`` covers reports already started."""
    assert session.wait_idle(10)
    assert preload_errors(server) == []


def assert_recovers(session: Session, recorder: Recorder) -> None:
    event = user_turn(session, recorder, "and now?")
    assert isinstance(event, Filled), event


# -- transport faults ------------------------------------------------------------


def test_connection_refused_fails_then_fills_once_the_port_listens(fast_timing: None) -> None:
    recorder = Recorder()
    with FaultServer(listening=False) as server, open_session(server.url, recorder) as session:
        assert_request_failed(user_turn(session, recorder))
        assert server.requests("/preload") == []
        server.listen()
        assert_recovers(session, recorder)


def test_reset_mid_response_is_retried_then_reported(server: FaultServer) -> None:
    server.script(*[reset_mid_body] * ATTEMPTS)
    recorder = Recorder()
    with open_session(server.url, recorder) as session:
        assert_request_failed(user_turn(session, recorder))
        assert len(server.requests("/preload")) == ATTEMPTS
        assert_reported(server)
        assert_recovers(session, recorder)


def test_reset_then_success_within_the_retries_fills(server: FaultServer) -> None:
    server.script(reset_mid_body, reset_mid_body)
    recorder = Recorder()
    with open_session(server.url, recorder) as session:
        assert isinstance(user_turn(session, recorder), Filled)
        assert len(server.requests("/preload")) == 3
        assert_not_reported(server, session)


def test_server_that_never_answers_times_out_per_attempt(
    server: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(TIMING, "preload_timeout", 0.15)
    server.script(*[hang] * ATTEMPTS)
    recorder = Recorder()
    with open_session(server.url, recorder) as session:
        assert session.preload_timeout_ms == 150
        started = time.monotonic()
        assert_request_failed(user_turn(session, recorder), "timed out after 150 ms")
        assert time.monotonic() - started < 3.0
        assert len(server.requests("/preload")) == ATTEMPTS
        assert_reported(server)
        assert_recovers(session, recorder)


def test_init_preload_timeout_bounds_a_hanging_preload(server: FaultServer) -> None:
    server.init = raw(b'{"enabled": true, "preloadTimeout": 120}')
    recorder = Recorder()
    with open_session(server.url, recorder) as session:
        deadline = time.monotonic() + 5.0
        while session.preload_timeout_ms != 120 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert session.preload_timeout_ms == 120
        server.script(*[hang] * ATTEMPTS)
        assert_request_failed(user_turn(session, recorder), "timed out after 120 ms")
        assert_reported(server)
        assert_recovers(session, recorder)


def test_slow_drip_is_cut_by_the_per_attempt_time_limit(
    server: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Bytes keep arriving every 20 ms, so only a limit on the whole attempt ends it.
    monkeypatch.setattr(TIMING, "preload_timeout", 0.2)
    server.script(*[drip(0.02)] * ATTEMPTS)
    recorder = Recorder()
    with open_session(server.url, recorder) as session:
        assert_request_failed(user_turn(session, recorder), "timed out")
        assert len(server.requests("/preload")) == ATTEMPTS
        assert_reported(server)
        assert_recovers(session, recorder)


# -- HTTP status faults ------------------------------------------------------------


@pytest.mark.parametrize("code", [500, 502, 503, 404])
def test_non_2xx_is_one_request_failed_without_retry_or_report(
    server: FaultServer, code: int
) -> None:
    server.script(status(code, b'{"errCode": "ignored", "permanent": true}'))
    recorder = Recorder()
    with open_session(server.url, recorder) as session:
        event = user_turn(session, recorder)
        assert_request_failed(event)
        assert event.message == f"HTTP {code}"
        assert len(server.requests("/preload")) == 1
        assert not session.disabled  # the body of a non-2xx answer is not read
        assert_not_reported(server, session)
        assert_recovers(session, recorder)


def test_429_storm_exhausts_the_retries_and_is_rate_limited(server: FaultServer) -> None:
    server.script(*[status(429)] * ATTEMPTS)
    recorder = Recorder()
    with open_session(server.url, recorder) as session:
        event = user_turn(session, recorder)
        assert_request_failed(event)
        assert event.message == "rate limited"
        assert len(server.requests("/preload")) == ATTEMPTS
        assert_reported(server)
        assert_recovers(session, recorder)


def test_429_then_success_fills_without_report(server: FaultServer) -> None:
    server.script(status(429), status(429), status(429))
    recorder = Recorder()
    with open_session(server.url, recorder) as session:
        assert isinstance(user_turn(session, recorder), Filled)
        assert len(server.requests("/preload")) == ATTEMPTS
        assert_not_reported(server, session)


def test_204_is_unfilled_bid_without_report(server: FaultServer) -> None:
    server.script(status(204))
    recorder = Recorder()
    with open_session(server.url, recorder) as session:
        event = user_turn(session, recorder)
        assert event == NoFill(skip_code="unfilled_bid")
        assert_not_reported(server, session)
        assert_recovers(session, recorder)


# -- malformed bodies ------------------------------------------------------------------

SESSION = "5b0f6a2e-9c1d-4e7f-8a3b-1c2d3e4f5a6b"
BID = "0190f3c2-7d1e-7a6b-9c3d-2f4e5a6b7c8d"


def _answer(**fields: object) -> bytes:
    return json.dumps(fields).encode()


MALFORMED = {
    "truncated": _answer(sessionId=SESSION, bids=[{"bidId": BID, "code": "inlineAd"}])[:-7],
    "not-json": b"<html>502 Bad Gateway</html>",
    "empty-body": b"",
    "json-array": b"[]",
    "json-string": b'"ok"',
    "invalid-utf8": b'{"sessionId": "\xff\xfe"}',
    "session-id-number": _answer(sessionId=12, bids=[]),
    "session-id-not-uuid": _answer(sessionId="s-1", bids=[{"bidId": BID, "code": "inlineAd"}]),
    "bid-id-not-uuid": _answer(sessionId=SESSION, bids=[{"bidId": "bid-1", "code": "inlineAd"}]),
    "bid-id-missing": _answer(sessionId=SESSION, bids=[{"code": "inlineAd"}]),
    "bids-not-list": _answer(sessionId=SESSION, bids={"bidId": BID}),
    "bid-not-object": _answer(sessionId=SESSION, bids=["inlineAd"]),
    "bid-code-number": _answer(sessionId=SESSION, bids=[{"bidId": BID, "code": 7}]),
    # Valid JSON that no JSON decoder without a depth limit survives.
    "deep-nesting": b'{"sessionId": "' + SESSION.encode() + b'", "bids": ' + b"[" * 200_000,
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_answer_is_request_failed_and_reported(server: FaultServer, body: bytes) -> None:
    server.script(raw(body))
    recorder = Recorder()
    with open_session(server.url, recorder) as session:
        assert_request_failed(user_turn(session, recorder))
        assert session.session_id is None  # nothing is taken from an undecodable answer
        assert len(server.requests("/preload")) == 1  # a decode failure is not retried
        assert_reported(server)
        assert_recovers(session, recorder)


WRONG_TYPED_OPTIONALS = {
    "skip-as-string": (_answer(sessionId=SESSION, skip="yes", bids=[]), NoFill("no_fill")),
    "skip-code-number": (
        _answer(sessionId=SESSION, skip=True, skipCode=3, bids=[]),
        NoFill("no_fill"),
    ),
    "bids-null": (_answer(sessionId=SESSION, bids=None), NoFill("no_fill")),
    "revenue-string": (
        _answer(sessionId=SESSION, bids=[{"bidId": BID, "code": "inlineAd", "revenue": "lots"}]),
        Filled(bid_id=BID, code="inlineAd", revenue=None),
    ),
    # A JSON integer too large for a float is still just "not a usable revenue".
    "revenue-huge-integer": (
        _answer(sessionId=SESSION, bids=[{"bidId": BID, "code": "inlineAd", "revenue": 10**400}]),
        Filled(bid_id=BID, code="inlineAd", revenue=None),
    ),
    "unknown-fields-and-enum": (
        _answer(
            sessionId=SESSION,
            extra={"x": [1, 2]},
            bids=[{"bidId": BID, "code": "inlineAd", "impressionTrigger": "telepathy"}],
        ),
        Filled(bid_id=BID, code="inlineAd", revenue=None),
    ),
    "uppercase-bid-id": (
        _answer(sessionId=SESSION, bids=[{"bidId": BID.upper(), "code": "inlineAd"}]),
        Filled(bid_id=BID, code="inlineAd", revenue=None),
    ),
}


@pytest.mark.parametrize(
    ("body", "expected"), WRONG_TYPED_OPTIONALS.values(), ids=WRONG_TYPED_OPTIONALS.keys()
)
def test_wrong_typed_optional_fields_count_as_absent(
    server: FaultServer, body: bytes, expected: AdEvent
) -> None:
    server.script(raw(body))
    recorder = Recorder()
    with open_session(server.url, recorder) as session:
        assert user_turn(session, recorder) == expected
        assert session.session_id == SESSION
        assert_not_reported(server, session)


def test_server_error_answer_is_not_reported(server: FaultServer) -> None:
    server.script(raw(_answer(errCode="geo_disabled", error="nope")))
    recorder = Recorder()
    with open_session(server.url, recorder) as session:
        event = user_turn(session, recorder)
        assert event == AdError(message="Ad generation skipped", err_code="geo_disabled")
        assert_not_reported(server, session)
        assert_recovers(session, recorder)


# -- enormous bodies ----------------------------------------------------------------


def test_endless_body_is_cut_at_the_size_limit_and_not_retried(server: FaultServer) -> None:
    body = endless()
    server.script(body)
    recorder = Recorder()
    with open_session(server.url, recorder) as session:
        assert_request_failed(user_turn(session, recorder), "larger than")
        assert len(server.requests("/preload")) == 1  # section 11: never retried
        assert_reported(server)
        assert_recovers(session, recorder)
    # The client hung up soon after the limit: what it accepted is bounded by the
    # limit plus socket buffers, not by what the server was willing to send (64 MiB).
    assert len(body.sent) == 1
    assert max(body.sent) < MAX_RESPONSE_BYTES + 8 * 1024 * 1024


def test_valid_but_oversized_answer_is_refused_and_not_retried(server: FaultServer) -> None:
    padding = "x" * (MAX_RESPONSE_BYTES + 1)
    oversized = _answer(sessionId=SESSION, bids=[{"bidId": BID, "code": "inlineAd"}], pad=padding)
    server.script(raw(oversized))
    recorder = Recorder()
    with open_session(server.url, recorder) as session:
        assert_request_failed(user_turn(session, recorder), "larger than")
        assert len(server.requests("/preload")) == 1
        assert session.session_id is None
        assert_reported(server)
        assert_recovers(session, recorder)


# -- /init faults -------------------------------------------------------------------

INIT_GARBAGE = {
    "malformed": b"{enabled",
    "json-array": b"[true]",
    "deep-nesting": b"[" * 200_000,
}


def init_reports(server: FaultServer) -> list[Received]:
    return [r for r in server.requests("/error") if r.json["stack"] == "Init.fetch"]


@pytest.mark.parametrize("body", INIT_GARBAGE.values(), ids=INIT_GARBAGE.keys())
def test_init_garbage_is_reported_and_preloads_still_fill(server: FaultServer, body: bytes) -> None:
    server.init = raw(body)
    recorder = Recorder()
    with open_session(server.url, recorder) as session:
        server.wait_for("/init")
        assert isinstance(user_turn(session, recorder), Filled)
        assert not session.disabled
        assert session.preload_timeout_ms == 2000
        server.wait_for("/error", timeout=5.0)
        assert session.wait_idle(10)  # the reports already started have arrived
        assert len(init_reports(server)) == 1
        assert all(isinstance(e, Filled) for e in recorder.events)


@pytest.mark.parametrize("code", [500, 404, 429])
def test_init_non_2xx_keeps_defaults(server: FaultServer, code: int) -> None:
    server.init = status(code)
    recorder = Recorder()
    with open_session(server.url, recorder) as session:
        assert isinstance(user_turn(session, recorder), Filled)
        assert session.wait_idle(10)  # the reports already started have arrived
        exhausted = code == 429  # an exhausted 429 storm is a request failure
        assert len(init_reports(server)) == (1 if exhausted else 0)
        assert len(server.requests("/init")) == (ATTEMPTS if exhausted else 1)
        assert all(isinstance(e, Filled) for e in recorder.events)


def test_a_number_beyond_float_range_is_ignored(server: FaultServer) -> None:
    # Not a usable number of milliseconds: the default stays and preloads fill.
    server.init = raw(b'{"preloadTimeout": 1' + b"0" * 400 + b"}")
    recorder = Recorder()
    with initialised_session(server, recorder) as session:
        assert session.preload_timeout_ms == 2000
        assert isinstance(user_turn(session, recorder), Filled)


def test_a_sub_millisecond_timeout_is_rounded_up_not_to_zero(server: FaultServer) -> None:
    # "> 0", so section 2.1 applies it, rounded up to whole milliseconds: never a
    # zero timeout. The server asked for 1 ms; a preload that takes longer fails
    # as a timeout, with exactly one terminal event, and nothing raises.
    server.init = raw(b'{"preloadTimeout": 0.5}')
    recorder = Recorder()
    with initialised_session(server, recorder) as session:
        assert session.preload_timeout_ms == 1
        event = user_turn(session, recorder)
        assert isinstance(event, Filled) or event == AdError(
            message="timed out after 1 ms", err_code="request_failed"
        )


# -- supersession --------------------------------------------------------------------


def test_superseded_hanging_preload_emits_nothing(server: FaultServer) -> None:
    server.script(hang)
    recorder = Recorder()
    with open_session(server.url, recorder) as session:
        session.add_message(Message(id="old", role="user", content="first"))
        server.wait_for("/preload")
        event = user_turn(session, recorder, "second")
        assert isinstance(event, Filled)
        assert len(server.requests("/preload")) == 2
        assert_not_reported(server, session)


# -- soak -----------------------------------------------------------------------------

SOAK_TURNS = 1000


class SoakScript:
    """Picks each ``/preload`` answer from the newest user message's text, e.g. ``"fault:reset"``.

    Keyed by content rather than arrival order, so retries and cancelled requests
    cannot shift the script.
    """

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def __call__(self, request: Received) -> Behaviour:
        text = request.json["messages"][-1]["content"]
        kind = text.split(":")[1]
        attempt = self.seen.get(text, 0)
        self.seen[text] = attempt + 1
        if kind == "slow":
            return hang
        if kind == "429-once":
            return status(429) if attempt == 0 else fill
        return SOAK_ANSWERS[kind]


SOAK_ANSWERS: dict[str, Behaviour] = {
    "fill": fill,
    "skip": raw(_answer(sessionId=SESSION, skip=True, skipCode="ads_disabled", bids=[])),
    "empty": raw(_answer(sessionId=SESSION, bids=[])),
    "204": status(204),
    "500": status(500),
    "429": status(429),
    "malformed": raw(b"{not json"),
    "bad-bid-id": raw(_answer(sessionId=SESSION, bids=[{"bidId": "x", "code": "inlineAd"}])),
    "server-error": raw(_answer(errCode="geo_disabled")),
    "reset": reset_mid_body,
}

# Fault kind -> (terminal event type, reported to /error).
SOAK_EXPECTED: dict[str, tuple[type[AdEvent], bool]] = {
    "fill": (Filled, False),
    "429-once": (Filled, False),
    "skip": (NoFill, False),
    "empty": (NoFill, False),
    "204": (NoFill, False),
    "500": (AdError, False),
    "429": (AdError, True),
    "malformed": (AdError, True),
    "bad-bid-id": (AdError, True),
    "server-error": (AdError, False),
    "reset": (AdError, True),
}
SOAK_FAULTS = [kind for kind in SOAK_EXPECTED if kind != "fill"] + ["slow"]


def test_soak_every_turn_ends_in_exactly_one_terminal_event(
    server: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(TIMING, "retry_waits", (0.0005, 0.0005, 0.0005))
    monkeypatch.setattr(TIMING, "debounce", 0.0005)
    server.choose = SoakScript()
    rng = random.Random(5)
    recorder = Recorder()
    counts: dict[str, int] = {}
    superseded = 0
    started = time.monotonic()
    with open_session(server.url, recorder) as session:
        for turn in range(SOAK_TURNS):
            kind = rng.choice(SOAK_FAULTS) if rng.random() < 0.10 else "fill"
            before = len(recorder.events)
            if kind == "slow":
                # A preload that hangs until a newer user message supersedes it.
                pending = len(server.requests("/preload"))
                session.add_message(Message(id=f"s{turn}", role="user", content=f"t{turn}:slow"))
                server.wait_for("/preload", count=pending + 1)
                superseded += 1
                kind = "fill"
            text = f"t{turn}:{kind}"
            session.add_message(Message(id=f"u{turn}", role="user", content=text))
            assert session.wait_idle(10), f"turn {turn} ({kind}) never became idle"
            terminal = [e for e in recorder.events[before:] if isinstance(e, TERMINAL)]
            expected_type, _ = SOAK_EXPECTED[kind]
            assert len(terminal) == 1, f"turn {turn} ({kind}): {recorder.events[before:]}"
            assert isinstance(terminal[0], expected_type), f"turn {turn} ({kind}): {terminal}"
            counts[kind] = counts.get(kind, 0) + 1
            session.add_message(Message(id=f"a{turn}", role="assistant", content="answer"))
        terminal_total = sum(isinstance(e, TERMINAL) for e in recorder.events)
        assert terminal_total == SOAK_TURNS
        assert superseded > 0
        assert sum(n for kind, n in counts.items() if kind != "fill") > 50
        reported = sum(n for kind, n in counts.items() if SOAK_EXPECTED[kind][1])
        server.wait_for("/error", count=reported, timeout=5.0)
        assert session.wait_idle(10)  # the reports already started have arrived
        assert len(preload_errors(server)) == reported
    assert time.monotonic() - started < 30.0
