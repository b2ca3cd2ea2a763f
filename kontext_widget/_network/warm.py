"""A connection to the ad server opened ahead of the request that needs it.

Why: a ``/preload`` that has to open its connection first pays TCP set-up (and,
over TLS, the handshake: two round trips in all) before its one useful round
trip. In production people pause longer than any keep-alive between messages,
and an HTTP/1.0 server (``LocalAdServer``) closes every connection after one
answer, so without this nearly every preload pays that set-up.

How: while at least one live session uses an ``https`` origin
(``hold``/``release``), the process keeps ONE spare connection to it, TCP and TLS
already done, watched in the background. For a plain ``http`` origin (loopback
servers, tests) a spare is opened only when a debounce starts (``prepare``), so
it is ready when the 10 ms are over and never ties up a single-threaded server
for longer. httpcore asks its network backend (``WarmBackend``) for a
connection only when its pool has no usable idle one; the backend then hands
over the spare, if it is still open, and opens the next spare in the
background once the request it was taken for has had time to finish (as long
as the last spare took to open: a round trip or more longer than the request;
sooner if the next debounce starts). Opened at once, its connect and handshake
ran on both ends exactly while the request was sent and answered
(bench/RESULTS.md section 9). A spare the server closes is re-opened at once if
it lived at least ``MIN_SPARE_LIFE`` (a server that drops idle connections at
once is not re-dialled in a loop: the next ``prepare``, i.e. the next user
message, tries again). After the last session of an origin is destroyed its spare is closed
and its watcher ends: nothing keeps running.

Limits: one spare per origin, never more; nothing is prepared for an origin
reached through an environment proxy (the proxy transport opens its own
connections); one origin is one scheme (a host:port is never both http and https).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
import typing
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpcore

from .asyncio_stream import AsyncioBackend

__all__ = ["MIN_SPARE_LIFE", "WarmBackend"]

logger = logging.getLogger("kontext_widget")

# A spare the server closed sooner than this after it was opened is not re-opened
# until the next user message (no busy reconnect loop against such a server).
MIN_SPARE_LIFE = 1.0
# Connect (and TLS handshake) limit for a spare; a slower one is abandoned.
SPARE_CONNECT_TIMEOUT = 10.0
# The next spare after one was taken is opened this long after at most (see above).
MAX_REOPEN_DELAY = 1.0

_Key = tuple[str, int]


@dataclass
class _Origin:
    """One origin's users and its spare connection."""

    scheme: str
    host: str
    port: int
    holders: int = 0
    # Over TLS a spare stands while the origin is held; over plain HTTP one is only
    # opened while a debounce runs (a single-threaded server is not tied up by it).
    standing: bool = False
    stream: httpcore.AsyncNetworkStream | None = None
    opened_at: float = 0.0
    open_took: float = 0.0  # seconds the last spare took to connect (and handshake)
    task: asyncio.Task[None] | None = None  # connecting, then watching
    reopen: asyncio.TimerHandle | None = None  # the next spare, after one was taken
    waiters: list[asyncio.Future[None]] = field(default_factory=list)


class _Prepared(httpcore.AsyncNetworkStream):
    """A spare handed to httpcore; ``start_tls`` returns the TLS already done on it."""

    def __init__(
        self,
        stream: httpcore.AsyncNetworkStream,
        tls: tuple[ssl.SSLContext, str] | None,
    ) -> None:
        self._stream = stream
        self._tls = tls

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._stream.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._stream.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if self._tls == (ssl_context, server_hostname):
            return self._stream
        if self._tls is None:
            return await self._stream.start_tls(ssl_context, server_hostname, timeout)
        # Prepared for another TLS configuration: never reuse it for this one.
        await self._stream.aclose()
        raise httpcore.ConnectError("prepared connection does not match the TLS settings")

    def get_extra_info(self, info: str) -> typing.Any:
        return self._stream.get_extra_info(info)


