"""The bounds of ``LocalAdServer``: what one request, one connection and the server may hold.

The local ad server listens on a port any local process (and, through DNS
rebinding, any web page) can reach, so everything it takes from the wire is
bounded, the way the SDK bounds what it takes from the real ad server:

- one request: a head (request line + headers) of at most ``MAX_HEAD_BYTES``, a
  body of at most ``MAX_BODY_BYTES`` (larger ``Content-Length`` -> 413 before the
  body is read), JSON nested no deeper than the interpreter's recursion limit
  (deeper -> treated as not JSON, so 400), and the whole request received within
  the server's ``request_timeout`` of the connection being accepted (slowloris);
- connections: at most ``max_connections`` at once, one thread each; further
  ones wait in the listen backlog until a slot frees;
- memory kept between requests: the newest recorded requests (by count and by
  bytes), the newest served bids and the newest session ids, oldest dropped first.

The containers and the socket reader here know nothing about the ad protocol,
so each bound can be tested on its own.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import json
import socket
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from typing import Any, Final, Generic, TypeVar

__all__ = [
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_RECORDED_REQUESTS",
    "DEFAULT_REQUEST_TIMEOUT",
    "MAX_BIDS",
    "MAX_BIDS_BYTES",
    "MAX_BODY_BYTES",
    "MAX_CODES_PER_PRELOAD",
    "MAX_CONTEXT_CHARS",
    "MAX_HEAD_BYTES",
    "MAX_RECORDED_BYTES",
    "MAX_SESSIONS",
    "MAX_SESSIONS_BYTES",
    "BoundedLog",
    "BoundedMap",
    "DeadlineReader",
    "HeadTooLargeError",
    "HostCheck",
    "parse_json",
]

MAX_HEAD_BYTES: Final = 64 * 1024
MAX_BODY_BYTES: Final = 1024 * 1024
# Recorded requests: the newest ``max_recorded_requests`` (a constructor keyword)
# whose bodies and headers add up to at most MAX_RECORDED_BYTES.
DEFAULT_MAX_RECORDED_REQUESTS: Final = 1000
MAX_RECORDED_BYTES: Final = 32 * 1024 * 1024
MAX_BIDS: Final = 1000
MAX_BIDS_BYTES: Final = 8 * 1024 * 1024
MAX_SESSIONS: Final = 1000
MAX_SESSIONS_BYTES: Final = 4 * 1024 * 1024
# A /preload may enable at most this many placement codes (one bid each).
MAX_CODES_PER_PRELOAD: Final = 64
# The modal page shows the newest user message as context, cut to this length.
MAX_CONTEXT_CHARS: Final = 2000
DEFAULT_MAX_CONNECTIONS: Final = 100
DEFAULT_REQUEST_TIMEOUT: Final = 5.0

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")


class BoundedLog(Generic[T]):
    """The newest items, at most ``max_items`` of them adding up to at most ``max_bytes``.

    Not thread-safe: the owner holds its own lock. An item larger than
    ``max_bytes`` on its own is still kept (alone), so the newest is never lost.
    """

    def __init__(self, max_items: int, max_bytes: int, size: Callable[[T], int]) -> None:
        self._items: deque[tuple[T, int]] = deque()
        self._max_items = max_items
        self._max_bytes = max_bytes
        self._size = size
        self._bytes = 0

    def append(self, item: T) -> None:
        size = self._size(item)
        self._items.append((item, size))
        self._bytes += size
        while len(self._items) > self._max_items or (
            self._bytes > self._max_bytes and len(self._items) > 1
        ):
            _, dropped = self._items.popleft()
            self._bytes -= dropped

    def clear(self) -> None:
        self._items.clear()
        self._bytes = 0

    @property
    def bytes(self) -> int:
        return self._bytes

    def __iter__(self) -> Iterator[T]:
        return (item for item, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)


class BoundedMap(Generic[K, V]):
    """A mapping of the newest entries by count and bytes; setting a key makes it newest.

    Not thread-safe: the owner holds its own lock.
    """

    def __init__(self, max_items: int, max_bytes: int, size: Callable[[K, V], int]) -> None:
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._max_items = max_items
        self._max_bytes = max_bytes
        self._size = size
        self._bytes = 0

    def __setitem__(self, key: K, value: V) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= old[1]
        size = self._size(key, value)
        self._entries[key] = (value, size)
        self._bytes += size
        while len(self._entries) > self._max_items or (
            self._bytes > self._max_bytes and len(self._entries) > 1
        ):
            _, (_, dropped) = self._entries.popitem(last=False)
            self._bytes -= dropped

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        return None if entry is None else entry[0]

    def as_dict(self) -> dict[K, V]:
        return {key: value for key, (value, _) in self._entries.items()}

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)


class HeadTooLargeError(Exception):
    """The request line and headers went past ``MAX_HEAD_BYTES``."""


class DeadlineReader(io.RawIOBase):
    """A connection's reading side where each request has a deadline and a head budget.

    ``begin()`` starts a request: from then on every ``recv`` waits at most until
    the deadline (a client dripping one byte a second is cut off like a silent
    one: ``TimeoutError``, which ``BaseHTTPRequestHandler`` answers by closing),
    and at most ``MAX_HEAD_BYTES`` may arrive before ``end_head()`` (more raises
    ``HeadTooLargeError``). The body needs no budget here: it is read by
    ``Content-Length``, which is checked first.
    """

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self._sock = sock
        self._deadline = time.monotonic()
        self._head_budget: int | None = None

    def begin(self, timeout: float) -> None:
        self._deadline = time.monotonic() + timeout
        self._head_budget = MAX_HEAD_BYTES

    def end_head(self) -> None:
        self._head_budget = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the request was not received within the server's request_timeout")
        if self._head_budget is not None and self._head_budget <= 0:
            raise HeadTooLargeError(f"request line and headers exceed {MAX_HEAD_BYTES} bytes")
        self._sock.settimeout(remaining)
        view = memoryview(buffer).cast("B")
        if self._head_budget is not None:
            view = view[: self._head_budget]
        received = self._sock.recv_into(view)
        if self._head_budget is not None:
            self._head_budget -= received
        return received


class HostCheck:
    """Which ``Host`` header values name this server (the DNS-rebinding defence).

    A web page on ``attacker.example`` whose name is re-pointed at 127.0.0.1 can
    reach the server from the reader's browser, but its requests carry
    ``Host: attacker.example:PORT``. So a request is served only when the host
    part names the server itself: ``localhost`` or a loopback address, the bound
    host, and when bound to every interface (``0.0.0.0``/``::``, which needs
    ``allow_remote``) any IP address and this machine's host name. IP addresses
    cannot be rebound, so they are safe. The port is not compared: it gives no
    protection against rebinding, and an SSH forward to another local port must
    keep working.
    """

    def __init__(self, bound_host: str) -> None:
        bound = _normalise(bound_host)
        self._names = {"localhost", bound}
        self._any_address = False
        with contextlib.suppress(ValueError):
            self._any_address = ipaddress.ip_address(bound).is_unspecified
        if self._any_address:
            self._names.add(_normalise(socket.gethostname()))

    def allows(self, header: str | None) -> bool:
        if not header:
            return False
        name = _host_name(header.strip())
        if name is None:
            return False
        if name in self._names:
            return True
        try:
            address = ipaddress.ip_address(name)
        except ValueError:
            return False
        return address.is_loopback or self._any_address


def _normalise(name: str) -> str:
    return name.lower().rstrip(".")


def _host_name(header: str) -> str | None:
    """The host part of a ``Host`` header (brackets of an IPv6 literal removed)."""
    if header.startswith("["):
        end = header.find("]")
        if end < 0:
            return None
        name, rest = header[1:end], header[end + 1 :]
        if rest and not (rest.startswith(":") and _is_port(rest[1:])):
            return None
        return _normalise(name)
    name, _, port = header.partition(":")
    if port and not _is_port(port):
        return None
    return _normalise(name) if name else None


def _is_port(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 5


def parse_json(body: bytes) -> Any:
    """The body as JSON, or ``None`` when it is empty, malformed or nested too deep."""
    if not body:
        return None
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None
