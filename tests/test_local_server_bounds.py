"""LocalAdServer under attack: each bound of ``_local_server/limits.py`` tried as an attacker would.

Real server on loopback, raw sockets where an HTTP client would be too polite,
and a memory or time bound asserted wherever one applies.
"""

from __future__ import annotations

import contextlib
import gc
import json
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kontext_widget._local_server import LocalAdServer
from kontext_widget._local_server.limits import (
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_RECORDED_REQUESTS,
    DEFAULT_REQUEST_TIMEOUT,
    MAX_BIDS,
    MAX_BODY_BYTES,
    MAX_CODES_PER_PRELOAD,
    MAX_HEAD_BYTES,
    MAX_RECORDED_BYTES,
    BoundedLog,
    BoundedMap,
    HostCheck,
    parse_json,
)

TOKEN = "pub-test"
AUTH = {"Kontextso-Publisher-Token": TOKEN}
MIB = 1024 * 1024
REQUEST_THREAD = "kontext-local-ad-server-request"


def preload_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "publisherToken": TOKEN,
        "userId": "u-1",
        "conversationId": "c-1",
        "enabledPlacementCodes": ["inlineAd"],
        "messages": [{"id": "m1", "role": "user", "content": "boots?"}],
    }
    body.update(overrides)
    return body


