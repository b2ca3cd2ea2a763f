"""Fixtures for the real-browser tests (``pytest tests/browser -m browser``).

Shared per session, because starting them dominates the run time on 2 cores: one
``jupyter lab`` server (it also serves Notebook 7), one headless Chromium, and one
``LocalAdServer`` living in THIS process so tests can script it and read the
requests it recorded. Each test gets its own browser context and notebook.

On a failure the report gets the browser console and page errors of every page
the test used, and a screenshot of each is saved under ``test-artifacts/``.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .jupyter import REPO_ROOT, JupyterServer, NotebookPage
from .notebooks import KernelLog

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-dev-shm-usage",
]
# The screen differs from the viewport on purpose: the browser facts test can
# then tell `screen.width` (what must reach /preload) from `innerWidth`.
VIEWPORT = {"width": 1280, "height": 900}
SCREEN = {"width": 1600, "height": 1000}


# -- failure reporting ----------------------------------------------------------------


@dataclass
class PageLog:
    """Console messages and uncaught errors of one page, kept for failure reports."""

    label: str
    page: Any
    lines: list[str] = field(default_factory=list)

    def attach(self) -> None:
        self.page.on("console", lambda m: self.lines.append(f"console.{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.lines.append(f"pageerror: {e}"))
        self.page.on(
            "requestfailed",
            lambda r: self.lines.append(f"requestfailed: {r.method} {r.url} {r.failure}"),
        )


_PAGES_KEY = pytest.StashKey[list[PageLog]]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.failed and report.when in ("setup", "call"):
        for log in item.stash.get(_PAGES_KEY, []):
            _save_failure_artifacts(item, report, log)
    return report


def _save_failure_artifacts(item: pytest.Item, report: Any, log: PageLog) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid)[-120:]
    shot = ARTIFACTS / f"{slug}-{log.label}.png"
    try:
        log.page.screenshot(path=str(shot), full_page=True, timeout=10_000)
        where = f"screenshot: {shot}"
    except Exception as exc:  # a crashed page must not hide the real failure
        where = f"screenshot failed: {exc}"
    text = "\n".join([where, *log.lines[-200:]]) or "(no console output)"
    report.sections.append((f"browser {log.label} ({log.page.url})", text))


# -- timings (measured, not asserted) -------------------------------------------------

_TIMINGS: dict[str, list[float]] = {}


def record_timing(name: str, seconds: float) -> None:
    _TIMINGS.setdefault(name, []).append(seconds)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _TIMINGS:
        return
    terminalreporter.section("browser timings (measured, not asserted)")
    for name, values in _TIMINGS.items():
        shown = ", ".join(f"{v * 1000:.0f} ms" for v in values)
        terminalreporter.write_line(f"{name}: {shown}")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "browser-timings.json").write_text(json.dumps(_TIMINGS, indent=2))


# -- session-wide processes -----------------------------------------------------------


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium to run browser tests")
    return CHROMIUM


@pytest.fixture(scope="session")
def browser(chromium_path: Path) -> Iterator[Any]:
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


@dataclass
class BrowserTab:
    """A fresh browser context for one test, with its pages logged for failure reports."""

    context: Any
    logs: list[PageLog]

    def new_page(self, label: str = "page") -> Any:
        page = self.context.new_page()
        self.track(page, label)
        return page

    def track(self, page: Any, label: str) -> None:
        log = PageLog(label, page)
        log.attach()
        self.logs.append(log)


@pytest.fixture
def browser_context(browser: Any, request: pytest.FixtureRequest) -> Iterator[BrowserTab]:
    context = browser.new_context(viewport=VIEWPORT, screen=SCREEN, device_scale_factor=1)
    context.set_default_timeout(15_000)
    tab = BrowserTab(context, [])
    # Pages the test opens later (ad clicks) are logged too.
    context.on("page", lambda page: tab.track(page, f"popup{len(tab.logs)}"))
    request.node.stash[_PAGES_KEY] = tab.logs
    yield tab
    context.close()


@dataclass
class NotebookSpec:
    """What a test needs to build, open and inspect one notebook."""

    name: str
    path: Path
    log: KernelLog


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
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name).strip("-")
    log_path = kernel_logs / f"{name}-{time.monotonic_ns()}.jsonl"
    return NotebookSpec(
        f"{name}.ipynb", jupyter_server.root_dir / f"{name}.ipynb", KernelLog(log_path)
    )


@pytest.fixture
def ad_server(local_ad_server: Any) -> Any:
    """The shared LocalAdServer, back on its default script (fill every code)."""
    local_ad_server.reset()
    return local_ad_server
