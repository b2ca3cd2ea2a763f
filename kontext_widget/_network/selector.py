"""The I/O loop's selector: a timer fires when it is due, not a millisecond later.

Why (bench/RESULTS.md, preload breakdown): ``selectors.EpollSelector`` rounds a
timeout up to whole milliseconds as ``math.ceil(timeout * 1e3) * 1e-3``, and
``epoll.poll`` rounds that float up to milliseconds once more. ``9 * 1e-3`` is
``0.009000000000000001``, so a 9 ms wait becomes 10 ms (also 13, 18, 26, 36 ms
and more). The 10 ms debounce of a preload reaches ``select`` with 8-9 ms to go:
it fired a whole millisecond late most of the time, and up to 1 ms late (the
rounding to milliseconds itself) otherwise.

How: a wait with a timeout blocks in ``select.select`` on the epoll descriptor
itself, which is readable as soon as any registered descriptor is ready, and
whose timeout has microsecond resolution; the ready events are then collected
with a zero timeout. No thread, no busy-waiting: the same one blocking system
call, plus one that returns at once. An epoll descriptor numbered past
``select``'s limit (``FD_SETSIZE``, 1024) waits in ``poll`` instead, rounded up
to whole milliseconds once.

Only Linux (epoll) needs this: ``KqueueSelector`` passes its timeout on
unrounded, and elsewhere the loop keeps asyncio's default.
"""

from __future__ import annotations

import asyncio
import select
import selectors

__all__ = ["new_loop"]

# select.select() refuses descriptors from this number on (glibc's FD_SETSIZE).
SELECT_FD_LIMIT = 1024


class PreciseEpollSelector(selectors.EpollSelector):
    """``EpollSelector`` whose timeouts are kept to the microsecond."""

    def __init__(self) -> None:
        super().__init__()
        fd = self.fileno()
        self._fd = fd
        self._poller: select.poll | None = None
        if fd >= SELECT_FD_LIMIT:
            self._poller = select.poll()
            self._poller.register(fd, select.POLLIN)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is not None and timeout > 0:
            if self._poller is None:
                select.select([self._fd], [], [], timeout)
            else:
                self._poller.poll(timeout * 1e3)  # milliseconds, rounded up once
            timeout = 0
        return super().select(timeout)


def new_loop() -> asyncio.AbstractEventLoop:
    """A new event loop for the I/O thread, on ``PreciseEpollSelector`` where epoll exists."""
    if hasattr(select, "epoll"):
        return asyncio.SelectorEventLoop(PreciseEpollSelector())
    return asyncio.new_event_loop()  # pragma: no cover - not Linux