def connect(server: LocalAdServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def head(server: LocalAdServer, method: str, path: str, extra: str = "") -> bytes:
    return (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n{extra}\r\n").encode()


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (a reset counts as the end)."""
    chunks = []
    with contextlib.suppress(ConnectionError):
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def request_threads() -> int:
    return sum(thread.name == REQUEST_THREAD for thread in threading.enumerate())


@contextlib.contextmanager
def traced() -> Iterator[dict[str, float]]:
    """Python memory held after the block (``retained``) and at its peak, in MiB."""
    gc.collect()
    tracemalloc.start()
    figures: dict[str, float] = {}
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        yield figures
        gc.collect()
        after, peak = tracemalloc.get_traced_memory()
        figures["retained"] = (after - before) / MIB
        figures["peak"] = (peak - before) / MIB
    finally:
        tracemalloc.stop()


@pytest.fixture
def no_tracebacks(capfd: pytest.CaptureFixture[str]) -> Iterator[None]:
    """Whatever the attack, the server prints no traceback (handler threads included)."""
    yield
    err = capfd.readouterr().err
    assert "Traceback" not in err, err


@pytest.fixture
def quick() -> Iterator[LocalAdServer]:
    """A server with small connection bounds, so the attacks run in seconds."""
    with LocalAdServer(max_connections=4, request_timeout=1.0) as running:
        yield running


# -- what the server keeps -------------------------------------------------------------------


def test_the_readme_states_the_bounds_the_code_applies() -> None:
    """The README's bounds table is derived from the constants, so neither drifts alone."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    rows = {
        line.split("|")[1].strip(): line.split("|")[2]
        for line in readme.splitlines()
        if line.startswith("| ") and line.count("|") >= 4
    }
    recorded = rows["recorded requests (`server.requests`)"]
    assert f"newest {DEFAULT_MAX_RECORDED_REQUESTS:,}" in recorded
    assert f"{MAX_RECORDED_BYTES // MIB} MiB" in recorded
    assert f" {MAX_BODY_BYTES // MIB} MiB" in rows["request body"]
    assert f"{MAX_HEAD_BYTES // 1024} KiB" in rows["request line + headers"]
    assert f"newest {MAX_BIDS:,}" in rows["served bids (`server.bids`)"]
    assert f"`max_connections={DEFAULT_MAX_CONNECTIONS}`" in rows["concurrent connections"]
    assert f"`request_timeout={DEFAULT_REQUEST_TIMEOUT}`" in rows["time to send a request"]


def test_oversized_bodies_get_413_before_the_body_is_read(
    server: LocalAdServer, no_tracebacks: None
) -> None:
    # The attack that cost +120 MB: 20 tokenless POSTs announcing 5 MiB each.
    started = time.monotonic()
    with traced() as memory:
        for _ in range(20):
            with connect(server) as sock:
                length = f"Content-Length: {5 * MIB}\r\n"
                sock.sendall(head(server, "POST", "/preload", length) + b"x" * 65536)
                response = read_all(sock)
                assert status_of(response) == 413
                assert b"at most 1048576 bytes" in response
    assert memory["retained"] < 1.0, memory
    assert memory["peak"] < 4.0, memory
    assert time.monotonic() - started < 10
    assert server.requests == []  # refused before routing: not recorded


def test_a_body_of_exactly_the_cap_is_accepted(server: LocalAdServer) -> None:
    body = b" " * (MAX_BODY_BYTES - 2) + b"{}"
    response = httpx.post(server.url + "/error", content=body, timeout=10)
    assert response.status_code == 204
    assert server.requests[-1].json == {}


def test_recorded_requests_are_bounded_by_bytes_newest_kept(
    server: LocalAdServer, no_tracebacks: None
) -> None:
    sent = 48  # 48 MiB of tokenless 1 MiB bodies, more than the 32 MiB kept
    with httpx.Client(timeout=10) as client:
        client.get(server.url + "/")
        with traced() as memory:
            for index in range(sent):
                body = f'{{"n": {index}, "pad": "'.encode() + b"x" * (MIB - 64) + b'"}'
                assert client.post(server.url + "/init", content=body).status_code == 401
            del body
    kept = server.requests
    assert memory["retained"] < 34, memory
    assert 20 < len(kept) < sent
    assert sum(len(r.body) for r in kept) <= MAX_RECORDED_BYTES
    assert [r.json["n"] for r in kept] == list(range(sent - len(kept), sent))


def test_max_recorded_requests_keeps_the_newest(no_tracebacks: None) -> None:
    with LocalAdServer(max_recorded_requests=3) as server, httpx.Client() as client:
        for index in range(7):
            client.get(f"{server.url}/static/creative.css?n={index}")
        assert [r.query["n"] for r in server.requests] == ["4", "5", "6"]
        assert server.wait_for_request("/static/", count=3).query["n"] == "6"
    for bad, error in [(0, ValueError), (1.5, TypeError), (True, TypeError)]:
        with pytest.raises(error, match="max_recorded_requests"):
            LocalAdServer(max_recorded_requests=bad)  # type: ignore[arg-type]


def test_served_bids_are_pruned_oldest_first_and_old_frames_are_404(
    server: LocalAdServer, no_tracebacks: None
) -> None:
    codes = [f"code{i}" for i in range(MAX_CODES_PER_PRELOAD)]
    served: list[str] = []
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for conversation in range(MAX_BIDS // MAX_CODES_PER_PRELOAD + 2):
            body = preload_body(enabledPlacementCodes=codes, conversationId=f"c{conversation}")
            bids = client.post("/preload", json=body, headers=AUTH).json()["bids"]
            served += [bid["bidId"] for bid in bids]
        assert len(served) > MAX_BIDS
        kept = server.bids
        assert len(kept) == MAX_BIDS
        assert list(kept) == served[-MAX_BIDS:]
        oldest, newest = served[0], served[-1]
        assert client.get(f"/api/frame/{oldest}").status_code == 404
        assert "not served by this server" in client.get(f"/api/modal/{oldest}").text
        assert client.get(f"/api/frame/{newest}").status_code == 200


def test_too_many_codes_in_one_preload_is_400(server: LocalAdServer) -> None:
    codes = [f"code{i}" for i in range(MAX_CODES_PER_PRELOAD + 1)]
    body = preload_body(enabledPlacementCodes=codes)
    response = httpx.post(server.url + "/preload", json=body, headers=AUTH)
    assert response.status_code == 400
    assert "at most 64" in response.json()["error"]
    assert server.bids == {}


def test_bids_and_sessions_with_huge_identifiers_stay_bounded(
    server: LocalAdServer, no_tracebacks: None
) -> None:
    # 100 preloads of ~0.9 MiB each, identifiers and context as large as the body allows.
    big = "é" * (150 * 1024)
    with traced() as memory, httpx.Client(base_url=server.url, timeout=10) as client:
        for index in range(100):
            body = preload_body(
                userId=big + str(index),
                conversationId=big + str(index),
                messages=[{"role": "user", "content": big}],
            )
            assert client.post("/preload", json=body, headers=AUTH).status_code == 200
        kept = server.bids
    # Recorded bodies (32 MiB) + bids (8 MiB) + sessions (4 MiB) + slack.
    assert memory["retained"] < 48, memory
    assert 0 < len(kept) < 100
    assert all(len(bid.context) == 2000 for bid in kept.values())


# -- malformed and hostile JSON --------------------------------------------------------------


@pytest.mark.parametrize("path", ["/init", "/preload", "/error", "/debug"])
@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 100_000, b"{not json", b"\xff\xfe\x00"],
    ids=["deep-array", "deep-object-unclosed", "malformed", "not-utf8"],
)
def test_malformed_or_too_deep_json_is_400_never_a_traceback(
    server: LocalAdServer, no_tracebacks: None, path: str, body: bytes
) -> None:
    response = httpx.post(server.url + path, content=body, headers=AUTH, timeout=10)
    assert response.status_code == 400
    assert "JSON object" in response.json()["error"]
    assert server.requests[-1].json is None
    # The server is still serving.
    assert httpx.get(server.url + "/").status_code == 200


