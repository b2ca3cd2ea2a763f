"""``python -m bench.browser``: ad latencies in a real JupyterLab -> ``browser_timings.json``.

Not part of the test suite: the browser tests (``tests/browser/``) measure these
latencies once per run, which is too few to quote. This script reuses their
harness (a private ``jupyter lab`` on 127.0.0.1, the kernel-side JSON-lines log,
Debian's headless Chromium through Playwright, a ``LocalAdServer`` in this
process) and repeats two measurements ``RUNS`` times in ONE notebook and kernel,
each run a new conversation turn with new message ids (``u<n>``, ``a<n>``):

1. *assistant message added -> ad visible*: the render cell displays the ad for
   ``a<n>`` first (empty until a bid is attached), then takes ``t0 = time.time()``
   and adds the assistant message. The page records, on every animation frame,
   the wall-clock time (``performance.timeOrigin + performance.now()``) at which
   the ad iframe for ``a<n>`` is first shown with a non-zero height.
2. *iframe click -> Python on_event*: the creative's CTA is clicked; a capturing
   listener in the ad frame records the wall-clock time of the click, and the
   kernel log gives the ``time.time()`` at which ``on_event`` got ``ad.clicked``.
   The landing tab the click opens is closed once it has loaded.

3. *the reference floor*: every other turn (the even ones) shows, in the same
   render cell, a minimal anywidget ad written in the bench
   (``bench/browser_reference.py``: the frame inserted, ``init-iframe`` answered,
   shown on ``show-iframe``; nothing else) instead of ours, with the same turn
   shape (displayed empty, then t0 and one trait sync with a fresh bid's frame
   URL), so ``RUNS`` turns of each kind alternate under the same load.

Each turn is also timed stage by stage (``bench/browser_trace.py``: a kernel
cell wrapping the assignment, the trait sync, the IOPub send and the comm
handlers; a jupyter_server config file recording the sync's pass through the
server; a page init script for the WebSocket, the iframe, frame messages and the
ad frame's own timings; the widget's User Timing marks), and the floors are
measured in the same page: a bare comm round trip and a bare creative frame.
Kernel and browser read the same machine clock, so the differences are
latencies. The figures (median, p90, min, max, n) and the stage tables are
printed and written to ``bench/browser_timings.json``, which section 6 of
``python -m bench`` lists. ``--before FILE`` adds a run of other code (main's,
run from an export of it with these two bench files copied in) as the Before
column; ``--also FILE`` lists another run of this tree (e.g. one with
``KW_BENCH_NODELAY=1``: jupyter_server sets TCP_NODELAY on its WebSockets;
``KW_BENCH_AD_HOST=localhost``: the ad server is reached as another site).
``KW_BENCH_RUNS`` changes the number of counted turns (default 30). Needs
``/usr/bin/chromium`` and a built ``kontext_widget/static/widget.js``; about
70 s on 2 cores under load (30 counted turns after 2 warm-up turns).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # the harness is imported as the package tests.browser
    sys.path.insert(0, str(REPO_ROOT))

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from bench.browser_profile import PROFILE_CATEGORIES, profile_table  # noqa: E402
from bench.browser_reference import REFERENCE_CELL, compare_table, only_turns  # noqa: E402
from bench.browser_trace import (  # noqa: E402
    BARE_FRAME_JS,
    COMM_ECHO_JS,
    FLOORS_CELL,
    FRAME_TIMINGS_JS,
    KERNEL_TRACE_CELL,
    PAGE_TRACE_JS,
    stage_table,
)
from kontext_widget import LocalAdServer  # noqa: E402
from tests.browser.ad_checks import (  # noqa: E402
    EXPECT_TIMEOUT_MS,
    frame_prefix,
    wait_for_js_value,
)
from tests.browser.jupyter import JupyterServer, NotebookPage  # noqa: E402
from tests.browser.notebooks import (  # noqa: E402
    KernelLog,
    NotebookSpec,
    session_cell,
    write_kernel_support,
    write_notebook,
)
from tests.browser.pages import CHROMIUM_ARGS, new_tab  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
OUTPUT = Path(__file__).parent / "browser_timings.json"
RUNS = int(os.environ.get("KW_BENCH_RUNS", "30"))
WARMUP = 2  # first turns pay for loading the creative's assets and JIT: not counted
# KW_BENCH_AD_HOST=localhost: the session and the page reach the ad server as
# http://localhost:PORT while JupyterLab stays on 127.0.0.1 -- another site, so Chromium
# gives the ad frame its own renderer process, as it does for a production ad server.
AD_HOST = os.environ.get("KW_BENCH_AD_HOST", "127.0.0.1")
# KW_BENCH_PROFILE=N: a Chromium trace of N more turns after the counted ones, split by
# what the page's main thread did between the sync's arrival and the ad on screen.
PROFILE_TURNS = int(os.environ.get("KW_BENCH_PROFILE", "0"))


class AdServerAt:
    """The ``LocalAdServer`` as the session and the page see it: ``url`` on ``AD_HOST``."""

    def __init__(self, server: LocalAdServer, host: str) -> None:
        self._server = server
        self.url = server.url.replace("127.0.0.1", host, 1)

    @property
    def bids(self) -> Any:
        return self._server.bids


VISIBLE = "assistant message added -> ad visible (JupyterLab)"
REFERENCE_VISIBLE = (
    "reference floor: a minimal anywidget ad (bench/browser_reference.py), "
    "t0 -> ad visible (JupyterLab)"
)
CLICK = "iframe click -> Python on_event (JupyterLab)"
# Issue 10's targets: (as shown, median below this many ms).
TARGETS = {VISIBLE: ("median < 120 ms", 120.0), CLICK: ("median < 30 ms", 30.0)}

# Cell indices of the notebook.
SESSION, TRACE, USER, RENDER, FLOORS, REFERENCE = range(6)

# The user turn: a new message id each run, and the preload answered before the
# assistant message comes (as in a chat, where the model takes seconds to reply).
_USER_CELL = """
    turn = globals().get("turn", 0) + 1
    if "ad" in globals():
        ad.destroy()
    user = kw.Message(id=f"u{turn}", role="user", content=f"Hiking boots for trip {turn}?")
    session.add_message(user)
    assert session.wait_idle(15), "the preload did not finish"
    mark("preloaded", turn=turn)
