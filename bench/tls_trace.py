"""Where the time of one ``add_message`` -> ``ad.filled`` goes over TLS and a 40 ms round trip.

``python -m bench.tls_trace [TURNS] [PAUSE] [--tree PATH]`` runs a TLS ``LocalAdServer``
behind ``LatencyProxy`` here, and a client in a fresh interpreter (this tree's package,
or the one under ``PATH``, e.g. an export of an older commit). Each turn is one user
message after ``PAUSE`` seconds, then, 0.3 s later, the very bytes the client sent
replayed raw on a TLS connection opened before the pause. Timestamps are patched in from
outside (the package carries no tracing code): on the client, ``latency._Tracer``'s
stages plus the spare's hand-over, the write to the socket and the answer's arrival;
in the proxy, each chunk read and written; in the server, the parsed head and the
``/preload`` handler. All on ``time.monotonic`` (one clock across processes on Linux).
Prints the median of each stage, in milliseconds since ``add_message`` (or since the
raw request's send), with min and max. A timing run: take the shared bench lock.
"""

from __future__ import annotations

import json
import os
import socket
import socketserver
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parent.parent
Event = tuple[float, str, int]
EVENTS: list[Event] = []


def _event(name: str, size: int = 0) -> None:
    EVENTS.append((time.monotonic(), name, size))


def _client(url: str, ca_file: str, port: int, pauses: list[float]) -> list[dict[str, Any]]:
    """The client's turns (run in the child interpreter)."""
    from asyncio import sslproto

    from bench import latency
    from kontext_widget import AdEvent, Filled, Message, create_session
    from kontext_widget._network import asyncio_stream, warm

    tracer = latency._Tracer()
    tracer.install()
    protocol_class: Any = sslproto.SSLProtocol
    buffer_updated = protocol_class.buffer_updated

    def on_bytes(protocol: Any, size: int) -> None:
        _event("client read the answer", size)
        buffer_updated(protocol, size)

    flush = asyncio_stream.AsyncioStream._flush
    sent: list[bytes] = []

    def on_flush(stream: Any) -> None:
        if stream._pending:
            _event("request written")
            sent.append(b"".join(stream._pending))
        flush(stream)

    take = warm.WarmBackend._take

    async def on_take(backend: Any, origin: Any) -> Any:
        _event("spare taken")
        return await take(backend, origin)

    protocol_class.buffer_updated = on_bytes
    asyncio_stream.AsyncioStream._flush = on_flush  # type: ignore[method-assign,assignment]
    warm.WarmBackend._take = on_take  # type: ignore[method-assign,assignment]
    filled = threading.Event()

    def on_event(event: AdEvent) -> None:
        if isinstance(event, Filled):
            _event("on_event called")
            filled.set()

    session = create_session(
        publisher_token=latency.TOKEN,
        user_id="u",
        conversation_id=f"trace-{os.getpid()}",
        ad_server_url=url,
        on_event=on_event,
    )
    session.wait_idle(10)
    context = ssl.create_default_context(cafile=ca_file)
    turns: list[dict[str, Any]] = []
    for index, pause in enumerate(pauses):
        raw = context.wrap_socket(
            socket.create_connection(("127.0.0.1", port)), server_hostname="127.0.0.1"
        )
        time.sleep(pause)
        filled.clear()
        EVENTS.clear()
        tracer.marks.clear()
        start = time.monotonic()
        session.add_message(Message(id=f"t{index}", role="user", content="hiking?"))
        if not filled.wait(30):
            raise RuntimeError("no ad.filled within 30 s")
        _event("waiting thread woke")
        session.wait_idle(10)
        marks = [(at, name, 0) for name, at in tracer.marks.items()]
        turns.append({"kind": "client", "start": start, "events": EVENTS + marks})
        time.sleep(0.3)
        EVENTS.clear()
        start = time.monotonic()
        raw.sendall(sent[-1])
        while raw.recv(65536):
            pass
        _event("end of answer")
        raw.close()
        turns.append({"kind": "raw", "start": start, "events": list(EVENTS)})
    session.destroy()
    return turns