class WarmBackend(AsyncioBackend):
    """The asyncio backend, plus one prepared connection per held origin."""

    def __init__(self, ssl_context: ssl.SSLContext) -> None:
        self._ssl_context = ssl_context
        self._origins: dict[_Key, _Origin] = {}

    # -- sessions -------------------------------------------------------------------
    def hold(self, url: str) -> None:
        """A session uses ``url``'s origin: keep a spare for it. Call on the I/O loop."""
        origin = self._origin(url, create=True)
        if origin is not None:
            origin.holders += 1
            if origin.standing:
                self._ensure(origin)

    def release(self, url: str) -> None:
        """A session stopped using the origin; the last one closes its spare."""
        origin = self._origin(url, create=False)
        if origin is None:
            return
        origin.holders -= 1
        if origin.holders <= 0:
            del self._origins[(origin.host, origin.port)]
            self._drop(origin)

    def prepare(self, url: str) -> None:
        """A request to ``url`` is coming (a debounce started): have a spare ready."""
        origin = self._origin(url, create=False)
        if origin is not None:
            self._ensure(origin)

    def active(self) -> int:
        """Origins with a spare, a connect, a watcher or a re-open pending (for tests)."""
        return sum(
            1
            for o in self._origins.values()
            if o.stream is not None or o.task is not None or o.reopen is not None
        )

    # -- httpcore's side ---------------------------------------------------------------
    async def ready_connection(
        self, host: str, port: int, timeout: float | None
    ) -> httpcore.AsyncNetworkStream | None:
        """The origin's spare, if it has one (waiting for one being opened right now)."""
        origin = self._origins.get((host, port))
        if origin is None:
            return None
        if origin.stream is None and origin.task is not None:
            # A spare is being opened right now: it is further along than a new one.
            waiter = asyncio.get_running_loop().create_future()
            origin.waiters.append(waiter)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(waiter), timeout)
        return await self._take(origin)

    # -- internals -------------------------------------------------------------------
    def _origin(self, url: str, *, create: bool) -> _Origin | None:
        parts = urlsplit(url)
        scheme, host = parts.scheme, parts.hostname
        if scheme not in ("http", "https") or not host:
            return None
        port = parts.port or (443 if scheme == "https" else 80)
        origin = self._origins.get((host, port))
        if origin is None and create:
            proxies = urllib.request.getproxies()
            if scheme in proxies and not urllib.request.proxy_bypass(host):
                return None  # the proxy's transport connects, not this backend
            origin = self._origins[(host, port)] = _Origin(
                scheme, host, port, standing=scheme == "https"
            )
        return origin

    def _ensure(self, origin: _Origin) -> None:
        if origin.reopen is not None:
            origin.reopen.cancel()
            origin.reopen = None
        if origin.holders > 0 and origin.stream is None and origin.task is None:
            origin.task = asyncio.get_running_loop().create_task(self._keep(origin))

    async def _keep(self, origin: _Origin) -> None:
        """Open the spare, then wait for the server to close it; re-open if it lived long."""
        try:
            while origin.holders > 0:
                started = time.monotonic()
                stream = await self._open(origin)
                self._wake(origin)
                if stream is None:
                    return
                origin.open_took = time.monotonic() - started
                origin.stream, origin.opened_at = stream, time.monotonic()
                # Nothing is ever sent on a spare, so any read result means it is unusable.
                with contextlib.suppress(httpcore.NetworkError, OSError):
                    await stream.read(1)
                if origin.stream is not stream:
                    return  # handed over meanwhile (the read was cancelled)
                origin.stream = None
                await _close(stream)
                if not origin.standing or time.monotonic() - origin.opened_at < MIN_SPARE_LIFE:
                    return
        finally:
            # A watcher cancelled by ``_take``/``_drop`` is no longer the origin's task:
            # waiters then belong to its successor (or were woken already).
            if origin.task is asyncio.current_task():
                origin.task = None
                self._wake(origin)

    async def _open(self, origin: _Origin) -> httpcore.AsyncNetworkStream | None:
        try:
            stream = await self.open_tcp(origin.host, origin.port, SPARE_CONNECT_TIMEOUT, None, ())
            if origin.scheme == "https":
                try:
                    stream = await stream.start_tls(
                        self._ssl_context, origin.host, timeout=SPARE_CONNECT_TIMEOUT
                    )
                except BaseException:
                    await _close(stream)
                    raise
        except (httpcore.NetworkError, httpcore.TimeoutException, OSError) as exc:
            # The request that follows connects itself and reports any failure.
            logger.debug("kontext-widget: spare connection to %s failed: %s", origin.host, exc)
            return None
        return stream

    async def _take(self, origin: _Origin) -> httpcore.AsyncNetworkStream | None:
        stream = origin.stream
        if stream is None:
            return None
        origin.stream = None
        task, origin.task = origin.task, None
        if task is not None:
            # The watcher: its read waits for data that never comes. Cancelling it
            # cancels that read's future at once, so the stream is free now; waiting
            # for the task to finish would cost the request two loop iterations.
            task.cancel()
        if origin.standing:  # the next spare, in the background, after this request
            delay = min(origin.open_took, MAX_REOPEN_DELAY)
            origin.reopen = asyncio.get_running_loop().call_later(delay, self._ensure, origin)
        if stream.get_extra_info("is_readable"):
            await _close(stream)  # closed by the server in the meantime
            return None
        tls = (self._ssl_context, origin.host) if origin.scheme == "https" else None
        return _Prepared(stream, tls)

    def _drop(self, origin: _Origin) -> None:
        if origin.reopen is not None:
            origin.reopen.cancel()
            origin.reopen = None
        stream, origin.stream = origin.stream, None
        task, origin.task = origin.task, None
        if task is not None:
            task.cancel()
        if stream is not None:
            asyncio.get_running_loop().create_task(_close(stream))
        self._wake(origin)

    @staticmethod
    def _wake(origin: _Origin) -> None:
        waiters, origin.waiters = origin.waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


async def _close(stream: httpcore.AsyncNetworkStream) -> None:
    with contextlib.suppress(Exception):
        await stream.aclose()