"""

# The ad is displayed before its message exists (empty slot), then the message
# is added: t0 is taken right before add_message attaches the pending bid.
# Even turns show the bench's minimal reference widget instead (bench/browser_reference.py),
# in the same cell, so that both kinds of ad take the same place on the page.
_RENDER_CELL = """
    import time
    if turn % 2 == 0 and "reference_render" in globals():
        ad, t0 = reference_render(turn)
    else:
        assistant = kw.Message(id=f"a{turn}", role="assistant", content="Waterproof leather boots.")
        ad = session.render(f"a{turn}")
        t0 = time.time()
        session.add_message(assistant)
    mark("assistant-added", turn=turn, t0=t0)
"""

# Written as the bench's jupyter_server_config.py: records (in the server process)
# when the ad's iframe_url update arrives from the kernel's ZMQ socket and when it
# is written to the page's WebSocket. jupyter_server's kernel WebSocket leaves
# Nagle's algorithm on: a small message written while an earlier one is not yet
# acknowledged waits for the browser's delayed ACK (40 ms on Linux); with
# KW_BENCH_NODELAY=1 the server sets TCP_NODELAY on it.
SERVER_PROBE_CONFIG = """
import argparse
import json
import os
import re
import time

import tornado.websocket
from jupyter_server.services.kernels.connection import channels

_TRACE = os.environ["KW_BENCH_SERVER_TRACE"]
_NODELAY = os.environ.get("KW_BENCH_NODELAY") == "1"
_ID = re.compile(rb"messageId=([ar][0-9]+)")


