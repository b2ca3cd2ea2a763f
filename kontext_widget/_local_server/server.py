"""``LocalAdServer``: a real Kontext ad server on the loopback interface.

It speaks docs/protocol.md §2 (``/init``, ``/preload``, ``/error``, ``/debug``) and
serves a working creative (``/api/frame/{bidId}``, ``/api/modal/{bidId}``, sections 4-6)
so that sessions, widgets, tests and notebooks run with no network and no publisher
account. Requests are recorded, and the ``/preload`` answers are scriptable
(``answers``) so each branch of docs/protocol.md §2.2 can be reached
on purpose. Everything it takes from the wire is bounded (``limits``):
request size and time, concurrent connections, and what it keeps.

Why a real socket rather than a mock transport: the creative is loaded by a real
browser in an iframe, and the client's timeouts, cancellation and retries are
only honest against a real connection.

This module is the public face (lifecycle, scripting, what happened); the state it
shares with the HTTP handlers is ``state.ServerState``, the handlers are in ``http``.
"""

from __future__ import annotations

import ipaddress
import ssl
import threading
from collections.abc import Iterable, Mapping

from .answers import (
    DEFAULT_REVENUE,
    EmptyAnswer,
    ErrorAnswer,
    FillAnswer,
    HttpStatusAnswer,
    InitAnswer,
    NoFillAnswer,
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
from .http import ThreadedHTTPServer
from .limits import DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_RECORDED_REQUESTS, DEFAULT_REQUEST_TIMEOUT
from .records import Headers, RecordedRequest, ServedBid
from .state import FORMATS, ServerState, check_formats, default_format

__all__ = [
    "FORMATS",
    "Headers",
    "LocalAdServer",
    "RecordedRequest",
    "ServedBid",
    "default_format",
]


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
        self._requested_port = port
        self._max_connections = _check_positive_int(max_connections, "max_connections")
        self._request_timeout = check_delay(request_timeout, "request_timeout")
        if self._request_timeout <= 0:
            raise ValueError(f"request_timeout must be > 0 seconds, got {request_timeout!r}")
        self._state = ServerState(
            host=host,
            formats=check_formats(formats),
            revenue=check_revenue(revenue),
            max_recorded_requests=_check_positive_int(
                max_recorded_requests, "max_recorded_requests"
            ),
        )
        self._httpd: ThreadedHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lifecycle = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> LocalAdServer:
        """Bind and serve in a background thread; a running server is left as it is."""
        with self._lifecycle:
            if self._httpd is not None:
                return self
            self._state.stopping.clear()
            httpd = ThreadedHTTPServer(
                self._host,
                self._requested_port,
                self._state,
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
            self._state.stopping.set()
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

    def _require_httpd(self) -> ThreadedHTTPServer:
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
            revenue=self._state.default_revenue if revenue is None else check_revenue(revenue),
            codes=check_codes(codes),
            delay=check_delay(delay),
            formats=tuple(check_formats(formats).items()),
        )
        self._state.preload_answers.set(answer, check_times(times))

    def no_fill(
        self, skip_code: str = "no_fill", *, delay: float = 0.0, times: int | None = None
    ) -> None:
        """Answer ``{"sessionId", "skip": true, "skipCode": skip_code, "bids": []}``."""
        answer = NoFillAnswer(
            skip_code=check_text(skip_code, "skip_code"), delay=check_delay(delay)
        )
        self._state.preload_answers.set(answer, check_times(times))

    def empty(self, *, delay: float = 0.0, times: int | None = None) -> None:
        """Answer ``{"sessionId", "bids": []}``: no bids and no skip flag."""
        self._state.preload_answers.set(EmptyAnswer(delay=check_delay(delay)), check_times(times))

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
        self._state.preload_answers.set(answer, check_times(times))

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
        self._state.preload_answers.set(answer, check_times(times))

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
        self._state.preload_answers.set(answer, check_times(times))

    def delay(self, seconds: float, *, times: int | None = None) -> None:
        """Wait ``seconds`` before answering ``/preload``, whatever the answer is.

        Independent of the answer script (a queued delay is laid over the next
        answers, the persistent one over all later ones) and added to an answer's
        own ``delay=``. The wait ends early when the server stops, so a test can
        stop the server during a "hanging" request.
        """
        self._state.delays.set(check_delay(seconds, "seconds"), check_times(times))

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
        self._state.set_init_answer(answer)

    def reset(self) -> None:
        """Back to the defaults: fill every code, no delay, ``/init`` ``{"enabled": true}``.

        Recorded requests, served bids and session ids are kept (see ``clear_requests``).
        """
        self._state.reset_answers()

    @property
    def pending_answers(self) -> int:
        """How many one-shot (``times=N``) ``/preload`` answers are still queued."""
        return self._state.preload_answers.pending()

    # -- what happened ----------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the recorded requests, oldest first.

        Only the newest are kept (``max_recorded_requests``, 32 MiB); requests
        refused before routing (wrong ``Host``, oversized, timed out) are not
        recorded.
        """
        return self._state.requests()

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """Requests to ``path``; a path ending in ``/`` matches everything under it."""
        return self._state.requests_to(path)

    def wait_for_request(
        self, path: str, *, timeout: float = 5.0, count: int = 1
    ) -> RecordedRequest:
        """Block until ``count`` requests to ``path`` arrived; return the ``count``-th one.

        Counts among the recorded requests still kept (see ``requests``).
        """
        check_delay(timeout, "timeout")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"count must be an int >= 1, got {count!r}")
        return self._state.wait_for_request(path, timeout=timeout, count=count)

    def clear_requests(self) -> None:
        """Forget the recorded requests (served bids stay renderable)."""
        self._state.clear_requests()

    @property
    def bids(self) -> dict[str, ServedBid]:
        """A copy of the served bids still kept (the newest 1000), by ``bidId``."""
        return self._state.bids()


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
