"""The measurements: each function returns figures with their target and verdict.

Everything runs against a real ``LocalAdServer`` on loopback, so the I/O loop,
the connection pool and the callback thread are busy the way they are in use.
Figures compare within one run (distributions, ratios, a raw-HTTP baseline)
rather than against absolute numbers from another machine.
"""

from __future__ import annotations

import asyncio
import gc
import gzip
import json
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx

from kontext_widget import AdEvent, Filled, LocalAdServer, Message, Session, create_session
from kontext_widget._constants import (
    MAX_EVENT_HISTORY,
    MAX_MESSAGES,
    PUBLISHER_TOKEN_HEADER,
    TIMING,
)

from .machine import reset_peak_rss, rss_kb

TOKEN = "pub-bench"
BUNDLE = Path(__file__).parent.parent / "kontext_widget" / "static" / "widget.js"
BROWSER_TIMINGS = Path(__file__).parent / "browser_timings.json"
BROWSER_BARE = Path(__file__).parent / "browser_bare.json"
LAYOUT_SHIFT = Path(__file__).parent / "layout_shift.json"


@dataclass(frozen=True)
class Figure:
    name: str
    value: str
    target: str = ""
    passed: bool | None = None  # None: reported, no target
    before: str | None = None  # main's code, measured in the same run (bench/latency.py)


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def new_session(
    server: LocalAdServer, conversation: str, on_event: Callable[[AdEvent], None] | None = None
) -> Session:
    return create_session(
        publisher_token=TOKEN,
        user_id="user-bench",
        conversation_id=conversation,
        ad_server_url=server.url,
        on_event=on_event,
    )


def sdk_threads() -> int:
    return sum(t.name.startswith("kontext-widget") for t in threading.enumerate())


# -- 1. add_message on the caller's thread -------------------------------------------


def add_message_cost(server: LocalAdServer, calls: int = 100_000) -> list[Figure]:
    session = new_session(server, "bench-add-message")
    messages = [
        Message(id=f"m{i}", role="user" if i % 2 == 0 else "assistant", content=f"message {i}")
        for i in range(calls)
    ]
    samples = [0] * calls
    clock = time.perf_counter_ns
    gc.collect()
    for i, message in enumerate(messages):
        start = clock()
        session.add_message(message)
        samples[i] = clock() - start
    session.wait_idle(30)
    preloads = len(server.requests_to("/preload"))
    session.destroy()
    median_us = statistics.median(samples) / 1000
    p99_us = percentile(samples, 0.99) / 1000
    return [
        Figure(
            f"add_message median ({calls:,} calls, half user)",
            f"{median_us:.1f} µs",
            "< 20 µs",
            median_us < 20,
        ),
        Figure("add_message p99", f"{p99_us:.1f} µs", "< 200 µs", p99_us < 200),
        Figure("add_message max", f"{max(samples) / 1000:.0f} µs"),
        Figure("/preload requests the run caused (debounced)", f"{preloads:,}"),
    ]


# -- 2. coalescing -------------------------------------------------------------------


def coalescing(server: LocalAdServer, burst: int = 1000) -> list[Figure]:
    server.clear_requests()
    session = new_session(server, "bench-coalescing")
    start = time.perf_counter()
    for i in range(burst):
        session.add_message(Message(id=f"c{i}", role="user", content=f"burst {i}"))
    burst_ms = (time.perf_counter() - start) * 1000
    session.wait_idle(30)
    session.destroy()
    preloads = server.requests_to("/preload")
    carried = len(preloads[-1].json["messages"]) if preloads else 0
    return [
        Figure(
            f"/preload requests for {burst:,} user messages in a tight loop",
            f"{len(preloads)} (loop took {burst_ms:.1f} ms; last carried {carried} messages)",
            "exactly 1",
            len(preloads) == 1,
        )
    ]


# -- 4. scale ----------------------------------------------------------------------------


def _sessions_round(server: LocalAdServer, count: int) -> tuple[int, float, int, list[Session]]:
    answered = 0
    lock = threading.Lock()

    def on_event(event: AdEvent) -> None:
        nonlocal answered
        if isinstance(event, Filled):
            with lock:
                answered += 1

    start = time.perf_counter()
    sessions = [new_session(server, f"bench-scale-{count}-{i}", on_event) for i in range(count)]
    for index, session in enumerate(sessions):
        session.add_message(Message(id=f"s{index}", role="user", content="hiking boots?"))
    for session in sessions:
        session.wait_idle(60)
    wall = time.perf_counter() - start
    return answered, wall, sdk_threads(), sessions