def _trace(what, payload):
    if b"iframe_url" not in payload or b'"update"' not in payload:
        return
    found = _ID.search(payload)
    if found:
        record = {"what": what, "at": time.time() * 1000, "id": found.group(1).decode()}
        with open(_TRACE, "a", encoding="utf-8") as log:
            log.write(json.dumps(record) + "\\n")


_handle_outgoing = channels.ZMQChannelsWebsocketConnection.handle_outgoing_message


def _handle_outgoing_traced(self, stream, outgoing_msg):
    _trace("server-got-update", b"".join(bytes(part) for part in outgoing_msg))
    return _handle_outgoing(self, stream, outgoing_msg)


channels.ZMQChannelsWebsocketConnection.handle_outgoing_message = _handle_outgoing_traced

_write_message = tornado.websocket.WebSocketHandler.write_message


def _write_message_traced(self, message, binary=False):
    if _NODELAY and self.ws_connection is not None and not getattr(self, "_kw_nodelay", False):
        self.ws_connection.set_nodelay(True)
        self._kw_nodelay = True
    payload = message if isinstance(message, bytes) else str(message).encode()
    _trace("server-wrote-update", payload)
    return _write_message(self, message, binary)


tornado.websocket.WebSocketHandler.write_message = _write_message_traced
"""

VISIBLE_STAGES = [
    "render cell started (kernel)",
    "add_message (t0)",
    "render cell ended (kernel)",
    "bid assigned to the Ad (kernel loop)",
    "trait sync sent (kernel)",
    "sync leaves the kernel's IOPub thread",
    "sync at jupyter_server (from ZMQ)",
    "sync written to the WebSocket (jupyter_server)",
    "render cell's execute_input at the page",
    "first comm_open at the page",
    "Python's live at the page",
    "display_data at the page",
    "sync at the page's WebSocket",
    "widget module evaluated (anywidget)",
    "hello sent (liveness asked)",
    "view rendered",
    "iframe inserted (view)",
    "frame document requested",
    "frame document received",
    "creative.js received",
    "creative script running",
    "init-iframe at the page",
    "update-iframe at the frame",
    "show-iframe at the page",
    "resize-iframe at the page",
    "visible (animation frame)",
]
CLICK_STAGES = [
    "click in the frame",
    "click-iframe at the page",
    "event-iframe ad.clicked at the page",
    "ad.clicked sent on the WebSocket",
    "kernel comm_msg handler",
    "Ad's comm handler",
    "on_event called",
]


def summarize(seconds: list[float]) -> str:
    """``median X ms (p90 Y, min A, max B, n N)`` for the JSON and the console."""
    ms = sorted(s * 1000 for s in seconds)
    p90 = ms[min(len(ms) - 1, int(0.9 * len(ms)))]
    return (
        f"median {statistics.median(ms):.0f} ms (p90 {p90:.0f}, min {ms[0]:.0f}, "
        f"max {ms[-1]:.0f}, n {len(ms)})"
    )


def _first(records: list[dict[str, Any]], after: float, **match: Any) -> float | None:
    """The time (ms) of the first record at or after ``after`` whose fields match."""
    times = [
        r["at"]
        for r in records
        if r["at"] >= after and all(r.get(key) == value for key, value in match.items())
    ]
    return min(times) if times else None


def _last(records: list[dict[str, Any]], near: float, **match: Any) -> float | None:
    """The time (ms) of the last matching record within a second either side of ``near``.

    For the render cell's start (kernel) and its first messages at the page: sent a
    few ms before t0, they may arrive after it; the user cell ran before, and no
    cell runs after it until the turn is measured.
    """
    times = [
        r["at"]
        for r in records
        if abs(r["at"] - near) <= 1000 and all(r.get(key) == value for key, value in match.items())
    ]
    return max(times) if times else None


def _server_records() -> list[dict[str, Any]]:
    """What ``SERVER_PROBE_CONFIG`` recorded in the jupyter_server process so far."""
    path = Path(os.environ["KW_BENCH_SERVER_TRACE"])
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    return [json.loads(line) for line in lines if line.endswith("\n")]


def _stages(pairs: list[tuple[str, float | None]]) -> dict[str, float]:
    return {name: at for name, at in pairs if at is not None}


def one_turn(
    notebook: NotebookPage, log: KernelLog, ad_server: AdServerAt, turn: int
) -> tuple[dict[str, float], dict[str, float] | None]:
    """Run turn ``turn``; the stage times (wall-clock ms) of its two latencies.

    Even turns show the reference widget (bench/browser_reference.py): no click.
    """
    page = notebook.page
    reference = turn % 2 == 0
    message_id = f"{'r' if reference else 'a'}{turn}"
    notebook.run_cell(USER)
    notebook.run_cell(RENDER)
    added = log.wait_for(
        lambda r: r["kind"] == "mark" and r["name"] == "assistant-added" and r["turn"] == turn,
        what=f"the assistant-added mark of turn {turn}",
    )
    t0 = added["t0"] * 1000
    wait_for_js_value(
        page, f"window.__kwTrace.find(r => r.what === 'visible' && r.id === '{message_id}')"
    )

    iframe = notebook.output_area(RENDER).locator(f'iframe[src^="{frame_prefix(ad_server)}"]')
    expect(iframe).to_have_count(1, timeout=EXPECT_TIMEOUT_MS)
    src = iframe.get_attribute("src") or ""
    bid_id = src.removeprefix(frame_prefix(ad_server)).split("?")[0]
    if f"messageId={message_id}&" not in src or bid_id not in ad_server.bids:
        raise RuntimeError(f"turn {turn}: the ad iframe is not this turn's bid: {src}")
    frame = notebook.frame_of(iframe)
    expect(frame.locator("html")).to_have_attribute(
        "data-state", "rendered", timeout=EXPECT_TIMEOUT_MS
    )
    if reference:
        return _visible_stages(notebook, log, frame, t0, message_id), None
    with page.context.expect_page() as opened:
        frame.locator("#ad a.cta").click()
    landing = opened.value
    # Closing it mid-load would only break the local server's pipe (a noisy log).
    landing.wait_for_load_state()
    landing.close()
    clicked = log.wait_for_event("ad.clicked", where=lambda r: r["payload"].get("id") == bid_id)
    visible = _visible_stages(notebook, log, frame, t0, message_id)
    inner = frame.evaluate(FRAME_TIMINGS_JS)
    host = page.evaluate("window.__kwTrace")
    kernel = _kernel_traces(log, t0)
    own = [r for r in host if r["id"] in (message_id, None)]
    click_at = _first(inner["trace"], t0, what="click")
    if click_at is None:
        raise RuntimeError(f"turn {turn}: the frame recorded no click")
    click = _stages(
        [
            ("click in the frame", click_at),
            (
                "click-iframe at the page",
                _first(own, click_at, what="host-got", name="click-iframe"),
            ),
            (
                "event-iframe ad.clicked at the page",
                _first(own, click_at, what="host-got", name="ad.clicked"),
            ),
            (
                "ad.clicked sent on the WebSocket",
                _first(host, click_at, what="ws-out", name="ad.clicked"),
            ),
            (
                "kernel comm_msg handler",
                _first(kernel, click_at, what="comm-handler", tag="ad.clicked"),
            ),
            ("Ad's comm handler", _first(kernel, click_at, what="ad-handler", tag="ad.clicked")),
            ("on_event called", clicked["t"] * 1000),
        ]
    )
    return visible, click


def _kernel_traces(log: KernelLog, t0: float) -> list[dict[str, Any]]:
    return [
        r
        for r in log.records()
        if r["kind"] == "mark" and r["name"] == "trace" and r["at"] >= t0 - 1000
    ]


def _visible_stages(
    notebook: NotebookPage, log: KernelLog, frame: Any, t0: float, message_id: str
) -> dict[str, float]:
    """The stage times (wall-clock ms) of one turn's message -> ad visible."""
    inner = frame.evaluate(FRAME_TIMINGS_JS)
    host = notebook.page.evaluate("window.__kwTrace")
    kernel = _kernel_traces(log, t0)
    own = [r for r in host if r["id"] in (message_id, None)]
    server = _server_records()
    visible = _stages(
        [
            ("render cell started (kernel)", _last(kernel, t0, what="cell-started")),
            ("add_message (t0)", t0),
            ("render cell ended (kernel)", _first(kernel, t0, what="cell-ended")),
            (
                "bid assigned to the Ad (kernel loop)",
                _first(kernel, t0, what="assign", id=message_id),
            ),
            ("trait sync sent (kernel)", _first(kernel, t0, what="sync-sent", id=message_id)),
            (
                "sync leaves the kernel's IOPub thread",
                _first(kernel, t0, what="iopub-sent", id=message_id),
            ),
            (
                "sync at jupyter_server (from ZMQ)",
                _first(server, t0, what="server-got-update", id=message_id),
            ),
            (
                "sync written to the WebSocket (jupyter_server)",
                _first(server, t0, what="server-wrote-update", id=message_id),
            ),
            # Sent before t0 (the ad is displayed first), held with the sync (Nagle).
            (
                "render cell's execute_input at the page",
                _last(host, t0, what="ws-in-execute-input"),
            ),
            ("first comm_open at the page", _first(host, t0 - 50, what="ws-in-open")),
            ("Python's live at the page", _first(host, t0 - 50, what="ws-in-live")),
            ("display_data at the page", _first(host, t0 - 50, what="ws-in-display")),
            ("sync at the page's WebSocket", _first(own, t0, what="ws-in-update", id=message_id)),
            ("hello sent (liveness asked)", _first(host, t0, what="ws-out-hello")),
            ("widget module evaluated (anywidget)", _first(host, t0, what="evaluated")),
            ("view rendered", _first(own, t0, what="render", id=message_id)),
            ("iframe inserted (view)", _first(own, t0, what="iframe-inserted", id=message_id)),
            ("frame document requested", inner["docRequest"]),
            ("frame document received", inner["docResponse"]),
            ("creative.js received", inner["scriptEnd"]),
            ("creative script running", _first(inner["trace"], t0, what="creative-running")),
            ("init-iframe at the page", _first(own, t0, what="host-got", name="init-iframe")),
            ("update-iframe at the frame", _first(inner["trace"], t0, what="frame-got-update")),
            ("show-iframe at the page", _first(own, t0, what="host-got", name="show-iframe")),
            ("resize-iframe at the page", _first(own, t0, what="host-got", name="resize-iframe")),
            ("visible (animation frame)", _first(own, t0, what="visible", id=message_id)),
        ]
    )
    arrived = visible.get("sync at the page's WebSocket")
    inserted = visible.get("iframe inserted (view)")
    if arrived is not None and inserted is not None:
        visible["_longtask_ms"] = sum(
            max(0.0, min(r["at"] + r["ms"], inserted) - max(r["at"], arrived))
            for r in host
            if r["what"] == "longtask"
        )
    if inner["scriptTransfer"] is not None:
        visible["creative.js bytes over the network"] = inner["scriptTransfer"]
    return visible


