"""Where the page's main thread goes between the ad's sync arriving and the ad on screen.

``python -m bench.browser`` with ``KW_BENCH_PROFILE=N`` records a Chromium trace
(``devtools.timeline``) of N more turns after the counted ones: tracing slows the
page, so traced turns are not counted, and the split is a proportion, not a
latency. The page trace script puts a User Timing mark at each turn's two ends
(``kwb:ws-in-update:<id>`` when the sync with the ad's ``iframe_url`` reaches the
page's WebSocket, ``kwb:visible:<id>`` on the first animation frame that shows the
ad), so the trace's own clock bounds each window. The ad frame is same-site with
JupyterLab here (both on 127.0.0.1), so its work runs on the same renderer main
thread and is counted too.

Inside a window, the main thread's time is split by what ran: script by the file
it came from (JupyterLab's bundles, the widget's module, the creative), the
rendering steps (style, layout, paint, HTML parsing, garbage collection) by their
own time, the time inside tasks that the timeline categories do not break down
(IPC, loading, V8 internals), and the thread idle. Figures are medians per turn,
in ms. ``KW_BENCH_TRACE_OUT=FILE`` also saves the trace for Perfetto.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from typing import Any
from urllib.parse import urlsplit

__all__ = ["profile_table"]

# Script entry points: their whole duration goes to the script's file.
_SCRIPT_EVENTS = {
    "FunctionCall",
    "EvaluateScript",
    "v8.compileModule",
    "v8.evaluateModule",
    "TimerFire",
    "FireAnimationFrame",
    "EventDispatch",
    "RunMicrotasks",
    "V8.Execute",
}
# Rendering and loading steps: counted by their own (exclusive) time.
_STEPS = {
    "UpdateLayoutTree": "style",
    "RecalculateStyles": "style",
    "Layout": "layout",
    "Paint": "paint",
    "PrePaint": "paint",
    "Layerize": "paint",
    "UpdateLayer": "paint",
    "Commit": "paint",
    "CompositeLayers": "paint",
    "ParseHTML": "HTML parsing",
    "ParseAuthorStyleSheet": "style",
    "MinorGC": "garbage collection",
    "MajorGC": "garbage collection",
    "V8.GC_SCAVENGER": "garbage collection",
    "HitTest": "layout",
    "IntersectionObserverController::computeIntersections": "layout",
    "LocalWindowProxy::CreateContext": "a frame's new JS context",
    "LocalWindowProxy::Initialize": "a frame's new JS context",
    "V8.DeserializeContext": "a frame's new JS context",
    "InstallConditionalFeatures": "a frame's new JS context",
    "ContextCreatedNotification": "a frame's new JS context",
    "HTMLDocumentParser::MaybeFetchQueuedPreloads": "HTML parsing",
    "Decode Image": "paint",
}


def _source(event: dict[str, Any], ad_origin: str) -> str | None:
    data = event.get("args", {}).get("data", {}) or {}
    url = str(data.get("url") or data.get("scriptName") or "")
    if not url:
        return None  # a nested call with a URL claims it
    if url.startswith("blob:"):
        return "script: widget module (anywidget blob)"
    if url.startswith(ad_origin):
        return "script: ad frame (creative)"
    path = urlsplit(url).path
    if "/static/" in path or "/lab" in path:
        return "script: JupyterLab"
    return "script: other"


def _windows(events: list[dict[str, Any]]) -> tuple[tuple[int, int], dict[str, tuple[int, int]]]:
    """The main thread that carries our marks, and each turn's (start, end) in trace µs."""
    starts: dict[str, int] = {}
    ends: dict[str, int] = {}
    thread: tuple[int, int] | None = None
    for event in events:
        name = str(event.get("name", ""))
        if not name.startswith("kwb:") or "blink.user_timing" not in str(event.get("cat", "")):
            continue
        _, what, message_id = name.split(":", 2)
        target = starts if what == "ws-in-update" else ends if what == "visible" else None
        if target is not None:
            target.setdefault(message_id, int(event["ts"]))
            thread = (int(event["pid"]), int(event["tid"]))
    if thread is None:
        raise RuntimeError("the trace holds none of the page's kwb: marks")
    windows = {m: (starts[m], ends[m]) for m in starts if m in ends and ends[m] > starts[m]}
    return thread, windows


def _split(
    events: list[dict[str, Any]], window: tuple[int, int], ad_origin: str
) -> dict[str, float]:
    """ms per category of the thread's complete events inside ``window``."""
    start, end = window
    inside = sorted(
        (e for e in events if e.get("ph") == "X" and start <= int(e["ts"]) < end),
        key=lambda e: (int(e["ts"]), -int(e.get("dur", 0))),
    )
    spent: dict[str, float] = defaultdict(float)
    stack: list[tuple[int, str | None]] = []  # (end µs, the script bucket that owns it)
    busy_until = start
    busy = 0
    for event in inside:
        ts, dur = int(event["ts"]), int(event.get("dur", 0))
        while stack and stack[-1][0] <= ts:
            stack.pop()
        owner = next((bucket for _end, bucket in reversed(stack) if bucket), None)
        name = str(event.get("name", ""))
        if not stack:  # a top-level task: the thread is busy for its length
            top_end = min(ts + dur, end)
            busy += max(0, top_end - max(ts, busy_until))
            busy_until = max(busy_until, top_end)
        bucket = None
        if owner is None and name in _SCRIPT_EVENTS:
            bucket = _source(event, ad_origin)
            if bucket is not None:
                spent[bucket] += min(dur, end - ts) / 1000
        elif owner is None and name in _STEPS:
            spent[_STEPS[name]] += min(dur, end - ts) / 1000
        stack.append((ts + dur, bucket or owner))
    accounted = sum(spent.values())
    spent["other task time (IPC, loading, V8 work the trace names no script for)"] = max(
        0.0, busy / 1000 - accounted
    )
    spent["main thread idle (waiting)"] = (end - start - busy) / 1000
    spent["window: ws-in-update -> visible"] = (end - start) / 1000
    return spent


def profile_table(trace: bytes, ad_origin: str) -> list[str]:
    """A markdown table: median ms per turn of each category, over the traced turns."""
    events: list[dict[str, Any]] = json.loads(trace)["traceEvents"]
    thread, windows = _windows(events)
    on_thread = [e for e in events if (e.get("pid"), e.get("tid")) == thread]
    per_turn = [_split(on_thread, window, ad_origin) for window in windows.values()]
    names = sorted({name for turn in per_turn for name in turn})
    rows = [(name, statistics.median(turn.get(name, 0.0) for turn in per_turn)) for name in names]
    rows.sort(key=lambda row: (row[0].startswith("window"), -row[1]))
    lines = [
        "| page main thread, sync at the page -> ad visible | median ms per turn | turns |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {name} | {ms:.1f} | {len(per_turn)} |" for name, ms in rows]
    return lines
