"""Preload latency: the SDK path against a raw sync POST, where each millisecond goes,
and the same against the code at this issue's start ("before", ``baseline.BASELINE``),
side by side.

``python -m bench.latency worker RUNS`` measures, in this interpreter and interleaved
(one SDK preload, then one raw ``httpx.Client`` POST of the same body after the same
10 ms idle, against each server in turn), against a ``LocalAdServer`` and a plain
stdlib ``http.server`` (HTTP/1.0, one request per connection, one thread), and
prints JSON samples. ``compare`` runs that worker alternately with this tree's
``kontext_widget`` and with the baseline's (``baseline.snapshot``), a few rounds
each, so a loaded machine slows both alike. The breakdown patches timestamps
into the path (bench only: the package carries no tracing code), in either
package layout (``baseline.package_module``).
"""

from __future__ import annotations

import itertools
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from kontext_widget._constants import TIMING

from . import baseline
from .plain_server import plain_server
from .suite import Figure

ROOT = Path(__file__).parent.parent
TOKEN = "pub-bench"
STAGES = [
    "debounce fired",
    "request start",
    "connection acquired",
    "request sent",
    "response headers",
    "body read",
    "decoded",
    "event delivered",
]


def _preload_path() -> tuple[Any, Any]:
    """(the class whose ``_debounce`` starts a preload, the module whose ``classify_preload``
    decodes it), in this tree's layout or the baseline's from before ``_session.py`` was split."""
    try:
        from kontext_widget import _session_state
        from kontext_widget._network import preload
    except ImportError:
        from kontext_widget import _session

        return _session.Session, _session
    return _session_state.SessionState, preload


class _Tracer:
    """Timestamps along the preload path, patched in from outside."""

    def __init__(self) -> None:
        self.marks: dict[str, float] = {}

    def mark(self, name: str) -> None:
        self.marks.setdefault(name, time.perf_counter())

    def install(self) -> None:
        _client: Any = baseline.package_module("client")

        state_class, classify_module = _preload_path()
        tracer = self
        attempt = _client._attempt
        debounce = state_class._debounce
        classify = classify_module.classify_preload
        build_request = httpx.AsyncClient.build_request
        trace_names = {
            "http11.send_request_headers.started": "connection acquired",
            "http11.send_request_body.complete": "request sent",
            "http11.receive_response_headers.complete": "response headers",
            "http11.receive_response_body.complete": "body read",
        }

        async def on_trace(name: str, _info: object) -> None:
            if name in trace_names:
                tracer.mark(trace_names[name])

        def traced_build_request(client: httpx.AsyncClient, *args: Any, **kwargs: Any) -> Any:
            kwargs["extensions"] = {**(kwargs.get("extensions") or {}), "trace": on_trace}
            return build_request(client, *args, **kwargs)

        async def traced_attempt(*args: Any) -> Any:
            tracer.mark("request start")
            return await attempt(*args)

        async def traced_debounce(session: Any) -> Any:
            result = await debounce(session)
            tracer.mark("debounce fired")
            return result

        def traced_classify(*args: Any) -> Any:
            result = classify(*args)
            tracer.mark("decoded")
            return result

        _client._attempt = traced_attempt
        httpx.AsyncClient.build_request = traced_build_request  # type: ignore[method-assign,assignment]
        state_class._debounce = traced_debounce
        classify_module.classify_preload = traced_classify


