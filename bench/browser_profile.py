"""Where the page's main thread goes between the ad's sync arriving and the ad on screen.

``python -m bench.browser`` with ``KW_BENCH_PROFILE=N`` records a Chromium trace of
N more turns after the counted ones (tracing slows the page, so traced turns are
not counted, and the split is a proportion, not a latency). The page trace script
puts a User Timing mark at each turn's two ends (``kwb:ws-in-update:<id>`` when the
sync with the ad's ``iframe_url`` reaches the page's WebSocket, ``kwb:visible:<id>``
on the first animation frame that shows the ad), so the trace's own clock bounds
each window. The ad frame is same-site with JupyterLab here (both on 127.0.0.1), so
its work runs on the same renderer main thread and is counted too.

Three tables, medians per turn in ms:

1. *What ran*: every trace event of the main thread inside the window is charged
   its self time (its duration minus its children's), so nothing is counted twice,
   and its self thread time (``tdur``: CPU time of the thread). Events are grouped
   by name or category (``_STEP_NAMES``, ``_STEP_CATEGORIES``); script by the file
   it came from. The scheduler's own wrappers (a task's ``RunTask``) keep the time
   no child event claims. Wall minus CPU inside tasks is the time the thread was
   runnable (or blocked) but not on a core: the renderer shares 2 cores with the
   browser process, the compositor and IO threads, the kernel and jupyter_server.
2. *What woke it*: each top-level task by where it was posted from (``toplevel``'s
   ``src_func``) or, for a Mojo message, by its interface.
3. *Other threads* in the same windows: busy wall and CPU time per thread, to see
   what competes for the 2 cores.

``KW_BENCH_TRACE_OUT=FILE`` also saves the trace for Perfetto.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

__all__ = ["PROFILE_CATEGORIES", "profile_table"]

# What the trace records: the timeline, the scheduler's tasks and where they were
# posted from, Mojo messages with their interface, Blink's and V8's own steps.
PROFILE_CATEGORIES = [
    "devtools.timeline",
    "blink.user_timing",
    "v8",
    "disabled-by-default-devtools.timeline",
    "disabled-by-default-devtools.timeline.frame",
    "disabled-by-default-v8.compile",
    "toplevel",
    "toplevel.flow",
    "ipc",
    "mojom",
    "loading",
    "navigation",
    "blink",
    "blink.resource",
    "renderer.scheduler",
    "sequence_manager",
    "cc",
    "benchmark",
]

SCRIPT = "script"
_SMALL_MS = 0.2  # rows below this median are summed into one
_SCRIPT_NAMES = {
    "FunctionCall",
    "EvaluateScript",
    "v8.compileModule",
    "v8.evaluateModule",
    "v8.callFunction",
    "v8.run",
    "v8.compile",
    "v8.newInstance",
    "v8.callAsConstructor",
    "V8.Execute",
    "TimerFire",
    "TimerBase::run",
    "FireAnimationFrame",
    "FrameRequestCallbackCollection::ExecuteFrameCallbacks",
    "FireIdleCallback",
    "EventDispatch",
    "RunMicrotasks",
    "RunPendingMicrotask",
    "BlinkScheduler_PerformMicrotaskCheckpoint",
    "AsyncTask Run",
    "AsyncTask Scheduled",
    "HTMLParserScriptRunner::execute",
    "HTMLParserScriptRunner::executeScriptsWaitingForResources",
}
_POST_MESSAGE = "postMessage (serialize, deliver, origin check)"
_NAVIGATION = "the ad frame's navigation and new document (create, commit, window, JS context)"
_PAINT = "paint, layerize, commit to the compositor, image decode"
_LIFECYCLE = "frame lifecycle bookkeeping (animations, lifecycle phases, observers)"
_STEP_NAMES = {
    "SerializedScriptValueFactory::create": _POST_MESSAGE,
    "SerializedScriptValueFactory::deserialize": _POST_MESSAGE,
    "DOMWindow::DoPostMessage": _POST_MESSAGE,
    "MessagePort::Accept": _POST_MESSAGE,
    "LocalDOMWindow::DispatchMessageEventWithOriginCheck": _POST_MESSAGE,
    "HandlePostMessage": _POST_MESSAGE,
    "EventHandler::handleMouseMoveEvent": "hover update: Blink's fake mouse move after layout",
    "HitTest": "layout",
    "LayoutView::HitTest": "layout",
    "ParseHTML": "HTML parsing",
    "Document::FinishedParsing": "HTML parsing",
    "Document::SetReadyState": "HTML parsing",
    "LocalWindowProxy::CreateContext": _NAVIGATION,
    "LocalWindowProxy::Initialize": _NAVIGATION,
    "LocalWindowProxy::SetupWindowPrototypeChain": _NAVIGATION,
    "V8.DeserializeContext": _NAVIGATION,
    "InstallConditionalFeatures": _NAVIGATION,
    "ContextCreatedNotification": _NAVIGATION,
    "Document::Document": _NAVIGATION,
    "Document::Initialize": _NAVIGATION,
    "Document::OpenForNavigation": _NAVIGATION,
    "Document::shutdown": _NAVIGATION,
    "Document::DispatchUnloadEvents": _NAVIGATION,
    "WebLocalFrameImpl::createChildframe": _NAVIGATION,
    "WebLocalFrameImpl::createFrameView": _NAVIGATION,
    "Decode Image": _PAINT,
    "CommitLoad": _NAVIGATION,
    "Receive mojo message": "IPC: Mojo message dispatch",
    "SimpleWatcher::OnHandleReady": "IPC: Mojo message dispatch",
    "ThreadControllerImpl::RunTask": "task scheduling and trace bookkeeping",
    "RunTask": "task scheduling and trace bookkeeping",
}
# Longest prefix first: a name not in _STEP_NAMES is grouped by how it starts.
_STEP_PREFIXES = [
    ("V8.GC", "garbage collection"),
    ("MinorGC", "garbage collection"),
    ("MajorGC", "garbage collection"),
    ("V8.", "script: V8 parse and compile"),
    ("Document::recalcStyle", "style"),
    ("Document::updateStyle", "style"),
    ("Document::rebuildLayoutTree", "style"),
    ("Document::updateActiveStyle", "style"),
    ("Document::updateStyleInvalidationIfNeeded", "style"),
    ("StyleEngine::", "style"),
    ("StyleSheetCollection::", "style"),
    ("UpdateLayoutTree", "style"),
    ("RecalculateStyles", "style"),
    ("ParseAuthorStyleSheet", "style"),
    ("Blink.Style.", "style"),
    ("LocalFrameView::performLayout", "layout"),
    ("LocalFrameView::layout", "layout"),
    ("Layout", "layout"),
    ("InlineNode::", "layout"),
    ("Blink.Layout.", "layout"),
    ("ScrollAnchor::", "layout"),
    ("IntersectionObserverController::", "layout"),
    ("Blink.IntersectionObservation.", "layout"),
    ("Paint", _PAINT),
    ("PrePaint", _PAINT),
    ("Blink.PrePaint.", _PAINT),
    ("Blink.Paint.", _PAINT),
    ("Blink.CompositingInputs.", _PAINT),
    ("CullRectUpdate", _PAINT),
    ("Layerize", _PAINT),
    ("UpdateLayer", _PAINT),
    ("Commit", _PAINT),
    ("CompositeLayers", _PAINT),
    ("ProxyMain::BeginMainFrame::commit", _PAINT),
    ("LayerTreeHost::", _PAINT),
    ("ImageDecoder::", _PAINT),
    ("ImageResource", _PAINT),
    ("LocalFrameView::Run", _LIFECYCLE),
    ("LocalFrameView::", _LIFECYCLE),
    ("WebFrameWidgetImpl::", _LIFECYCLE),
    ("PageAnimator::", _LIFECYCLE),
    ("AnimationTimeline::", _LIFECYCLE),
    ("Blink.", _LIFECYCLE),
    ("ProxyMain::", _LIFECYCLE),
    ("MainFrameAborted", _LIFECYCLE),
    ("Document::UpdateStyleAndLayout", _LIFECYCLE),
    ("RootScrollerController::", _LIFECYCLE),
    ("LayoutView::commitPendingSelection", _LIFECYCLE),
    ("HTMLDocumentParser", "HTML parsing"),
    ("HTMLPreloadScanner", "HTML parsing"),
    ("TextResourceDecoder", "HTML parsing"),
    ("ResponseBodyLoader", "resource loading (requests, response bodies)"),
    ("ResourceFetcher", "resource loading (requests, response bodies)"),
    ("Resource::", "resource loading (requests, response bodies)"),
    ("ResourceLoadPriorityOptimizer", "resource loading (requests, response bodies)"),
    ("SingleThreadIdleTaskRunner", "task scheduling and trace bookkeeping"),
    ("BlinkScheduler_OnTaskCompleted", "task scheduling and trace bookkeeping"),
]
# Categories of what no name above claims.
_STEP_CATEGORIES = [
    ("disabled-by-default-v8.compile", "script: V8 parse and compile"),
    ("navigation", _NAVIGATION),
    ("loading", _NAVIGATION),
    ("blink.resource", "resource loading (requests, response bodies)"),
    ("mojom", "IPC: Mojo message dispatch"),
    ("ipc", "IPC: Mojo message dispatch"),
    ("renderer.scheduler", "task scheduling and trace bookkeeping"),
    ("sequence_manager", "task scheduling and trace bookkeeping"),
    ("toplevel", "task scheduling and trace bookkeeping"),
    ("disabled-by-default-v8.gc", "garbage collection"),
    ("cc", _PAINT),
]

# What woke the thread: a top-level task's poster (``src_func``) or Mojo interface.
_WAKERS = {
    "ScheduledActionSendBeginMainFrame": "render a frame (BeginMainFrame)",
    "network.mojom.WebSocketClient": "kernel WebSocket message (network.mojom.WebSocketClient)",
    "content.mojom.NavigationClient": "ad frame navigation commit (content.mojom.NavigationClient)",
    "blink.mojom.ImageDownloader": "favicon download (blink.mojom.ImageDownloader)",
    "blink.mojom.DevToolsSession": "DevTools protocol command (blink.mojom.DevToolsSession)",
    "network.mojom.URLLoaderClient": "resource load answer (network.mojom.URLLoaderClient)",
    "SchedulePostMessage": "postMessage delivery (SchedulePostMessage)",
}


def _source(event: dict[str, Any], ad_origin: str) -> str | None:
    """The script bucket of an event that names its script's URL, else None."""
    data = event.get("args", {}).get("data", {}) or {}
    if not isinstance(data, dict) or not ("url" in data or "scriptName" in data):
        return None
    url = str(data.get("url") or data.get("scriptName") or "")
    if not url:
        # Scripts without a URL: the bench's init script (PAGE_TRACE_JS) and Playwright's
        # evaluate() calls.
        return "script: the bench's page trace and Playwright's evaluate (no URL)"
    if url.startswith("blob:"):
        return "script: widget module (anywidget blob)"
    if url.startswith(ad_origin):
        return "script: ad frame (creative)"
    path = urlsplit(url).path
    if "/static/" in path or "/lab" in path:
        return "script: JupyterLab"
    return "script: other"


