"""The ad widget in marimo, ``marimo run`` and ``marimo edit``, and the marimo chat demo.

marimo renders anywidgets itself (in a shadow root, through its own comm), runs
the app's cells when the page opens, and runs them again in a kernel of its own
per browser session: ``run`` in a thread of the server process, ``edit`` in a
kernel subprocess. The core app shows a reply and its ad in one cell output (a
bare ``Ad`` inside ``mo.vstack``, how the chat demo shows it) and has a button
whose ``on_click`` destroys the ad; its session's ``on_event`` writes every event
to the JSON-lines log the test reads (``notebooks.py``).

The chat demo (``notebooks/chat_demo_marimo.py``) runs as shipped, on its own
LocalAdServer: the test types into ``mo.ui.chat`` and checks each reply's ad and
the event log table beside the chat.
"""

from __future__ import annotations

import re
import shutil
import textwrap
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from .ad_checks import EXPECT_TIMEOUT_MS, VIEWED_TIMEOUT, check_render_events_reached_python
from .host_checks import (
    HostPage,
    check_click_opens_tab_without_opener,
    check_destroy_button_removes_the_ad,
    check_visible_at_creative_height,
    frame_of,
    open_cta_tab,
)
from .hosts import HostServer, start_marimo
from .kit_checks import wait_for_event_log
from .notebooks import (
    KERNEL_SUPPORT,
    REPLY_TEXT,
    USER_TEXT,
    KernelLog,
    NotebookSpec,
    write_kernel_support,
)
from .pages import BrowserTab
from .processes import REPO_ROOT

pytest.importorskip("marimo")
pytestmark = pytest.mark.browser

DEMO_APP = REPO_ROOT / "notebooks" / "chat_demo_marimo.py"


def core_app(log_path: Path, ad_server_url: str) -> str:
    return textwrap.dedent(
        f"""
        import marimo

        app = marimo.App()


        @app.cell
        def _():
            import marimo as mo
            from {KERNEL_SUPPORT} import kw, mark, start_session

            session = start_session(
                {str(log_path)!r}, {ad_server_url!r}, "conv-marimo", ["inlineAd"]
            )
            session.add_message(kw.Message(id="u1", role="user", content={USER_TEXT!r}))
            assert session.wait_idle(15), "the preload did not finish"
            mark("assistant-added", message_id="a1")
            session.add_message(kw.Message(id="a1", role="assistant", content={REPLY_TEXT!r}))
            ad = session.create_ad("a1")
            mark("rendered", bid_id=ad.bid_id, iframe_url=ad.iframe_url)
            mo.vstack([mo.md("**Assistant**: " + {REPLY_TEXT!r}), ad])
            return ad, kw, mark, mo, session


        @app.cell
        def _(ad, mark, mo):
            def destroy(_value):
                ad.destroy()
                mark("destroyed", destroyed=ad.destroyed)

            destroy_button = mo.ui.button(label="Destroy the ad", on_click=destroy)
            destroy_button
            return


        @app.cell
        def _(kw, session):
            # IPython's display, which marimo routes into this cell's output.
            session.add_message(kw.Message(id="u2", role="user", content="And socks?"))
            assert session.wait_idle(15), "the preload did not finish"
            session.add_message(kw.Message(id="a2", role="assistant", content="Merino socks."))
            session.render("a2")
            return


        @app.cell
        def _(kw, mo, session):
            session.add_message(kw.Message(id="u3", role="user", content="And a jacket?"))
            assert session.wait_idle(15), "the preload did not finish"
            session.add_message(kw.Message(id="a3", role="assistant", content="A shell jacket."))
            mo.ui.anywidget(session.create_ad("a3"))
            return


        if __name__ == "__main__":
            app.run()
        """
    ).lstrip()


@dataclass
class MarimoServers:
    """``marimo run`` on a folder (the core app and the chat demo) and ``marimo edit``."""

    run: HostServer
    edit: HostServer
    logs: dict[str, KernelLog]

    def core_url(self, mode: str) -> str:
        return f"{self.run.url}?file=core_run.py" if mode == "run" else self.edit.url

    def demo_url(self) -> str:
        return f"{self.run.url}?file={DEMO_APP.name}"


@pytest.fixture(scope="module")
def marimo_servers(
    tmp_path_factory: pytest.TempPathFactory,
    local_ad_server: Any,
    kernel_logs: Path,
    chromium_path: Path,
) -> Iterator[MarimoServers]:
    """Both servers, started at once: starting marimo dominates these tests' time."""
    base = tmp_path_factory.mktemp("marimo")
    apps = base / "apps"
    apps.mkdir()
    write_kernel_support(apps)
    shutil.copyfile(DEMO_APP, apps / DEMO_APP.name)  # as shipped, on its own LocalAdServer
    logs = {}
    for mode in ("run", "edit"):
        log = KernelLog(kernel_logs / f"marimo-{mode}-{time.monotonic_ns()}.jsonl")
        (apps / f"core_{mode}.py").write_text(
            core_app(log.path, local_ad_server.url), encoding="utf-8"
        )
        logs[mode] = log
    with ThreadPoolExecutor(max_workers=2) as pool:
        starting = [
            pool.submit(start_marimo, apps, "run", base / "run"),
            pool.submit(start_marimo, apps / "core_edit.py", "edit", base / "edit"),
        ]
    started = [future.result() for future in starting if future.exception() is None]
    try:
        for future in starting:
            future.result()  # re-raises a failure to start, once both attempts are over
        run, edit = started
        yield MarimoServers(run, edit, logs)
    finally:
        for server in started:
            server.stop()


