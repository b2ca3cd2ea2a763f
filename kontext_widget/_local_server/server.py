"""``LocalAdServer``: a real Kontext ad server on the loopback interface.

It speaks docs/protocol.md §2 (``/init``, ``/preload``, ``/error``, ``/debug``) and
serves a working creative (``/api/frame/{bidId}``, ``/api/modal/{bidId}``, sections 4-6)
so that sessions, widgets, tests and notebooks run with no network and no publisher
account. Requests are recorded, and the ``/preload`` answers are scriptable
(``answers.py``) so each branch of docs/protocol.md §2.2 can be reached
on purpose. Everything it takes from the wire is bounded (``limits.py``):
request size and time, concurrent connections, and what it keeps.

Why a real socket rather than a mock transport: the creative is loaded by a real
browser in an iframe, and the client's timeouts, cancellation and retries are
only honest against a real connection.
"""

from __future__ import annotations

import contextlib
import functools
import html
import io
import ipaddress
import json
import re
import socket
import ssl
import string
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from importlib import resources
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

from kontext_widget._constants import IS_DISABLED_HEADER, PUBLISHER_TOKEN_HEADER

from .answers import (
    DEFAULT_REVENUE,
    AnswerSchedule,
    EmptyAnswer,
    ErrorAnswer,
    FillAnswer,
    HttpStatusAnswer,
    InitAnswer,
    NoFillAnswer,
    PreloadAnswer,
    RawAnswer,
    as_bytes,
    check_codes,
    check_delay,
    check_optional_bool,
    check_revenue,
    check_status,
    check_text,
    check_times,
)
from .limits import (
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_RECORDED_REQUESTS,
    DEFAULT_REQUEST_TIMEOUT,
    MAX_BIDS,
    MAX_BIDS_BYTES,
    MAX_BODY_BYTES,
    MAX_CODES_PER_PRELOAD,
    MAX_CONTEXT_CHARS,
    MAX_RECORDED_BYTES,
    MAX_SESSIONS,
    MAX_SESSIONS_BYTES,
    BoundedLog,
    BoundedMap,
    DeadlineReader,
    HeadTooLargeError,
    HostCheck,
    parse_json,
)

__all__ = ["FORMATS", "Headers", "LocalAdServer", "RecordedRequest", "ServedBid"]

FORMATS: Final = ("inline", "video", "rewarded", "interstitial")

# Only the server's own scripts and styles; CSSOM writes from creative.js need no
# 'unsafe-inline'. No frame-ancestors: the embedding notebook origin is unknown.
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'"
)

_STATIC_TYPES: Final = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
_STATIC_NAME: Final = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")
_BID_PATH: Final = re.compile(r"^/api/(frame|modal|click)/([^/]+)$")
_THEMES: Final = ("dark", "light")
_CREATIVE: Final = resources.files("kontext_widget._local_server").joinpath("creative")


def default_format(code: str) -> str:
    """The creative format a placement code gets when ``formats`` does not name it."""
    lowered = code.lower()
    if "video" in lowered:
        return "video"
    if "reward" in lowered:
        return "rewarded"
    if "interstitial" in lowered:
        return "interstitial"
    return "inline"