def test_deep_json_without_a_token_is_401(server: LocalAdServer, no_tracebacks: None) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    assert httpx.post(server.url + "/preload", content=body).status_code == 401


def test_parse_json_bounds() -> None:
    assert parse_json(b"") is None
    assert parse_json(b"[" * 50_000 + b"]" * 50_000) is None
    assert parse_json(b'{"a": [1, {"b": null}]}') == {"a": [1, {"b": None}]}


# -- request framing -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "status"),
    [
        ("Transfer-Encoding: chunked\r\n", 411),
        ("Content-Length: 12abc\r\n", 400),
        ("Content-Length: -1\r\n", 400),
        ("Content-Length: 1_0\r\n", 400),
        ("Content-Length: 2\r\nContent-Length: 3\r\n", 400),
    ],
)
def test_bad_body_framing_is_refused_and_closed(
    server: LocalAdServer, no_tracebacks: None, extra: str, status: int
) -> None:
    with connect(server) as sock:
        sock.sendall(head(server, "POST", "/error", extra) + b"5\r\n{}\r\n0\r\n\r\n")
        response = read_all(sock)
    assert status_of(response) == status
    assert response.count(b"HTTP/1.") == 1  # the unread body was not parsed as a request


@pytest.mark.parametrize("where", ["headers", "request-line"])
def test_a_head_larger_than_64_kib_is_431(
    server: LocalAdServer, no_tracebacks: None, where: str
) -> None:
    if where == "headers":
        request = head(server, "GET", "/", "".join(f"X-{i}: {'y' * 1000}\r\n" for i in range(80)))
    else:
        request = head(server, "GET", "/?q=" + "y" * 70_000)
    with traced() as memory, connect(server) as sock:
        with contextlib.suppress(ConnectionError):
            sock.sendall(request)
        response = read_all(sock)
    assert status_of(response) == 431
    assert memory["peak"] < 2.0, memory


def test_a_client_that_leaves_mid_body_is_not_recorded(
    server: LocalAdServer, no_tracebacks: None
) -> None:
    with connect(server) as sock:
        sock.sendall(head(server, "POST", "/error", "Content-Length: 1000\r\n") + b"{")
    httpx.get(server.url + "/")
    assert [r.path for r in server.requests] == ["/"]


# -- time and connections ---------------------------------------------------------------------


def test_a_silent_connection_is_closed_after_request_timeout(
    quick: LocalAdServer, no_tracebacks: None
) -> None:
    with connect(quick) as sock:
        started = time.monotonic()
        assert read_all(sock) == b""
        assert 0.8 < time.monotonic() - started < 4.0