@pytest.fixture(scope="module", params=["run", "edit"])
def marimo_page(
    request: pytest.FixtureRequest,
    marimo_servers: MarimoServers,
    module_context: BrowserTab,
    local_ad_server: Any,
) -> Iterator[HostPage]:
    mode = request.param
    local_ad_server.reset()  # the kernel runs the app when the page opens
    page = module_context.new_page(f"marimo-{mode}")
    page.goto(marimo_servers.core_url(mode), wait_until="domcontentloaded")
    # The output, not the editor (`edit` shows the cell's code, which has the text too).
    yield HostPage(
        f"marimo {mode}",
        page,
        marimo_servers.logs[mode],
        local_ad_server,
        output=".output-area",
        reply=REPLY_TEXT,
        timeout_ms=60_000,
    )
    page.close()


def test_ad_mounts_under_the_reply_at_the_creative_height(marimo_page: HostPage) -> None:
    ad = marimo_page.ad
    # In a marimo output the widget lives in a shadow root: the slot is not in the document.
    in_shadow = ad.iframe.evaluate("f => f.getRootNode() instanceof ShadowRoot")
    assert in_shadow, "marimo no longer renders anywidgets in a shadow root"
    check_visible_at_creative_height(ad, marimo_page.log)


def test_render_events_reach_python(marimo_page: HostPage) -> None:
    ad = marimo_page.ad
    spec = NotebookSpec("core", Path(), marimo_page.log)
    check_render_events_reached_python(spec, ad.bid_id)


def test_click_reaches_python_and_opens_a_tab_without_opener(marimo_page: HostPage) -> None:
    page = marimo_page
    check_click_opens_tab_without_opener(page.ad, page.ad_server, page.log, host=page.host)


def test_destroy_removes_the_ad(marimo_page: HostPage) -> None:
    ad = check_destroy_button_removes_the_ad(marimo_page)
    expect(marimo_page.page.locator(f'iframe[src*="/{ad.bid_id}?"]')).to_have_count(0)
    # The other ads of the session stay.
    expect(marimo_page.page.locator('iframe[src*="messageId=a2&"]')).to_have_count(1)


def test_render_and_mo_ui_anywidget_show_the_ad_in_their_own_output(
    marimo_page: HostPage,
) -> None:
    page = marimo_page.page
    for message_id in ("a2", "a3"):
        iframe = page.locator(f'iframe[src*="messageId={message_id}&"]')
        expect(iframe).to_have_count(1, timeout=EXPECT_TIMEOUT_MS)
        expect(iframe).to_be_visible(timeout=EXPECT_TIMEOUT_MS)
        output = page.locator(".output-area").filter(has=iframe)
        expect(output).to_have_count(1)
        expect(output.locator("iframe")).to_have_count(1)  # not the a1 ad's output


def test_no_uncaught_errors_in_the_marimo_page(
    module_context: BrowserTab, marimo_page: HostPage
) -> None:
    assert module_context.page_errors() == []


# -- the chat demo ---------------------------------------------------------------------

LOCAL_FRAME_SRC = re.compile(
    r"^http://127\.0\.0\.1:(\d+)/api/frame/[^/?]+\?code=inlineAd&messageId=(a\d)&"
)


def test_chat_demo_puts_an_ad_under_each_reply(
    marimo_servers: MarimoServers, browser_context: BrowserTab
) -> None:
    page = browser_context.new_page("marimo-demo")
    page.goto(marimo_servers.demo_url(), wait_until="domcontentloaded")
    prompt = page.locator("[contenteditable=true]").first
    expect(prompt).to_be_visible(timeout=60_000)
    questions = ["Which running shoes for my first marathon?", "A long weekend in Lisbon?"]
    ports = set()
    for turn, question in enumerate(questions, start=1):
        prompt.click()
        page.keyboard.type(question)
        page.keyboard.press("Enter")
        iframes = page.locator('iframe[src*="/api/frame/"]')
        expect(iframes).to_have_count(turn, timeout=EXPECT_TIMEOUT_MS)
        iframe = iframes.nth(turn - 1)
        match = LOCAL_FRAME_SRC.match(iframe.get_attribute("src") or "")
        assert match, iframe.get_attribute("src")
        assert match.group(2) == f"a{turn}"
        ports.add(match.group(1))
        # Inside the assistant's message, under the reply's text.
        expect(iframe).to_be_visible(timeout=EXPECT_TIMEOUT_MS)
        frame = frame_of(iframe)
        expect(frame.locator("#ad .because")).to_contain_text(question)
        # The next turn's question is about something else: the ad followed it.
    assert len(ports) == 1, f"the ads came from several servers: {ports}"
    first = page.locator('iframe[src*="/api/frame/"]').first
    first.scroll_into_view_if_needed()
    view = wait_for_event_log(
        page,
        lambda v: v.names.count("ad.filled") == 2 and "ad.viewed" in v.names,
        timeout=VIEWED_TIMEOUT,
        what="two fills and a view",
    )
    for name in ("ad.render-started", "ad.height", "ad.render-completed"):
        assert view.names.count(name) == 2, view.names
    assert view.summary.startswith("2 fills · 0 no-fills · 0 errors · ")
    # A click in the first ad: a tab without opener, and a row in the log beside the chat.
    tab = open_cta_tab(frame_of(first))
    assert tab.evaluate("window.opener") is None
    tab.close()
    wait_for_event_log(page, lambda v: "ad.clicked" in v.names, timeout=10, what="ad.clicked")
    assert browser_context.page_errors() == []
