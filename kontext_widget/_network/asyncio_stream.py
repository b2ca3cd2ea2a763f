"""httpcore's network streams straight on asyncio transports (no anyio layer).

Why (bench/RESULTS.md, preload breakdown): httpcore's default ``AnyIOBackend``
goes through anyio, whose every send and receive first yields a full loop
iteration (a checkpoint), whose connect runs a task group, and whose receive
resumes and pauses the transport around each read. On a busy machine each loop
iteration costs tens to hundreds of microseconds, so an async POST took
milliseconds more than the same POST on ``httpx.Client``. Here a read that finds
data returns it without yielding, and a write goes to the transport at once.

Also: httpcore writes an HTTP/1.1 request as two writes (head, then body);
they are held and sent together at the first read, so the server gets the
whole request in one segment (one wake-up of its reading thread, not two).

TCP_NODELAY is set by asyncio on every TCP transport, as anyio did.
Exceptions are mapped to httpcore's, as its own backends do.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import sys
import typing
from collections.abc import Iterator

import httpcore
from httpcore._utils import is_socket_readable

__all__ = ["AsyncioBackend", "AsyncioStream"]

_Options = typing.Iterable[httpcore.SOCKET_OPTION]

# Above this many unread bytes the transport stops reading (back-pressure).
_READ_HIGH_WATER = 1 << 16


@contextlib.contextmanager
def _mapped(timeout_error: type[Exception], other: type[Exception]) -> Iterator[None]:
    try:
        yield
    except asyncio.TimeoutError as exc:
        raise timeout_error(str(exc) or "timed out") from exc
    except (OSError, ssl.SSLError, ConnectionError, EOFError) as exc:
        raise other(str(exc) or type(exc).__name__) from exc


class _Protocol(asyncio.Protocol):
    """Buffers what arrives and wakes the one reader waiting for it."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.eof = False
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.drained: asyncio.Future[None] | None = None
        self.paused_writing = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = typing.cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > _READ_HIGH_WATER and self.transport is not None:
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool | None:
        self.eof = True
        self._wake()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        self._wake()
        self.resume_writing()

    def pause_writing(self) -> None:
        self.paused_writing = True

    def resume_writing(self) -> None:
        self.paused_writing = False
        drained, self.drained = self.drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)

    def _wake(self) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


async def _within(timeout: float | None, awaitable: typing.Awaitable[typing.Any]) -> typing.Any:
    if timeout is None:
        return await awaitable
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(timeout):
            return await awaitable
    return await asyncio.wait_for(awaitable, timeout)  # pragma: no cover - Python 3.10


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One connection (plain or TLS) as httpcore sees it."""

    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self._pending: list[bytes] = []

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self._flush()
        protocol = self._protocol
        with _mapped(httpcore.ReadTimeout, httpcore.ReadError):
            while not protocol.buffer:
                if protocol.eof:
                    if protocol.error is not None:
                        raise protocol.error
                    return b""
                waiter = protocol.waiter = asyncio.get_running_loop().create_future()
                await _within(timeout, waiter)
            data = bytes(protocol.buffer[:max_bytes])
            del protocol.buffer[:max_bytes]
            if len(protocol.buffer) <= _READ_HIGH_WATER and not self._transport.is_closing():
                self._transport.resume_reading()
            return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        if self._protocol.eof:
            raise httpcore.WriteError("connection closed")
        # Held until the next read (or a large backlog): head and body go out together.
        self._pending.append(buffer)
        if sum(map(len, self._pending)) >= _READ_HIGH_WATER:
            self._flush()
            if self._protocol.paused_writing:
                drained = asyncio.get_running_loop().create_future()
                self._protocol.drained = drained
                with _mapped(httpcore.WriteTimeout, httpcore.WriteError):
                    await _within(timeout, drained)

    def _flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            with _mapped(httpcore.WriteTimeout, httpcore.WriteError):
                self._transport.write(data)

    async def aclose(self) -> None:
        self._pending.clear()
        self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self._flush()
        loop = asyncio.get_running_loop()
        protocol = _Protocol()
        try:
            with _mapped(httpcore.ConnectTimeout, httpcore.ConnectError):
                transport = await _within(
                    timeout,
                    loop.start_tls(
                        self._transport,
                        protocol,
                        ssl_context,
                        server_hostname=server_hostname,
                        ssl_handshake_timeout=timeout,
                    ),
                )
        except BaseException:
            self._transport.close()
            raise
        if transport is None:  # pragma: no cover - only for a transport closed meanwhile
            raise httpcore.ConnectError("connection closed during the TLS handshake")
        protocol.connection_made(transport)
        return AsyncioStream(transport, protocol)

    def get_extra_info(self, info: str) -> typing.Any:
        transport = self._transport
        if info == "ssl_object":
            return transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return transport.get_extra_info("sockname")
        if info == "server_addr":
            return transport.get_extra_info("peername")
        if info == "socket":
            return transport.get_extra_info("socket")
        if info == "is_readable":
            # Data or EOF on an idle connection: unusable (httpcore then drops it).
            if self._protocol.buffer or self._protocol.eof or transport.is_closing():
                return True
            sock = transport.get_extra_info("socket")
            return sock is not None and is_socket_readable(sock)
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Opens ``AsyncioStream`` connections; only what httpcore's pool calls.

    A subclass can hand over a connection opened ahead of the request
    (``ready_connection``; ``warm.WarmBackend``) instead of a new one.
    """

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if local_address is None and not socket_options:
            ready = await self.ready_connection(host, port, timeout)
            if ready is not None:
                return ready
        return await self.open_tcp(host, port, timeout, local_address, socket_options or ())

    async def ready_connection(
        self, host: str, port: int, timeout: float | None
    ) -> httpcore.AsyncNetworkStream | None:
        """A connection to ``host:port`` opened ahead of this request, if any (none here)."""
        return None

    async def open_tcp(
        self, host: str, port: int, timeout: float | None, local: str | None, options: _Options
    ) -> httpcore.AsyncNetworkStream:
        """A new connection, ``TCP_NODELAY`` set."""
        loop = asyncio.get_running_loop()
        address = None if local is None else (local, 0)
        with _mapped(httpcore.ConnectTimeout, httpcore.ConnectError):
            transport, protocol = await _within(
                timeout, loop.create_connection(_Protocol, host, port, local_addr=address)
            )
        sock = transport.get_extra_info("socket")
        for option in options:
            sock.setsockopt(*option)
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return AsyncioStream(transport, protocol)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:  # pragma: no cover - the pool is never given a uds
        raise httpcore.ConnectError("unix sockets are not used by kontext-widget")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