def worker(runs: int, trace: bool) -> dict[str, Any]:
    """Interleaved SDK and raw samples (ms) against both servers, in this interpreter."""
    from kontext_widget import AdEvent, Filled, LocalAdServer, Message, create_session

    os.environ.setdefault("KONTEXT_WIDGET_CONFIG_DIR", tempfile.mkdtemp(prefix="kw-bench-"))
    tracer = _Tracer()
    if trace:
        tracer.install()
    out: dict[str, Any] = {}
    with LocalAdServer() as local:
        probe = {"id": "p", "role": "user", "content": "q", "createdAt": "2026-01-01T00:00:00Z"}
        answer = httpx.post(
            local.url + "/preload",
            json={
                "publisherToken": TOKEN,
                "userId": "u",
                "conversationId": "c",
                "enabledPlacementCodes": ["inlineAd"],
                "messages": [probe],
            },
            headers={"Kontextso-Publisher-Token": TOKEN},
        ).content
        with plain_server(answer) as plain:
            servers = {"LocalAdServer": local.url, "stdlib http.server": plain}
            filled = threading.Event()

            def on_event(event: AdEvent) -> None:
                if isinstance(event, Filled):
                    tracer.mark("event delivered")
                    filled.set()

            sessions = {
                name: create_session(
                    publisher_token=TOKEN,
                    user_id="user-bench",
                    conversation_id=f"bench-latency-{index}",
                    ad_server_url=url,
                    on_event=on_event,
                )
                for index, (name, url) in enumerate(servers.items())
            }
            headers = {"Content-Type": "application/json", "Kontextso-Publisher-Token": TOKEN}
            body = b""
            with httpx.Client() as client:
                for i in range(runs + 5):
                    for name, url in servers.items():
                        session = sessions[name]
                        session.wait_idle(10)
                        filled.clear()
                        tracer.marks.clear()
                        start = sdk_start = time.perf_counter()
                        session.add_message(Message(id=f"m{i}", role="user", content="hiking?"))
                        if not filled.wait(10):
                            raise RuntimeError("no ad.filled within 10 s")
                        sdk = time.perf_counter() - start
                        marks = dict(tracer.marks)
                        session.wait_idle(10)
                        if not body:
                            body = local.requests_to("/preload")[-1].body
                        time.sleep(0.010)  # the same idle gap the debounce gives the SDK
                        start = time.perf_counter()
                        client.post(url + "/preload", content=body, headers=headers).read()
                        raw = time.perf_counter() - start
                        if i < 5:
                            continue  # warm-up
                        entry = out.setdefault(name, {"sdk": [], "raw": [], "stages": []})
                        entry["sdk"].append(sdk * 1000)
                        entry["raw"].append(raw * 1000)
                        if trace:  # ms since add_message, per stage reached
                            entry["stages"].append(
                                {k: (v - sdk_start) * 1000 for k, v in marks.items()}
                            )
            for session in sessions.values():
                session.destroy()
    return out


def _run_worker(tree: Path, runs: int, trace: bool) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    args = [sys.executable, "-m", "bench.latency", "worker", str(runs)]
    if trace:
        args.append("trace")
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=True, cwd=tree)
    samples: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return samples


def compare(rounds: int = 4, runs: int = 50) -> dict[str, dict[str, Any]]:
    """Alternate this tree and the baseline, ``rounds`` times ``runs`` preloads per server each."""
    snapshot = baseline.snapshot()
    merged: dict[str, dict[str, Any]] = {"after": {}, "before": {}}
    for _ in range(rounds):
        for label, tree in (("after", ROOT), ("before", snapshot)):
            for server, data in _run_worker(tree, runs, trace=True).items():
                entry = merged[label].setdefault(server, {"sdk": [], "raw": [], "stages": []})
                for key in entry:
                    entry[key] += data[key]
    return merged


def preload_section() -> list[Figure]:
    """Section 3: SDK path minus raw POST, before (baseline) and after, with the breakdown."""
    result = compare()
    before, after = result["before"], result["after"]
    debounce_ms = TIMING.debounce * 1000
    figures: list[Figure] = []
    for server in ("LocalAdServer", "stdlib http.server"):
        b, a = before[server], after[server]
        over_b = median(b["sdk"]) - median(b["raw"])
        over_a = median(a["sdk"]) - median(a["raw"])
        figures += [
            Figure(
                f"{server}: add_message(user) -> ad.filled, median of {len(a['sdk'])}",
                f"{median(a['sdk']):.2f} ms",
                before=f"{median(b['sdk']):.2f} ms",
            ),
            Figure(
                f"{server}: raw sync httpx POST, same body, after the same 10 ms idle",
                f"{median(a['raw']):.2f} ms",
                before=f"{median(b['raw']):.2f} ms",
            ),
            Figure(
                f"{server}: SDK - raw, median",
                f"{over_a:.2f} ms",
                f"<= debounce {debounce_ms:.0f} ms + 1 ms",
                over_a <= debounce_ms + 1,
                before=f"{over_b:.2f} ms",
            ),
        ]
        for (stage, ms_a), (_, ms_b) in zip(
            breakdown(a["stages"]), breakdown(b["stages"]), strict=True
        ):
            figures.append(
                Figure(f"{server} breakdown: -> {stage}", f"{ms_a:.2f} ms", before=f"{ms_b:.2f} ms")
            )
    return figures


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _main(argv: list[str]) -> int:
    if argv[:1] == ["tls"]:
        numbers = int(argv[2]), int(argv[3]), float(argv[4]), float(argv[5])
        print(json.dumps(tls_worker(argv[1], *numbers)))
        return 0
    if argv[:1] == ["where"]:
        import kontext_widget

        print(kontext_widget.__file__)
        return 0
    if argv[:1] == ["worker"]:
        print(json.dumps(worker(int(argv[1]), trace="trace" in argv[2:])))
        return 0
    result = compare()
    for label, servers in result.items():
        for server, data in servers.items():
            if isinstance(data, dict):
                print(label, server, f"sdk {median(data['sdk']):.2f} raw {median(data['raw']):.2f}")
    return 0


