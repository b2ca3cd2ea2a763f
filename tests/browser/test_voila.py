"""The ad widget in Voilà, and ``notebooks/chat_demo.ipynb`` rendered as a Voilà app.

Voilà runs the whole notebook in a kernel when the page is requested, streams the
outputs as HTML and then connects the page's widget manager to that kernel, so
widgets are live but no cell can be run afterwards. The core notebook therefore
ends with an ``ipywidgets.Button`` whose click destroys the ad; its session's
``on_event`` writes every event to the JSON-lines log the test reads. The chat
demo runs as shipped, on its own LocalAdServer: what reached Python is read from
the notebook's own event log table on the page.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
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
from .hosts import VoilaServer, start_voila
from .kit_checks import EventLogView, wait_for_event_log
from .notebooks import (
    REPLY_TEXT,
    USER_TEXT,
    NotebookSpec,
    session_cell,
    write_kernel_support,
    write_notebook,
)
from .pages import BrowserTab
from .processes import REPO_ROOT

pytest.importorskip("voila")
pytestmark = pytest.mark.browser

DEMO_NOTEBOOK = REPO_ROOT / "notebooks" / "chat_demo.ipynb"
PAGE_TIMEOUT_MS = 90_000  # Voilà answers once the whole notebook has run


@pytest.fixture(scope="module")
def voila_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("voila-root")
    write_kernel_support(root)
    return root


@pytest.fixture(scope="module")
def voila_server(
    tmp_path_factory: pytest.TempPathFactory, voila_root: Path, chromium_path: Path
) -> Iterator[VoilaServer]:
    server = start_voila(voila_root, tmp_path_factory.mktemp("voila"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def voila_page(
    voila_root: Path,
    voila_server: VoilaServer,
    module_context: BrowserTab,
    local_ad_server: Any,
    kernel_logs: Path,
) -> Iterator[HostPage]:
    local_ad_server.reset()
    spec = NotebookSpec.new("voila-core", voila_root, kernel_logs)
    write_notebook(
        spec.path,
        [
            session_cell(spec, local_ad_server.url, "conv-voila"),
            f"""
            from IPython.display import Markdown, display

            session.add_message(kw.Message(id="u1", role="user", content={USER_TEXT!r}))
            assert session.wait_idle(15), "the preload did not finish"
            display(Markdown("**Assistant**: " + {REPLY_TEXT!r}))
            mark("assistant-added", message_id="a1")
            session.add_message(kw.Message(id="a1", role="assistant", content={REPLY_TEXT!r}))
            ad = session.render("a1")
            mark("rendered", bid_id=ad.bid_id, iframe_url=ad.iframe_url)
            """,
            """
            import ipywidgets

            def destroy(_button):
                ad.destroy()
                mark("destroyed", destroyed=ad.destroyed)

            destroy_button = ipywidgets.Button(description="Destroy the ad")
            destroy_button.on_click(destroy)
            destroy_button
            """,
        ],
    )
    page = module_context.new_page("voila-core")
    page.goto(voila_server.render_url(spec.name), timeout=PAGE_TIMEOUT_MS)
    yield HostPage(
        "voila",
        page,
        spec.log,
        local_ad_server,
        output=".jp-OutputArea",
        reply=REPLY_TEXT,
        timeout_ms=PAGE_TIMEOUT_MS,
    )
    page.close()


def test_ad_mounts_under_the_reply_at_the_creative_height(voila_page: HostPage) -> None:
    ad = voila_page.ad
    check_visible_at_creative_height(ad, voila_page.log)


def test_render_events_reach_python(voila_page: HostPage) -> None:
    ad = voila_page.ad
    check_render_events_reached_python(NotebookSpec("core", Path(), voila_page.log), ad.bid_id)


def test_click_reaches_python_and_opens_a_tab_without_opener(voila_page: HostPage) -> None:
    page = voila_page
    check_click_opens_tab_without_opener(page.ad, page.ad_server, page.log, host=page.host)


def test_destroy_removes_the_ad(voila_page: HostPage) -> None:
    check_destroy_button_removes_the_ad(voila_page)
    prefix = f'iframe[src^="{voila_page.ad_server.url}/api/frame/"]'
    expect(voila_page.page.locator(prefix)).to_have_count(0)


# -- notebooks/chat_demo.ipynb ---------------------------------------------------------

LOCAL_FRAME_SRC = re.compile(r"^http://127\.0\.0\.1:(\d+)/api/frame/[^/?]+\?code=inlineAd&")
BROWSER_EVENTS = ("ad.render-started", "ad.height", "ad.render-completed")


def test_chat_demo_renders_with_an_ad_under_each_reply(
    voila_root: Path, voila_server: VoilaServer, browser_context: BrowserTab
) -> None:
    name = "voila-chat-demo.ipynb"
    shutil.copyfile(DEMO_NOTEBOOK, voila_root / name)
    page = browser_context.new_page("voila-demo")
    page.goto(voila_server.render_url(name), timeout=PAGE_TIMEOUT_MS)

    turns = page.locator(".jp-OutputArea").filter(has=page.locator('iframe[src*="/api/frame/"]'))
    expect(turns).to_have_count(3, timeout=PAGE_TIMEOUT_MS)
    ports = set()
    for index in range(3):
        output = turns.nth(index)
        iframe = output.locator('iframe[src*="/api/frame/"]')
        expect(iframe).to_have_count(1, timeout=EXPECT_TIMEOUT_MS)
        match = LOCAL_FRAME_SRC.match(iframe.get_attribute("src") or "")
        assert match, iframe.get_attribute("src")
        ports.add(match.group(1))
        iframe.scroll_into_view_if_needed()
        expect(iframe).to_be_visible(timeout=EXPECT_TIMEOUT_MS)
        reply_box = output.get_by_text("Assistant", exact=True).bounding_box()
        box = iframe.bounding_box()
        assert reply_box is not None and box is not None
        assert box["y"] > reply_box["y"], "the ad is not under its reply"
    assert len(ports) == 1, f"the turns' ads came from several servers: {ports}"
    expect(page.locator('iframe[src*="/api/frame/"]')).to_have_count(3)

    # What reached Python, as the notebook's own event log shows it on the page.
    log_area = page.locator(".jp-OutputArea").filter(has=page.locator("table")).first
    first = turns.nth(0).locator('iframe[src*="/api/frame/"]')
    first.scroll_into_view_if_needed()

    def settled(view: EventLogView) -> bool:
        return (
            view.names.count("ad.filled") == 3
            and "ad.viewed" in view.names
            and all(view.names.count(name) == 3 for name in BROWSER_EVENTS)
        )

    view = wait_for_event_log(
        log_area, settled, timeout=VIEWED_TIMEOUT, what="3 fills, their renders and a view"
    )
    # The three ads render at once (the page connects after the whole notebook ran).
    heights = {row["message"]: row for row in view.rows if row["event"] == "ad.height"}
    assert sorted(heights) == ["a1", "a2", "a3"]
    first_height = float(heights["a1"]["details"].removeprefix("height="))
    expect(first).to_have_css("height", f"{first_height:g}px")

    tab = open_cta_tab(frame_of(first))
    assert tab.evaluate("window.opener") is None
    tab.close()
    clicked = wait_for_event_log(
        log_area, lambda v: "ad.clicked" in v.names, timeout=10, what="ad.clicked"
    )
    row = clicked.rows[clicked.names.index("ad.clicked")]
    assert row["message"] == "a1"
    assert "/api/click/" in row["details"]
