"""Ordered delivery of a session's callbacks, and the bookkeeping behind ``wait_idle``.

Where callbacks run (a decision, documented in the README):

* In a Jupyter kernel (or any program that created the session on a thread
  running an asyncio loop) they run on that loop's thread, i.e. the kernel's
  main thread, where widget updates and ``print`` behave as users expect. While
  a cell blocks that thread, deliveries wait, except that ``Session.wait_idle()``
  delivers them itself on the calling thread.
* Anywhere else (a plain script) they run on one process-wide
  ``kontext-widget-callbacks`` thread, so a slow callback never stalls network I/O.

* A session created inside a running loop that is not a kernel's (``asyncio.run``
  in a script, an async web app) is the same case as Jupyter: its callbacks run
  on that loop, between the awaits of its tasks. Once that loop has stopped
  they move to the callbacks thread, so none is ever lost.

Either way one session's callbacks run one at a time, in emission order.
``wait_idle_async`` waits for the same condition as ``wait_idle`` without
blocking the loop it is awaited on.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections import deque
from collections.abc import Callable

__all__ = ["Delivery"]

_dispatch_queue: queue.SimpleQueue[Delivery] = queue.SimpleQueue()
_dispatch_lock = threading.Lock()
_dispatch_thread: threading.Thread | None = None

CALLBACK_THREAD_NAME = "kontext-widget-callbacks"


def _dispatch_forever() -> None:
    while True:
        _dispatch_queue.get().drain()


def _schedule_on_dispatch_thread(delivery: Delivery) -> None:
    global _dispatch_thread
    if _dispatch_thread is None or not _dispatch_thread.is_alive():
        with _dispatch_lock:
            if _dispatch_thread is None or not _dispatch_thread.is_alive():
                _dispatch_thread = threading.Thread(
                    target=_dispatch_forever, name=CALLBACK_THREAD_NAME, daemon=True
                )
                _dispatch_thread.start()
    _dispatch_queue.put(delivery)


def _current_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class Delivery:
    """A FIFO of callables to run on the session's callback thread, plus an activity count.

    ``begin()``/``end()`` bracket background work (a debounce, a request) that
    may still produce callbacks; the session is idle when no work is under way
    and nothing is left to deliver.
    """

    def __init__(self) -> None:
        self._target_loop = _current_loop()
        self._target_thread = threading.get_ident() if self._target_loop else None
        self._queue: deque[Callable[[], None]] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._drain_lock = threading.RLock()
        self._scheduled = False
        self._delivering = False
        self._work = 0
        # Awaiting ``wait_idle_async`` calls, woken on every change that may make us idle.
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    # -- background work -------------------------------------------------
    def begin(self) -> None:
        with self._cond:
            self._work += 1

    def end(self) -> None:
        with self._cond:
            self._work -= 1
            self._notify_locked()

    # -- callbacks ---------------------------------------------------------
    def post(self, callback: Callable[[], None]) -> None:
        """Queue ``callback`` (which must not raise) and make sure a drain is coming."""
        with self._cond:
            self._queue.append(callback)
            self._notify_locked()
            if self._scheduled:
                return
            self._scheduled = True
        target = self._target_loop
        if target is not None and target.is_running() and not target.is_closed():
            with contextlib.suppress(RuntimeError):  # closed meanwhile: fall through
                target.call_soon_threadsafe(self.drain)
                return
        _schedule_on_dispatch_thread(self)

    def drain(self, *, blocking: bool = True) -> None:
        """Run queued callbacks in order until the queue is empty."""
        if not self._drain_lock.acquire(blocking=blocking):
            return
        try:
            while True:
                with self._cond:
                    self._scheduled = False
                    if not self._queue:
                        self._delivering = False
                        self._notify_locked()
                        return
                    callback = self._queue.popleft()
                    self._delivering = True
                callback()
        finally:
            self._drain_lock.release()

    # -- waiting -----------------------------------------------------------
    def _idle(self) -> bool:
        return self._work == 0 and not self._queue and not self._delivering

    def _notify_locked(self) -> None:
        self._cond.notify_all()
        for loop, waiter in self._waiters:
            with contextlib.suppress(RuntimeError):  # that loop closed: its waiter is gone too
                loop.call_soon_threadsafe(_wake, waiter)
        self._waiters.clear()

    def _rescue_stranded(self) -> None:
        """A drain handed to a loop that stopped before running it would never run: redo it."""
        target = self._target_loop
        with self._cond:
            stranded = (
                self._scheduled
                and target is not None
                and (target.is_closed() or not target.is_running())
            )
        if stranded:
            _schedule_on_dispatch_thread(self)

    def wait_idle(self, timeout: float) -> bool:
        """Block until idle; on the callback thread itself, deliver while waiting."""
        deadline = time.monotonic() + timeout
        # On the thread that would deliver (the kernel's main thread blocked in
        # a cell, or a callback calling wait_idle) nobody else can: drain here.
        deliver_here = (
            self._target_thread == threading.get_ident()
            or threading.current_thread() is _dispatch_thread
        )
        while True:
            if deliver_here:
                self.drain(blocking=False)
            else:
                self._rescue_stranded()
            with self._cond:
                if self._idle():
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))

    async def wait_idle_async(self, timeout: float) -> bool:
        """``wait_idle`` for a coroutine: the loop keeps running while we wait.

        On the session's own loop the queued deliveries run while this awaits
        (they were scheduled on this very loop); elsewhere the callbacks
        thread delivers them. Nothing is left behind on timeout or cancellation.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            self._rescue_stranded()
            waiter: asyncio.Future[None] = loop.create_future()
            with self._cond:
                if self._idle():
                    return True
                self._waiters.append((loop, waiter))
            remaining = deadline - loop.time()
            try:
                if remaining <= 0:
                    return False
                # Re-check at least every 50 ms, as wait_idle does: a wake-up is only a hint.
                await asyncio.wait((waiter,), timeout=min(remaining, 0.05))
            finally:
                with self._cond:
                    if (loop, waiter) in self._waiters:
                        self._waiters.remove((loop, waiter))
                waiter.cancel()


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
