"""The local ad server's HTTP side: a thread-per-connection server and its handler.

The handler parses, bounds (``limits``) and routes requests, renders pages
(``pages``) and answers; everything it needs to know or change lives behind
``HandlerState``, the one interface it is given (``state.ServerState``
implements it), so it never reaches into ``LocalAdServer``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import socket
import ssl
import sys
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Final, Protocol
from urllib.parse import parse_qsl, urlsplit

from kontext_widget._constants import IS_DISABLED_HEADER, PUBLISHER_TOKEN_HEADER

from .answers import (
    EmptyAnswer,
    ErrorAnswer,
    FillAnswer,
    HttpStatusAnswer,
    InitAnswer,
    NoFillAnswer,
    PreloadAnswer,
    RawAnswer,
)
from .limits import MAX_BODY_BYTES, DeadlineReader, HeadTooLargeError, parse_json
from .pages import bid_page, render, static_asset
from .records import Headers, PreloadRequest, RecordedRequest, RequestError, ServedBid

__all__ = ["CONTENT_SECURITY_POLICY", "HandlerState", "ThreadedHTTPServer"]

# Only the server's own scripts and styles; CSSOM writes from creative.js need no
# 'unsafe-inline'. No frame-ancestors: the embedding notebook origin is unknown.
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'"
)

# Seconds a browser may reuse a creative asset without asking again (see _Handler._static).
STATIC_MAX_AGE: Final = 3600

_BID_PATH: Final = re.compile(r"^/api/(frame|modal|click)/([^/]+)$")


class HandlerState(Protocol):
    """All the HTTP side asks of the server: called on handler threads, so thread-safe."""

    def allows_host(self, host: str) -> bool:
        """Whether a ``Host`` header names this server (DNS-rebinding defence)."""
        ...

    def is_stopping(self) -> bool: ...

    def wait_stopping(self, seconds: float) -> bool:
        """Wait up to ``seconds``; ``True`` if the server began to stop meanwhile."""
        ...

    def record(self, request: RecordedRequest) -> None: ...

    def init_answer(self) -> InitAnswer: ...

    def next_preload(self) -> tuple[PreloadAnswer, float]:
        """The next scripted ``/preload`` answer and the total delay before it."""
        ...

    def session_id(self, request: PreloadRequest) -> str: ...

    def serve_bids(
        self, answer: FillAnswer, request: PreloadRequest, session_id: str, is_disabled: bool
    ) -> list[dict[str, Any]]:
        """Keep a bid per code (renderable later) and return them as wire objects."""
        ...

    def bid(self, bid_id: str) -> ServedBid | None: ...


class ThreadedHTTPServer(HTTPServer):
    """An ``HTTPServer`` with one daemon thread per connection, tracked so ``stop()`` can
    unblock and join them (``ThreadingMixIn`` either forgets daemon threads or makes
    interpreter exit wait on a sleeping handler).

    At most ``max_connections`` are accepted at once: while every slot is taken
    the listening loop does not accept, so further clients wait in the kernel's
    listen backlog (``request_queue_size``) and are served, oldest first, as
    connections end. ``request_timeout`` ends any connection still sending its
    request; only an answer the state scripted to wait (``delay``) holds one longer.
    """

    # The stdlib default backlog of 5 resets connections under a burst of clients
    # (a notebook full of sessions, or the throughput benchmark).
    request_queue_size = 128

    def __init__(
        self,
        host: str,
        port: int,
        state: HandlerState,
        *,
        max_connections: int,
        request_timeout: float,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.state = state
        self.request_timeout = request_timeout
        self.ssl_context = ssl_context
        self._slots = threading.BoundedSemaphore(max_connections)
        self._handlers: dict[threading.Thread, socket.socket] = {}
        self._handlers_lock = threading.Lock()
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        # Wait for a free slot before accepting; poll so stop() is never held up.
        while not self._slots.acquire(timeout=0.05):
            if self.state.is_stopping():
                raise OSError("the server is stopping")
        try:
            return super().get_request()
        except BaseException:
            self._slots.release()
            raise

    def shutdown_request(self, request: Any) -> None:
        # Called exactly once for every accepted connection, whatever happened to it.
        try:
            super().shutdown_request(request)
        finally:
            self._slots.release()

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._handle_connection,
            args=(request, client_address),
            name="kontext-local-ad-server-request",
            daemon=True,
        )
        with self._handlers_lock:
            self._handlers[thread] = request
        thread.start()

    def _handle_connection(self, request: Any, client_address: Any) -> None:
        try:
            if self.ssl_context is not None:
                # The handshake runs here, on the connection's thread, within the
                # connection's time limit; the TLS socket replaces the plain one.
                request.settimeout(self.request_timeout)
                request = self.ssl_context.wrap_socket(request, server_side=True)
                with self._handlers_lock:
                    self._handlers[threading.current_thread()] = request
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            with self._handlers_lock:
                self._handlers.pop(threading.current_thread(), None)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away (a closed tab, a cancelled preload, or a stop()
        # that closed the socket) or ran out of time is not an error worth a traceback.
        error = sys.exc_info()[1]
        if (
            isinstance(error, (ConnectionError, TimeoutError, ssl.SSLError))
            or self.state.is_stopping()
        ):
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        with self._handlers_lock:
            sockets = list(self._handlers.values())
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def join_handlers(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._handlers_lock:
            threads = list(self._handlers)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))


class _Handler(BaseHTTPRequestHandler):
    """One connection. HTTP/1.0 (the stdlib default): one request per connection,
    so ``request_timeout`` from the accept bounds the connection's whole reading life."""

    server: ThreadedHTTPServer
    server_version = "KontextLocalAdServer"
    # Buffered (the stdlib writes unbuffered): an answer goes out in one write when
    # the handler flushes, head and body in one TCP segment (one TLS record), as
    # production servers send a small answer. Written as head, then body, it was two
    # segments, which a client reads and parses one after the other (bench section 9).
    wbufsize = 64 * 1024

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # replaced by a reader that keeps the request's deadline
        self._reader = DeadlineReader(self.connection)
        self.rfile = io.BufferedReader(self._reader)
        self._reader.begin(self.server.request_timeout)

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except HeadTooLargeError as exc:
            self.close_connection = True
            # The request line itself may be what was too large, so it may be unparsed.
            self.requestline, self.request_version = "", "HTTP/1.0"
            self._send_json(431, {"error": str(exc)})

    def parse_request(self) -> bool:
        """The stdlib's parsing, then the ``Host`` check before anything else is read."""
        if not super().parse_request():
            return False
        self._reader.end_head()
        hosts = self.headers.get_all("Host") or []
        if len(hosts) != 1 or not self.server.state.allows_host(hosts[0]):
            self.close_connection = True
            shown = hosts[0] if len(hosts) == 1 else f"{len(hosts)} Host headers"
            self._send_json(
                421,
                {
                    "error": f"Host {shown[:100]!r} is not this server's address: requests "
                    "must name it as localhost, by IP address or by its bound host "
                    "(DNS-rebinding protection)"
                },
            )
            return False
        return True

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: requests are recorded on the server object instead of printed."""

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        state = self.server.state
        split = urlsplit(self.path)
        path = split.path
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        try:
            body = self._read_body()
        except RequestError as exc:
            # The rest of the body (if any) is never read: the connection ends here.
            self.close_connection = True
            self._send_json(exc.status, {"error": exc.message})
            return
        if body is None:  # the client went away mid-body
            self.close_connection = True
            return
        state.record(
            RecordedRequest(
                method=method,
                path=path,
                query=query,
                headers=Headers(self.headers.items()),
                body=body,
                time=time.time(),
            )
        )
        try:
            self._route(method, path, query, body)
        except RequestError as exc:
            self._send_json(exc.status, {"error": exc.message})

    def _read_body(self) -> bytes | None:
        """The body by ``Content-Length`` (checked before a byte of it is read)."""
        if "Transfer-Encoding" in self.headers:
            raise RequestError(411, "chunked request bodies are not accepted: send Content-Length")
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths:
            return b""
        if len(lengths) > 1 or not (lengths[0].isascii() and lengths[0].isdigit()):
            raise RequestError(400, "Content-Length must be one decimal number")
        length = int(lengths[0])
        if length > MAX_BODY_BYTES:
            raise RequestError(413, f"request body must be at most {MAX_BODY_BYTES} bytes")
        try:
            body = self.rfile.read(length)
        except TimeoutError:
            raise RequestError(
                408, f"the request body did not arrive within {self.server.request_timeout} s"
            ) from None
        return body if len(body) == length else None

    def _route(self, method: str, path: str, query: dict[str, str], body: bytes) -> None:
        api = {"/init": self._init, "/preload": self._preload}
        api |= {"/error": self._report, "/debug": self._report}
        if path in api:
            if method != "POST":
                raise RequestError(405, f"{path} only accepts POST")
            api[path](body)
            return
        if method != "GET":
            raise RequestError(405 if _page_exists(path) else 404, f"no POST endpoint {path}")
        if path == "/":
            self._send_page("index.html", {})
            return
        if path.startswith("/static/"):
            self._static(path.removeprefix("/static/"))
            return
        match = _BID_PATH.match(path)
        if match is None:
            raise RequestError(404, f"no such endpoint: {path}")
        kind, bid_id = match.groups()
        bid = self.server.state.bid(bid_id)
        if bid is None:
            raise RequestError(404, f"unknown bid {bid_id!r}: it was not served by this server")
        self._send_page(*bid_page(kind, bid, query))

    # -- API endpoints --

    def _authorised_body(self, body: bytes, endpoint: str) -> dict[str, Any]:
        token = self.headers.get(PUBLISHER_TOKEN_HEADER)
        if not token:
            raise RequestError(401, f"{endpoint} requires the {PUBLISHER_TOKEN_HEADER} header")
        parsed = parse_json(body)
        if not isinstance(parsed, dict):
            raise RequestError(400, f"{endpoint} body must be a JSON object")
        if parsed.get("publisherToken") != token:
            raise RequestError(
                401, f"body publisherToken does not match the {PUBLISHER_TOKEN_HEADER} header"
            )
        return parsed

    def _init(self, body: bytes) -> None:
        self._authorised_body(body, "/init")
        state = self.server.state
        answer = state.init_answer()
        if answer.delay and state.wait_stopping(answer.delay):
            self.close_connection = True
            return
        if answer.status == 204:
            self._send(204, b"", None)
        elif answer.raw is not None:
            self._send(answer.status, answer.raw, "application/json")
        else:
            self._send_json(answer.status, answer.json_body())

    def _preload(self, body: bytes) -> None:
        request = PreloadRequest.from_body(self._authorised_body(body, "/preload"))
        state = self.server.state
        answer, delay = state.next_preload()
        if delay and state.wait_stopping(delay):
            self.close_connection = True  # stopped while "thinking": drop the connection
            return
        if isinstance(answer, HttpStatusAnswer):
            self._send(answer.status, answer.body, "application/json" if answer.body else None)
            return
        if isinstance(answer, RawAnswer):
            self._send(answer.status, answer.body, answer.content_type)
            return
        if isinstance(answer, ErrorAnswer):
            self._send_json(
                200,
                {
                    "errCode": answer.err_code,
                    "error": answer.message,
                    "permanent": answer.permanent,
                },
            )
            return
        session_id = state.session_id(request)
        if isinstance(answer, NoFillAnswer):
            reply: dict[str, Any] = {
                "sessionId": session_id,
                "skip": True,
                "skipCode": answer.skip_code,
                "bids": [],
            }
        elif isinstance(answer, EmptyAnswer):
            reply = {"sessionId": session_id, "bids": []}
        else:
            is_disabled = self.headers.get(IS_DISABLED_HEADER) == "1"
            bids = state.serve_bids(answer, request, session_id, is_disabled)
            reply = {"sessionId": session_id, "bids": bids}
        self._send_json(200, reply)

    def _report(self, body: bytes) -> None:
        """``/error`` and ``/debug``: fire-and-forget reports, recorded and acknowledged."""
        if not isinstance(parse_json(body), dict):
            raise RequestError(400, f"{self.path} body must be a JSON object")
        self._send(204, b"", None)

    # -- pages --

    def _send_page(self, name: str, values: Mapping[str, str]) -> None:
        self._send(200, render(name, values), "text/html; charset=utf-8")

    def _static(self, name: str) -> None:
        """A creative asset, cacheable: every ad frame loads the same two files, and
        fetching them again for each frame was a third of an ad's time to screen
        (bench/RESULTS.md section 6). The ETag is the content's hash, so a changed
        file is fetched again once the cache's copy is older than ``STATIC_MAX_AGE``."""
        asset = static_asset(name)
        if asset is None:
            raise RequestError(404, f"no such static file: {name}")
        body, content_type = asset
        etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
        cache = {"Cache-Control": f"max-age={STATIC_MAX_AGE}", "ETag": etag}
        if etag in (self.headers.get("If-None-Match") or "").replace(" ", "").split(","):
            self._send(304, b"", None, cache)
            return
        self._send(200, body, content_type, cache)

    # -- responses --

    def _send_json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload).encode("utf-8"), "application/json")

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str | None,
        cache: Mapping[str, str] | None = None,
    ) -> None:
        """Answer; ``cache`` (static assets only) replaces the default ``no-store``."""
        # Writing has its own time limit: a client that never reads cannot hold the thread.
        self.connection.settimeout(self.server.request_timeout)
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        if content_type is not None and content_type.startswith("text/html"):
            self.send_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
            self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Content-Type-Options", "nosniff")
        for header, value in (cache or {"Cache-Control": "no-store"}).items():
            self.send_header(header, value)
        if status not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status not in (204, 304):
            self.wfile.write(body)


def _page_exists(path: str) -> bool:
    return path == "/" or path.startswith("/static/") or _BID_PATH.match(path) is not None
