"""The notebook kit in JupyterLab 4: the live ``EventLog`` and the chat demo notebook.

The ``EventLog`` test checks that the table displayed by one cell follows events
produced later (a ``chat_turn`` in the next cell, then the browser rendering and
viewing the ad) without that cell being run again. The demo test runs the shipped
``notebooks/chat_demo.ipynb`` cell by cell, as a user's Run All would, and checks
that every chat turn put a live ad under its reply.
"""

from __future__ import annotations

import re
import shutil
from typing import Any

import nbformat
import pytest
from playwright.sync_api import expect

from .ad_checks import EXPECT_TIMEOUT_MS, VIEWED_TIMEOUT, wait_for_box
from .conftest import ARTIFACTS
from .jupyter import JupyterServer
from .kit_checks import (
    EventLogView,
    contrast_ratio,
    error_outputs,
    set_lab_theme,
    wait_for_event_log,
)
from .notebooks import KERNEL_SUPPORT, NotebookSpec, write_notebook
from .pages import BrowserTab
from .processes import REPO_ROOT

pytestmark = pytest.mark.browser

DEMO_NOTEBOOK = REPO_ROOT / "notebooks" / "chat_demo.ipynb"
# Any ad frame on a loopback server: the demo's LocalAdServer picks its own port.
LOCAL_FRAME_SRC = re.compile(r"^http://127\.0\.0\.1:(\d+)/api/frame/[^/?]+\?")

# The execution counts of the open notebook's cells, straight from the front end's model.
_EXECUTION_COUNTS_JS = (
    "() => window.jupyterapp.shell.currentWidget.content.widgets"
    ".map((cell) => cell.model.type === 'code' ? cell.model.executionCount : null)"
)
_NOTEBOOK_JSON_JS = "() => window.jupyterapp.shell.currentWidget.content.model.toJSON()"

BROWSER_EVENTS = ("ad.render-started", "ad.height", "ad.render-completed")
HOSTILE = '<img src="https://attacker.example/x.png" onerror="alert(1)"><script>alert(2)</script>'


def test_event_log_updates_live_in_the_browser(
    notebook_spec: NotebookSpec,
    open_notebook: Any,
    ad_server: Any,
    browser_context: BrowserTab,
) -> None:
    log_cell, turn_cell = 0, 1
    write_notebook(
        notebook_spec.path,
        [
            f"""
            from {KERNEL_SUPPORT} import start_session
            session = start_session(
                {str(notebook_spec.log.path)!r}, {ad_server.url!r}, "conv-kit-log", ["inlineAd"]
            )
            log = session.event_log()
            log
            """,
            'turn = session.chat_turn("best hiking boots?", "Try these boots.")',
            # What a hostile server could put in an event: shown as text, loads nothing.
            f"""
            import kontext_widget as kw
            session._state.recorder.emit(kw.AdError(message={HOSTILE!r}, err_code="<b>x</b>"))
            session.wait_idle(5)
            """,
        ],
    )
    notebook = open_notebook(notebook_spec.name, "lab")
    notebook.run_cell(log_cell)
    log_area = notebook.output_area(log_cell)
    empty = wait_for_event_log(
        log_area, lambda view: True, timeout=EXPECT_TIMEOUT_MS / 1000, what="its table"
    )
    assert empty.rows == [], f"a fresh session's log already has rows: {empty}"
    assert empty.summary == "0 fills · 0 no-fills · 0 errors · 0 views · 0 clicks · revenue 0"
    assert [row[0] for row in empty.metrics] == ["inlineAd"]
    log_run = notebook.page.evaluate(_EXECUTION_COUNTS_JS)[log_cell]

    notebook.run_cell(turn_cell)
    # The server side of the turn: the bid arrived while chat_turn ran.
    wait_for_event_log(
        log_area,
        lambda view: "ad.filled" in view.names,
        timeout=EXPECT_TIMEOUT_MS / 1000,
        what="ad.filled",
    )
    # The browser side: the ad under the reply rendered, and was seen for 1 s.
    iframe = notebook.output_area(turn_cell).locator(f'iframe[src^="{ad_server.url}/api/frame/"]')
    expect(iframe).to_be_visible(timeout=EXPECT_TIMEOUT_MS)
    iframe.scroll_into_view_if_needed()
    wait_for_event_log(
        log_area,
        lambda view: all(name in view.names for name in (*BROWSER_EVENTS, "ad.viewed")),
        timeout=VIEWED_TIMEOUT,
        what=f"{BROWSER_EVENTS} and ad.viewed",
    )
    # Settled: the table lists exactly what Python's on_event received, in order.
    view = wait_for_event_log(
        log_area,
        lambda view: view.names == [e["name"] for e in notebook_spec.log.events()],
        timeout=10.0,
        what="the events on_event received",
    )
    _check_turn_rows(view)
    assert view.summary.startswith("1 fill · 0 no-fills · 0 errors · 1 view · 0 clicks · ")
    # placement, requests, fills, fill rate, no-fills, errors, renders, views, view rate, ...
    assert view.metrics[0][:9] == ["inlineAd", "1", "1", "100%", "0", "0", "1", "1", "100%"]
    _check_log_layout(notebook.page, log_area)

    # All of that reached cell A's output while cell A was left alone.
    assert notebook.page.evaluate(_EXECUTION_COUNTS_JS)[log_cell] == log_run
    expect(log_area.locator(".kw-log")).to_have_count(1)
    expect(notebook.output_area(turn_cell).locator(".kw-log")).to_have_count(0)

    attempts: list[str] = []
    browser_context.context.route(
        lambda url: "attacker.example" in url,
        lambda route: (attempts.append(route.request.url), route.abort()),
    )
    notebook.run_cell(2)
    view = wait_for_event_log(
        log_area, lambda v: "ad.error" in v.names, timeout=10.0, what="the hostile ad.error"
    )
    assert view.rows[-1]["details"] == f"err_code=<b>x</b> message={HOSTILE}"
    expect(log_area.locator(".kw-log img, .kw-log b, .kw-log script")).to_have_count(0)
    notebook.page.wait_for_load_state("networkidle")
    assert attempts == []
    assert browser_context.page_errors() == []