def floors(notebook: NotebookPage, ad_server: AdServerAt, runs: int) -> dict[str, str]:
    """The bare comm (JS -> Python -> JS) and a bare creative frame load, ``runs`` each."""
    page = notebook.page
    notebook.run_cell(FLOORS)
    wait_for_js_value(page, "window.__kwEcho ? true : null")
    echoes = page.evaluate(COMM_ECHO_JS, WARMUP + runs)[WARMUP:]
    bid_id, bid = next(reversed(ad_server.bids.items()))
    url = f"{frame_prefix(ad_server)}{bid_id}?code={bid.code}&messageId=floor&sdk=sdk-js"
    loads = []
    for _ in range(WARMUP + runs):
        loads.append(
            page.evaluate(
                BARE_FRAME_JS,
                {"url": url, "origin": ad_server.url, "code": bid.code, "messageId": "floor"},
            )
        )
    loads = loads[WARMUP:]
    ms = 0.001  # summarize() takes seconds
    return {
        "floor: bare comm message page -> kernel handler (JupyterLab)": summarize(
            [(e["kernel"] - e["sent"]) * ms for e in echoes]
        ),
        "floor: bare comm round trip page -> kernel -> page (JupyterLab)": summarize(
            [(e["back"] - e["sent"]) * ms for e in echoes]
        ),
        "floor: bare creative frame, element created -> init-iframe": summarize(
            [(f["init"] - f["created"]) * ms for f in loads]
        ),
        "floor: bare creative frame, element created -> visible (no comm)": summarize(
            [(f["visible"] - f["created"]) * ms for f in loads]
        ),
    }