def breakdown(stages: list[dict[str, float]]) -> list[tuple[str, float]]:
    """Median time spent in each stage (since the previous one) over the runs that reached all."""
    complete = [marks for marks in stages if all(stage in marks for stage in STAGES)]
    rows = []
    for index, stage in enumerate(STAGES):
        before = STAGES[index - 1] if index else None
        rows.append((stage, median([m[stage] - (m[before] if before else 0.0) for m in complete])))
    return rows


# -- production conditions: TLS and a 40 ms round trip ------------------------------------

ONE_WAY = 0.020  # seconds each way through the proxy: a 40 ms round trip


def tls_worker(
    url: str, warm_per_idle: int, idle_runs: int, idle: float, offset: float
) -> dict[str, Any]:
    """add_message -> ad.filled against ``url`` (the proxy), after ``idle`` seconds and warm.

    Each message after a pause is followed by ``warm_per_idle`` messages 0.2 s
    apart, so warm and after-idle samples are taken at the same time (the same
    machine load), not minutes apart. The client trusts the CA through
    ``SSL_CERT_FILE``, set by ``tls_compare`` before this interpreter started
    (the SDK's TLS context honours it, like httpx's own).
    """
    from kontext_widget import AdEvent, Filled, Message, create_session

    out: dict[str, list[float]] = {"warm": [], "idle": []}
    filled = threading.Event()

    def on_event(event: AdEvent) -> None:
        if isinstance(event, Filled):
            filled.set()

    session = create_session(
        publisher_token=TOKEN,
        user_id="user-bench",
        conversation_id=f"bench-tls-{os.getpid()}",
        ad_server_url=url,
        on_event=on_event,
    )

    def turn(index: int, pause: float) -> float:
        time.sleep(pause)
        filled.clear()
        start = time.perf_counter()
        session.add_message(Message(id=f"t{index}", role="user", content="hiking?"))
        if not filled.wait(30):
            raise RuntimeError("no ad.filled within 30 s")
        elapsed = (time.perf_counter() - start) * 1000
        session.wait_idle(10)
        return elapsed

    session.wait_idle(10)
    time.sleep(offset)  # the other worker's requests do not coincide with these
    turns = itertools.count()
    for _ in range(2):  # warm-up: the pool, the TLS context, the code paths
        turn(next(turns), 0.2)
    for _ in range(idle_runs):
        out["idle"].append(turn(next(turns), idle))
        out["warm"] += [turn(next(turns), 0.2) for _ in range(warm_per_idle)]
    session.destroy()
    return out


def _server_time(runs: int = 30) -> list[float]:
    """A POST to a plain loopback LocalAdServer, connect included: the server's own time."""
    from kontext_widget import LocalAdServer

    probe = {"id": "p", "role": "user", "content": "q", "createdAt": "2026-01-01T00:00:00Z"}
    body = {
        "publisherToken": TOKEN,
        "userId": "u",
        "conversationId": "c",
        "enabledPlacementCodes": ["inlineAd"],
        "messages": [probe],
    }
    timings = []
    with LocalAdServer() as plain, httpx.Client() as client:
        for _ in range(runs):
            start = time.perf_counter()
            client.post(
                plain.url + "/preload", json=body, headers={"Kontextso-Publisher-Token": TOKEN}
            )
            timings.append((time.perf_counter() - start) * 1000)
    return timings[5:]


def _ready_request_time(port: int, ca_file: Path, request: bytes, runs: int) -> list[float]:
    """``request`` sent raw on a TLS connection opened beforehand: one round trip + server time."""
    import socket

    context = ssl.create_default_context(cafile=str(ca_file))
    timings = []
    for _ in range(runs):
        with context.wrap_socket(
            socket.create_connection(("127.0.0.1", port)), server_hostname="127.0.0.1"
        ) as sock:
            time.sleep(0.05)
            start = time.perf_counter()
            sock.sendall(request)
            while sock.recv(65536):
                pass
            timings.append((time.perf_counter() - start) * 1000)
    return timings[2:]


