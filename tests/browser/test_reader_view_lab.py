"""What the reader sees after *Run All* of the shipped notebooks in JupyterLab (issue 13).

Each shipped notebook is copied into the server, opened in JupyterLab's light or
dark theme and run with the app's own ``notebook:run-all-cells`` command, as a
user would. Then:

- every ad quotes its own turn's question (``update-iframe`` holds the conversation
  up to the ad's message), the interstitial's modal included;
- every ad without a publisher theme takes the notebook's theme, and one with a
  publisher theme keeps it; after ``apputils:change-theme`` the themeless ads follow
  without reloading their frame;
- the page's layout shift, measured by a ``PerformanceObserver`` for ``layout-shift``
  from *Run All* until every ad has settled, stays under ``LAYOUT_SHIFT_TARGET``
  (figures in bench/RESULTS.md). It is a layout figure, not a timing, so it is asserted.

``KW_SCREENSHOTS=<dir>`` saves a screenshot of each run there, for looking at.
"""

from __future__ import annotations

import ast
import itertools
import json
import os
import re
import shutil
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest
from playwright.sync_api import Frame, Locator

from .jupyter import JupyterServer, NotebookPage
from .kit_checks import error_outputs, set_lab_theme
from .notebooks import KERNEL_SUPPORT, NotebookSpec, write_notebook
from .pages import BrowserTab
from .processes import REPO_ROOT

pytestmark = pytest.mark.browser

NOTEBOOKS = REPO_ROOT / "notebooks"
THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}
RUN_ALL_TIMEOUT = 180.0
SETTLE_TIMEOUT = 30.0
POLL_SECONDS = 0.2

# The sum of the layout-shift scores of one Run All of chat_demo.ipynb (the largest
# 5 s session window is printed too, as Chrome's CLS). bench/RESULTS.md has the
# figures before and after issue 13 and why the target is what it is. placements.ipynb
# is measured and printed, not asserted: its event log still grows a row per event
# above the chat (issue 13 item 3), which dominates its figure.
LAYOUT_SHIFT_TARGET = 0.2
ASSERTED_LAYOUT_SHIFT = ("chat_demo.ipynb",)

_WATCH_LAYOUT_SHIFT_JS = """
() => {
  window.__kwShifts = [];
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (entry.hadRecentInput) continue;
      window.__kwShifts.push({
        value: entry.value,
        time: entry.startTime,
        sources: entry.sources.map((s) => ({
          node: s.node ? (s.node.className || s.node.nodeName) + '' : null,
          from: [s.previousRect.y, s.previousRect.height],
          to: [s.currentRect.y, s.currentRect.height],
        })),
      });
    }
  }).observe({ type: 'layout-shift', buffered: false });
}
"""

# Height histories: every ad slot, and every cell's output area, sampled on each
# animation frame (a frame is what a reader sees) while Run All goes on.
_WATCH_HEIGHTS_JS = """
() => {
  window.__kwHeights = { slots: new Map(), outputs: new Map() };
  const record = (map, node) => {
    const height = Math.round(node.getBoundingClientRect().height);
    let list = map.get(node);
    if (!list) { list = []; map.set(node, list); }
    if (list.length === 0 || list[list.length - 1] !== height) list.push(height);
  };
  const sample = () => {
    for (const slot of document.querySelectorAll('.kontext-ad-slot')) {
      record(window.__kwHeights.slots, slot);
    }
    for (const area of document.querySelectorAll('.jp-Cell .jp-OutputArea')) {
      record(window.__kwHeights.outputs, area);
    }
    window.__kwHeightsTimer = requestAnimationFrame(sample);
  };
  sample();
}
"""

_READ_HEIGHTS_JS = """
() => {
  cancelAnimationFrame(window.__kwHeightsTimer);
  const h = window.__kwHeights;
  return { slots: [...h.slots.values()], outputs: [...h.outputs.values()] };
}
"""

_RUN_STATE_JS = """
() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = panel.content.widgets;
  const kernel = panel.sessionContext.session.kernel;
  return {
    status: kernel ? kernel.status : 'none',
    pending: cells.filter((c) => c.model.type === 'code' && c.model.executionCount === null).length,
  };
}
"""