def scale(server: LocalAdServer, count: int = 1000) -> list[Figure]:
    answered_small, _, threads_small, small = _sessions_round(server, 10)
    for session in small:
        session.destroy()
    del small
    gc.collect()
    rss_before = rss_kb()
    peak_reset = reset_peak_rss()
    tracemalloc.start()
    answered, wall, threads_large, sessions = _sessions_round(server, count)
    traced_now, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    gc.collect()
    rss_delta = (rss_kb() - rss_before) * 1024 / count
    peak_delta = (rss_kb("VmHWM") - rss_before) * 1024 / count if peak_reset else None
    for session in sessions:
        session.destroy()
    per_session = traced_now / count
    figures = [
        Figure(
            f"{count:,} sessions preloading at once: answered",
            f"{answered:,}/{count:,} in {wall:.2f} s wall",
            "all answered",
            answered == count and answered_small == 10,
        ),
        Figure(
            "retained Python heap per live session (tracemalloc)",
            f"{per_session / 1024:.1f} KB "
            f"(peak during the burst {traced_peak / count / 1024:.1f} KB)",
            "< 50 KB",
            per_session < 50 * 1024,
        ),
        Figure(
            "RSS growth per live session (VmRSS delta / count)",
            f"{rss_delta / 1024:.1f} KB",
            "< 50 KB",
            rss_delta < 50 * 1024,
        ),
        Figure(
            "SDK threads with 10 vs 1,000 sessions",
            f"{threads_small} vs {threads_large}",
            "independent of the session count",
            threads_small == threads_large,
        ),
    ]
    if peak_delta is not None:
        figures.insert(
            3,
            Figure(
                "peak RSS growth per session during the burst (VmHWM delta / count)",
                f"{peak_delta / 1024:.1f} KB",
                "< 50 KB",
                peak_delta < 50 * 1024,
            ),
        )
    return figures


# -- 5. long life ----------------------------------------------------------------------------


