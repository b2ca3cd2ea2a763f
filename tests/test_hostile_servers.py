"""A hostile ad server, tried as an attacker would (issue 8 item 2, docs/protocol.md §13).

Every attack runs against a real loopback server (``fault_servers.FaultServer``)
and asserts a bound on memory (tracemalloc peak over the turn) or time, then
that the session keeps working: the next preload fills.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from fault_servers import FaultServer, bomb, compress, encoded, fill_body, hang, raw
from test_faults import (
    ATTEMPTS,
    SESSION,
    Recorder,
    assert_recovers,
    assert_reported,
    assert_request_failed,
    initialised_session,
    open_session,
    user_turn,
)

from kontext_widget import AdError, Filled, Message, NoFill, create_session
from kontext_widget._constants import TIMING
from kontext_widget._network.bounded_body import _STEP as STEP
from kontext_widget._network.bounded_body import ACCEPT_ENCODING, BodyRefused, read_bounded
from kontext_widget._network.client import MAX_RESPONSE_BYTES
from kontext_widget._network.init import MAX_PRELOAD_TIMEOUT_MS
from kontext_widget._network.preload import MAX_BIDS
from kontext_widget._network.wire import MAX_ANSWER_STRING

MIB = 1 << 20
# "Within a few MB of the 1 MiB cap": the body, one zlib step per layer, the socket chunk.
MEMORY_BOUND = MAX_RESPONSE_BYTES + 2 * MIB
TIME_BOUND = 5.0  # seconds for a refused answer, on a loaded 2-core machine


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultServer]:
    monkeypatch.setattr(TIMING, "retry_waits", (0.005, 0.005, 0.005))
    monkeypatch.setattr(TIMING, "init_timeout", 2.0)
    monkeypatch.setattr(TIMING, "preload_timeout", 5.0)
    monkeypatch.setattr(TIMING, "report_timeout", 1.0)
    with FaultServer() as fault_server:
        yield fault_server


class Measured:
    """Peak traced memory above the start, and wall time, of a ``with`` block."""

    peak = 0
    seconds = 0.0

    def __enter__(self) -> Measured:
        tracemalloc.start()
        tracemalloc.reset_peak()
        self._base = tracemalloc.get_traced_memory()[0]
        self._start = time.monotonic()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.seconds = time.monotonic() - self._start
        self.peak = tracemalloc.get_traced_memory()[1] - self._base
        tracemalloc.stop()


# -- decompression bombs ---------------------------------------------------------------

# id -> (Content-Encoding header, how the 1 GiB of zeros is packed for it; raw-deflate:
# a deflate layer without its zlib wrapper, which servers send and clients accept).
BOMBS = {
    "gzip, gzip": ("gzip, gzip", "gzip, gzip"),
    "gzip": ("gzip", "gzip"),
    "deflate": ("deflate", "deflate"),
    "deflate (raw)": ("deflate", "raw-deflate"),
    "deflate, gzip": ("deflate, gzip", "deflate, gzip"),
    "deflate (raw), deflate": ("deflate, deflate", "raw-deflate, deflate"),
    "x-gzip, GZIP (names are case-insensitive)": ("x-gzip, GZIP", "gzip, gzip"),
    "two header lines": ("gzip\r\nContent-Encoding: gzip", "gzip, gzip"),
}


@pytest.mark.parametrize(("header", "packing"), BOMBS.values(), ids=BOMBS)
def test_decompression_bomb_is_refused_within_bounded_memory(
    server: FaultServer, header: str, packing: str
) -> None:
    body = bomb(packing)  # 1 GiB once decoded
    recorder = Recorder()
    with open_session(server.url, recorder) as session:
        assert isinstance(user_turn(session, recorder), Filled)  # pool and TLS context warm
        server.script(encoded(body, header))
        with Measured() as measured:
            event = user_turn(session, recorder)
        assert_request_failed(event, f"larger than {MAX_RESPONSE_BYTES} bytes")
        assert len(server.requests("/preload")) == 2  # an over-size answer is never retried
        assert measured.peak < MEMORY_BOUND, f"peak {measured.peak / MIB:.1f} MiB ({len(body)} B)"
        assert measured.seconds < TIME_BOUND
        assert_reported(server)
        assert_recovers(session, recorder)


def test_endless_empty_deflate_blocks_are_cut_on_the_wire(server: FaultServer) -> None:
    # Decodes to nothing at all, so only a bound on received bytes ends it early.
    empty_stored_block = b"\x00\x00\x00\xff\xff"
    body = empty_stored_block * (2 * MAX_RESPONSE_BYTES // len(empty_stored_block))
    server.script(encoded(body, "deflate"))
    recorder = Recorder()
    with open_session(server.url, recorder) as session:
        started = time.monotonic()
        assert_request_failed(user_turn(session, recorder), "on the wire")
        assert time.monotonic() - started < TIME_BOUND
        assert len(server.requests("/preload")) == 1
        assert_recovers(session, recorder)


def test_the_issue_bomb_is_small_on_the_wire() -> None:
    # What makes it an attack: a couple of KB that a naive client inflates to 1 GiB.
    assert len(bomb("gzip, gzip")) < 4096


def test_bomb_in_the_init_answer_keeps_the_defaults(server: FaultServer) -> None:
    recorder = Recorder()
    with open_session(server.url, recorder) as warm:  # pool and TLS context warm
        assert isinstance(user_turn(warm, recorder), Filled)
    server.init = encoded(bomb("gzip, gzip"), "gzip, gzip")
    with Measured() as measured:
        session = open_session(server.url, recorder)
        server.wait_for("/init", count=2)
        assert session.wait_idle(5)
    assert measured.peak < MEMORY_BOUND, f"peak {measured.peak / MIB:.1f} MiB"
    with session:
        assert isinstance(user_turn(session, recorder), Filled)
        assert session.preload_timeout_ms == 5000
    assert len(server.requests("/init")) == 2  # one each: the refused one was not retried


_SMALL_ANSWER = b'{"sessionId": "' + SESSION.encode() + b'"}'
REFUSED_ENCODINGS = {
    "br": (b"\x1b\xff\xff\x0f", "br"),
    "zstd": (b"\x28\xb5\x2f\xfd\x00\x58\x00\x00", "zstd"),
    "compress": (b"\x1f\x9d\x90", "compress"),
    "unknown": (b"{}", "x-kontext-magic"),
    "three layers": (compress(compress(compress(b"{}", "gzip"), "gzip"), "gzip"), "gzip,gzip,gzip"),
    "corrupt gzip": (b"\x1f\x8b\x08\x00garbage-garbage-garbage", "gzip"),
    "truncated gzip": (compress(_SMALL_ANSWER, "gzip")[:-6], "gzip"),
}


@pytest.mark.parametrize(("body", "header"), REFUSED_ENCODINGS.values(), ids=REFUSED_ENCODINGS)
def test_encodings_that_cannot_be_bounded_are_refused_not_retried(
    server: FaultServer, body: bytes, header: str
) -> None:
    server.script(encoded(body, header))
    recorder = Recorder()
    with open_session(server.url, recorder) as session:
        assert_request_failed(user_turn(session, recorder), "response refused")
        assert len(server.requests("/preload")) == 1
        assert_reported(server)
        assert_recovers(session, recorder)


def test_only_bounded_codings_are_asked_for(server: FaultServer) -> None:
    recorder = Recorder()
    with open_session(server.url, recorder) as session:
        user_turn(session, recorder)
    for path in ("/init", "/preload"):
        assert server.requests(path)[0].headers["accept-encoding"] == ACCEPT_ENCODING


LEGIT = {
    "gzip": ["gzip"],
    "deflate": ["deflate"],
    "gzip, gzip": ["gzip", "gzip"],
    "identity": [],
}


@pytest.mark.parametrize("layers", LEGIT.values(), ids=LEGIT.keys())
def test_honest_compressed_answers_still_fill(server: FaultServer, layers: list[str]) -> None:
    def behave(conn: object) -> None:
        body = fill_body(conn.request)  # type: ignore[attr-defined]
        for layer in layers:
            body = compress(body, layer)
        encoded(body, ", ".join(layers) or "identity")(conn)  # type: ignore[arg-type]

    server.script(behave)
    recorder = Recorder()
    with open_session(server.url, recorder) as session:
        assert isinstance(user_turn(session, recorder), Filled)


def test_compressed_answer_just_under_the_cap_fills(server: FaultServer) -> None:
    bid = str(uuid.uuid4())
    answer = {"sessionId": SESSION, "bids": [{"bidId": bid, "code": "inlineAd"}], "pad": ""}
    answer["pad"] = "x" * (MAX_RESPONSE_BYTES - len(json.dumps(answer)))
    body = json.dumps(answer).encode()
    assert len(body) == MAX_RESPONSE_BYTES
    server.script(encoded(compress(compress(body, "gzip"), "gzip"), "gzip, gzip"))
    recorder = Recorder()
    with open_session(server.url, recorder) as session:
        assert user_turn(session, recorder) == Filled(bid_id=bid, code="inlineAd")


def test_announced_oversize_plain_body_is_refused_before_reading(server: FaultServer) -> None:
    def lying_length(conn: object) -> None:
        conn.send_head(200, {"Content-Length": str(1 << 40)})  # type: ignore[attr-defined]

    server.script(lying_length)
    recorder = Recorder()
    with open_session(server.url, recorder) as session:
        started = time.monotonic()
        assert_request_failed(user_turn(session, recorder), "larger than")
        assert time.monotonic() - started < TIME_BOUND  # no waiting for a TiB that never comes
        assert len(server.requests("/preload")) == 1
        assert_recovers(session, recorder)


# -- /init preloadTimeout ---------------------------------------------------------------

HOSTILE_TIMEOUTS = {
    "1e308": (b"1e308", MAX_PRELOAD_TIMEOUT_MS),
    "10^20 (int)": (b"100000000000000000000", MAX_PRELOAD_TIMEOUT_MS),
    "2^63": (str(2**63).encode(), MAX_PRELOAD_TIMEOUT_MS),
    "60001": (b"60001", MAX_PRELOAD_TIMEOUT_MS),
    "Infinity (not JSON, accepted by Python)": (b"Infinity", 5000),
    "beyond float range": (b"1" + b"0" * 400, 5000),
    "59999.2": (b"59999.2", 60_000),
}


@pytest.mark.parametrize(("value", "expected"), HOSTILE_TIMEOUTS.values(), ids=HOSTILE_TIMEOUTS)
def test_init_preload_timeout_is_capped_at_60_s(
    server: FaultServer, value: bytes, expected: int
) -> None:
    server.init = raw(b'{"enabled": true, "preloadTimeout": ' + value + b"}")
    recorder = Recorder()
    with initialised_session(server, recorder) as session:
        assert session.preload_timeout_ms == expected
        assert isinstance(user_turn(session, recorder), Filled)


def test_capped_timeout_still_ends_a_hanging_preload(
    server: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The cap itself shortened so that the test shows a hang is cut, not merely a number.
    monkeypatch.setattr("kontext_widget._network.init.MAX_PRELOAD_TIMEOUT_MS", 150)
    server.init = raw(b'{"preloadTimeout": 1e308}')
    recorder = Recorder()
    with initialised_session(server, recorder) as session:
        assert session.preload_timeout_ms == 150
        server.script(*[hang] * ATTEMPTS)
        started = time.monotonic()
        assert_request_failed(user_turn(session, recorder), "timed out after 150 ms")
        assert time.monotonic() - started < TIME_BOUND


# -- bids, strings ------------------------------------------------------------------------


def _bids(count: int, code: str = "inlineAd") -> list[dict[str, object]]:
    return [{"bidId": str(uuid.uuid4()), "code": code, "revenue": 0.5} for _ in range(count)]


def test_twelve_thousand_bids_for_one_code_give_one_fill(server: FaultServer) -> None:
    bids = _bids(12_000)
    body = json.dumps({"sessionId": SESSION, "bids": bids}).encode()
    assert len(body) < MAX_RESPONSE_BYTES
    server.script(raw(body))
    recorder = Recorder()
    with open_session(server.url, recorder) as session:
        with Measured() as measured:
            event = user_turn(session, recorder)
        filled = [e for e in recorder.events if isinstance(e, Filled)]
        assert filled == [Filled(bid_id=str(bids[0]["bidId"]), code="inlineAd", revenue=0.5)]
        assert event == filled[0]
        assert measured.seconds < TIME_BOUND
        # The parsed 1 MiB JSON is the cost; nothing per bid is kept or emitted.
        assert measured.peak < 10 * MIB
        assert_recovers(session, recorder)


def test_one_fill_per_code_first_bid_wins(server: FaultServer) -> None:
    first_a, first_b = _bids(1, "a")[0], _bids(1, "b")[0]
    bids = [first_a, *_bids(5, "a"), first_b, *_bids(5, "b"), *_bids(5, "not-enabled")]
    server.script(raw(json.dumps({"sessionId": SESSION, "bids": bids}).encode()))
    recorder = Recorder()
    with create_session(
        publisher_token="pub-faults",
        user_id="user-faults",
        conversation_id="conv-codes",
        enabled_placement_codes=["a", "b"],
        ad_server_url=server.url,
        on_event=recorder,
    ) as session:
        session.add_message(Message(id="u1", role="user", content="hi"))
        assert session.wait_idle(10)
    filled = [e for e in recorder.events if isinstance(e, Filled)]
    assert [(e.bid_id, e.code) for e in filled] == [
        (first_a["bidId"], "a"),
        (first_b["bidId"], "b"),
    ]


def test_only_the_first_bids_are_looked_at(server: FaultServer) -> None:
    # A malformed bid past MAX_BIDS is never read, so it cannot fail the answer.
    bids: list[object] = [*_bids(MAX_BIDS), "garbage"]
    server.script(raw(json.dumps({"sessionId": SESSION, "bids": bids}).encode()))
    recorder = Recorder()
    with open_session(server.url, recorder) as session:
        assert isinstance(user_turn(session, recorder), Filled)


def test_long_strings_in_an_answer_are_cut(server: FaultServer) -> None:
    huge = "s" * (MAX_RESPONSE_BYTES // 2)
    server.script(
        raw(json.dumps({"sessionId": SESSION, "skip": True, "skipCode": huge}).encode()),
        raw(json.dumps({"errCode": huge}).encode()),
    )
    recorder = Recorder()
    with open_session(server.url, recorder) as session:
        assert user_turn(session, recorder) == NoFill(skip_code="s" * MAX_ANSWER_STRING)
        event = user_turn(session, recorder)
        assert event == AdError(message="Ad generation skipped", err_code="s" * MAX_ANSWER_STRING)
        assert_recovers(session, recorder)


# -- the bounded decoder itself -----------------------------------------------------------


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.parametrize("length", [0, 1, STEP - 1, STEP, STEP + 1, 5 * STEP, MAX_RESPONSE_BYTES])
@pytest.mark.parametrize("layers", [["gzip"], ["deflate"], ["gzip", "deflate"], []])
def test_bounded_decoder_round_trips_at_step_boundaries(length: int, layers: list[str]) -> None:
    # Incompressible, reproducible bytes: each layer is slightly larger than the body.
    body = random.Random(length).randbytes(length)
    wire = body
    for layer in layers:
        wire = compress(wire, layer)
    for chunk_size in (1, 7, 65536):
        if chunk_size < 65536 and len(wire) > 70_000:
            continue
        got = asyncio.run(read_bounded(_chunks(wire, chunk_size), [", ".join(layers)], length))
        assert got == body
    if length:
        with pytest.raises(BodyRefused, match="larger than"):
            asyncio.run(read_bounded(_chunks(wire, 65536), [", ".join(layers)], length - 1))


@pytest.mark.parametrize(
    ("wire", "header"),
    [
        (b"\x78\x9c" + b"\xff" * 64, "deflate"),  # zlib header, then garbage
        (b"\xff" * 64, "deflate"),  # neither zlib nor raw deflate
        (compress(b"{}", "gzip") + b"\xff" * 8, "gzip, deflate"),  # the outer layer is not deflate
    ],
)
def test_bounded_decoder_refuses_garbage_cleanly(wire: bytes, header: str) -> None:
    with pytest.raises(BodyRefused, match=r"malformed|truncated"):
        asyncio.run(read_bounded(_chunks(wire, 7), [header], MAX_RESPONSE_BYTES))


def test_bounded_decoder_takes_an_empty_encoded_body_as_empty() -> None:
    assert asyncio.run(read_bounded(_chunks(b"", 1), ["gzip"], MAX_RESPONSE_BYTES)) == b""
