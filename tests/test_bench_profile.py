"""bench/browser_profile.py on a hand-made Chromium trace: self time, CPU, wakers, threads."""

from __future__ import annotations

import json
from typing import Any

from bench.browser_profile import profile_table

AD = "http://127.0.0.1:9999"
PAGE, OTHER = (1, 1), (1, 7)


def _event(
    name: str, ts: int, dur: int, tdur: int, thread: tuple[int, int] = PAGE, **args: Any
) -> dict[str, Any]:
    cat = args.pop("cat", "devtools.timeline")
    return {
        "name": name,
        "cat": cat,
        "ph": "X",
        "ts": ts,
        "dur": dur,
        "tdur": tdur,
        "pid": thread[0],
        "tid": thread[1],
        "args": args,
    }


def _trace() -> bytes:
    mark = {"cat": "blink.user_timing", "ph": "I", "pid": 1, "tid": 1, "args": {}}
    events = [
        {"name": "thread_name", "ph": "M", "pid": 1, "tid": 1, "args": {"name": "CrRendererMain"}},
        {"name": "thread_name", "ph": "M", "pid": 1, "tid": 7, "args": {"name": "Compositor"}},
        {"name": "process_name", "ph": "M", "pid": 1, "args": {"name": "Renderer"}},
        {**mark, "name": "kwb:ws-in-update:a1", "ts": 1000},
        {**mark, "name": "kwb:visible:a1", "ts": 11000},
        # A WebSocket message task: 4 ms wall, 2 ms on a core; JupyterLab's handler
        # 2 ms of it, of which 1 ms is a forced layout.
        _event(
            "ThreadControllerImpl::RunTask", 1000, 4000, 2000, cat="toplevel", src_func="Accept"
        ),
        _event(
            "Receive mojo message",
            1000,
            4000,
            2000,
            cat="toplevel,mojom",
            chrome_mojo_event_info={"mojo_interface_tag": "network.mojom.WebSocketClient"},
        ),
        _event(
            "FunctionCall",
            2000,
            2000,
            1500,
            data={"url": "http://127.0.0.1:8888/static/lab/main.js", "functionName": "f"},
        ),
        _event("Layout", 3000, 1000, 800),
        # A frame: 3 ms, all on a core, the creative's rAF callback inside it.
        _event(
            "ThreadControllerImpl::RunTask",
            6000,
            3000,
            3000,
            cat="toplevel",
            src_func="ScheduledActionSendBeginMainFrame",
        ),
        _event("Paint", 6000, 2000, 2000),
        _event("FunctionCall", 8000, 1000, 1000, data={"url": f"{AD}/static/creative.js"}),
        # Outside the window: not counted.
        _event("Paint", 20000, 5000, 5000),
        # Another thread of the renderer, busy 2 ms (1 on a core) in the window.
        _event("ThreadControllerImpl::RunTask", 2000, 2000, 1000, OTHER, cat="toplevel"),
    ]
    return json.dumps({"traceEvents": events}).encode()


def _rows(lines: list[str]) -> dict[str, list[str]]:
    rows = {}
    for line in lines:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) >= 2 and cells[1] and cells[0] not in ("---",):
            rows[cells[0]] = cells[1:]
    return rows


def test_each_event_is_charged_its_self_time_in_wall_and_cpu() -> None:
    rows = _rows(profile_table(_trace(), AD))
    assert rows["script: JupyterLab"][:2] == ["1.0", "0.7"]  # 2 ms minus the 1 ms layout
    assert rows["layout"][:2] == ["1.0", "0.8"]
    assert rows["paint, layerize, commit to the compositor, image decode"][:2] == ["2.0", "2.0"]
    assert rows["script: ad frame (creative)"][:2] == ["1.0", "1.0"]
    # The Mojo dispatch keeps the 2 ms of the message that no child claims.
    assert rows["IPC: Mojo message dispatch"][:2] == ["2.0", "0.5"]
    assert rows["window: ws-in-update -> visible"][0] == "10.0"
    assert rows["main thread idle (no task)"][0] == "3.0"
    assert rows["main thread inside tasks but not on a core (wall - CPU)"][0] == "2.0"


def test_wakers_and_other_threads() -> None:
    rows = _rows(profile_table(_trace(), AD))
    assert rows["kernel WebSocket message (network.mojom.WebSocketClient)"][0] == "4.0"
    assert rows["render a frame (BeginMainFrame)"][0] == "3.0"
    assert rows["Renderer pid 1: Compositor"][:2] == ["2.0", "1.0"]
    assert rows["Renderer pid 1: CrRendererMain (this page's main thread)"][:2] == ["7.0", "5.0"]
