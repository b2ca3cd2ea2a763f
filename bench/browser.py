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

Kernel and browser read the same machine clock, so the differences are
latencies. The figures (median, p90, min, max, n) are printed and written to
``bench/browser_timings.json``, which section 6 of ``python -m bench`` lists.
Needs ``/usr/bin/chromium`` and a built ``kontext_widget/static/widget.js``;
about 35 s on 2 cores (30 counted turns after 2 warm-up turns).
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # the harness is imported as the package tests.browser
    sys.path.insert(0, str(REPO_ROOT))

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from kontext_widget import LocalAdServer  # noqa: E402
from tests.browser.ad_checks import (  # noqa: E402
    EXPECT_TIMEOUT_MS,
    frame_prefix,
    wait_for_js_value,
)
from tests.browser.jupyter import JupyterServer, NotebookPage  # noqa: E402
from tests.browser.notebooks import (  # noqa: E402
    KernelLog,
    session_cell,
    write_kernel_support,
    write_notebook,
)
from tests.browser.pages import CHROMIUM_ARGS, new_tab  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
OUTPUT = Path(__file__).parent / "browser_timings.json"
RUNS = 30
WARMUP = 2  # first turns pay for loading the creative's assets and JIT: not counted

VISIBLE = "assistant message added -> ad visible (JupyterLab)"
CLICK = "iframe click -> Python on_event (JupyterLab)"

# Cell indices of the notebook.
SESSION, USER, RENDER = range(3)

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
_RENDER_CELL = """
    import time
    assistant = kw.Message(id=f"a{turn}", role="assistant", content="Waterproof leather boots.")
    ad = session.render(f"a{turn}")
    t0 = time.time()
    session.add_message(assistant)
    mark("assistant-added", turn=turn, t0=t0)
"""

# Records, once per animation frame, when each ad iframe (keyed by its messageId)
# is first shown with a box; wall-clock ms, comparable with the kernel's time.time().
_WATCH_VISIBLE_JS = """
(prefix) => {
  window.__kwVisible = {};
  const tick = () => {
    const now = performance.timeOrigin + performance.now();
    for (const frame of document.querySelectorAll('iframe')) {
      if (!frame.src.startsWith(prefix)) continue;
      const id = new URL(frame.src).searchParams.get('messageId');
      if (id in window.__kwVisible) continue;
      if (getComputedStyle(frame).display !== 'none' && frame.getBoundingClientRect().height > 0) {
        window.__kwVisible[id] = now;
      }
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}
"""

_RECORD_CLICK_JS = """
() => document.addEventListener('click', () => {
  window.__kwClickAt = performance.timeOrigin + performance.now();
}, { capture: true, once: true })
"""


def summarize(seconds: list[float]) -> str:
    """``median X ms (p90 Y, min A, max B, n N)`` for the JSON and the console."""
    ms = sorted(s * 1000 for s in seconds)
    p90 = ms[min(len(ms) - 1, int(0.9 * len(ms)))]
    return (
        f"median {statistics.median(ms):.0f} ms (p90 {p90:.0f}, min {ms[0]:.0f}, "
        f"max {ms[-1]:.0f}, n {len(ms)})"
    )


def one_turn(
    notebook: NotebookPage, log: KernelLog, ad_server: LocalAdServer, turn: int
) -> tuple[float, float]:
    """Run turn ``turn``; its (message added -> visible, click -> on_event) in seconds."""
    page = notebook.page
    notebook.run_cell(USER)
    notebook.run_cell(RENDER)
    added = log.wait_for(
        lambda r: r["kind"] == "mark" and r["name"] == "assistant-added" and r["turn"] == turn,
        what=f"the assistant-added mark of turn {turn}",
    )
    visible_at = wait_for_js_value(page, f"window.__kwVisible['a{turn}']")
    to_visible = visible_at / 1000 - added["t0"]

    iframe = notebook.output_area(RENDER).locator(f'iframe[src^="{frame_prefix(ad_server)}"]')
    expect(iframe).to_have_count(1, timeout=EXPECT_TIMEOUT_MS)
    src = iframe.get_attribute("src") or ""
    bid_id = src.removeprefix(frame_prefix(ad_server)).split("?")[0]
    if f"messageId=a{turn}&" not in src or bid_id not in ad_server.bids:
        raise RuntimeError(f"turn {turn}: the ad iframe is not this turn's bid: {src}")
    frame = notebook.frame_of(iframe)
    expect(frame.locator("html")).to_have_attribute(
        "data-state", "rendered", timeout=EXPECT_TIMEOUT_MS
    )
    frame.evaluate(_RECORD_CLICK_JS)
    with page.context.expect_page() as opened:
        frame.locator("#ad a.cta").click()
    landing = opened.value
    # Closing it mid-load would only break the local server's pipe (a noisy log).
    landing.wait_for_load_state()
    landing.close()
    clicked = log.wait_for_event("ad.clicked", where=lambda r: r["payload"].get("id") == bid_id)
    click_at = wait_for_js_value(frame, "window.__kwClickAt")
    return to_visible, clicked["t"] - click_at / 1000


def measure(base: Path, runs: int) -> dict[str, list[float]]:
    """Start the servers and browser under ``base``; ``runs`` counted turns of both timings."""
    server = JupyterServer.start(base / "jupyter")
    try:
        write_kernel_support(server.root_dir)
        log = KernelLog(base / "kernel.jsonl")
        name = "bench-browser.ipynb"
        with LocalAdServer() as ad_server, sync_playwright() as playwright:
            write_notebook(
                server.root_dir / name,
                [
                    session_cell(
                        ad_server_url=ad_server.url,
                        log_path=log.path,
                        conversation_id="conv-bench-browser",
                    ),
                    _USER_CELL,
                    _RENDER_CELL,
                ],
            )
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            try:
                tab = new_tab(browser)
                notebook = NotebookPage.open(tab.new_page("lab"), server, name, "lab")
                notebook.run_cell(SESSION)
                notebook.page.evaluate(_WATCH_VISIBLE_JS, frame_prefix(ad_server))
                timings: dict[str, list[float]] = {VISIBLE: [], CLICK: []}
                for turn in range(1, WARMUP + runs + 1):
                    to_visible, to_python = one_turn(notebook, log, ad_server, turn)
                    if turn > WARMUP:
                        timings[VISIBLE].append(to_visible)
                        timings[CLICK].append(to_python)
                notebook.close()
            finally:
                browser.close()
    finally:
        server.stop()
    return timings


def main() -> int:
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: install Debian's chromium", file=sys.stderr)
        return 1
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kontext-bench-browser-") as tmp:
        timings = measure(Path(tmp), RUNS)
    figures = {name: summarize(values) for name, values in timings.items()}
    for name, value in figures.items():
        print(f"{name}: {value}")
    OUTPUT.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {OUTPUT} ({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
