"""``kw.playground()`` in JupyterLab 4, driven by clicks only.

The notebook's one cell displays a playground on its own LocalAdServer (inside
the kernel, as for a user offline). Everything after that is done in the page:
press "Run turn" and the ad appears under the sample reply with its events
listed; pick another format and the next ad is of that format; choose the
no-fill answer with a skip code and the no-fill state appears, no ad, the event
listed. Screenshots of Light and Dark go to ``test-artifacts/``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from .ad_checks import EXPECT_TIMEOUT_MS
from .conftest import ARTIFACTS
from .kit_checks import set_lab_theme, wait_for_event_log
from .notebooks import NotebookSpec, write_notebook
from .pages import BrowserTab

pytestmark = pytest.mark.browser

FRAME = 'iframe[src*="/api/frame/"]'


def test_playground_is_driven_by_clicks(
    notebook_spec: NotebookSpec, open_notebook: Any, browser_context: BrowserTab
) -> None:
    write_notebook(
        notebook_spec.path,
        ["import kontext_widget as kw\nplay = kw.playground()\nplay"],
    )
    notebook = open_notebook(notebook_spec.name, "lab")
    notebook.run_cell(0)
    page = notebook.page
    play = notebook.output_area(0).locator(".kw-playground")
    expect(play).to_be_visible(timeout=EXPECT_TIMEOUT_MS)
    status = play.locator(".kw-playground-status")
    stage = play.locator(".kw-playground-stage")
    expect(stage.locator(FRAME)).to_have_count(0)

    # 1. Press the button: a fill, the ad under the sample reply, its events listed.
    play.locator(".kw-playground-run").click()
    expect(status).to_contain_text("Filled: bid", timeout=EXPECT_TIMEOUT_MS)
    frame = stage.locator(FRAME)
    expect(frame).to_be_visible(timeout=EXPECT_TIMEOUT_MS)
    reply_box = play.locator(".kw-playground-chat .kw-chat-assistant").bounding_box()
    ad_box = frame.bounding_box()
    assert reply_box and ad_box and ad_box["y"] >= reply_box["y"] + reply_box["height"] - 1
    assert notebook.frame_of(frame).evaluate("() => document.documentElement.dataset.format") == (
        "inline"
    )
    log_area = play.locator(".kw-log").locator("..")
    wait_for_event_log(
        log_area,
        lambda view: {"ad.filled", "ad.render-completed"} <= set(view.names),
        timeout=EXPECT_TIMEOUT_MS / 1000,
        what="the fill and its render",
    )
    ARTIFACTS.mkdir(exist_ok=True)
    play.screenshot(path=str(ARTIFACTS / "playground-light.png"))

    # 2. Another format, by the dropdown: the next ad is a video ad.
    play.locator(".kw-playground-format select").select_option("video")
    play.locator(".kw-playground-run").click()
    frame = stage.locator(FRAME)
    expect(frame).to_have_count(1, timeout=EXPECT_TIMEOUT_MS)
    expect(frame).to_be_visible(timeout=EXPECT_TIMEOUT_MS)
    _wait_for_format(notebook, frame, "video")
    view = wait_for_event_log(
        log_area,
        lambda v: v.names.count("ad.filled") == 2,
        timeout=EXPECT_TIMEOUT_MS / 1000,
        what="the second fill",
    )
    assert view.metrics[0][:3] == ["inlineAd", "2", "2"], view.metrics

    # 3. The no-fill answer with a skip code: the no-fill state, no ad, the event listed.
    play.locator(".kw-playground-answer button", has_text="no-fill").click()
    skip = play.locator(".kw-playground-skip-code input")
    expect(skip).to_be_visible()
    skip.fill("ads_disabled")
    skip.press("Enter")
    play.locator(".kw-playground-run").click()
    expect(status).to_have_text("No fill (skip code: ads_disabled)", timeout=EXPECT_TIMEOUT_MS)
    expect(stage.locator(FRAME)).to_have_count(0)
    expect(stage.locator(".kw-playground-no-ad")).to_have_text(
        "No ad for this turn: No fill (skip code: ads_disabled)"
    )
    view = wait_for_event_log(
        log_area,
        lambda v: "ad.no-fill" in v.names,
        timeout=EXPECT_TIMEOUT_MS / 1000,
        what="ad.no-fill",
    )
    no_fill = view.rows[view.names.index("ad.no-fill")]
    assert no_fill["details"] == "skip_code=ads_disabled", no_fill
    assert re.search(r"1 no-fill\b", view.summary), view.summary

    set_lab_theme(page, "JupyterLab Dark")
    page.wait_for_function(
        "(el) => getComputedStyle(el).backgroundColor !== 'rgb(255, 255, 255)'",
        arg=play.locator(".kw-log-scroll").element_handle(),
    )
    play.screenshot(path=str(ARTIFACTS / "playground-dark.png"))
    set_lab_theme(page, "JupyterLab Light")
    assert browser_context.page_errors() == []


def _wait_for_format(notebook: Any, frame: Any, expected: str) -> None:
    """The creative in ``frame`` is of ``expected`` format (it reloads with the new bid)."""
    page = notebook.page
    deadline_ms = EXPECT_TIMEOUT_MS
    waited = 0
    found = None
    while waited < deadline_ms:
        try:
            found = notebook.frame_of(frame).evaluate(
                "() => document.documentElement.dataset.format"
            )
        except Exception:  # the frame is navigating to the new bid
            found = None
        if found == expected:
            return
        page.wait_for_timeout(100)
        waited += 100
    raise AssertionError(f"the ad's format is {found!r}, expected {expected!r}")