_NOTEBOOK_JSON_JS = "() => window.jupyterapp.shell.currentWidget.content.model.toJSON()"

# The creative's look, read inside its frame: theme attribute, card colours, state.
_CREATIVE_LOOK_JS = """
() => {
  const card = document.getElementById('ad');
  const style = card ? getComputedStyle(card) : null;
  return {
    theme: document.documentElement.dataset.theme || '',
    state: document.documentElement.dataset.state || '',
    background: style ? style.backgroundColor : '',
    because: (document.querySelector('.because') || {}).textContent || '',
    sponsored: (document.querySelector('.sponsored') || {}).textContent || '',
  };
}
"""


@dataclass(frozen=True)
class ExpectedAd:
    """An ad cell of a notebook: which question its ads must quote, and their theme."""

    cell: int
    question: str
    theme: str | None


def _call_name(node: ast.Call) -> str:
    return node.func.attr if isinstance(node.func, ast.Attribute) else ""


def expected_ads(path: Path) -> list[ExpectedAd]:
    """Every code cell that shows an ad, with the question of the turn it belongs to.

    ``chat_turn("question", ...)`` starts a turn; ``create_ad(turn.assistant.id, ...)``
    in later cells shows another placement of the same turn. Read from the source,
    so the test follows the notebook when its text changes.
    """
    cells = nbformat.read(path, as_version=4).cells
    found: list[ExpectedAd] = []
    question = ""
    for index, cell in enumerate(cells):
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if not isinstance(node, ast.Call) or _call_name(node) not in ("chat_turn", "create_ad"):
                continue
            if _call_name(node) == "chat_turn":
                first = node.args[0]
                assert isinstance(first, ast.Constant) and isinstance(first.value, str)
                question = first.value
            theme = next(
                (
                    k.value.value
                    for k in node.keywords
                    if k.arg == "theme" and isinstance(k.value, ast.Constant)
                ),
                None,
            )
            found.append(ExpectedAd(index, question, theme))
    return found


def snippet(text: str) -> str:
    """What the creative quotes of a question (``snippet``, js/creative/), no ellipsis."""
    flat = re.sub(r"\s+", " ", text).strip()
    return flat if len(flat) <= 60 else flat[:59].rstrip()


