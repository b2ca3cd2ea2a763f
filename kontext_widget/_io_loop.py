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
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

import httpx

__all__ = [
    "MAX_CONNECTIONS",
    "call_soon",
    "http_client",
    "loop",
    "request_slots",
    "spawn",
    "submit",
]

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_client: httpx.AsyncClient | None = None
_slots: asyncio.Semaphore | None = None
_owner_pid: int | None = None
# Strong references to fire-and-forget tasks: the loop keeps only weak ones.
_background: set[asyncio.Task[Any]] = set()

THREAD_NAME = "kontext-widget-io"

# httpcore matches every queued request against every pooled connection on each
# state change, so a queue far longer than the pool costs quadratic CPU (1,000
# sessions preloading at once took minutes). Requests wait for a slot first.
MAX_CONNECTIONS = 64


def _run(ready: threading.Event, new_loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(new_loop)
    new_loop.call_soon(ready.set)
    new_loop.run_forever()


def loop() -> asyncio.AbstractEventLoop:
    """The process's I/O loop, started on first use."""
    global _loop, _client, _slots, _owner_pid
    current = _loop
    if current is not None and _owner_pid == os.getpid():
        return current
    with _lock:
        if _loop is None or _owner_pid != os.getpid():
            new_loop = asyncio.new_event_loop()
            ready = threading.Event()
            thread = threading.Thread(
                target=_run, args=(ready, new_loop), name=THREAD_NAME, daemon=True
            )
            thread.start()
            ready.wait()
            _client = None
            _slots = None
            _owner_pid = os.getpid()
            _loop = new_loop
        return _loop


def http_client() -> httpx.AsyncClient:
    """The shared connection pool; call only on the I/O loop.

    Per-attempt time limits are enforced by the caller around the whole
    exchange (PROTOCOL.md section 2: connect + read per attempt), so the pool
    itself waits without a limit of its own.
    """
    global _client
    if _client is None:
        _client = httpx.AsyncClient(
            timeout=httpx.Timeout(None),
            limits=httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=20),
            follow_redirects=False,
            trust_env=True,
        )
    return _client


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
