"""A loopback HTTP server that misbehaves on purpose, for the fault and soak tests.

``LocalAdServer`` speaks the protocol correctly (plus scripted wrong answers);
the faults here live below HTTP: a port that refuses, a reset in the middle of
a body, a server that never answers, bytes that trickle, a body that never
ends. Each is a real socket on 127.0.0.1, so the client's timeouts, retries
and size limit are exercised exactly as a broken production server would.

Every response carries ``Connection: close``: one connection per request keeps
the bookkeeping simple and makes each retry a fresh connect.
"""

from __future__ import annotations

import contextlib
import functools
import json
import socket
import struct
import threading
import time
import uuid
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Behaviour",
    "FaultServer",
    "Received",
    "bomb",
    "drip",
    "encoded",
    "endless",
    "fill",
    "hang",
    "raw",
    "reset_mid_body",
    "status",
    "zeros_stream",
]

# Upper bound on how long a hanging or dripping handler keeps its connection:
# long enough to outlast any patched client timeout, short enough that a test
# that forgot to stop the server does not leak a thread for minutes.
HANDLER_LIMIT = 10.0


@dataclass(frozen=True)
class Received:
    """One request as it arrived."""

    path: str
    headers: dict[str, str]
    body: bytes
    json: Any


class Connection:
    """What a behaviour gets: the socket, the request, and the server's stop flag."""

    def __init__(self, sock: socket.socket, request: Received, stopping: threading.Event) -> None:
        self.sock = sock
        self.request = request
        self.stopping = stopping

    def send_head(self, status_code: int, headers: dict[str, str]) -> None:
        lines = [f"HTTP/1.1 {status_code} Fault", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def send_response(self, status_code: int, body: bytes, content_type: str) -> None:
        headers = {"Content-Length": str(len(body))}
        if body:
            headers["Content-Type"] = content_type
        self.send_head(status_code, headers)
        self.sock.sendall(body)


Behaviour = Callable[[Connection], None]


def status(code: int, body: bytes = b"") -> Behaviour:
    """A bare status line (204, 429, 500...) with an optional body."""

    def behave(conn: Connection) -> None:
        conn.send_response(code, body, "application/json")

    return behave


def raw(body: bytes, code: int = 200) -> Behaviour:
    """Exactly ``body`` as ``application/json``: malformed, truncated, wrong-typed..."""
    return status(code, body)


def encoded(body: bytes, content_encoding: str, code: int = 200) -> Behaviour:
    """``body`` sent as is with a ``Content-Encoding`` header (already encoded by the caller)."""

    def behave(conn: Connection) -> None:
        headers = {"Content-Length": str(len(body)), "Content-Type": "application/json"}
        headers["Content-Encoding"] = content_encoding
        conn.send_head(code, headers)
        conn.sock.sendall(body)

    return behave


_MIB_OF_ZEROS = bytes(1 << 20)


def zeros_stream(coding: str, mib: int) -> bytes:
    """``mib`` MiB of zero bytes compressed as ``coding`` (gzip, deflate = zlib, raw-deflate).

    Built in well under a second: the deflate blocks of one MiB of zeros after a
    full flush are the same bytes every time, so they are repeated rather than
    recomputed; the trailer's checksum is computed over the real data.
    """
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    first = packer.compress(_MIB_OF_ZEROS) + packer.flush(zlib.Z_FULL_FLUSH)
    block = packer.compress(_MIB_OF_ZEROS) + packer.flush(zlib.Z_FULL_FLUSH)
    stream = first + block * (mib - 1) + packer.flush()
    size = (mib << 20) & 0xFFFFFFFF
    if coding == "raw-deflate":
        return stream
    if coding == "deflate":
        adler = 1
        for _ in range(mib):
            adler = zlib.adler32(_MIB_OF_ZEROS, adler)
        return b"\x78\xda" + stream + struct.pack(">I", adler)
    if coding == "gzip":
        crc = 0
        for _ in range(mib):
            crc = zlib.crc32(_MIB_OF_ZEROS, crc)
        header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
        return header + stream + struct.pack("<II", crc, size)
    raise ValueError(f"unknown coding {coding!r}")


def compress(data: bytes, coding: str) -> bytes:
    """``data`` compressed once more as ``coding`` (gzip or deflate)."""
    wbits = 16 + zlib.MAX_WBITS if coding == "gzip" else zlib.MAX_WBITS
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return packer.compress(data) + packer.flush()


@functools.lru_cache(maxsize=8)
def bomb(content_encoding: str, mib: int = 1024) -> bytes:
    """A body that decodes, layer by layer per ``content_encoding``, to ``mib`` MiB of zeros.

    ``content_encoding`` is the header's value (codings in the order applied);
    ``raw-deflate`` stands for a ``deflate`` layer without the zlib wrapper.
    """
    layers = [layer.strip() for layer in content_encoding.split(",")]
    data = zeros_stream(layers[0], mib)
    for layer in layers[1:]:
        data = compress(data, layer)
    return data


def fill_body(request: Received) -> bytes:
    """A valid success answer: one bid per requested placement code."""
    codes = ["inlineAd"]
    body = request.json
    if isinstance(body, dict) and isinstance(body.get("enabledPlacementCodes"), list):
        codes = body["enabledPlacementCodes"]
    bids = [{"bidId": str(uuid.uuid4()), "code": code, "revenue": 0.01} for code in codes]
    return json.dumps({"sessionId": str(uuid.uuid4()), "bids": bids}).encode()


def fill(conn: Connection) -> None:
    conn.send_response(200, fill_body(conn.request), "application/json")


def reset_mid_body(conn: Connection) -> None:
    """Promise 1,000 bytes, send 20, then abort the connection with a TCP RST."""
    conn.send_head(200, {"Content-Length": "1000", "Content-Type": "application/json"})
    conn.sock.sendall(b'{"sessionId": "0190f')
    time.sleep(0.01)  # let the head and the partial body leave before the reset
    # SO_LINGER on with a zero timeout turns close() into an RST instead of a FIN.
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def hang(conn: Connection) -> None:
    """Accept the request and never answer (until the server stops or the client leaves)."""
    deadline = time.monotonic() + HANDLER_LIMIT
    conn.sock.settimeout(0.02)
    while not conn.stopping.is_set() and time.monotonic() < deadline:
        try:
            if conn.sock.recv(1) == b"":
                return  # the client gave up and closed its end
        except TimeoutError:
            continue
        except OSError:
            return


def drip(interval: float) -> Behaviour:
    """Send a valid head, then one body byte every ``interval`` seconds, forever."""

    def behave(conn: Connection) -> None:
        conn.send_head(200, {"Content-Length": "100000", "Content-Type": "application/json"})
        deadline = time.monotonic() + HANDLER_LIMIT
        while not conn.stopping.wait(interval) and time.monotonic() < deadline:
            try:
                conn.sock.sendall(b" ")
            except OSError:
                return

    return behave


class EndlessBody:
    """A chunked body that never ends; records how much the client accepted before leaving."""

    def __init__(self, chunk: int = 64 * 1024, limit: int = 64 * 1024 * 1024) -> None:
        self.chunk = chunk
        self.limit = limit
        self.sent: list[int] = []  # bytes written per request, once the client went away

    def __call__(self, conn: Connection) -> None:
        conn.send_head(200, {"Transfer-Encoding": "chunked", "Content-Type": "application/json"})
        payload = b"[" * self.chunk
        frame = f"{len(payload):x}\r\n".encode() + payload + b"\r\n"
        written = 0
        try:
            while written < self.limit and not conn.stopping.is_set():
                conn.sock.sendall(frame)
                written += len(payload)
        except OSError:
            pass
        self.sent.append(written)


def endless() -> EndlessBody:
    return EndlessBody()


class FaultServer:
    """HTTP on 127.0.0.1 whose ``/preload`` answers are a queue of behaviours.

    ``/init`` answers with the ``init`` behaviour (default ``{"enabled": true}``), ``/error`` and
    ``/debug`` answer 204, ``/preload`` pops the next scripted behaviour or, when
    none is queued, asks ``choose`` (default: a valid fill). With
    ``listening=False`` the port is bound but refuses connections until
    ``listen()``: a closed port that can come back at the same address.
    """

    def __init__(self, *, listening: bool = True) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.init: Behaviour = raw(b'{"enabled": true}')
        self.choose: Callable[[Received], Behaviour] = lambda _request: fill
        self._script: deque[Behaviour] = deque()
        self._lock = threading.Condition()
        self._received: list[Received] = []
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._acceptor: threading.Thread | None = None
        if listening:
            self.listen()

    # -- lifecycle ---------------------------------------------------------------
    def listen(self) -> None:
        self._sock.listen(64)
        self._acceptor = threading.Thread(target=self._accept_forever, daemon=True)
        self._acceptor.start()

    def stop(self) -> None:
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        for thread in [self._acceptor, *self._threads]:
            if thread is not None:
                thread.join(timeout=HANDLER_LIMIT)

    def __enter__(self) -> FaultServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- scripting and inspection --------------------------------------------------
    def script(self, *behaviours: Behaviour) -> None:
        """Queue behaviours for the next ``/preload`` requests, in order."""
        with self._lock:
            self._script.extend(behaviours)

    def requests(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self._received if r.path == path]

    def wait_for(self, path: str, count: int = 1, timeout: float = 5.0) -> list[Received]:
        """Block until ``count`` requests to ``path`` arrived; raise ``TimeoutError`` otherwise."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                matching = [r for r in self._received if r.path == path]
                if len(matching) >= count:
                    return matching
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{len(matching)}/{count} requests to {path}")
                self._lock.wait(remaining)

    # -- serving -------------------------------------------------------------------
    def _accept_forever(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(client,), daemon=True)
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
            thread.start()

    def _serve(self, client: socket.socket) -> None:
        with client:
            request = _read_request(client)
            if request is None:
                return
            with self._lock:
                self._received.append(request)
                self._lock.notify_all()
                scripted = request.path == "/preload" and self._script
                queued = self._script.popleft() if scripted else None
            behaviour = queued or self._route(request)
            conn = Connection(client, request, self._stopping)
            with contextlib.suppress(OSError):
                behaviour(conn)

    def _route(self, request: Received) -> Behaviour:
        if request.path == "/init":
            return self.init
        if request.path == "/preload":
            return self.choose(request)
        return status(204)


def _read_request(client: socket.socket) -> Received | None:
    client.settimeout(5.0)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = client.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        path = lines[0].split(" ")[1]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = client.recv(65536)
            if not chunk:
                return None
            body += chunk
    except (OSError, ValueError, IndexError):
        return None
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    return Received(path, headers, body, parsed)