class Headers(Mapping[str, str]):
    """Request headers with case-insensitive lookup; iteration keeps the sent spelling."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: dict[str, tuple[str, str]] = {}
        for name, value in items:
            self._items[name.lower()] = (name, value)

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


@dataclass(frozen=True, eq=False)
class RecordedRequest:
    """One request the server received, as it arrived (``json`` is ``None`` if not JSON)."""

    method: str
    path: str
    query: dict[str, str]
    headers: Headers
    body: bytes
    time: float

    @property
    def json(self) -> Any:
        """The body parsed afresh on each access, so a recorded request holds only its
        bytes (a 1 MiB body of ``[{},{},...]`` would be ~25 MiB of Python objects)."""
        return parse_json(self.body)

    @property
    def size(self) -> int:
        """Bytes it holds (body and headers), counted against ``MAX_RECORDED_BYTES``."""
        return len(self.body) + sum(len(k) + len(v) for k, v in self.headers.items()) + 256


@dataclass(frozen=True, eq=False)
class ServedBid:
    """A bid the server handed out, kept so the frame, modal and click pages can render it."""

    bid_id: str
    code: str
    format: str
    revenue: float
    session_id: str
    publisher_token: str
    user_id: str
    conversation_id: str
    # The newest user message of the preload (at most MAX_CONTEXT_CHARS), which the
    # modal page renders: the messages themselves are not kept, so a bid stays small.
    context: str
    is_disabled: bool
    time: float = field(default_factory=time.time)

    @property
    def size(self) -> int:
        """Bytes it holds, counted against ``MAX_BIDS_BYTES``."""
        texts = [self.bid_id, self.code, self.session_id, self.publisher_token]
        texts += [self.user_id, self.conversation_id, self.context]
        return sum(sys.getsizeof(text) for text in texts) + 512


@dataclass(frozen=True)
class _PreloadRequest:
    """What the server uses of a ``/preload`` body, taken out at once so the parsed
    body (up to ~25x its 1 MiB of bytes as Python objects) is freed before any
    scripted delay."""

    publisher_token: str
    user_id: str
    conversation_id: str
    session_id: str | None
    codes: tuple[str, ...]
    context: str

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> _PreloadRequest:
        """Reject bodies the real server would: the fields docs/protocol.md §2.2 calls required."""
        for name in ("userId", "conversationId"):
            if not isinstance(body.get(name), str) or not body[name]:
                raise _RequestError(400, f"/preload body field {name!r} must be a non-empty string")
        codes = body.get("enabledPlacementCodes")
        if (
            not isinstance(codes, list)
            or not codes
            or not all(isinstance(c, str) and c for c in codes)
        ):
            raise _RequestError(
                400,
                "/preload body field 'enabledPlacementCodes' must be a non-empty list of strings",
            )
        if len(codes) > MAX_CODES_PER_PRELOAD:
            raise _RequestError(
                400,
                f"/preload body field 'enabledPlacementCodes' has {len(codes)} codes; "
                f"this server answers at most {MAX_CODES_PER_PRELOAD}",
            )
        messages = body.get("messages", [])
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            raise _RequestError(400, "/preload body field 'messages' must be a list of objects")
        context = next(
            (
                m["content"]
                for m in reversed(messages)
                if m.get("role") == "user" and isinstance(m.get("content"), str)
            ),
            "",
        )
        session_id = body.get("sessionId")
        return cls(
            publisher_token=str(body["publisherToken"]),
            user_id=body["userId"],
            conversation_id=body["conversationId"],
            session_id=session_id if isinstance(session_id, str) and session_id else None,
            codes=tuple(codes),
            context=context[:MAX_CONTEXT_CHARS],
        )


class _RequestError(Exception):
    """A request the protocol rejects: answered with ``status`` and ``{"error": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class LocalAdServer:
    """An offline Kontext ad server on ``127.0.0.1`` with a scriptable ``/preload``.

    ``port=0`` picks a free port; ``formats`` maps placement codes to a creative
    format (``inline``, ``video``, ``rewarded``, ``interstitial``), otherwise the
    format follows the code's name (``videoAd`` -> ``video``). Binding anything
    but a loopback address needs ``allow_remote=True``: the server has no
    authentication and records what it receives.

    Bounds, so that no client can exhaust the process it runs in (a notebook
    kernel, a test run):

    - ``max_recorded_requests`` (default 1000): ``requests`` keeps the newest that
      many, and only as many as fit in 32 MiB of bodies and headers; older ones
      are dropped first. Raise it for a test that needs a longer history.
    - request bodies of at most 1 MiB (larger ``Content-Length``: 413, the body
      is not read); request line and headers at most 64 KiB (431); chunked
      bodies are refused (411); malformed or too deeply nested JSON is "not
      JSON" (400 on the API endpoints).
    - the newest 1000 served bids (8 MiB at most) stay renderable; a frame,
      modal or click page for an older bid is a 404 page. At most 64 placement
      codes per ``/preload`` (400 beyond).
    - ``max_connections`` (default 100) connections are served at once, one
      thread each; more wait in the listen backlog until one ends.
    - ``request_timeout`` (default 5 s): a connection must deliver its whole
      request within this time of being accepted (a client that sends nothing,
      or drips its headers or body, is cut off: the body case gets a 408).
    - with ``ssl_context`` (a server-side ``ssl.SSLContext`` holding the
      certificate) every connection is TLS and ``url`` is ``https://``; the
      handshake runs on the connection's thread within ``request_timeout``.
    - requests whose ``Host`` header does not name this server get 421
      (DNS-rebinding defence): the name must be ``localhost``, a loopback
      address or the bound host (with ``host="0.0.0.0"``, any IP address or
      this machine's name). The port is not compared.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        formats: Mapping[str, str] | None = None,
        revenue: float = DEFAULT_REVENUE,
        allow_remote: bool = False,
        max_recorded_requests: int = DEFAULT_MAX_RECORDED_REQUESTS,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if ssl_context is not None and not isinstance(ssl_context, ssl.SSLContext):
            raise TypeError(
                f"ssl_context must be an ssl.SSLContext or None, got {type(ssl_context).__name__}"
            )
        self._ssl_context = ssl_context
        if not isinstance(host, str) or not host:
            raise TypeError(f"host must be a non-empty str, got {host!r}")
        if isinstance(port, bool) or not isinstance(port, int):
            raise TypeError(f"port must be an int, got {type(port).__name__}")
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be between 0 and 65535 (0 = any free port), got {port}")
        if not allow_remote and not _is_loopback(host):
            raise ValueError(
                f"host {host!r} is not a loopback address: the local ad server has no "
                "authentication and records every request, so it binds 127.0.0.1 by default; "
                "pass allow_remote=True to expose it on another interface on purpose"
            )
        self._host = host
        self._host_check = HostCheck(host)
        self._requested_port = port
        self._max_connections = _check_positive_int(max_connections, "max_connections")
        self._request_timeout = check_delay(request_timeout, "request_timeout")
        if self._request_timeout <= 0:
            raise ValueError(f"request_timeout must be > 0 seconds, got {request_timeout!r}")
        self._formats = _check_formats(formats)
        self._default_revenue = check_revenue(revenue)
        self._preload_answers: AnswerSchedule[PreloadAnswer] = AnswerSchedule(
            FillAnswer(revenue=self._default_revenue)
        )
        self._delays: AnswerSchedule[float] = AnswerSchedule(0.0)
        self._init_answer = InitAnswer()
        self._lock = threading.Lock()
        self._request_arrived = threading.Condition(self._lock)
        self._requests: BoundedLog[RecordedRequest] = BoundedLog(
            _check_positive_int(max_recorded_requests, "max_recorded_requests"),
            MAX_RECORDED_BYTES,
            lambda request: request.size,
        )
        self._bids: BoundedMap[str, ServedBid] = BoundedMap(
            MAX_BIDS, MAX_BIDS_BYTES, lambda _, bid: bid.size
        )
        self._sessions: BoundedMap[tuple[str, str, str], str] = BoundedMap(
            MAX_SESSIONS,
            MAX_SESSIONS_BYTES,
            lambda key, value: sum(sys.getsizeof(text) for text in (*key, value)) + 256,
        )
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lifecycle = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> LocalAdServer:
        """Bind and serve in a background thread; a running server is left as it is."""
        with self._lifecycle:
            if self._httpd is not None:
                return self
            self._stopping.clear()
            httpd = _HTTPServer(
                self._host,
                self._requested_port,
                self,
                max_connections=self._max_connections,
                request_timeout=self._request_timeout,
                ssl_context=self._ssl_context,
            )
            thread = threading.Thread(
                target=httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="kontext-local-ad-server",
                daemon=True,
            )
            thread.start()
            self._httpd, self._thread = httpd, thread
        return self

    def stop(self) -> None:
        """Stop serving, wake delayed answers, close every socket and join the threads."""
        with self._lifecycle:
            httpd, thread = self._httpd, self._thread
            if httpd is None or thread is None:
                return
            self._stopping.set()
            httpd.shutdown()
            thread.join()
            httpd.close_connections()
            httpd.join_handlers(timeout=2.0)
            httpd.server_close()
            self._httpd = self._thread = None

    close = stop

    def __enter__(self) -> LocalAdServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """``True`` between ``start()`` and ``stop()``."""
        return self._httpd is not None

    @property
    def host(self) -> str:
        """The address the server binds (``"127.0.0.1"`` unless given)."""
        return self._host

    @property
    def port(self) -> int:
        """The bound port (the free one chosen when ``port=0``)."""
        return self._require_httpd().server_port

    @property
    def url(self) -> str:
        """``http(s)://host:port`` without a trailing slash, ready for ``ad_server_url``."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        scheme = "http" if self._ssl_context is None else "https"
        return f"{scheme}://{host}:{self.port}"

    def __repr__(self) -> str:
        # No port: it is random, and notebook outputs must be reproducible.
        state = "running" if self.running else "stopped"
        return f"<LocalAdServer {state} on {self._host}>"

    def _require_httpd(self) -> _HTTPServer:
        httpd = self._httpd
        if httpd is None:
            raise RuntimeError(
                "the LocalAdServer is not running: call start() or use it as a context manager"
            )
        return httpd

    # -- scripting /preload ---------------------------------------------------------

    def fill(
        self,
        *,
        revenue: float | None = None,
        codes: Iterable[str] | None = None,
        formats: Mapping[str, str] | None = None,
        delay: float = 0.0,
        times: int | None = None,
    ) -> None:
        """Answer bids: one per requested placement code, or one per code in ``codes``.

        ``codes`` ignores what the request asked for, so codes it did not enable
        produce the "no bid matches" case of docs/protocol.md §2.2 (#7).
        ``formats`` (code -> format) overrides the server's formats for the bids
        of these answers only (the playground's format control uses it).
        """
        answer = FillAnswer(
            revenue=self._default_revenue if revenue is None else check_revenue(revenue),
            codes=check_codes(codes),
            delay=check_delay(delay),
            formats=tuple(_check_formats(formats).items()),
        )
        self._preload_answers.set(answer, check_times(times))

    def no_fill(
        self, skip_code: str = "no_fill", *, delay: float = 0.0, times: int | None = None
    ) -> None:
        """Answer ``{"sessionId", "skip": true, "skipCode": skip_code, "bids": []}``."""
        answer = NoFillAnswer(
            skip_code=check_text(skip_code, "skip_code"), delay=check_delay(delay)
        )
        self._preload_answers.set(answer, check_times(times))

    def empty(self, *, delay: float = 0.0, times: int | None = None) -> None:
        """Answer ``{"sessionId", "bids": []}``: no bids and no skip flag."""
        self._preload_answers.set(EmptyAnswer(delay=check_delay(delay)), check_times(times))

    def error(
        self,
        err_code: str = "unknown",
        *,
        message: str = "Local ad server scripted error",
        permanent: bool = False,
        delay: float = 0.0,
        times: int | None = None,
    ) -> None:
        """Answer ``{"errCode", "error", "permanent"}`` with HTTP 200 (no sessionId)."""
        if not isinstance(permanent, bool):
            raise TypeError(f"permanent must be a bool, got {type(permanent).__name__}")
        answer = ErrorAnswer(
            err_code=check_text(err_code, "err_code"),
            message=check_text(message, "message"),
            permanent=permanent,
            delay=check_delay(delay),
        )
        self._preload_answers.set(answer, check_times(times))

    def http_status(
        self,
        status: int,
        *,
        body: bytes | str | None = None,
        delay: float = 0.0,
        times: int | None = None,
    ) -> None:
        """Answer a bare HTTP ``status`` (204, 429, 500...) with an optional raw body."""
        status = check_status(status)
        raw = b"" if body is None else as_bytes(body, "body")
        if status == 204 and raw:
            raise ValueError("a 204 answer cannot have a body")
        answer = HttpStatusAnswer(status=status, body=raw, delay=check_delay(delay))
        self._preload_answers.set(answer, check_times(times))

    def raw(
        self,
        body: bytes | str,
        *,
        status: int = 200,
        content_type: str = "application/json",
        delay: float = 0.0,
        times: int | None = None,
    ) -> None:
        """Answer exactly ``body`` (malformed JSON, wrong types, huge bodies...)."""
        answer = RawAnswer(
            body=as_bytes(body, "body"),
            status=check_status(status),
            content_type=check_text(content_type, "content_type"),
            delay=check_delay(delay),
        )
        self._preload_answers.set(answer, check_times(times))

    def delay(self, seconds: float, *, times: int | None = None) -> None:
        """Wait ``seconds`` before answering ``/preload``, whatever the answer is.

        Independent of the answer script (a queued delay is laid over the next
        answers, the persistent one over all later ones) and added to an answer's
        own ``delay=``. The wait ends early when the server stops, so a test can
        stop the server during a "hanging" request.
        """
        self._delays.set(check_delay(seconds, "seconds"), check_times(times))

    def init_response(
        self,
        *,
        enabled: bool | None = None,
        preload_timeout: float | None = None,
        report_errors: bool | None = None,
        report_debug: bool | None = None,
        status: int = 200,
        raw: bytes | str | None = None,
        delay: float = 0.0,
    ) -> None:
        """Set the persistent ``/init`` answer; ``None`` fields are left out of the JSON.

        The default (also after ``reset()``) is HTTP 200 ``{"enabled": true}``.
        ``preload_timeout`` is in milliseconds, as on the wire. ``raw`` replaces
        the JSON body verbatim; ``status=204`` answers with no body at all.
        """
        if preload_timeout is not None and (
            isinstance(preload_timeout, bool) or not isinstance(preload_timeout, (int, float))
        ):
            raise TypeError(
                f"preload_timeout must be a number of milliseconds or None, "
                f"got {type(preload_timeout).__name__}"
            )
        status = check_status(status)
        raw_body = None if raw is None else as_bytes(raw, "raw")
        if status == 204 and raw_body:
            raise ValueError("a 204 /init answer cannot have a body")
        answer = InitAnswer(
            enabled=check_optional_bool(enabled, "enabled"),
            preload_timeout=preload_timeout,
            report_errors=check_optional_bool(report_errors, "report_errors"),
            report_debug=check_optional_bool(report_debug, "report_debug"),
            status=status,
            raw=raw_body,
            delay=check_delay(delay),
        )
        with self._lock:
            self._init_answer = answer

    def reset(self) -> None:
        """Back to the defaults: fill every code, no delay, ``/init`` ``{"enabled": true}``.

        Recorded requests, served bids and session ids are kept (see ``clear_requests``).
        """
        self._preload_answers.reset()
        self._delays.reset()
        with self._lock:
            self._init_answer = InitAnswer()

    @property
    def pending_answers(self) -> int:
        """How many one-shot (``times=N``) ``/preload`` answers are still queued."""
        return self._preload_answers.pending()

    # -- what happened ----------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the recorded requests, oldest first.

        Only the newest are kept (``max_recorded_requests``, 32 MiB); requests
        refused before routing (wrong ``Host``, oversized, timed out) are not
        recorded.
        """
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """Requests to ``path``; a path ending in ``/`` matches everything under it."""
        with self._lock:
            return [r for r in self._requests if _path_matches(r.path, path)]

    def wait_for_request(
        self, path: str, *, timeout: float = 5.0, count: int = 1
    ) -> RecordedRequest:
        """Block until ``count`` requests to ``path`` arrived; return the ``count``-th one.

        Counts among the recorded requests still kept (see ``requests``).
        """
        check_delay(timeout, "timeout")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"count must be an int >= 1, got {count!r}")
        deadline = time.monotonic() + timeout
        with self._request_arrived:
            while True:
                matching = [r for r in self._requests if _path_matches(r.path, path)]
                if len(matching) >= count:
                    return matching[count - 1]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = sorted({r.path for r in self._requests})
                    raise TimeoutError(
                        f"waited {timeout}s for {count} request(s) to {path!r} but got "
                        f"{len(matching)}; paths seen: {seen}"
                    )
                self._request_arrived.wait(remaining)

    def clear_requests(self) -> None:
        """Forget the recorded requests (served bids stay renderable)."""
        with self._lock:
            self._requests.clear()

    @property
    def bids(self) -> dict[str, ServedBid]:
        """A copy of the served bids still kept (the newest 1000), by ``bidId``."""
        with self._lock:
            return self._bids.as_dict()

    # -- request handling (called on handler threads) ----------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._request_arrived:
            self._requests.append(request)
            self._request_arrived.notify_all()

    def _init_answer_now(self) -> InitAnswer:
        with self._lock:
            return self._init_answer

    def _session_id(self, request: _PreloadRequest) -> str:
        key = (request.publisher_token, request.user_id, request.conversation_id)
        sent = request.session_id
        with self._lock:
            if sent:
                self._sessions[key] = sent
            session_id = self._sessions.get(key)
            if session_id is None:
                session_id = str(uuid.uuid4())
                self._sessions[key] = session_id
            return session_id

    def _next_preload(self) -> tuple[PreloadAnswer, float]:
        answer = self._preload_answers.next()
        return answer, self._delays.next() + answer.delay

    def _serve_bids(
        self, answer: FillAnswer, request: _PreloadRequest, session_id: str, is_disabled: bool
    ) -> list[dict[str, Any]]:
        codes = list(dict.fromkeys(request.codes if answer.codes is None else answer.codes))
        formats = dict(answer.formats)
        wire: list[dict[str, Any]] = []
        with self._lock:
            for code in codes:
                bid = ServedBid(
                    bid_id=str(uuid.uuid4()),
                    code=code,
                    format=formats.get(code) or self._format_for(code),
                    revenue=answer.revenue,
                    session_id=session_id,
                    publisher_token=request.publisher_token,
                    user_id=request.user_id,
                    conversation_id=request.conversation_id,
                    context=request.context,
                    is_disabled=is_disabled,
                )
                self._bids[bid.bid_id] = bid
                wire.append(
                    {
                        "bidId": bid.bid_id,
                        "code": code,
                        "revenue": answer.revenue,
                        "impressionTrigger": "immediate",
                    }
                )
        return wire

    def _bid(self, bid_id: str) -> ServedBid | None:
        with self._lock:
            return self._bids.get(bid_id.lower())

    def _format_for(self, code: str) -> str:
        return self._formats.get(code) or default_format(code)


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_positive_int(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return value


def _check_formats(formats: Mapping[str, str] | None) -> dict[str, str]:
    if formats is None:
        return {}
    if not isinstance(formats, Mapping):
        raise TypeError(
            f"formats must be a mapping of code -> format, got {type(formats).__name__}"
        )
    checked: dict[str, str] = {}
    for code, fmt in formats.items():
        check_text(code, "each placement code in formats")
        if fmt not in FORMATS:
            raise ValueError(f"formats[{code!r}] must be one of {', '.join(FORMATS)}; got {fmt!r}")
        checked[code] = fmt
    return checked


def _path_matches(path: str, wanted: str) -> bool:
    return path.startswith(wanted) if wanted.endswith("/") else path == wanted


# -- HTTP plumbing ----------------------------------------------------------------------


class _HTTPServer(HTTPServer):
    """An ``HTTPServer`` with one daemon thread per connection, tracked so ``stop()`` can
    unblock and join them (``ThreadingMixIn`` either forgets daemon threads or makes
    interpreter exit wait on a sleeping handler).

    At most ``max_connections`` are accepted at once: while every slot is taken
    the listening loop does not accept, so further clients wait in the kernel's
    listen backlog (``request_queue_size``) and are served, oldest first, as
    connections end. ``request_timeout`` ends any connection still sending its
    request; only an answer the owner scripted to wait (``delay``) holds one longer.
    """

    # The stdlib default backlog of 5 resets connections under a burst of clients
    # (a notebook full of sessions, or the throughput benchmark).
    request_queue_size = 128

    def __init__(
        self,
        host: str,
        port: int,
        owner: LocalAdServer,
        *,
        max_connections: int,
        request_timeout: float,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.owner = owner
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
            if self.owner._stopping.is_set():
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
            or self.owner._stopping.is_set()
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

    server: _HTTPServer
    server_version = "KontextLocalAdServer"

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
        if len(hosts) != 1 or not self.server.owner._host_check.allows(hosts[0]):
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
        owner = self.server.owner
        split = urlsplit(self.path)
        path = split.path
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        try:
            body = self._read_body()
        except _RequestError as exc:
            # The rest of the body (if any) is never read: the connection ends here.
            self.close_connection = True
            self._send_json(exc.status, {"error": exc.message})
            return
        if body is None:  # the client went away mid-body
            self.close_connection = True
            return
        owner._record(
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
        except _RequestError as exc:
            self._send_json(exc.status, {"error": exc.message})

    def _read_body(self) -> bytes | None:
        """The body by ``Content-Length`` (checked before a byte of it is read)."""
        if "Transfer-Encoding" in self.headers:
            raise _RequestError(411, "chunked request bodies are not accepted: send Content-Length")
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths:
            return b""
        if len(lengths) > 1 or not (lengths[0].isascii() and lengths[0].isdigit()):
            raise _RequestError(400, "Content-Length must be one decimal number")
        length = int(lengths[0])
        if length > MAX_BODY_BYTES:
            raise _RequestError(413, f"request body must be at most {MAX_BODY_BYTES} bytes")
        try:
            body = self.rfile.read(length)
        except TimeoutError:
            raise _RequestError(
                408, f"the request body did not arrive within {self.server.request_timeout} s"
            ) from None
        return body if len(body) == length else None

    def _route(self, method: str, path: str, query: dict[str, str], body: bytes) -> None:
        api = {"/init": self._init, "/preload": self._preload}
        api |= {"/error": self._report, "/debug": self._report}
        if path in api:
            if method != "POST":
                raise _RequestError(405, f"{path} only accepts POST")
            api[path](body)
            return
        if method != "GET":
            raise _RequestError(405 if _page_exists(path) else 404, f"no POST endpoint {path}")
        if path == "/":
            self._send_page("index.html", {})
            return
        if path.startswith("/static/"):
            self._static(path.removeprefix("/static/"))
            return
        match = _BID_PATH.match(path)
        if match is None:
            raise _RequestError(404, f"no such endpoint: {path}")
        kind, bid_id = match.groups()
        bid = self.server.owner._bid(bid_id)
        if bid is None:
            raise _RequestError(404, f"unknown bid {bid_id!r}: it was not served by this server")
        self._bid_page(kind, bid, query)

    # -- API endpoints --

    def _authorised_body(self, body: bytes, endpoint: str) -> dict[str, Any]:
        token = self.headers.get(PUBLISHER_TOKEN_HEADER)
        if not token:
            raise _RequestError(401, f"{endpoint} requires the {PUBLISHER_TOKEN_HEADER} header")
        parsed = parse_json(body)
        if not isinstance(parsed, dict):
            raise _RequestError(400, f"{endpoint} body must be a JSON object")
        if parsed.get("publisherToken") != token:
            raise _RequestError(
                401, f"body publisherToken does not match the {PUBLISHER_TOKEN_HEADER} header"
            )
        return parsed

    def _init(self, body: bytes) -> None:
        self._authorised_body(body, "/init")
        owner = self.server.owner
        answer = owner._init_answer_now()
        if answer.delay and owner._stopping.wait(answer.delay):
            self.close_connection = True
            return
        if answer.status == 204:
            self._send(204, b"", None)
        elif answer.raw is not None:
            self._send(answer.status, answer.raw, "application/json")
        else:
            self._send_json(answer.status, answer.json_body())

    def _preload(self, body: bytes) -> None:
        request = _PreloadRequest.from_body(self._authorised_body(body, "/preload"))
        owner = self.server.owner
        answer, delay = owner._next_preload()
        if delay and owner._stopping.wait(delay):
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
        session_id = owner._session_id(request)
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
            bids = owner._serve_bids(answer, request, session_id, is_disabled)
            reply = {"sessionId": session_id, "bids": bids}
        self._send_json(200, reply)

    def _report(self, body: bytes) -> None:
        """``/error`` and ``/debug``: fire-and-forget reports, recorded and acknowledged."""
        if not isinstance(parse_json(body), dict):
            raise _RequestError(400, f"{self.path} body must be a JSON object")
        self._send(204, b"", None)

    # -- pages --

    def _bid_page(self, kind: str, bid: ServedBid, query: dict[str, str]) -> None:
        theme = query.get("theme", "")
        values = {
            "bid_id": bid.bid_id,
            "code": bid.code,
            "format": bid.format,
            "message_id": query.get("messageId", ""),
            "sdk": query.get("sdk", ""),
            "theme": theme if theme in _THEMES else "",
            "catalogue": _catalogue_json(),
        }
        if kind == "frame":
            self._send_page("frame.html", values)
        elif kind == "modal":
            values["context"] = bid.context
            values["component_params"] = query.get("componentParams", "")
            self._send_page("modal.html", values)
        else:
            product = _product(query.get("product", ""))
            values["product_name"] = str(product["name"])
            values["product_tagline"] = str(product["tagline"])
            values["area"] = query.get("area", "")
            self._send_page("landing.html", values)

    def _send_page(self, name: str, values: Mapping[str, str]) -> None:
        template = string.Template(_creative_text(name))
        escaped = {key: html.escape(value, quote=True) for key, value in values.items()}
        self._send(200, template.substitute(escaped).encode("utf-8"), "text/html; charset=utf-8")

    def _static(self, name: str) -> None:
        suffix = name[name.rfind(".") :] if "." in name else ""
        if not _STATIC_NAME.match(name) or suffix not in _STATIC_TYPES:
            raise _RequestError(404, f"no such static file: {name}")
        try:
            data = _CREATIVE.joinpath(name).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise _RequestError(404, f"no such static file: {name}") from None
        self._send(200, data, _STATIC_TYPES[suffix])

    # -- responses --

    def _send_json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload).encode("utf-8"), "application/json")

    def _send(self, status: int, body: bytes, content_type: str | None) -> None:
        # Writing has its own time limit: a client that never reads cannot hold the thread.
        self.connection.settimeout(self.server.request_timeout)
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        if content_type is not None and content_type.startswith("text/html"):
            self.send_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
            self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-store")
        if status != 204:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 204:
            self.wfile.write(body)


def _page_exists(path: str) -> bool:
    return path == "/" or path.startswith("/static/") or _BID_PATH.match(path) is not None


def _creative_text(name: str) -> str:
    return _CREATIVE.joinpath(name).read_text("utf-8")


@functools.cache
def _catalogue() -> list[dict[str, Any]]:
    products: list[dict[str, Any]] = json.loads(_creative_text("catalogue.json"))
    return products


@functools.cache
def _catalogue_json() -> str:
    return json.dumps(_catalogue(), separators=(",", ":"))


def _product(product_id: str) -> dict[str, Any]:
    """A catalogue entry by id; unknown ids get the generic entry (the last one)."""
    products = _catalogue()
    return next((p for p in products if p["id"] == product_id), products[-1])
