"""Section 8: a hostile ad server (issue 8): memory and time under a decompression bomb.

The server is the test suite's ``FaultServer`` (``tests/fault_servers.py``), a
real loopback HTTP server, answering ``/preload`` with a body of a couple of KB
whose ``Content-Encoding: gzip, gzip`` layers decode to 1 GiB of zeros. The
client must refuse it once 1 MiB is decoded, without retrying, so the figures
are the peak traced heap (tracemalloc) and the peak RSS growth (``VmHWM``)
from the user message to the ``ad.error``, each in its own run (tracemalloc
adds its own overhead to RSS).
"""

from __future__ import annotations

import importlib
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from types import ModuleType

from kontext_widget import AdError, AdEvent, Filled, Message, create_session

from .baseline import package_module
from .machine import reset_peak_rss, rss_kb
from .suite import Figure

MIB = 1 << 20
MAX_RESPONSE_BYTES: int = package_module("client").MAX_RESPONSE_BYTES
TARGET = MAX_RESPONSE_BYTES + 2 * MIB  # "within a few MB of the 1 MiB cap"


def _fault_servers() -> ModuleType:
    tests = str(Path(__file__).resolve().parent.parent / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    return importlib.import_module("fault_servers")


def _bomb_turn(traced: bool) -> tuple[int, float, int, int, str]:
    """(peak bytes above the start, seconds to the event, /preload requests, body bytes,
    how it ended if not in ad.error)."""
    fault_servers = _fault_servers()
    body = fault_servers.bomb("gzip, gzip")
    events: list[AdEvent] = []
    arrived = threading.Event()

    def on_event(event: AdEvent) -> None:
        events.append(event)
        arrived.set()

    with fault_servers.FaultServer() as server:
        session = create_session(
            publisher_token="pub-bench",
            user_id="user-bench",
            conversation_id="bench-bomb",
            ad_server_url=server.url,
            on_event=on_event,
        )
        # A first, honest turn warms the pool, the TLS context and the code paths.
        session.add_message(Message(id="w1", role="user", content="warm up"))
        session.wait_idle(30)
        assert isinstance(events[-1], Filled), events
        server.script(fault_servers.encoded(body, "gzip, gzip"))
        arrived.clear()
        if traced:
            tracemalloc.start()
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
        else:
            reset_peak_rss()
            base = rss_kb() * 1024
        start = time.perf_counter()
        session.add_message(Message(id="b1", role="user", content="bomb"))
        if not arrived.wait(30):
            raise RuntimeError("no event for the bomb within 30 s")
        seconds = time.perf_counter() - start
        session.wait_idle(30)
        if traced:
            peak = tracemalloc.get_traced_memory()[1] - base
            tracemalloc.stop()
        else:
            peak = rss_kb("VmHWM") * 1024 - base
        session.destroy()
        requests = len(server.requests("/preload")) - 1
    # Not ad.error: the code at bench/baseline.py's commit retried the bomb, then filled.
    ended = "" if isinstance(events[-1], AdError) else f" (ended in {type(events[-1]).__name__})"
    return peak, seconds, requests, len(body), ended


def decompression_bomb() -> list[Figure]:
    traced_peak, seconds, requests, size, ended = _bomb_turn(traced=True)
    rss_peak = _bomb_turn(traced=False)[0]
    return [
        Figure(
            f"`gzip, gzip` bomb ({size:,} B on the wire, 1 GiB decoded): peak traced heap",
            f"{traced_peak / MIB:.2f} MiB (cap 1 MiB)",
            f"< {TARGET / MIB:.0f} MiB",
            traced_peak < TARGET,
        ),
        Figure(
            "same bomb: peak RSS growth (VmHWM delta)",
            f"{rss_peak / MIB:.2f} MiB",
            f"< {TARGET / MIB:.0f} MiB",
            rss_peak < TARGET,
        ),
        Figure("same bomb: user message -> ad.error", f"{seconds * 1000:.1f} ms{ended}"),
        Figure(
            "same bomb: /preload requests (an over-size answer is never retried)",
            str(requests),
            "1",
            requests == 1,
        ),
    ]
