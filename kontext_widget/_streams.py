"""``Session.stream_events()``: a session's events as async iterators (the Kotlin SDK's Flow).

Each call subscribes one ``EventStream``. The session pushes every event into
every live stream at the moment it is emitted (under the session's lock, in
emission order, whatever thread emits it), so a stream never depends on where
or when ``on_event`` callbacks run. Pushing never blocks and never runs user
code: it appends to the stream's buffer and, if the consumer is waiting, wakes
it on its own loop with ``call_soon_threadsafe``.

Bounds. A stream buffers at most ``max_buffered`` unread events (default
1,000, the size of ``session.events``). A consumer that falls further behind
loses the oldest unread ones, never the newest (``BufferOverflow.DROP_OLDEST``
in Kotlin terms): memory stays bounded however slow it is, and what it missed
is counted in ``dropped`` and logged once. The session holds streams weakly,
so an iterator abandoned without ``aclose()`` (a ``break`` out of ``async
for``) unsubscribes as soon as it is garbage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Final

from ._events import AdEvent

__all__ = ["DEFAULT_MAX_BUFFERED", "EventStream", "end_stream", "push_event"]

logger = logging.getLogger("kontext_widget")

DEFAULT_MAX_BUFFERED: Final = 1000


class EventStream(AsyncIterator[AdEvent]):
    """Every event a session emits after this stream was created, in emission order.

    Iterate it with ``async for``; it ends when the session is destroyed (or
    ``aclose()`` is called). One consumer per stream: call
    ``session.stream_events()`` once per consumer. ``dropped`` counts events a
    slow consumer lost because more than ``max_buffered`` were waiting.
    """

    def __init__(self, max_buffered: int, unsubscribe: Callable[[EventStream], None]) -> None:
        self._lock = threading.Lock()
        self._buffer: deque[AdEvent] = deque()
        self._max = max_buffered
        self._unsubscribe = unsubscribe
        self._ended = False
        self._waiter: tuple[asyncio.AbstractEventLoop, asyncio.Future[None]] | None = None
        self._busy = False
        self.dropped = 0

    def __repr__(self) -> str:
        state = "ended" if self._ended else "open"
        return f"EventStream({state}, buffered={len(self._buffer)}, dropped={self.dropped})"

    # -- producer side (the session; any thread) ---------------------------------------------
    def _push(self, event: AdEvent) -> None:
        with self._lock:
            if self._ended:
                return
            if len(self._buffer) >= self._max:
                self._buffer.popleft()
                self.dropped += 1
                if self.dropped == 1:
                    logger.warning(
                        "kontext-widget: an event stream's consumer fell %d events behind; "
                        "the oldest unread events are being dropped",
                        self._max,
                    )
            self._buffer.append(event)
            self._wake_locked()

    def _end(self) -> None:
        with self._lock:
            self._ended = True
            self._wake_locked()

    def _wake_locked(self) -> None:
        if self._waiter is None:
            return
        loop, future = self._waiter
        self._waiter = None
        with contextlib.suppress(RuntimeError):  # the consumer's loop is closed: nobody waits
            loop.call_soon_threadsafe(_set_done, future)

    # -- consumer side -----------------------------------------------------------------
    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> AdEvent:
        if self._busy:
            raise RuntimeError(
                "this event stream is already being awaited; call session.stream_events() "
                "once per consumer"
            )
        self._busy = True
        try:
            loop = asyncio.get_running_loop()
            while True:
                with self._lock:
                    if self._buffer:
                        return self._buffer.popleft()
                    if self._ended:
                        break
                    future: asyncio.Future[None] = loop.create_future()
                    self._waiter = (loop, future)
                try:
                    await future
                finally:
                    with self._lock:
                        if self._waiter is not None and self._waiter[1] is future:
                            self._waiter = None
        finally:
            self._busy = False
        self._release()
        raise StopAsyncIteration

    async def aclose(self) -> None:
        """Stop receiving events and unsubscribe; buffered events are discarded."""
        self.close()

    def close(self) -> None:
        """``aclose()`` for synchronous code (and for ``__del__``-free cleanup)."""
        with self._lock:
            self._ended = True
            self._buffer.clear()
            self._wake_locked()
        self._release()

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self.close()

    def _release(self) -> None:
        unsubscribe, self._unsubscribe = self._unsubscribe, _nothing
        unsubscribe(self)


def _nothing(_stream: EventStream) -> None:
    return None


def _set_done(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


# -- the producer's interface (the session; any thread) ------------------------------------
# Functions rather than methods: the session holds its streams weakly and feeds them
# through these, while ``EventStream``'s public surface stays the consumer's.


def push_event(stream: EventStream, event: AdEvent) -> None:
    """Buffer ``event`` for the stream's consumer (never blocks, never runs user code)."""
    stream._push(event)


def end_stream(stream: EventStream) -> None:
    """End the stream: its consumer sees the buffered events, then the end."""
    stream._end()