def measure(base: Path, runs: int) -> dict[str, Any]:
    """Start the servers and browser under ``base``; ``runs`` counted turns of both timings."""
    config = base / "jupyter" / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "jupyter_server_config.py").write_text(SERVER_PROBE_CONFIG, encoding="utf-8")
    server_trace = base / "server-trace.jsonl"
    os.environ["KW_BENCH_SERVER_TRACE"] = str(server_trace)  # inherited by jupyter lab
    server = JupyterServer.start(base / "jupyter")
    trace: bytes | None = None
    ad_origin = ""
    try:
        write_kernel_support(server.root_dir)
        name = "bench-browser.ipynb"
        spec = NotebookSpec(name, server.root_dir / name, KernelLog(base / "kernel.jsonl"))
        log = spec.log
        with LocalAdServer() as local_server, sync_playwright() as playwright:
            ad_server = AdServerAt(local_server, AD_HOST)
            ad_origin = ad_server.url
            write_notebook(
                server.root_dir / name,
                [
                    session_cell(spec, ad_server.url, "conv-bench-browser"),
                    KERNEL_TRACE_CELL,
                    _USER_CELL,
                    _RENDER_CELL,
                    FLOORS_CELL,
                    REFERENCE_CELL,
                ],
            )
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            try:
                tab = new_tab(browser)
                tab.context.add_init_script(PAGE_TRACE_JS)
                notebook = NotebookPage.open(tab.new_page("lab"), server, name, "lab")
                notebook.run_cell(SESSION)
                notebook.run_cell(TRACE)
                notebook.run_cell(REFERENCE)
                visible_runs: list[dict[str, float]] = []
                click_runs: list[dict[str, float]] = []
                reference_runs: list[dict[str, float]] = []
                # Ours on odd turns, the reference on even ones: ``runs`` of each.
                # Traced turns come after the counted ones: tracing slows the page.
                counted = range(WARMUP + 1, WARMUP + 2 * runs + 1)
                for turn in range(1, counted.stop + PROFILE_TURNS):
                    if PROFILE_TURNS and turn == counted.stop:
                        browser.start_tracing(page=notebook.page, categories=PROFILE_CATEGORIES)
                    visible, click = one_turn(notebook, log, ad_server, turn)
                    if turn not in counted:
                        continue
                    if click is None:
                        reference_runs.append(visible)
                    else:
                        visible_runs.append(visible)
                        click_runs.append(click)
                if PROFILE_TURNS:
                    trace = browser.stop_tracing()
                    if os.environ.get("KW_BENCH_TRACE_OUT"):  # for chrome://tracing / Perfetto
                        Path(os.environ["KW_BENCH_TRACE_OUT"]).write_bytes(trace)
                floor_figures = floors(notebook, ad_server, runs)
                notebook.close()
            finally:
                browser.close()
    finally:
        server.stop()
    profile = None
    if trace is not None:  # the page's main thread, ours and the reference's turns apart
        profile = profile_table(only_turns(trace, "a"), ad_origin)
        reference = profile_table(only_turns(trace, "r"), ad_origin)
        profile += [
            "",
            reference[0].replace("| page main thread,", "| reference: page main thread,"),
        ]
        profile += reference[1:]
    return {
        "visible": visible_runs,
        "click": click_runs,
        "reference": reference_runs,
        "floors": floor_figures,
        "profile": profile,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.browser", description=__doc__)
    parser.add_argument("--output", type=Path, default=OUTPUT, help="the JSON to write")
    parser.add_argument(
        "--before",
        type=Path,
        help="a JSON this script wrote for the code before a change (e.g. main's, run from "
        "an export of it): its figures become the Before column of section 6",
    )
    parser.add_argument(
        "--also",
        type=Path,
        action="append",
        default=[],
        help="a JSON of another run of this tree (e.g. with KW_BENCH_NODELAY=1): its "
        "latencies and floors are listed too, named with its label",
    )
    parser.add_argument("--label", default="this tree", help="what code was measured")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: install Debian's chromium", file=sys.stderr)
        return 1
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kontext-bench-browser-") as tmp:
        measured = measure(Path(tmp), RUNS)
    visible_runs, click_runs = measured["visible"], measured["click"]
    visible = [r["visible (animation frame)"] - r["add_message (t0)"] for r in visible_runs]
    click = [r["on_event called"] - r["click in the frame"] for r in click_runs]
    reference_runs = measured["reference"]
    reference = [r["visible (animation frame)"] - r["add_message (t0)"] for r in reference_runs]
    figures = {
        VISIBLE: summarize([ms / 1000 for ms in visible]),
        REFERENCE_VISIBLE: summarize([ms / 1000 for ms in reference]),
        CLICK: summarize([ms / 1000 for ms in click]),
        **measured["floors"],
    }
    passed = {
        VISIBLE: statistics.median(visible) < TARGETS[VISIBLE][1],
        CLICK: statistics.median(click) < TARGETS[CLICK][1],
    }
    breakdown = {
        VISIBLE: stage_table(VISIBLE, VISIBLE_STAGES, visible_runs, "add_message (t0)"),
        "reference": compare_table(
            "ours vs the reference, message -> ad visible",
            VISIBLE_STAGES,
            visible_runs,
            reference_runs,
            "add_message (t0)",
        ),
        CLICK: stage_table(CLICK, CLICK_STAGES, click_runs, "click in the frame"),
    }
    if measured["profile"] is not None:
        traced = f"Chromium trace of {PROFILE_TURNS} more turns, load {_load_average()}:"
        breakdown["profile"] = [traced, "", *measured["profile"]]
    busy = [r["_longtask_ms"] for r in visible_runs if "_longtask_ms" in r]
    if busy:
        figures["page main thread in long tasks between the sync's arrival and the iframe"] = (
            f"median {statistics.median(busy):.1f} ms (max {max(busy):.0f}, n {len(busy)})"
        )
    cached = [r.get("creative.js bytes over the network") for r in visible_runs]
    figures["ad frames that loaded creative.js from the browser cache"] = (
        f"{sum(size == 0 for size in cached)} of {len(cached)}"
    )
    for other_path in args.also:
        other = json.loads(other_path.read_text(encoding="utf-8"))
        for name, value in other["figures"].items():
            if name in (VISIBLE, REFERENCE_VISIBLE, CLICK) or name.startswith("floor:"):
                figures[f"{name} [{other['label']}, load {other['load'].split(' (')[0]}]"] = value
    for name, value in figures.items():
        print(f"{name}: {value}")
    for lines in breakdown.values():
        print("\n".join(["", *lines]))
    payload: dict[str, Any] = {
        "label": args.label,
        "load": _load_average(),
        "nodelay": os.environ.get("KW_BENCH_NODELAY") == "1",
        "ad_host": AD_HOST,
        "figures": figures,
        "targets": {name: target for name, (target, _) in TARGETS.items()},
        "passed": passed,
        "breakdown": breakdown,
    }
    if args.before is not None:
        before = json.loads(args.before.read_text(encoding="utf-8"))
        payload["before"] = {key: before[key] for key in ("label", "load", "figures", "breakdown")}
    args.output.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.output} ({time.perf_counter() - started:.0f} s, load {payload['load']})")
    return 0


def _load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1/5/15 min, {os.cpu_count()} cores)"


if __name__ == "__main__":
    raise SystemExit(main())