class _ServerProcess:
    """A ``kontext-widget serve`` child process: its request records stay out of our heap."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "kontext_widget._cli", "serve", "--port", "0"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        self.url = self._process.stdout.readline().strip().split()[-1]

    def close(self) -> None:
        self._process.terminate()
        self._process.wait(10)


def long_life(total: int = 100_000) -> list[Figure]:
    """One session fed ``total`` messages; heap compared once the histories are full.

    The ad server runs in a child process: an in-process ``LocalAdServer``
    records every request it answers, which would be measured as our growth.
    The first 10k messages wait for their preload every 10 messages, so about
    1,000 ``ad.filled`` events fill the event history before the first
    snapshot; the debounce is cut to 1 ms here only to keep that phase short
    (memory does not depend on it). Bounded structures are pruned in batches
    (assignments of messages that left the window go once there are twice the
    window's count), so the heap is a sawtooth: one snapshot against another
    measures the saw's phase. The figure compares the peaks of the two halves
    of the run (a snapshot every 5k messages): a leak raises the second.
    """
    saved_debounce = TIMING.debounce
    TIMING.debounce = 0.001
    server = _ServerProcess()
    answers = 0

    def count(_event: AdEvent) -> None:
        nonlocal answers
        answers += 1

    session = create_session(
        publisher_token=TOKEN,
        user_id="user-bench",
        conversation_id="bench-long-life",
        ad_server_url=server.url,
        on_event=count,
    )
    tracemalloc.start()
    marks: dict[int, int] = {}
    try:
        for i in range(total):
            role: Literal["user", "assistant"] = "user" if i % 2 == 0 else "assistant"
            session.add_message(Message(id=f"l{i}", role=role, content=f"long life {i}"))
            if (i + 1) % (10 if i < 10_000 else 50) == 0:
                session.wait_idle(10)
            if i + 1 >= 10_000 and (i + 1) % 5_000 == 0:
                session.wait_idle(10)
                gc.collect()
                marks[i + 1] = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
        TIMING.debounce = saved_debounce
        server.close()
    messages, events = len(session.messages), len(session.events)
    session.destroy()
    middle = (10_000 + total) // 2
    first = max(heap for count, heap in marks.items() if count <= middle)
    second = max(heap for count, heap in marks.items() if count > middle)
    growth = second - first
    return [
        Figure(
            f"peak traced heap, 10k-{middle // 1000}k vs {middle // 1000}k-{total // 1000}k "
            "messages (a snapshot every 5k)",
            f"{first / 1024:.0f} KB vs {second / 1024:.0f} KB (growth {growth / 1024:+.1f} KB)",
            "flat (growth < 64 KB)",
            growth < 64 * 1024,
        ),
        Figure(
            "messages kept / events kept",
            f"{messages} / {events} (after {answers:,} preload answers in the run)",
            f"{MAX_MESSAGES} / <= {MAX_EVENT_HISTORY}",
            messages == MAX_MESSAGES and events <= MAX_EVENT_HISTORY,
        ),
    ]


# -- 6. front end -----------------------------------------------------------------------------


def front_end() -> list[Figure]:
    bundle = BUNDLE.read_bytes()
    figures = [
        Figure("widget.js as shipped (minified by esbuild)", f"{len(bundle) / 1024:.1f} KB"),
        Figure("widget.js gzipped (level 9)", f"{len(gzip.compress(bundle, 9)) / 1024:.1f} KB"),
    ]
    if BROWSER_TIMINGS.exists():
        timings = json.loads(BROWSER_TIMINGS.read_text())
        before = timings.get("before", {}).get("figures", {})
        for name, value in timings["figures"].items():
            figures.append(
                Figure(
                    f"browser: {name}",
                    str(value),
                    timings["targets"].get(name, ""),
                    timings["passed"].get(name),
                    before.get(name, "" if before else None),
                )
            )
    # What the instruments cost (bench/browser_bare.py): the same turn, side by side.
    if BROWSER_BARE.exists():
        bare = json.loads(BROWSER_BARE.read_text())
        for name, value in bare["figures"].items():
            uninstrumented = name == bare["bare"]
            figures.append(
                Figure(
                    f"browser: assistant message added -> ad visible (JupyterLab), {name} "
                    f"[bench.browser_bare, load {bare['load'].split(' (')[0]}]",
                    value,
                    "median < 120 ms" if uninstrumented else "",
                    bare["passed"] if uninstrumented else None,
                )
            )
    # Layout figures of tests/browser/test_reader_view_lab.py (issue 13), before/after.
    if LAYOUT_SHIFT.exists():
        layout = json.loads(LAYOUT_SHIFT.read_text())
        for name, value in layout.items():
            figures.append(
                Figure(
                    f"browser: {name}",
                    f"before: {value['before']}; after: {value['after']}",
                    value["target"],
                )
            )
    return figures


def browser_breakdown() -> str:
    """Section 6's stage tables (``bench/browser.py``), before and after, as Markdown."""
    if not BROWSER_TIMINGS.exists():
        return ""
    timings = json.loads(BROWSER_TIMINGS.read_text())
    runs = [("", timings)]
    if "before" in timings:
        runs = [("Before", timings["before"]), ("Measured", timings)]
    parts = []
    for heading, run in runs:
        nodelay = " (jupyter_server with TCP_NODELAY)" if run.get("nodelay") else ""
        title = f"{heading}: {run['label']}{nodelay}" if heading else run["label"]
        parts.append(f"{title}, load average {run['load']}:")
        parts += ["\n".join(lines) for lines in run["breakdown"].values()]
    if BROWSER_BARE.exists():
        parts.append(_bare_cpu_table(json.loads(BROWSER_BARE.read_text())))
    return "\n\n".join(parts)


def _bare_cpu_table(bare: dict[str, Any]) -> str:
    """CPU ms per turn of each process group, per variant of ``bench/browser_bare.py``."""
    variants = list(bare["cpu_ms_per_turn"])
    groups = sorted({group for used in bare["cpu_ms_per_turn"].values() for group in used})
    legend = "; ".join(f"({index}) {variant}" for index, variant in enumerate(variants, 1))
    lines = [
        f"CPU per turn (whole turn: user cell, preload, assistant message, ad, 1 s pause) in "
        f"`python -m bench.browser_bare`, load {bare['load']}, ms: {legend}.",
        "",
        "| process group | " + " | ".join(f"({i})" for i in range(1, len(variants) + 1)) + " |",
        "| --- |" + " --- |" * len(variants),
    ]
    for group in groups:
        cells = [f"{bare['cpu_ms_per_turn'][v].get(group, 0.0):.0f}" for v in variants]
        lines.append(f"| {group} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# -- 7. LocalAdServer throughput ----------------------------------------------------------------


async def _hammer(url: str, body: bytes, clients: int, total: int) -> tuple[float, list[float]]:
    headers = {"Content-Type": "application/json", PUBLISHER_TOKEN_HEADER: TOKEN}
    latencies: list[float] = []
    remaining = total
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                start = time.perf_counter()
                response = await client.post(url, content=body, headers=headers)
                response.raise_for_status()
                latencies.append(time.perf_counter() - start)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        return time.perf_counter() - start, latencies


def server_throughput(clients: int = 50, total: int = 5000) -> list[Figure]:
    body = json.dumps(
        {
            "publisherToken": TOKEN,
            "userId": "user-bench",
            "installId": "0190f3c2-7d1e-7a6b-9c3d-2f4e5a6b7c8d",
            "conversationId": "bench-throughput",
            "enabledPlacementCodes": ["inlineAd"],
            "messages": [
                {
                    "id": "m1",
                    "role": "user",
                    "content": "x",
                    "createdAt": "2025-01-31T09:05:00.123Z",
                }
            ],
            "sdk": {"name": "sdk-js", "platform": "web", "version": "0"},
        }
    ).encode()
    with LocalAdServer() as server:
        wall, latencies = asyncio.run(_hammer(server.url + "/preload", body, clients, total))
    return [
        Figure(
            f"LocalAdServer /preload, {clients} concurrent clients, {total:,} requests",
            f"{total / wall:,.0f} requests/s",
        ),
        Figure(
            "LocalAdServer /preload latency",
            f"p50 {percentile(latencies, 0.5) * 1000:.1f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms",
        ),
    ]