def _step(event: dict[str, Any]) -> str:
    name = str(event.get("name", ""))
    if name in _SCRIPT_NAMES:
        return SCRIPT
    if name in _STEP_NAMES:
        return _STEP_NAMES[name]
    for prefix, bucket in _STEP_PREFIXES:
        if name.startswith(prefix):
            return bucket
    categories = str(event.get("cat", "")).split(",")
    for category, bucket in _STEP_CATEGORIES:
        if category in categories:
            return bucket
    return f"unattributed: {name}"


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


def _complete(events: Iterable[dict[str, Any]], window: tuple[int, int]) -> list[dict[str, Any]]:
    """Complete events starting inside ``window``, parents before their children."""
    start, end = window
    return sorted(
        (e for e in events if e.get("ph") == "X" and start <= int(e["ts"]) < end),
        key=lambda e: (int(e["ts"]), -int(e.get("dur", 0))),
    )


def _split(
    events: list[dict[str, Any]],
    window: tuple[int, int],
    ad_origin: str,
    interfaces: dict[tuple[int, int], str],
) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """Self wall ms and self CPU ms per bucket of one window, and wall ms per waker."""
    start, end = window
    wall: dict[str, float] = defaultdict(float)
    cpu: dict[str, float] = defaultdict(float)
    wakers: dict[str, float] = defaultdict(float)
    # Open events: [end µs, bucket, self wall µs, self cpu µs, script source].
    stack: list[list[Any]] = []

    def close(frame: list[Any]) -> None:
        wall[frame[1]] += max(0, frame[2]) / 1000
        cpu[frame[1]] += max(0, frame[3]) / 1000

    busy = busy_cpu = 0
    for event in _complete(events, window):
        ts = int(event["ts"])
        dur = min(int(event.get("dur", 0)), end - ts)
        tdur = int(event.get("tdur", 0)) if dur > 0 else 0
        while stack and stack[-1][0] <= ts:
            close(stack.pop())
        source = _source(event, ad_origin)
        if stack:
            parent = stack[-1]
            parent[2] -= dur
            parent[3] -= tdur
            source = source or parent[4]
        else:
            busy += dur
            busy_cpu += tdur
            wakers[_waker(event, interfaces)] += dur / 1000
        bucket = _step(event)
        if bucket == SCRIPT:
            bucket = source or "script: promise callbacks and V8 tasks (no URL in the trace)"
        stack.append([ts + dur, bucket, dur, tdur, source if bucket.startswith("script") else None])
    while stack:
        close(stack.pop())
    wall["main thread inside tasks but not on a core (wall - CPU)"] = (busy - busy_cpu) / 1000
    wall["main thread idle (no task)"] = (end - start - busy) / 1000
    wall["window: ws-in-update -> visible"] = (end - start) / 1000
    return wall, cpu, wakers


