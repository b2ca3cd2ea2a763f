"""``python -m bench.browser_bare``: message -> ad visible with and without the bench's instruments.

``python -m bench.browser`` drives JupyterLab through Playwright, which keeps a
DevTools session on the page and on every frame (Network, Page and Runtime domains,
its utility world, its init scripts, the bench's trace script in every frame) and
runs the ``LocalAdServer`` in its own Python process, beside the stream of DevTools
events. This script measures what that costs: the same turn (a user message, its
preload, then the assistant message added in a cell that already shows its ad) in
one JupyterLab page, with the turns run by a script in the page itself
(``DRIVER_JS``: JupyterLab's own ``notebook:run-cell`` command, then the first
animation frame that shows the ad), in blocks that take turns, each with other
instruments:

- *bare*: Chromium started by this script with ``--remote-debugging-port``; a
  DevTools connection (tornado's WebSocket client) is opened only to start a block
  (one ``Runtime.evaluate``, no domain enabled) and to read its results, and is
  closed while the block runs; the ad server runs in its own process
  (``kontext-widget serve``).
- *Playwright attached*: Playwright connected over CDP (``connect_over_cdp``) for
  the whole block, as when it drives the page: domains, utility worlds, frame
  tracking; ad server in its own process.
- *Playwright attached, ad server in the Playwright process*: the session of the
  notebook switched to a ``LocalAdServer`` running in this Python process.
- *... and the bench's trace script in every frame*: also ``PAGE_TRACE_JS``
  (bench/browser_trace.py) as an init script, which then runs in every new ad
  frame (the page was loaded before, so its page half stays off).

t0 is the kernel's ``time.time()`` right before ``add_message`` (the kernel log);
"visible" is the page's wall clock (``performance.timeOrigin + performance.now()``)
on the first animation frame showing the ad's iframe at a non-zero height, checked
as ``bench.browser`` checks it. Blocks of ``BLOCK`` turns rotate through the
variants ``ROUNDS`` times, so load drift reaches all of them alike. Results go to
``bench/browser_bare.json``, which section 6 of ``python -m bench`` lists. About 4
minutes on 2 cores; run it under the shared bench lock.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.request import urlopen

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # the harness is imported as the package tests.browser
    sys.path.insert(0, str(REPO_ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402
from tornado.websocket import websocket_connect  # noqa: E402

from bench.browser_trace import PAGE_TRACE_JS  # noqa: E402
from kontext_widget import LocalAdServer  # noqa: E402
from kontext_widget._local_server import http as local_http  # noqa: E402
from kontext_widget._local_server import pages as local_pages  # noqa: E402
from tests.browser.jupyter import JupyterServer  # noqa: E402
from tests.browser.notebooks import (  # noqa: E402
    KERNEL_SUPPORT,
    KernelLog,
    write_kernel_support,
    write_notebook,
)
from tests.browser.pages import CHROMIUM_ARGS  # noqa: E402
from tests.browser.processes import isolated_env, stop_process  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
OUTPUT = Path(__file__).parent / "browser_bare.json"
BLOCK = int(os.environ.get("KW_BENCH_BARE_BLOCK", "5"))
ROUNDS = int(os.environ.get("KW_BENCH_BARE_ROUNDS", "5"))
WARMUP = 2  # first turns load the creative's assets and JIT: not counted
TURN_TIMEOUT_S = 20.0

# Playwright's own switches that change how Chromium schedules work (its
# chromiumSwitches and headless flags), so the bare browser runs like the driven one.
PLAYWRIGHT_LIKE_ARGS = [
    "--headless",
    "--hide-scrollbars",
    "--mute-audio",
    "--disable-field-trial-config",
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
    "--disable-back-forward-cache",
    "--disable-renderer-backgrounding",
    "--disable-ipc-flooding-protection",
    "--disable-hang-monitor",
    "--disable-popup-blocking",
    "--disable-features=PaintHolding,MediaRouter,OptimizationHints,ThirdPartyStoragePartitioning",
    "--allow-pre-commit-input",
    "--force-color-profile=srgb",
    "--no-first-run",
    "--no-default-browser-check",
    "--password-store=basic",
    "--window-size=1280,1000",
]

BARE = "bare: no DevTools client during the turns, ad server in its own process"
BARE_IN = "bare, ad server in the (idle) bench process"
BARE_INLINE = "bare, ad server in the bench process, creative.css and .js inlined in the frame page"
ATTACHED = "Playwright attached (connect_over_cdp), ad server in its own process"
IN_PROCESS = "Playwright attached, ad server in the Playwright process"
INIT_SCRIPT = "Playwright attached, ad server in the Playwright process, trace script in frames"
VARIANTS = [BARE, BARE_IN, BARE_INLINE, ATTACHED, IN_PROCESS, INIT_SCRIPT]
# Which of the notebook's two sessions each variant uses.
_SESSION_OF = {
    BARE: "own",
    BARE_IN: "in",
    BARE_INLINE: "in",
    ATTACHED: "own",
    IN_PROCESS: "in",
    INIT_SCRIPT: "in",
}

SESSION, USER, RENDER = range(3)

_SESSION_CELL = """
    from {support} import kw, mark, start_session
    sessions = {{
        "own": start_session({log!r}, {own!r}, "conv-bare-own", ["inlineAd"]),
        "in": start_session({log!r}, {inner!r}, "conv-bare-in", ["inlineAd"]),
    }}
    session = sessions["own"]
