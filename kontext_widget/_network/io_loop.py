"""The one background I/O loop and the one HTTP connection pool of the process.

Every session shares them: a thousand sessions cost a thousand small objects,
not a thousand threads or pools. The loop thread starts on first use and is a
daemon, so it never keeps an interpreter alive; after ``fork`` the child starts
its own (a loop thread does not survive a fork).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

import httpcore
import httpx

from .selector import new_loop
from .warm import WarmBackend

__all__ = [
    "MAX_CONNECTIONS",
    "call_soon",
    "http_client",
    "loop",
    "request_slots",
    "sleep_until",
    "spawn",
    "submit",
    "warm",
]

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_client: httpx.AsyncClient | None = None
_warm: WarmBackend | None = None
_slots: asyncio.Semaphore | None = None
_owner_pid: int | None = None
# Strong references to fire-and-forget tasks: the loop keeps only weak ones.
_background: set[asyncio.Task[Any]] = set()

THREAD_NAME = "kontext-widget-io"

# httpcore matches every queued request against every pooled connection on each
# state change, so a queue far longer than the pool costs quadratic CPU (1,000
# sessions preloading at once took minutes). Requests wait for a slot first.
MAX_CONNECTIONS = 64


def _run(ready: threading.Event, io_loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(io_loop)
    io_loop.call_soon(ready.set)
    io_loop.run_forever()


def loop() -> asyncio.AbstractEventLoop:
    """The process's I/O loop, started on first use."""
    global _loop, _client, _warm, _slots, _owner_pid
    current = _loop
    if current is not None and _owner_pid == os.getpid():
        return current
    with _lock:
        if _loop is None or _owner_pid != os.getpid():
            created = new_loop()
            ready = threading.Event()
            thread = threading.Thread(
                target=_run, args=(ready, created), name=THREAD_NAME, daemon=True
            )
            thread.start()
            ready.wait()
            _client = None
            _warm = None
            _slots = None
            _owner_pid = os.getpid()
            _loop = created
        return _loop


def http_client() -> httpx.AsyncClient:
    """The shared connection pool; call only on the I/O loop.

    Per-attempt time limits are enforced by the caller around the whole
    exchange (docs/protocol.md §2: connect + read per attempt), so the pool
    itself waits without a limit of its own.
    """
    global _client, _warm
    if _client is None:
        limits = httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=20)
        # One TLS context for requests and spare connections (honours SSL_CERT_FILE
        # and SSL_CERT_DIR, like httpx's own default).
        ssl_context = httpx.create_ssl_context()
        _warm = WarmBackend(ssl_context)
        transport = httpx.AsyncHTTPTransport(verify=ssl_context, limits=limits)
        # httpx has no parameter for httpcore's network backend; the pool is rebuilt
        # with the same settings httpx gives it plus ours (tests/test_warm.py checks it).
        transport._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_warm,
        )
        _client = httpx.AsyncClient(
            timeout=httpx.Timeout(None),
            limits=limits,
            follow_redirects=False,
            trust_env=True,
            transport=transport,
        )
    return _client


def warm() -> WarmBackend:
    """The spare-connection keeper of the shared pool; call only on the I/O loop."""
    http_client()
    assert _warm is not None
    return _warm


def request_slots() -> asyncio.Semaphore:
    """At most ``MAX_CONNECTIONS`` requests in the pool at once; call only on the I/O loop."""
    global _slots
    if _slots is None:
        _slots = asyncio.Semaphore(MAX_CONNECTIONS)
    return _slots


def submit(coro: Coroutine[Any, Any, T]) -> Future[T]:
    """Run ``coro`` on the I/O loop from any thread."""
    return asyncio.run_coroutine_threadsafe(coro, loop())


def call_soon(callback: Callable[..., object], *args: object) -> None:
    """Run ``callback(*args)`` on the I/O loop from any thread, without waiting."""
    loop().call_soon_threadsafe(callback, *args)


def spawn(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    """Start ``coro`` as a task on the I/O loop; call only on the I/O loop."""
    task = loop().create_task(coro)
    _background.add(task)
    task.add_done_callback(_background.discard)
    return task


async def sleep_until(deadline: float) -> None:
    """Wait until ``time.monotonic()`` (the loop's clock) reaches ``deadline``.

    The loop's selector keeps timeouts to the microsecond (``selector.py``), so
    this is one timer, with no rounding to milliseconds and no busy-waiting.
    """
    await asyncio.sleep(max(0.0, deadline - time.monotonic()))