def _waker(task: dict[str, Any], interfaces: dict[tuple[int, int], str]) -> str:
    """What a top-level task was: its Mojo interface, else where it was posted from."""
    found = interfaces.get((int(task["ts"]), int(task.get("dur", 0))))
    if found is not None:
        return found
    args = task.get("args", {}) or {}
    poster = str(args.get("src_func") or task.get("name", ""))
    return _WAKERS.get(poster, f"task posted from {poster}")


def _interfaces(events: list[dict[str, Any]]) -> dict[tuple[int, int], str]:
    """Per top-level task (ts, dur): the interface of the first Mojo message it handled."""
    found: dict[tuple[int, int], str] = {}
    posted: dict[tuple[int, int], str] = {}  # a devtools RunTask wraps the scheduler's task
    top: tuple[int, int] | None = None
    for event in sorted(
        (e for e in events if e.get("ph") == "X"),
        key=lambda e: (int(e["ts"]), -int(e.get("dur", 0))),
    ):
        ts, dur = int(event["ts"]), int(event.get("dur", 0))
        if top is None or ts >= top[0] + top[1]:
            top = (ts, dur)
            continue
        if event.get("name") == "Receive mojo message" and top not in found:
            info = event.get("args", {}).get("chrome_mojo_event_info", {}) or {}
            tag = str(info.get("mojo_interface_tag") or "unknown interface")
            found[top] = _WAKERS.get(tag, f"Mojo message ({tag})")
        elif event.get("name") == "ThreadControllerImpl::RunTask" and top not in posted:
            posted[top] = str((event.get("args", {}) or {}).get("src_func") or "")
    for top, poster in posted.items():
        if top not in found and poster:
            found[top] = _WAKERS.get(poster, f"task posted from {poster}")
    return found