def _instrument_server_and_proxy() -> None:
    from kontext_widget._local_server import http

    from . import latency_proxy

    write = socketserver._SocketWriter.write  # type: ignore[attr-defined]

    def on_write(writer: Any, data: Any) -> Any:
        _event("server wrote", len(data))
        return write(writer, data)

    parse_request = http._Handler.parse_request

    def on_parse(handler: Any) -> bool:
        _event("server parsed the head")
        return parse_request(handler)

    pump = latency_proxy.LatencyProxy._pump

    async def on_pump(proxy: Any, source: Any, sink: Any) -> None:
        way = "up" if sink.get_extra_info("peername")[1] == proxy._upstream[1] else "down"
        sink_write, source_read = sink.write, source.read

        def written(data: bytes) -> None:
            _event(f"proxy wrote {way}", len(data))
            sink_write(data)

        async def read(limit: int) -> bytes:
            data: bytes = await source_read(limit)
            _event(f"proxy read {way}", len(data))
            return data

        sink.write, source.read = written, read
        await pump(proxy, source, sink)

    socketserver._SocketWriter.write = on_write  # type: ignore[attr-defined]
    http._Handler.parse_request = on_parse  # type: ignore[method-assign,assignment]
    latency_proxy.LatencyProxy._pump = on_pump  # type: ignore[method-assign,assignment]


def _stages(turn: dict[str, Any], server_side: list[Event], handshake: int) -> dict[str, float]:
    """First time of each stage in ``turn``, ms since its start; the proxy's chunks of a
    spare's handshake (``handshake`` bytes or fewer, upward) are not the request."""
    start = turn["start"]
    end = max(at for at, _, _ in turn["events"])
    events = [tuple(e) for e in turn["events"]] + [e for e in server_side if start <= e[0] <= end]
    first: dict[str, float] = {}
    for at, name, size in sorted(events):
        if name.startswith("proxy") and name.endswith("up") and 0 < size <= handshake:
            continue
        first.setdefault(name, (at - start) * 1000)
    return first


def main(argv: list[str]) -> int:
    import trustme

    from kontext_widget import LocalAdServer

    from .latency import ONE_WAY
    from .latency_proxy import LatencyProxy

    tree = ROOT
    if "--tree" in argv:
        at = argv.index("--tree")
        tree = Path(argv[at + 1]).resolve()
        del argv[at : at + 2]
    turns = int(argv[0]) if argv else 20
    pause = float(argv[1]) if len(argv) > 1 else 1.0
    _instrument_server_and_proxy()
    directory = Path(tempfile.mkdtemp(prefix="kw-trace-"))
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    env = {
        **os.environ,
        "SSL_CERT_FILE": str(ca_file),
        "KONTEXT_WIDGET_CONFIG_DIR": str(directory),
        "PYTHONPATH": f"{tree}{os.pathsep}{ROOT}",
    }
    with LocalAdServer(ssl_context=context) as server, LatencyProxy(server.port, ONE_WAY) as proxy:
        # Run as a script from the client's tree, so that its package is the one imported.
        args = [sys.executable, __file__, "client", f"https://127.0.0.1:{proxy.port}"]
        args += [str(ca_file), str(proxy.port), *[str(pause)] * (turns + 2)]
        done = subprocess.run(args, env=env, capture_output=True, text=True, cwd=tree, check=True)
    results = json.loads(done.stdout.strip().splitlines()[-1])[4:]  # two warm-up turns
    server_side = list(EVENTS)
    table: dict[str, dict[str, list[float]]] = {"client": {}, "raw": {}}
    for turn in results:
        for name, ms in _stages(turn, server_side, handshake=600).items():
            table[turn["kind"]].setdefault(name, []).append(ms)
    for kind, stages in table.items():
        print(f"{kind} ({len(results) // 2} turns, {pause} s apart):")
        for name, values in sorted(stages.items(), key=lambda item: statistics.median(item[1])):
            print(
                f"  {name:32} {statistics.median(values):7.2f}"
                f"  (min {min(values):6.2f}, max {max(values):6.2f})"
            )
    print(f"load average {os.getloadavg()[0]:.1f}; client package from {tree}")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["client"]:
        pauses = [float(value) for value in sys.argv[5:]]
        print(json.dumps(_client(sys.argv[2], sys.argv[3], int(sys.argv[4]), pauses)))
        raise SystemExit(0)
    raise SystemExit(main(sys.argv[1:]))