def luminance(css_color: str) -> float:
    r, g, b = (int(v) for v in re.findall(r"\d+", css_color)[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


def put_lab_setting(server: JupyterServer, plugin: str, values: dict[str, Any]) -> None:
    """Write a user setting of ``plugin`` through the server's settings API."""
    body = json.dumps({"raw": json.dumps(values)}).encode()
    request = urllib.request.Request(
        f"{server.url}/lab/api/settings/{plugin}",
        data=body,
        method="PUT",
        headers={"Authorization": f"token {server.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


def set_theme(page: Any, theme: str) -> None:
    """Switch JupyterLab through its own command (``apputils:change-theme``)."""
    set_lab_theme(page, THEMES[theme])


def run_all(notebook: NotebookPage) -> None:
    page = notebook.page
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    deadline = time.monotonic() + RUN_ALL_TIMEOUT
    state: dict[str, Any] = {}
    while time.monotonic() < deadline:
        state = page.evaluate(_RUN_STATE_JS)
        if state["pending"] == 0 and state["status"] == "idle":
            return
        time.sleep(POLL_SECONDS)
    raise AssertionError(f"Run All of {notebook.path} did not finish: {state}")


def frames_in(notebook: NotebookPage, cell: int) -> Locator:
    return notebook.output_area(cell).locator('iframe[src*="/api/frame/"]')


def wait_rendered(notebook: NotebookPage, iframe: Locator) -> Frame:
    frame = notebook.frame_of(iframe)
    frame.wait_for_function(
        "() => document.documentElement.dataset.state === 'rendered'", timeout=30_000
    )
    notebook.page.wait_for_function(
        "(f) => f.style.display === 'block' && f.style.visibility !== 'hidden'"
        " && f.getBoundingClientRect().height > 0",
        arg=iframe.element_handle(),
        timeout=30_000,
    )
    return frame


def wait_settled(page: Any) -> list[dict[str, Any]]:
    """Wait until no layout shift happened for 1.5 s; return every shift since Run All."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while True:
        shifts: list[dict[str, Any]] = page.evaluate("window.__kwShifts")
        now = page.evaluate("performance.now()")
        last = shifts[-1]["time"] if shifts else 0
        if now - last > 1500 or time.monotonic() > deadline:
            return shifts
        time.sleep(POLL_SECONDS)


def cls_figures(shifts: list[dict[str, Any]]) -> dict[str, float]:
    """Total of all shifts, and Chrome's CLS (largest session window: 1 s gap, 5 s max)."""
    total = sum(s["value"] for s in shifts)
    best = window = 0.0
    start = previous = None
    for shift in shifts:
        t = shift["time"]
        if start is None or previous is None or t - previous > 1000 or t - start > 5000:
            start, window = t, 0.0
        window += shift["value"]
        previous = t
        best = max(best, window)
    return {"total": round(total, 4), "cls": round(best, 4), "count": len(shifts)}


def screenshot(page: Any, name: str) -> None:
    directory = os.environ.get("KW_SCREENSHOTS")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(directory) / f"{name}.png"))


@pytest.fixture
def lab_theme(browser_context: BrowserTab) -> Iterator[list[Any]]:
    """Pages whose theme a test changed; the server's setting is put back to light after."""
    pages: list[Any] = []
    yield pages
    for page in pages:
        if not page.is_closed():
            set_theme(page, "light")


@pytest.fixture
def unwindowed(jupyter_server: JupyterServer) -> Iterator[None]:
    """Every cell laid out, for the layout measurement only.

    JupyterLab's default ``contentVisibility`` windowing lays offscreen cells out at
    an estimated size and corrects it when they scroll in; those corrections are
    layout shifts of JupyterLab's own, whatever the outputs do. With ``none`` the
    figure measures what the outputs (replies and ads) do to the page.
    """
    plugin = "@jupyterlab/notebook-extension:tracker"
    put_lab_setting(jupyter_server, plugin, {"windowingMode": "none"})
    yield
    put_lab_setting(jupyter_server, plugin, {})


def height_changes(history: list[int]) -> int:
    """How often a slot changed height once it first had one (0 = hidden is not a height)."""
    seen = [h for h in history if h > 0]
    return sum(1 for before, after in itertools.pairwise(seen) if abs(after - before) > 1)


def collapses(history: list[int]) -> list[tuple[int, int]]:
    """Each time an output area got shorter (by more than 2 px): (before, after)."""
    return [(b, a) for b, a in itertools.pairwise(history) if a < b - 2]


@pytest.mark.usefixtures("unwindowed")
@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("notebook_name", ["chat_demo.ipynb", "placements.ipynb"])
def test_run_all_ads_quote_their_turn_take_the_theme_and_do_not_shift(
    notebook_name: str,
    theme: str,
    jupyter_server: JupyterServer,
    open_notebook: Any,
    lab_theme: list[Any],
) -> None:
    source = NOTEBOOKS / notebook_name
    name = f"reader-{theme}-{notebook_name}"
    # Without its stored outputs, as after "Clear All Outputs": Run All would first
    # clear them all at once, a shift of JupyterLab's own that says nothing of ours.
    stored = nbformat.read(source, as_version=4)
    for cell in stored.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(stored, jupyter_server.root_dir / name)
    expected = expected_ads(source)
    assert len({ad.question for ad in expected}) >= 2, "the notebook should have several turns"

    notebook = open_notebook(name, "lab")
    page = notebook.page
    lab_theme.append(page)
    set_theme(page, theme)
    page.evaluate(_WATCH_LAYOUT_SHIFT_JS)
    page.evaluate(_WATCH_HEIGHTS_JS)
    run_all(notebook)

    errors = error_outputs(page.evaluate(_NOTEBOOK_JSON_JS))
    assert errors == [], f"cells produced error outputs: {errors}"

    checked = 0
    for ad in expected:
        iframes = frames_in(notebook, ad.cell)
        if iframes.count() == 0:
            continue  # a scripted no-fill or error: no ad under that reply
        frame = wait_rendered(notebook, iframes.first)
        look = frame.evaluate(_CREATIVE_LOOK_JS)
        assert snippet(ad.question) in look["because"], (ad, look)
        wanted = ad.theme or theme
        assert look["theme"] == wanted, (ad, look)
        assert (luminance(look["background"]) < 0.5) == (wanted == "dark"), (ad, look)
        assert look["sponsored"] == "Sponsored"
        checked += 1
        if os.environ.get("KW_SCREENSHOTS"):
            iframes.first.scroll_into_view_if_needed()
            screenshot(page, f"{theme}-{notebook_name}-cell{ad.cell}")
    assert checked >= 3, f"only {checked} ads rendered"

    modal = page.locator('iframe[src*="/api/modal/"]')
    if any("interstitial" in (nbformat.read(source, 4).cells[a.cell].source) for a in expected):
        modal.wait_for(state="attached", timeout=30_000)
        modal_frame = notebook.frame_of(modal)
        modal_frame.wait_for_function("() => document.documentElement.dataset.state === 'rendered'")
        look = modal_frame.evaluate(_CREATIVE_LOOK_JS)
        interstitial = next(
            a for a in expected if "interstitial" in nbformat.read(source, 4).cells[a.cell].source
        )
        assert snippet(interstitial.question) in look["because"], look
        assert look["theme"] == theme, look
        screenshot(page, f"{theme}-{notebook_name}-modal")
        modal_frame.locator(".close").click()
        modal.wait_for(state="detached")

    shifts = wait_settled(page)
    heights = page.evaluate(_READ_HEIGHTS_JS)
    figures = cls_figures(shifts)
    print(f"layout shift {notebook_name} {theme}: {figures}")
    print("  slot heights", heights["slots"])
    screenshot(page, f"{theme}-{notebook_name}")
    # Each ad's slot: reserved when its bid is known, then at most one change.
    assert all(height_changes(h) <= 1 for h in heights["slots"]), heights["slots"]
    # No output area ever got shorter: the streamed reply is swapped in place.
    assert [collapses(h) for h in heights["outputs"] if collapses(h)] == [], heights["outputs"]
    if notebook_name in ASSERTED_LAYOUT_SHIFT:
        assert figures["total"] < LAYOUT_SHIFT_TARGET, (figures, shifts)


def test_themeless_ads_follow_a_theme_switch_without_reloading(
    jupyter_server: JupyterServer,
    open_notebook: Any,
    browser_context: BrowserTab,
    lab_theme: list[Any],
) -> None:
    name = "reader-switch-chat_demo.ipynb"
    shutil.copyfile(NOTEBOOKS / "chat_demo.ipynb", jupyter_server.root_dir / name)
    notebook = open_notebook(name, "lab")
    page = notebook.page
    lab_theme.append(page)
    set_theme(page, "light")
    run_all(notebook)
    iframes = page.locator('iframe[src*="/api/frame/"]')
    frames = [wait_rendered(notebook, iframes.nth(i)) for i in range(iframes.count())]
    assert len(frames) >= 2
    for frame in frames:
        frame.evaluate("() => { window.__kwSameDocument = true; }")
    for theme in ("dark", "light"):
        set_theme(page, theme)
        for frame in frames:
            frame.wait_for_function(
                "(t) => document.documentElement.dataset.theme === t", arg=theme, timeout=10_000
            )
            look = frame.evaluate(_CREATIVE_LOOK_JS)
            assert (luminance(look["background"]) < 0.5) == (theme == "dark"), look
            assert frame.evaluate("() => window.__kwSameDocument === true")  # not reloaded
        screenshot(page, f"switched-to-{theme}")


# The creative's own height against its iframe's, from inside the frame: clipped when
# the frame is shorter than what the creative drew.
_CLIPPED_JS = """
() => ({
  content: Math.ceil(document.documentElement.getBoundingClientRect().height),
  viewport: window.innerHeight,
  width: window.innerWidth,
})
"""


def test_ads_below_the_fold_in_a_narrow_window_hold_their_space(
    jupyter_server: JupyterServer,
    open_notebook: Any,
    browser_context: BrowserTab,
) -> None:
    """With JupyterLab's default windowing (``content-visibility``) a cell far below the
    fold is not laid out, so its ad cannot measure itself: its slot must hold the
    reserved space meanwhile (no collapsed slot that pops open on scrolling), and once
    the cell is rendered the ad takes its full height, in one change, not clipped."""
    name = "reader-narrow-chat_demo.ipynb"
    shutil.copyfile(NOTEBOOKS / "chat_demo.ipynb", jupyter_server.root_dir / name)
    notebook = open_notebook(name, "lab")
    page = notebook.page
    page.set_viewport_size({"width": 560, "height": 700})
    page.evaluate(_WATCH_HEIGHTS_JS)
    run_all(notebook)
    iframes = page.locator('iframe[src*="/api/frame/"]')
    count = iframes.count()
    assert count >= 3
    reserved = [
        iframes.nth(i).evaluate(
            "(f) => parseFloat(getComputedStyle(f.parentElement).minHeight) || 0"
        )
        for i in range(count)
    ]
    shown = [iframes.nth(i).evaluate("(f) => f.style.height") for i in range(count)]
    sizes = []
    for i in range(count):
        iframe = iframes.nth(i)
        iframe.scroll_into_view_if_needed()
        frame = notebook.frame_of(iframe)
        frame.wait_for_function(
            "() => document.documentElement.dataset.state === 'rendered'", timeout=30_000
        )
        # Not clipped: the frame is as tall as what the creative drew, at this width.
        page.wait_for_function(
            "([f, h]) => Math.abs(f.getBoundingClientRect().height - h) <= 1",
            arg=[iframe.element_handle(), frame.evaluate(_CLIPPED_JS)["content"]],
            timeout=10_000,
        )
        sizes.append({"reserved": reserved[i], "before": shown[i], **frame.evaluate(_CLIPPED_JS)})
    heights = page.evaluate(_READ_HEIGHTS_JS)
    print("narrow", sizes, heights["slots"])
    screenshot(page, "narrow-after-scroll")
    # Every ad whose frame could not measure itself yet was holding a reservation.
    assert all(s["before"] not in ("", "0px") or s["reserved"] > 0 for s in sizes), sizes
    assert all(height_changes(h) <= 1 for h in heights["slots"]), heights["slots"]


def test_a_streamed_code_reply_is_swapped_in_place(
    notebook_spec: NotebookSpec, open_notebook: Any, ad_server: Any
) -> None:
    """While a reply streams (here inside a still-open code fence) the stream's guard is
    invisible; when it ends, the whole reply takes the stream's place: the output area
    never gets shorter and holds the reply once."""
    write_notebook(
        notebook_spec.path,
        [
            f"""
            import time
            from {KERNEL_SUPPORT} import start_session
            session = start_session(
                {str(notebook_spec.log.path)!r}, {ad_server.url!r}, "conv-stream", ["inlineAd"]
            )

            def reply(messages):
                yield "Here is the code:\\n\\n```python\\n"
                yield "print('streaming')\\n"
                time.sleep(3)  # the test looks at the open fence meanwhile
                yield "```\\n\\nDone."
            """,
            'turn = session.chat_turn("show me code", reply)',
        ],
    )
    notebook = open_notebook(notebook_spec.path.name, "lab")
    notebook.run_cell(0)
    page = notebook.page
    page.evaluate(_WATCH_HEIGHTS_JS)
    page.evaluate(
        "() => { const nb = window.jupyterapp.shell.currentWidget.content;"
        " nb.activeCellIndex = 1; window.jupyterapp.commands.execute('notebook:run-cell'); }"
    )
    area = notebook.output_area(1)
    area.get_by_text("print('streaming')").first.wait_for(timeout=15_000)
    text = area.inner_text()
    assert "kw-stream-live" not in text and "display:none" not in text, text
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.content.widgets[1]"
        ".model.executionCount !== null",
        timeout=30_000,
    )
    area.get_by_text("Done.").first.wait_for(timeout=15_000)
    heights = page.evaluate(_READ_HEIGHTS_JS)
    final = area.inner_text()
    assert final.count("print('streaming')") == 1, final
    assert "kw-stream-live" not in final
    assert [collapses(h) for h in heights["outputs"] if collapses(h)] == [], heights["outputs"]
