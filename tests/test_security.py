"""``destroy()`` leaves nothing behind (issue 5, docs/protocol.md §3.8).

An SDK living inside someone else's long-running kernel must give back every
thread, task, socket, widget and object it took, however many sessions come
and go. One test runs 1,000 create_session / create_ad / destroy cycles
against a real ``LocalAdServer`` and compares the process before and after.

The local server's own exposure is tested with the server itself
(``tests/test_local_server.py``: ``test_non_loopback_host_needs_allow_remote``,
``test_token_header_is_required``, ``test_token_must_match_the_body``).
"""

from __future__ import annotations

import asyncio
import gc
import os
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from ipywidgets.widgets import widget as ipywidgets_widget

from kontext_widget import LocalAdServer, Message, Session, create_session
from kontext_widget._constants import TIMING
from kontext_widget._delivery import CALLBACK_THREAD_NAME
from kontext_widget._network.io_loop import THREAD_NAME, submit

CYCLES = 1000
WARM_UP = 50
SERVER_THREAD_PREFIX = "kontext-local-ad-server"
# httpx keeps at most 20 idle connections; each is one socket here and one in
# the server, and a few more may be closing. Anything per-session would be >= 1,000.
SOCKET_SLACK = 2 * 20 + 10


async def _other_tasks() -> int:
    current = asyncio.current_task()
    return sum(1 for task in asyncio.all_tasks() if task is not current)


def _socket_count() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                count += 1
        except OSError:
            continue  # closed between listdir and readlink
    return count


@dataclass(frozen=True)
class Footprint:
    sdk_threads: tuple[str, ...]
    server_threads: int
    tasks: int
    sockets: int
    widgets: int

    @classmethod
    def now(cls) -> Footprint:
        gc.collect()
        names = [thread.name for thread in threading.enumerate()]
        return cls(
            sdk_threads=tuple(sorted(n for n in names if n.startswith("kontext-widget"))),
            server_threads=sum(n.startswith(SERVER_THREAD_PREFIX) for n in names),
            tasks=submit(_other_tasks()).result(timeout=5),
            sockets=_socket_count(),
            widgets=len(ipywidgets_widget._instances),
        )


def settled(baseline: Footprint, timeout: float = 10.0) -> Footprint:
    """The footprint once cancelled requests have wound down (or the last one seen)."""
    deadline = time.monotonic() + timeout
    while True:
        footprint = Footprint.now()
        if footprint.tasks <= baseline.tasks or time.monotonic() > deadline:
            return footprint
        time.sleep(0.05)


@pytest.fixture
def server() -> Iterator[LocalAdServer]:
    with LocalAdServer() as local_server:
        yield local_server


def cycle(server: LocalAdServer, index: int, *, preload: bool) -> weakref.ref[Session]:
    session = create_session(
        publisher_token="pub-security",
        user_id="user-security",
        conversation_id=f"conv-{index}",
        ad_server_url=server.url,
        on_event=lambda _event: None,
    )
    if preload:
        session.add_message(Message(id="u1", role="user", content="hi"))
        session.add_message(Message(id="a1", role="assistant", content="hello"))
    ad = session.create_ad("a1")
    session.destroy()
    assert ad.destroyed
    return weakref.ref(session)


def test_a_thousand_sessions_leave_nothing_behind(server: LocalAdServer) -> None:
    for index in range(WARM_UP):
        cycle(server, index, preload=True)
    baseline = settled(Footprint.now())
    assert baseline.sdk_threads.count(THREAD_NAME) == 1

    references = [
        # Every fourth session has a preload in flight when it is destroyed.
        cycle(server, index, preload=index % 4 == 0)
        for index in range(CYCLES)
    ]
    after = settled(baseline)

    assert after.sdk_threads.count(THREAD_NAME) == 1
    assert after.sdk_threads.count(CALLBACK_THREAD_NAME) <= 1
    assert set(after.sdk_threads) <= {THREAD_NAME, CALLBACK_THREAD_NAME}
    assert after.server_threads <= baseline.server_threads + 20
    assert after.tasks <= baseline.tasks, "tasks are left on the I/O loop"
    assert after.sockets <= baseline.sockets + SOCKET_SLACK, (baseline.sockets, after.sockets)

    gc.collect()
    alive = sum(reference() is not None for reference in references)
    assert alive == 0, f"{alive} destroyed sessions are still referenced"
    # ipywidgets keeps every open widget in a module-level registry until it is
    # closed; an Ad owns a Layout widget (DOMWidget.layout) that must go too.
    leaked = after.widgets - baseline.widgets
    assert leaked <= 0, f"{leaked} widgets stay registered after {CYCLES} destroyed ads"


def test_destroyed_session_sends_nothing_more(server: LocalAdServer) -> None:
    """Section 3.8: no request after destroy, even for work queued just before it."""
    session = create_session(
        publisher_token="pub-security",
        user_id="user-security",
        conversation_id="conv-destroy",
        ad_server_url=server.url,
    )
    TIMING.debounce = 1.0  # the preload is still queued when destroy() comes (conftest restores)
    session.add_message(Message(id="u1", role="user", content="hi"))
    session.destroy()
    assert session.wait_idle(5)  # the debounce task has ended: nothing can be sent later
    assert server.requests_to("/preload") == []
    reference = weakref.ref(session)
    del session
    gc.collect()
    assert reference() is None