def _check_log_layout(page: Any, log_area: Any) -> None:
    """Fixed height, newest row visible, readable in Light and Dark (screenshots kept)."""
    scroll = log_area.locator(".kw-log-scroll")
    box = wait_for_box(scroll)
    assert 150 <= box["height"] <= 260, box  # fixed: the log never grows down the page
    last = log_area.locator(".kw-log-events tbody tr").last
    expect(last).to_be_in_viewport()
    # Cells keep their whole value for hover: the title holds the text (the full bid id
    # and the date for the short ones).
    cells = log_area.locator(".kw-log-events tbody td").evaluate_all(
        "(tds) => tds.filter((td) => td.textContent).map((td) => [td.textContent, td.title])"
    )
    assert cells and all(text in title for text, title in cells), cells
    assert any(len(title) == 36 and title.startswith(text) for text, title in cells), cells
    ARTIFACTS.mkdir(exist_ok=True)
    for theme, light in (("JupyterLab Dark", "false"), ("JupyterLab Light", "true")):
        set_lab_theme(page, theme)
        page.wait_for_function(
            "([el, dark]) => (getComputedStyle(el).backgroundColor === 'rgb(255, 255, 255)')"
            " !== dark",
            arg=[scroll.element_handle(), light == "false"],
        )
        colours = log_area.locator(".kw-log-events td").last.evaluate(
            "(td) => [getComputedStyle(td).color,"
            " getComputedStyle(td.closest('.kw-log-scroll')).backgroundColor]"
        )
        assert contrast_ratio(*colours) >= 4.5, (theme, colours)
        log_area.screenshot(path=str(ARTIFACTS / f"event-log-{theme.split()[-1].lower()}.png"))


def _check_turn_rows(view: EventLogView) -> None:
    names = view.names
    for name in ("ad.filled", "ad.render-started", "ad.render-completed", "ad.viewed"):
        assert names.count(name) == 1, f"{name} is in the log {names.count(name)} times: {names}"
    assert names.index("ad.filled") < names.index("ad.render-started")
    assert names.index("ad.render-started") < names.index("ad.render-completed")
    for row in view.rows:
        # Every row arrived after the log was displayed, so each has its arrival time.
        assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3}", row["time"]), row
        # Every row of the turn names its placement, message and bid, fills included.
        assert (row["code"], row["message"]) == ("inlineAd", "a1"), row
        assert re.fullmatch(r"[0-9a-f-]{8}", row["bid"]), row
    height = view.rows[names.index("ad.height")]
    assert re.fullmatch(r"height=[1-9]\d*(\.\d+)?", height["details"]), height


def test_chat_demo_notebook_runs_with_ads(
    jupyter_server: JupyterServer,
    open_notebook: Any,
    browser_context: BrowserTab,
) -> None:
    # The demo runs on its own LocalAdServer, as it does for a user who just opens it:
    # the harness already leaves KONTEXT_AD_SERVER_URL (and the production
    # credentials) out of the kernel's environment, so nothing has to be injected,
    # and the test's shared LocalAdServer keeps its recorded requests to itself.
    name = "kit-chat-demo.ipynb"
    shutil.copyfile(DEMO_NOTEBOOK, jupyter_server.root_dir / name)
    cells = nbformat.read(DEMO_NOTEBOOK, as_version=4).cells
    code_cells = [i for i, cell in enumerate(cells) if cell.cell_type == "code"]
    turn_cells = [i for i in code_cells if "session.chat_turn(" in cells[i].source]
    assert len(turn_cells) >= 2, "the demo notebook has fewer chat turns than expected"

    notebook = open_notebook(name, "lab")
    setup_outputs = notebook.run_cell(code_cells[0])
    printed = "".join(o.get("text", "") for o in setup_outputs if o["output_type"] == "stream")
    assert "ads from: a local ad server (offline)" in printed, printed
    for index in code_cells[1:]:
        notebook.run_cell(index)

    ports = set()
    for index in turn_cells:
        iframes = notebook.output_area(index).locator('iframe[src*="/api/frame/"]')
        expect(iframes.first).to_be_attached(timeout=EXPECT_TIMEOUT_MS)
        iframe = iframes.first
        iframe.scroll_into_view_if_needed()
        expect(iframe).to_be_visible(timeout=EXPECT_TIMEOUT_MS)
        assert wait_for_box(iframe)["height"] > 0
        src = iframe.get_attribute("src") or ""
        match = LOCAL_FRAME_SRC.match(src)
        assert match, f"cell {index}'s ad frame is not on a 127.0.0.1 server: {src}"
        ports.add(match.group(1))
    assert len(ports) == 1, f"the turns' ads came from several servers: {ports}"
    # One ad per turn on the whole page: none rendered twice, none in another cell.
    expect(notebook.page.locator('iframe[src*="/api/frame/"]')).to_have_count(len(turn_cells))

    errors = error_outputs(notebook.page.evaluate(_NOTEBOOK_JSON_JS))
    assert errors == [], f"cells produced error outputs: {errors}"
    assert browser_context.page_errors() == []