def test_dripped_headers_are_cut_off_after_request_timeout(
    quick: LocalAdServer, no_tracebacks: None
) -> None:
    with connect(quick) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n")
        started = time.monotonic()
        with contextlib.suppress(ConnectionError):
            # One header byte every 0.1 s: each recv succeeds, the deadline still ends it.
            while time.monotonic() - started < 5:
                sock.sendall(b"X")
                time.sleep(0.1)
        elapsed = time.monotonic() - started
    assert elapsed < 4.0
    assert quick.requests == []


def test_a_dripped_body_gets_408(quick: LocalAdServer, no_tracebacks: None) -> None:
    with connect(quick) as sock:
        sock.sendall(head(quick, "POST", "/error", "Content-Length: 200\r\n"))
        started = time.monotonic()
        sock.settimeout(0.1)
        response = b""
        while not response and time.monotonic() - started < 5:
            with contextlib.suppress(TimeoutError, ConnectionError):
                sock.sendall(b" ")
                response = sock.recv(65536)
    assert status_of(response) == 408
    assert 0.8 < time.monotonic() - started < 4.0


def test_default_request_timeout_cuts_a_slowloris_off_in_about_five_seconds(
    server: LocalAdServer, no_tracebacks: None
) -> None:
    with connect(server) as sock:
        started = time.monotonic()
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        assert read_all(sock) == b""
        assert 4.5 < time.monotonic() - started < 8.0


def test_connection_cap_bounds_threads_and_a_normal_client_is_still_served(
    quick: LocalAdServer, no_tracebacks: None
) -> None:
    """12 dripping attackers against a cap of 4: never more than 4 handler threads,
    every attacker is cut off, and a normal client queued behind them is served."""
    baseline = request_threads()
    attackers = [connect(quick) for _ in range(12)]
    stop = threading.Event()
    closed: list[float] = []
    started = time.monotonic()

    def drip(sock: socket.socket) -> None:
        sock.settimeout(0.05)
        try:
            sock.sendall(b"GET / HTTP/1.1\r\n")
            while not stop.is_set():
                sock.sendall(b"X")
                with contextlib.suppress(TimeoutError):
                    if sock.recv(1) == b"":
                        break
        except OSError:
            pass
        closed.append(time.monotonic() - started)

    drippers = [threading.Thread(target=drip, args=(sock,), daemon=True) for sock in attackers]
    for thread in drippers:
        thread.start()
    peak = 0
    result: dict[str, Any] = {}

    def normal_client() -> None:
        response = httpx.get(quick.url + "/static/creative.css", timeout=15)
        result["status"] = response.status_code
        result["elapsed"] = time.monotonic() - started

    time.sleep(0.2)  # the attackers connect first
    client = threading.Thread(target=normal_client)
    client.start()
    while client.is_alive():
        peak = max(peak, request_threads() - baseline)
        client.join(0.02)
    stop.set()
    for thread in drippers:
        thread.join(5)
    for sock in attackers:
        sock.close()
    assert peak <= 4
    assert result["status"] == 200
    assert result["elapsed"] < 8.0, result
    assert len(closed) == 12


def test_stop_is_prompt_while_attackers_hold_every_slot(no_tracebacks: None) -> None:
    before = set(threading.enumerate())
    server = LocalAdServer(max_connections=2, request_timeout=30).start()
    attackers = [connect(server) for _ in range(6)]
    time.sleep(0.3)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 3.0
    for sock in attackers:
        sock.close()
    assert set(threading.enumerate()) - before == set()


def test_connection_options_are_validated() -> None:
    with pytest.raises(ValueError, match="max_connections"):
        LocalAdServer(max_connections=0)
    with pytest.raises(ValueError, match="request_timeout"):
        LocalAdServer(request_timeout=0)
    with pytest.raises(ValueError, match="request_timeout"):
        LocalAdServer(request_timeout=float("inf"))