def _threads(
    events: list[dict[str, Any]], windows: Iterable[tuple[int, int]], main: tuple[int, int]
) -> list[str]:
    """Markdown rows: busy wall and CPU ms per turn of every other busy thread."""
    names: dict[tuple[int, int], str] = {}
    processes: dict[int, str] = {}
    by_thread: dict[tuple[int, int], list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        if event.get("ph") == "M" and event.get("name") == "thread_name":
            names[(int(event["pid"]), int(event["tid"]))] = str(event["args"]["name"])
        elif event.get("ph") == "M" and event.get("name") == "process_name":
            processes[int(event["pid"])] = str(event["args"]["name"])
        elif event.get("ph") == "X":
            by_thread[(int(event["pid"]), int(event["tid"]))].append(event)
    windows = list(windows)
    rows = []
    for thread, thread_events in by_thread.items():
        walls, cpus = [], []
        for window in windows:
            wall = cpu = 0
            covered = window[0]
            for event in _complete(thread_events, window):
                ts = int(event["ts"])
                if ts < covered:
                    continue  # nested in a task already counted
                dur = min(int(event.get("dur", 0)), window[1] - ts)
                covered = ts + dur
                wall += dur
                cpu += int(event.get("tdur", 0)) if dur > 0 else 0
            walls.append(wall / 1000)
            cpus.append(cpu / 1000)
        if statistics.median(walls) >= 0.5:
            process = processes.get(thread[0], "?")
            own = " (this page's main thread)" if thread == main else ""
            label = f"{process} pid {thread[0]}: {names.get(thread, '?')}{own}"
            rows.append((statistics.median(walls), statistics.median(cpus), label))
    rows.sort(reverse=True)
    return [f"| {label} | {wall:.1f} | {cpu:.1f} | {len(windows)} |" for wall, cpu, label in rows]


def profile_table(trace: bytes, ad_origin: str) -> list[str]:
    """Markdown tables: median ms per turn of each bucket, waker and thread."""
    events: list[dict[str, Any]] = json.loads(trace)["traceEvents"]
    thread, windows = _windows(events)
    on_thread = [e for e in events if (e.get("pid"), e.get("tid")) == thread]
    interfaces = _interfaces(on_thread)
    per_turn = [_split(on_thread, window, ad_origin, interfaces) for window in windows.values()]
    turns = len(per_turn)

    def median(index: int, name: str) -> float:
        return statistics.median(turn[index].get(name, 0.0) for turn in per_turn)

    names = sorted({name for turn in per_turn for name in turn[0]})
    rows = [(name, median(0, name), median(1, name)) for name in names]
    small = [row for row in rows if row[1] < _SMALL_MS and not row[0].startswith("window")]
    rows = [row for row in rows if row not in small]
    rows.append(
        (
            f"{len(small)} more named steps, each under {_SMALL_MS} ms",
            sum(row[1] for row in small),
            sum(row[2] for row in small),
        )
    )
    rows.sort(key=lambda row: (row[0].startswith(("window", "main thread")), -row[1]))
    lines = [
        "| page main thread, sync at the page -> ad visible: what ran (self time) "
        "| median ms per turn (wall) | of which on a CPU | turns |",
        "| --- | --- | --- | --- |",
    ]
    lines += [
        f"| {name} | {wall:.1f} | {'' if name.startswith(('window', 'main')) else f'{cpu:.1f}'} "
        f"| {turns} |"
        for name, wall, cpu in rows
    ]
    wakers = sorted({name for turn in per_turn for name in turn[2]})
    waker_rows = sorted(((median(2, name), name) for name in wakers), reverse=True)
    lines += [
        "",
        "| page main thread: what woke it (top-level tasks) | median ms per turn (wall) | turns |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {name} | {wall:.1f} | {turns} |" for wall, name in waker_rows if wall >= 0.3]
    lines += [
        "",
        "| other threads, same windows (busy in tasks) | median ms per turn (wall) "
        "| of which on a CPU | turns |",
        "| --- | --- | --- | --- |",
        *_threads(events, windows.values(), thread),
    ]
    return lines
