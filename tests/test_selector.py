"""The I/O loop's selector keeps timeouts to the microsecond (``_network/selector.py``).

The stdlib ``EpollSelector`` rounds a timeout up to milliseconds twice: 9 ms
(``9 * 1e-3 == 0.009000000000000001``) is waited as 10 ms. These tests pin the
exact timeout handed to the kernel and that readiness is still reported; how
late a real timer fires is a benchmark figure (bench/RESULTS.md section 3).
"""

from __future__ import annotations

import asyncio
import select
import selectors
import socket
import time

import pytest

from kontext_widget._network import io_loop, selector
from kontext_widget._network.selector import PreciseEpollSelector

pytestmark = pytest.mark.skipif(not hasattr(select, "epoll"), reason="epoll only (Linux)")


def test_stdlib_epoll_selector_waits_9_ms_as_10() -> None:
    """The cause, kept as a test: if the stdlib ever stops double-rounding this says so."""
    assert 9 * 1e-3 > 0.009
    assert 9 * 1e-3 * 1e9 > 9_000_000  # epoll.poll rounds this up to the next millisecond


def test_timeout_reaches_the_kernel_unrounded(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float | None] = []
    real_select = select.select

    def recording(r: list[int], w: list[int], x: list[int], timeout: float | None = None) -> object:
        waits.append(timeout)
        return real_select(r, w, x, timeout)

    monkeypatch.setattr(selector.select, "select", recording)
    with PreciseEpollSelector() as sel:
        start = time.monotonic()
        assert sel.select(0.0085) == []
        assert time.monotonic() - start >= 0.0085  # never shorter than asked
        assert sel.select(0) == []
    assert waits == [0.0085]  # not 0.009000000000000001 (= 10 ms), and none for a zero timeout


def test_ready_descriptors_are_reported_with_and_without_timeout() -> None:
    left, right = socket.socketpair()
    with left, right, PreciseEpollSelector() as sel:
        key = sel.register(left, selectors.EVENT_READ, "data")
        assert sel.select(0.001) == []
        right.send(b"x")
        start = time.monotonic()
        assert sel.select(30) == [(key, selectors.EVENT_READ)]
        assert time.monotonic() - start < 10  # woken by the data, not the timeout
        assert sel.select(0) == [(key, selectors.EVENT_READ)]
        assert sel.select(None) == [(key, selectors.EVENT_READ)]


def test_an_epoll_descriptor_past_select_s_limit_waits_in_poll(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(selector, "SELECT_FD_LIMIT", 0)

    def refuse(*_args: object) -> object:
        raise AssertionError("select.select cannot take this descriptor")

    monkeypatch.setattr(selector.select, "select", refuse)
    left, right = socket.socketpair()
    with left, right, PreciseEpollSelector() as sel:
        key = sel.register(left, selectors.EVENT_READ)
        start = time.monotonic()
        assert sel.select(0.003) == []
        assert time.monotonic() - start >= 0.003
        right.send(b"x")
        assert sel.select(30) == [(key, selectors.EVENT_READ)]


def test_io_loop_runs_on_the_precise_selector() -> None:
    loop = io_loop.loop()
    assert isinstance(loop, asyncio.SelectorEventLoop)
    assert isinstance(loop._selector, PreciseEpollSelector)  # type: ignore[attr-defined]


def test_sleep_until_never_wakes_early() -> None:
    async def wait(deadline: float) -> float:
        await io_loop.sleep_until(deadline)
        return time.monotonic()

    for delay in (0.0, 0.0005, 0.009, 0.013):
        deadline = time.monotonic() + delay
        assert io_loop.submit(wait(deadline)).result(10) >= deadline