# -- Host header (DNS rebinding) -------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    ["attacker.example", "attacker.example:{port}", "127.0.0.1.nip.io:{port}", "", "[::1"],
)
def test_a_foreign_host_is_refused_with_421_and_not_recorded(
    server: LocalAdServer, no_tracebacks: None, host: str
) -> None:
    # What a page on attacker.example sends once its name resolves to 127.0.0.1.
    headers = {"Host": host.format(port=server.port), **AUTH}
    response = httpx.post(server.url + "/preload", json=preload_body(), headers=headers, timeout=10)
    assert response.status_code == 421
    assert "DNS-rebinding" in response.json()["error"]
    assert server.requests == []
    assert server.bids == {}


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST.:{port}", "[::1]:{port}", "127.0.0.1"],
)
def test_the_servers_own_names_are_served(server: LocalAdServer, host: str) -> None:
    headers = {"Host": host.format(port=server.port)}
    assert httpx.get(server.url + "/", headers=headers).status_code == 200


@pytest.mark.parametrize(
    "request_head",
    [
        b"GET / HTTP/1.0\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: attacker.example\r\n\r\n",
    ],
    ids=["no-host", "two-hosts"],
)
def test_a_missing_or_repeated_host_is_refused(
    server: LocalAdServer, no_tracebacks: None, request_head: bytes
) -> None:
    with connect(server) as sock:
        sock.sendall(request_head)
        assert status_of(read_all(sock)) == 421


def test_an_http_0_9_request_is_answered_without_a_traceback(
    server: LocalAdServer, no_tracebacks: None
) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /\r\n\r\n")
        read_all(sock)
    assert server.requests == []


def test_host_check_names() -> None:
    loopback = HostCheck("127.0.0.1")
    assert loopback.allows("127.0.0.1:1") and loopback.allows("127.0.0.2")
    assert loopback.allows("localhost") and loopback.allows("[::1]:80")
    assert not loopback.allows("192.0.2.1:80")
    assert not loopback.allows("localhost:http")
    assert not loopback.allows("localhost:١٢٣")  # non-ASCII digits
    assert not loopback.allows(None)
    named = HostCheck("devbox.lan")
    assert named.allows("DEVBOX.LAN:8123") and not named.allows("other.lan:8123")
    every = HostCheck("0.0.0.0")
    assert every.allows("192.0.2.1:8123") and every.allows(f"{socket.gethostname()}:1")
    assert not every.allows("attacker.example:8123")


# -- the containers ---------------------------------------------------------------------------


def test_bounded_log_drops_oldest_by_count_and_bytes() -> None:
    log: BoundedLog[bytes] = BoundedLog(3, 10, len)
    for item in (b"aaaa", b"bbbb", b"c", b"d"):
        log.append(item)
    assert list(log) == [b"bbbb", b"c", b"d"] and log.bytes == 6
    log.append(b"e" * 8)
    assert list(log) == [b"c", b"d", b"e" * 8] and log.bytes == 10
    log.append(b"f" * 50)  # larger than the budget on its own: kept alone
    assert list(log) == [b"f" * 50]


def test_bounded_map_replaces_and_drops_oldest() -> None:
    store: BoundedMap[str, str] = BoundedMap(2, 100, lambda k, v: len(v))
    store["a"], store["b"] = "1", "2"
    store["a"] = "3"  # now newest
    store["c"] = "4"
    assert store.as_dict() == {"a": "3", "c": "4"}
    store["d"] = "x" * 99
    assert store.as_dict() == {"c": "4", "d": "x" * 99} and store.bytes == 100
    store["e"] = "y" * 100
    assert store.as_dict() == {"e": "y" * 100}
    assert store.get("a") is None


def test_ordinary_traffic_is_unchanged(server: LocalAdServer) -> None:
    """The bounds leave the normal flow alone: preload, frame, modal, reports."""
    with httpx.Client(base_url=server.url) as client:
        bid = client.post("/preload", json=preload_body(), headers=AUTH).json()["bids"][0]
        assert client.get(f"/api/frame/{bid['bidId']}").status_code == 200
        modal = client.get(f"/api/modal/{bid['bidId']}")
        assert 'data-context="boots?"' in modal.text
        assert client.post("/error", content=json.dumps({"error": "x"})).status_code == 204
