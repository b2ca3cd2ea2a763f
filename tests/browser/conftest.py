"""Fixtures for the real-browser tests (``pytest tests/browser -m browser``).

Shared per session, because starting them dominates the run time on 2 cores: one
``jupyter lab`` server (it also serves Notebook 7) and one ``LocalAdServer``
living in THIS process so tests can script it and read the requests it recorded.
Headless Chromium is started once per module (see ``browser``). Each test gets
its own browser context and notebook, or shares the module's (``module_context``).

On a failure the report gets the browser console and page errors of every page
the test used, and a screenshot of each is saved under ``test-artifacts/``.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .jupyter import JupyterServer, NotebookPage
from .notebooks import NotebookSpec, write_kernel_support
from .pages import CHROMIUM_ARGS, BrowserTab, PageLog, new_tab
from .processes import REPO_ROOT
from .timings import TIMINGS

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO_ROOT / "test-artifacts"


# -- failure reporting ----------------------------------------------------------------


_TABS_KEY = pytest.StashKey[list[BrowserTab]]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.failed and report.when in ("setup", "call"):
        for tab in item.stash.get(_TABS_KEY, []):
            for log in tab.logs:
                _save_failure_artifacts(item, report, log)
    return report


def _save_failure_artifacts(item: pytest.Item, report: Any, log: PageLog) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid)[-120:]
    shot = ARTIFACTS / f"{slug}-{log.label}.png"
    try:
        if log.page.is_closed():
            where = "page closed by the test (no screenshot)"
        else:
            log.page.screenshot(path=str(shot), full_page=True, timeout=10_000)
            where = f"screenshot: {shot}"
    except Exception as exc:  # a crashed page must not hide the real failure
        where = f"screenshot failed: {exc}"
    text = "\n".join([where, *log.lines[-200:]]) or "(no console output)"
    report.sections.append((f"browser {log.label} ({log.page.url})", text))


# -- timings (measured, not asserted) -------------------------------------------------


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TIMINGS:
        return
    terminalreporter.section("browser timings (measured, not asserted)")
    for name, values in TIMINGS.items():
        shown = ", ".join(f"{v * 1000:.0f} ms" for v in values)
        terminalreporter.write_line(f"{name}: {shown}")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "browser-timings.json").write_text(json.dumps(TIMINGS, indent=2))


# -- session-wide processes -----------------------------------------------------------


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium to run browser tests")
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium_path: Path) -> Iterator[Any]:
    """Chromium through Playwright's sync API, per module.

    Not per session: Playwright allows one sync instance at a time in a process,
    and other modules of the suite (tests/test_creative_browser.py) start their
    own; a module-scoped instance is closed before the next module starts.
    """
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(chromium_path), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def jupyter_server(
    tmp_path_factory: pytest.TempPathFactory, chromium_path: Path
) -> Iterator[JupyterServer]:
    server = JupyterServer.start(tmp_path_factory.mktemp("jupyter"))
    write_kernel_support(server.root_dir)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def local_ad_server() -> Iterator[Any]:
    from kontext_widget._local_server import LocalAdServer

    with LocalAdServer() as server:
        yield server


@pytest.fixture(scope="session")
def kernel_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where kernels write their JSON-lines logs (outside the notebook root)."""
    return tmp_path_factory.mktemp("kernel-logs")


# -- per test -------------------------------------------------------------------------


@pytest.fixture
def browser_context(browser: Any) -> Iterator[BrowserTab]:
    """A browser context of its own for one test."""
    tab = new_tab(browser)
    yield tab
    tab.context.close()


@pytest.fixture(scope="module")
def module_context(browser: Any) -> Iterator[BrowserTab]:
    """A browser context shared by the tests of one module (one notebook, several checks)."""
    tab = new_tab(browser)
    yield tab
    tab.context.close()


@pytest.fixture(autouse=True)
def _report_pages_on_failure(request: pytest.FixtureRequest) -> None:
    """Let the report hook find the pages of whichever browser context the test uses."""
    names = [n for n in ("browser_context", "module_context") if n in request.fixturenames]
    request.node.stash[_TABS_KEY] = [request.getfixturevalue(n) for n in names]


@pytest.fixture
def open_notebook(
    browser_context: BrowserTab, jupyter_server: JupyterServer
) -> Iterator[Callable[[str, str], NotebookPage]]:
    """Open a notebook (already written into the server root) in "lab" or "notebook7"."""
    opened: list[NotebookPage] = []

    def _open(name: str, ui: str = "lab") -> NotebookPage:
        page = browser_context.new_page(ui)
        notebook = NotebookPage.open(page, jupyter_server, name, ui)
        opened.append(notebook)
        return notebook

    yield _open
    for notebook in opened:
        with contextlib.suppress(Exception):
            notebook.close()


@pytest.fixture
def notebook_spec(
    request: pytest.FixtureRequest, jupyter_server: JupyterServer, kernel_logs: Path
) -> NotebookSpec:
    """A unique notebook name and kernel log path for the current test."""
    return NotebookSpec.new(request.node.name, jupyter_server.root_dir, kernel_logs)


@pytest.fixture
def ad_server(local_ad_server: Any) -> Any:
    """The shared LocalAdServer, back on its default script (fill every code)."""
    local_ad_server.reset()
    return local_ad_server
