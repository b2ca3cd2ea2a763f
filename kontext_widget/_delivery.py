"""Ordered delivery of a session's callbacks, and the bookkeeping behind ``wait_idle``.

Where callbacks run (a decision, documented in the README):

* In a Jupyter kernel (or any program that created the session on a thread
  running an asyncio loop) they run on that loop's thread, i.e. the kernel's
  main thread, where widget updates and ``print`` behave as users expect. While
  a cell blocks that thread, deliveries wait, except that ``Session.wait_idle()``
  delivers them itself on the calling thread.
* Anywhere else (a plain script) they run on one process-wide
  ``kontext-widget-callbacks`` thread, so a slow callback never stalls network I/O.

Either way one session's callbacks run one at a time, in emission order.
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

    # -- background work -------------------------------------------------
    def begin(self) -> None:
        with self._cond:
            self._work += 1

    def end(self) -> None:
        with self._cond:
            self._work -= 1
            self._cond.notify_all()

    # -- callbacks ---------------------------------------------------------
    def post(self, callback: Callable[[], None]) -> None:
        """Queue ``callback`` (which must not raise) and make sure a drain is coming."""
        with self._cond:
            self._queue.append(callback)
            self._cond.notify_all()
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
                        self._cond.notify_all()
                        return
                    callback = self._queue.popleft()
                    self._delivering = True
                callback()
        finally:
            self._drain_lock.release()

    # -- waiting -----------------------------------------------------------
    def _idle(self) -> bool:
        return self._work == 0 and not self._queue and not self._delivering

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
            with self._cond:
                if self._idle():
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