"""

# As bench.browser's cells: a new message id each turn; the preload answered before
# the assistant message comes; the ad displayed before its message exists.
_USER_CELL = """
    turn = globals().get("turn", 0) + 1
    if "ad" in globals():
        ad.destroy()
    user = kw.Message(id=f"u{turn}", role="user", content=f"Hiking boots for trip {turn}?")
    session.add_message(user)
    assert session.wait_idle(15), "the preload did not finish"
"""

_RENDER_CELL = """
    import time
    assistant = kw.Message(id=f"a{turn}", role="assistant", content="Waterproof leather boots.")
    ad = session.render(f"a{turn}")
    t0 = time.time()
    session.add_message(assistant)
    mark("assistant-added", turn=turn, t0=t0)
"""

# The page runs the turns itself. Before the block it points ``session`` at the
# variant's ad server (a silent execute on the kernel). Per turn: the user cell, a
# watcher for the ad of a<turn> on every animation frame (as PAGE_TRACE_JS checks it),
# the render cell, then a pause so the frame settles as it does between bench.browser's
# turns. Resolves with the wall-clock time each ad became visible.
DRIVER_JS = r"""
async ({ first, turns, session, user, render, timeoutMs }) => {
  const app = window.jupyterapp;
  const panel = app.shell.currentWidget;
  const notebook = panel.content;
  const now = () => performance.timeOrigin + performance.now();
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const run = async (index) => {
    notebook.deselectAll();
    notebook.activeCellIndex = index;
    await app.commands.execute("notebook:run-cell");
  };
  const kernel = panel.sessionContext.session.kernel;
  await kernel.requestExecute({ code: `session = sessions["${session}"]`, silent: true }).done;
  const results = [];
  for (let turn = first; turn < first + turns; turn += 1) {
    await run(user);
    const marker = `messageId=a${turn}&`;
    const visible = new Promise((resolve) => {
      const tick = () => {
        for (const frame of document.querySelectorAll("iframe")) {
          if (!frame.src.includes(marker)) continue;
          const style = getComputedStyle(frame);
          const shown = style.display !== "none" && style.visibility !== "hidden";
          if (shown && frame.getBoundingClientRect().height > 0) {
            resolve(now());
            return;
          }
        }
        requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    });
    await run(render);
    const at = await Promise.race([visible, sleep(timeoutMs).then(() => null)]);
    results.push({ turn, visible: at });
    await sleep(1000);
  }
  return results;
}
"""

_READY_JS = """
(async () => {
  const app = window.jupyterapp;
  if (!app || !app.shell) return 'no app';
  const panel = app.shell.currentWidget;
  if (!panel || !panel.context) return 'no panel';
  await panel.context.ready;
  await panel.sessionContext.ready;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  return kernel ? kernel.status : 'no kernel';
})()
"""

_RUN_CELL_JS = """
(async () => {
  const app = window.jupyterapp;
  const notebook = app.shell.currentWidget.content;
  notebook.deselectAll();
  notebook.activeCellIndex = %d;
  await app.commands.execute('notebook:run-cell');
  const outputs = notebook.widgets[%d].model.outputs.toJSON();
  return outputs.filter((o) => o.output_type === 'error').map((o) => o.evalue);
})()
"""


def cdp_evaluate(ws_url: str, expression: str, *, wait: bool, timeout: float = 60.0) -> Any:
    """One ``Runtime.evaluate`` on a fresh DevTools connection, closed right after.

    No domain is enabled, so Chromium sends nothing else on it; with ``wait`` the
    promise's value is returned, else the call returns once the script started.
    """

    async def call() -> Any:
        connection = await websocket_connect(ws_url, max_message_size=64 << 20)
        try:
            params = {"expression": expression, "awaitPromise": wait, "returnByValue": wait}
            await connection.write_message(
                json.dumps({"id": 1, "method": "Runtime.evaluate", "params": params})
            )
            while True:
                message = await asyncio.wait_for(connection.read_message(), timeout)
                if message is None:
                    raise RuntimeError("the DevTools connection closed")
                answer = json.loads(message)
                if answer.get("id") != 1:
                    continue
                if "error" in answer or "exceptionDetails" in answer.get("result", {}):
                    raise RuntimeError(f"Runtime.evaluate failed: {answer}")
                return answer["result"]["result"].get("value")
        finally:
            connection.close()

    return asyncio.run(call())


class BareChromium:
    """Chromium with a DevTools port and no client, showing one JupyterLab notebook."""

    def __init__(self, profile: Path, url: str) -> None:
        args = [*CHROMIUM_ARGS, *PLAYWRIGHT_LIKE_ARGS]
        self.process = subprocess.Popen(
            [str(CHROMIUM), *args, "--remote-debugging-port=0", f"--user-data-dir={profile}", url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise RuntimeError("Chromium wrote no DevToolsActivePort")
            time.sleep(0.1)
        self.port = int(port_file.read_text().splitlines()[0])
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def page_ws(self) -> str:
        """The DevTools WebSocket URL of the notebook page."""
        with urlopen(f"{self.endpoint}/json/list", timeout=10) as answer:
            targets = json.loads(answer.read())
        for target in targets:
            if target.get("type") == "page" and "/lab" in target.get("url", ""):
                return str(target["webSocketDebuggerUrl"])
        raise RuntimeError(f"no JupyterLab page among {[t.get('url') for t in targets]}")

    def evaluate(self, expression: str, *, wait: bool = True) -> Any:
        return cdp_evaluate(self.page_ws(), expression, wait=wait)

    def stop(self) -> None:
        stop_process(self.process)


class OwnProcessAdServer:
    """``kontext-widget serve`` in a process of its own; ``url`` from its first line."""

    def __init__(self, base: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from kontext_widget._cli import main; main(['serve'])"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=isolated_env(base),
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().decode().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            self.stop()
            raise RuntimeError(f"kontext-widget serve printed {self.url!r}")

    def stop(self) -> None:
        stop_process(self.process)


class InlinedCreative:
    """An experiment on this process's ``LocalAdServer``: the frame page carries the
    creative's style sheet and script inline (allowed by their hashes in the page's
    CSP) instead of fetching ``/static/creative.css`` and ``/static/creative.js``,
    which even from the browser's cache arrive 18-28 ms after the document and run
    after the parser ends (section 6). On only while ``BARE_INLINE`` blocks run."""

    def __init__(self) -> None:
        self._render = local_pages.render
        self._policy = local_http.CONTENT_SECURITY_POLICY
        creative = resources.files("kontext_widget._local_server").joinpath("creative")
        self._css = creative.joinpath("creative.css").read_text("utf-8")
        self._js = creative.joinpath("creative.js").read_text("utf-8")
        if "</" in self._css or "</" in self._js:
            raise RuntimeError("the creative's files cannot be inlined as they are")

        def digest(text: str) -> str:
            return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()

        self._inline_policy = self._policy.replace(
            "script-src 'self'", f"script-src 'self' 'sha256-{digest(self._js)}'"
        ).replace("style-src 'self'", f"style-src 'self' 'sha256-{digest(self._css)}'")

    def _inlined(self, name: str, values: Mapping[str, str]) -> bytes:
        page = self._render(name, values).decode("utf-8")
        if name == "ad.html":
            page = page.replace(
                '<link rel="stylesheet" href="/static/creative.css">', f"<style>{self._css}</style>"
            )
            page = page.replace('<script src="/static/creative.js" defer></script>\n', "")
            page = page.replace("</body>", f"<script>{self._js}</script>\n</body>")
        return page.encode("utf-8")

    def switch(self, on: bool) -> None:
        # The handler reads both names from its module at each request.
        setattr(local_http, "render", self._inlined if on else self._render)  # noqa: B010
        policy = self._inline_policy if on else self._policy
        setattr(local_http, "CONTENT_SECURITY_POLICY", policy)  # noqa: B010


class CpuMeter:
    """CPU time (user + system, all threads) per group of processes, from ``/proc``.

    Each process counts for the first group found walking up its parents: the
    kernel and the Playwright driver by their command line, the rest by the root
    process of the group (Chromium, jupyter_server, the ad server, this process);
    "the rest of the machine" is the machine's busy time (``/proc/stat``) minus
    all of them: other helpers' builds and tests, the system.
    """

    REST = "the rest of the machine (other work, system)"
    RENDERER_ON_CORE = "renderer main threads: on a core"
    RENDERER_WAITING = "renderer main threads: runnable, waiting for a core"

    def __init__(self, roots: dict[int, str]) -> None:
        self.roots = roots
        self._tick = os.sysconf("SC_CLK_TCK")

    def snapshot(self) -> dict[str, float]:
        """Seconds of CPU per group so far, and the machine's busy seconds."""
        stats: dict[int, tuple[int, float, str]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", encoding="utf-8") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
                with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                    command = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue  # gone meanwhile
            seconds = (int(fields[11]) + int(fields[12])) / self._tick
            stats[int(entry)] = (int(fields[1]), seconds, command)
        groups: dict[str, float] = defaultdict(float)
        for pid, (_, seconds, _) in stats.items():
            group = self._group(pid, stats)
            if group is not None:
                groups[group] += seconds
        with open("/proc/stat", encoding="utf-8") as stat:
            cpu = [int(value) for value in stat.readline().split()[1:]]
        busy = (sum(cpu) - cpu[3] - cpu[4]) / self._tick  # all but idle and iowait
        groups[self.REST] = busy - sum(groups.values())
        # The renderers' main threads (JupyterLab's page and its same-site ad frames):
        # time on a core and time runnable but waiting for one (schedstat, ns).
        for pid, (_, _, command) in stats.items():
            if "--type=renderer" not in command or self._group(pid, stats) is None:
                continue
            try:
                with open(f"/proc/{pid}/schedstat", encoding="utf-8") as schedstat:
                    on_core, waiting, _ = (int(v) for v in schedstat.read().split())
            except (OSError, ValueError):
                continue
            groups[self.RENDERER_ON_CORE] += on_core / 1e9
            groups[self.RENDERER_WAITING] += waiting / 1e9
        return groups

    def _group(self, pid: int, stats: dict[int, tuple[int, float, str]]) -> str | None:
        """The group of ``pid``: a process under one of the roots, else None (the rest)."""
        commands: list[str] = []
        while pid in stats and len(commands) < 64:
            parent, _, command = stats[pid]
            if pid in self.roots:
                if any("ipykernel_launcher" in c for c in commands):
                    return "the kernel"
                if any("playwright" in c and "node" in c for c in commands):
                    return "Playwright's driver (node)"
                return self.roots[pid]
            commands.append(command)
            pid = parent
        return None


def _wait(predicate: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _run_cell(chromium: BareChromium, index: int) -> None:
    errors = chromium.evaluate(_RUN_CELL_JS % (index, index))
    if errors:
        raise RuntimeError(f"cell {index} raised {errors}")


def _block_args(first: int, turns: int, variant: str) -> dict[str, Any]:
    return {
        "first": first,
        "turns": turns,
        "session": _SESSION_OF[variant],
        "user": USER,
        "render": RENDER,
        "timeoutMs": int(TURN_TIMEOUT_S * 1000),
    }


def _bare_block(
    chromium: BareChromium,
    log: KernelLog,
    first: int,
    turns: int,
    variant: str = BARE,
    *,
    meter: CpuMeter | None = None,
    cpu: dict[str, float] | None = None,
) -> list[Any]:
    """Start the block with one evaluate, let it run with no client, then read it.

    With ``meter``, the CPU each group used from the start to the last turn's end
    is added to ``cpu`` (seconds).
    """
    args = json.dumps(_block_args(first, turns, variant))
    before = meter.snapshot() if meter is not None else {}
    chromium.evaluate(f"window.__kwBareBlock = ({DRIVER_JS})({args}); 0", wait=False)
    last = first + turns - 1
    _wait(
        lambda: any(r.get("turn") == last for r in log.marks("assistant-added")),
        f"turn {last}",
        timeout=turns * (TURN_TIMEOUT_S + 5),
    )
    time.sleep(2.0)  # the last ad shows and the driver pauses 1 s: attach after that
    if meter is not None and cpu is not None:
        _add(cpu, before, meter.snapshot())
    return list(chromium.evaluate("window.__kwBareBlock"))


def _add(cpu: dict[str, float], before: dict[str, float], after: dict[str, float]) -> None:
    for group, seconds in after.items():
        cpu[group] += seconds - before.get(group, 0.0)


def measure(base: Path) -> tuple[dict[str, list[float]], dict[str, dict[str, float]]]:
    """Run ``ROUNDS`` rounds of one block per variant: per variant, ms from t0 to
    visible of each turn, and the CPU ms per turn of each group of processes."""
    server = JupyterServer.start(base / "jupyter")
    own = OwnProcessAdServer(base)
    chromium: BareChromium | None = None
    try:
        write_kernel_support(server.root_dir)
        name = "bench-browser-bare.ipynb"
        log = KernelLog(base / "kernel.jsonl")
        with LocalAdServer() as inner:
            cells = [
                _SESSION_CELL.format(
                    support=KERNEL_SUPPORT, log=str(log.path), own=own.url, inner=inner.url
                ),
                _USER_CELL,
                _RENDER_CELL,
            ]
            write_notebook(server.root_dir / name, cells)
            url = f"{server.url}/lab/tree/{name}?reset&token={server.token}"
            chromium = BareChromium(base / "chromium-profile", url)
            _wait(lambda: _ready(chromium), "the notebook's kernel")
            _run_cell(chromium, SESSION)
            results: dict[str, list[Any]] = {variant: [] for variant in VARIANTS}
            cpu: dict[str, dict[str, float]] = {variant: defaultdict(float) for variant in VARIANTS}
            # Warm-up, not counted: the creative's assets and JIT, through both ad servers.
            _bare_block(chromium, log, 1, WARMUP)
            _drive_attached(chromium, WARMUP + 1, WARMUP, IN_PROCESS)
            turn = 2 * WARMUP + 1
            meter = CpuMeter(
                {
                    chromium.process.pid: "Chromium (all its processes)",
                    server.process.process.pid: "jupyter_server",
                    own.process.pid: "ad server process (kontext-widget serve)",
                    os.getpid(): "this bench process (Playwright client, in-process ad server)",
                }
            )
            inlined = InlinedCreative()
            for _ in range(ROUNDS):
                for variant in (BARE, BARE_IN, BARE_INLINE):
                    inlined.switch(variant == BARE_INLINE)
                    results[variant] += _bare_block(
                        chromium, log, turn, BLOCK, variant, meter=meter, cpu=cpu[variant]
                    )
                    inlined.switch(False)
                    turn += BLOCK
                for variant in (ATTACHED, IN_PROCESS, INIT_SCRIPT):
                    results[variant] += _drive_attached(
                        chromium, turn, BLOCK, variant, meter=meter, cpu=cpu[variant]
                    )
                    turn += BLOCK
        added = {r["turn"]: r["t0"] * 1000 for r in log.marks("assistant-added")}
    finally:
        if chromium is not None:
            chromium.stop()
        own.stop()
        server.stop()
    latencies: dict[str, list[float]] = {}
    for variant, rows in results.items():
        missing = [r["turn"] for r in rows if r["visible"] is None or r["turn"] not in added]
        if missing:
            raise RuntimeError(f"{variant}: no visible ad in turns {missing}")
        latencies[variant] = [r["visible"] - added[r["turn"]] for r in rows]
    per_turn = {
        variant: {group: 1000 * seconds / len(results[variant]) for group, seconds in used.items()}
        for variant, used in cpu.items()
    }
    return latencies, per_turn


def _ready(chromium: BareChromium) -> bool:
    try:
        return bool(chromium.evaluate(_READY_JS) == "idle")
    except (RuntimeError, OSError):
        return False  # the page is still loading or navigating (`?reset`)


def _drive_attached(
    chromium: BareChromium,
    first: int,
    turns: int,
    variant: str,
    *,
    meter: CpuMeter | None = None,
    cpu: dict[str, float] | None = None,
) -> list[Any]:
    """One block with Playwright connected for its whole length (CPU as ``_bare_block``)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.connect_over_cdp(chromium.endpoint)
        context = browser.contexts[0]
        if variant == INIT_SCRIPT:
            context.add_init_script(PAGE_TRACE_JS)
        page = next(p for p in context.pages if "/lab" in p.url)
        before = meter.snapshot() if meter is not None else {}
        results = list(page.evaluate(DRIVER_JS, _block_args(first, turns, variant)))
        if meter is not None and cpu is not None:
            _add(cpu, before, meter.snapshot())
        return results


def _summary(ms: list[float]) -> str:
    ordered = sorted(ms)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return (
        f"median {statistics.median(ordered):.0f} ms (p90 {p90:.0f}, min {ordered[0]:.0f}, "
        f"max {ordered[-1]:.0f}, n {len(ordered)})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.browser_bare", description=__doc__)
    parser.add_argument("--output", type=Path, default=OUTPUT, help="the JSON to write")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: install Debian's chromium", file=sys.stderr)
        return 1
    started = time.perf_counter()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="kontext-bench-bare-") as tmp:
        latencies, cpu = measure(Path(tmp))
    load = os.getloadavg()
    figures = {variant: _summary(ms) for variant, ms in latencies.items()}
    # Side by side: each turn against the same turn of the bare block of its round,
    # which ran within the minute before it (load drifts over minutes, not seconds).
    for variant in VARIANTS[1:]:
        differences = [
            latencies[variant][index] - latencies[BARE][index]
            for index in range(min(len(latencies[variant]), len(latencies[BARE])))
        ]
        figures[f"{variant}, minus the bare turn of its round"] = (
            f"median {statistics.median(differences):+.0f} ms (n {len(differences)})"
        )
    for variant, figure in figures.items():
        print(f"{variant}: {figure}")
    payload = {
        "load": f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} at the end, "
        f"{load_before[0]:.2f} at the start (1/5/15 min, {os.cpu_count()} cores)",
        "block": BLOCK,
        "rounds": ROUNDS,
        "figures": figures,
        "bare": BARE,
        "passed": statistics.median(latencies[BARE]) < 120.0,  # issue 10's target
        "cpu_ms_per_turn": {
            variant: {group: round(ms, 1) for group, ms in sorted(used.items())}
            for variant, used in cpu.items()
        },
        "ms": {variant: [round(ms, 1) for ms in values] for variant, values in latencies.items()},
    }
    args.output.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.output} ({time.perf_counter() - started:.0f} s, load {payload['load']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