def _minimal_request(port: int) -> bytes:
    """A one-message ``/preload`` with only the headers the server needs."""
    body = json.dumps(
        {
            "publisherToken": TOKEN,
            "userId": "u",
            "conversationId": "c",
            "enabledPlacementCodes": ["inlineAd"],
            "messages": [
                {"id": "p", "role": "user", "content": "q", "createdAt": "2026-01-01T00:00:00Z"}
            ],
        }
    ).encode()
    return (
        f"POST /preload HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json"
        f"\r\nKontextso-Publisher-Token: {TOKEN}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def _replayed_request(recorded: Any) -> bytes:
    """A request the server recorded, as it was sent: the same head and body, byte for byte
    (httpx sends HTTP/1.1 with its headers in this order)."""
    head = "".join(f"{name}: {value}\r\n" for name, value in recorded.headers.items())
    return f"POST /preload HTTP/1.1\r\n{head}\r\n".encode("latin-1") + bytes(recorded.body)


def tls_compare(warm_per_idle: int = 7, idle_runs: int = 9, idle: float = 60.0) -> dict[str, Any]:
    """This tree's client and the baseline's, at the same time, against one TLS server and proxy.

    The server and proxy run here (this tree's ``LocalAdServer``: the baseline's has no
    TLS); each worker runs only the SDK under test.
    """
    import trustme

    from kontext_widget import LocalAdServer

    from .latency_proxy import LatencyProxy

    snapshot = baseline.snapshot()
    directory = Path(tempfile.mkdtemp(prefix="kw-tls-"))
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_context)
    ca_file = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    env = {**os.environ, "SSL_CERT_FILE": str(ca_file), "KONTEXT_WIDGET_CONFIG_DIR": str(directory)}
    result: dict[str, Any] = {"server": _server_time(), "load_at_start": os.getloadavg()[0]}
    with (
        LocalAdServer(ssl_context=server_context) as server,
        LatencyProxy(server.port, ONE_WAY) as proxy,
    ):
        url = f"https://127.0.0.1:{proxy.port}"
        args = [sys.executable, "-m", "bench.latency", "tls", url]
        args += [str(warm_per_idle), str(idle_runs), str(idle)]
        running = {
            label: subprocess.Popen(
                [*args, str(0.0 if label == "after" else idle / 2)],
                env={**env, "PYTHONPATH": str(tree)},
                stdout=subprocess.PIPE,
                text=True,
                cwd=tree,
            )
            for label, tree in (("after", ROOT), ("before", snapshot))
        }
        for label, process in running.items():
            stdout, _ = process.communicate()
            if process.returncode != 0:
                raise RuntimeError(f"TLS worker ({label}) failed")
            result[label] = json.loads(stdout.strip().splitlines()[-1])
        # The reference the target is built on: the last /preload of this tree's client,
        # replayed byte for byte (its 30 messages, its headers) through the same proxy.
        conversation = f"bench-tls-{running['after'].pid}"
        last = [r for r in server.requests_to("/preload") if conversation.encode() in r.body][-1]
        replayed, minimal = _replayed_request(last), _minimal_request(proxy.port)
        result["ready"], result["ready_minimal"] = [], []
        for _ in range(4):  # alternating, so both see the same load
            result["ready"] += _ready_request_time(proxy.port, ca_file, replayed, 7)
            result["ready_minimal"] += _ready_request_time(proxy.port, ca_file, minimal, 7)
        result["request_bytes"], result["minimal_bytes"] = len(replayed), len(minimal)
        result["request_messages"] = len(json.loads(last.body)["messages"])
    return result


def _spread(values: list[float]) -> str:
    return f"{median(values):.1f} ms (min {min(values):.1f}, max {max(values):.1f})"


def tls_section() -> list[Figure]:
    result = tls_compare()
    before, after = result["before"], result["after"]
    server_ms = median(result["server"])
    ready_ms = median(result["ready"])
    rtt = 2 * ONE_WAY * 1000
    debounce_ms = TIMING.debounce * 1000
    target = debounce_ms + ready_ms + 5
    reference = "(the same: a reference, no client code)"
    return [
        Figure(
            "load average (1 min) at the start of the run (its end: above the table)",
            f"{result['load_at_start']:.1f} on {os.cpu_count()} cores",
            before="(the same run)",
        ),
        Figure(
            "server time (POST to a plain loopback LocalAdServer, connect included)",
            f"{server_ms:.2f} ms",
            before=reference,
        ),
        Figure(
            "one round trip + server time: a minimal raw /preload "
            f"({result['minimal_bytes']} B) on a TLS connection opened beforehand",
            f"{_spread(result['ready_minimal'])} (proxy: {rtt:.0f} ms round trip)",
            before=reference,
        ),
        Figure(
            "one round trip + server time: the client's last /preload "
            f"({result['request_bytes']} B, {result['request_messages']} messages) replayed "
            "byte for byte, likewise",
            _spread(result["ready"]),
            before=reference,
        ),
        Figure(
            f"warm (0.2 s pauses): add_message -> ad.filled, median of {len(after['warm'])}",
            _spread(after["warm"]),
            f"<= {target:.1f} ms",
            median(after["warm"]) <= target,
            before=_spread(before["warm"]),
        ),
        Figure(
            f"after 60 s idle: add_message -> ad.filled, median of {len(after['idle'])}",
            f"{_spread(after['idle'])}: {', '.join(f'{v:.1f}' for v in after['idle'])}",
            f"<= debounce + replayed request + 5 = {target:.1f} ms",
            median(after["idle"]) <= target,
            before=_spread(before["idle"]),
        ),
    ]


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
