"""``chat_turn`` output in JupyterLab 4: hostile text stays text, bubbles read in both themes.

A prompt-injected model reply (or a pasted user message) tries every way
Markdown, HTML and MathJax have to load a remote resource or make a link. Every
request to the attacker's host is intercepted at the browser context, so even
one that would leave unnoticed (an image, a stylesheet) fails the test. Then
the page is switched to JupyterLab Dark and the bubbles must still be readable.
Screenshots of both themes go to ``test-artifacts/`` for a human to look at.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hostile_text import ATTACKER, PAYLOADS
from playwright.sync_api import expect

from .ad_checks import EXPECT_TIMEOUT_MS
from .conftest import ARTIFACTS
from .kit_checks import contrast_ratio, set_lab_theme
from .notebooks import KERNEL_SUPPORT, NotebookSpec, write_notebook
from .pages import BrowserTab

pytestmark = pytest.mark.browser

# What a bubble holds, and the colours a reader sees, per role.
_READ_BUBBLES_JS = """
(area) => [...area.querySelectorAll('.kw-chat')].map((row) => {
  const bubble = row.querySelector('.kw-chat-bubble');
  const style = getComputedStyle(bubble);
  return {
    role: row.classList.contains('kw-chat-user') ? 'user' : 'assistant',
    tags: [...row.querySelectorAll('*')].map((el) => el.tagName.toLowerCase()),
    text: row.querySelector('.kw-chat-text').textContent,
    color: style.color,
    background: style.backgroundColor,
    left: bubble.getBoundingClientRect().left,
  };
})
"""


def _check_bubbles(bubbles: list[dict[str, Any]], theme: str) -> None:
    assert bubbles, "no chat bubble rendered"
    for bubble in bubbles:
        assert bubble["tags"] == ["div", "div", "div"], bubble  # bubble, label, text only
        ratio = contrast_ratio(bubble["color"], bubble["background"])
        assert ratio >= 4.5, f"{theme}: {bubble['role']} bubble contrast {ratio:.1f}: {bubble}"
    users = [b for b in bubbles if b["role"] == "user"]
    assistants = [b for b in bubbles if b["role"] == "assistant"]
    assert users and assistants
    # Visually distinct: another colour, and the user's bubble on the right.
    assert users[0]["background"] != assistants[0]["background"]
    assert users[0]["left"] > assistants[0]["left"]


def assert_intercepted(page: Any, attempts: list[str], url: str, timeout_ms: int) -> None:
    """Wait (bounded) until the route handler saw ``url``: the interception works."""
    waited = 0
    while url not in attempts and waited < timeout_ms:
        page.wait_for_timeout(50)  # lets Playwright dispatch the route callback
        waited += 50
    assert attempts == [url], attempts


def test_hostile_conversation_text_loads_nothing_and_reads_in_both_themes(
    notebook_spec: NotebookSpec,
    open_notebook: Any,
    ad_server: Any,
    browser_context: BrowserTab,
) -> None:
    attempts: list[str] = []

    def refuse(route: Any) -> None:
        attempts.append(route.request.url)
        route.abort()

    browser_context.context.route(lambda url: ATTACKER in url, refuse)
    write_notebook(
        notebook_spec.path,
        [
            f"""
            from {KERNEL_SUPPORT} import start_session
            session = start_session(
                {str(notebook_spec.log.path)!r}, {ad_server.url!r}, "conv-hostile", ["inlineAd"]
            )
            payloads = {json.dumps(PAYLOADS)}
            """,
            """
            for text in payloads:
                session.chat_turn(text, text, wait=None)
            """,
            # A cell of its own: JupyterLab shows at most 50 outputs of a cell.
            """
            for text in payloads:
                chunks = (text[i : i + 4] for i in range(0, len(text), 4))
                session.chat_turn("and streamed?", chunks, wait=None)
            """,
            # Positive control, run last: an image the page really loads is intercepted.
            f"""
            from IPython.display import HTML
            HTML('<img src="https://{ATTACKER}/control.png">')
            """,
        ],
    )
    notebook = open_notebook(notebook_spec.name, "lab")
    notebook.run_cell(0)
    notebook.run_cell(1)
    notebook.run_cell(2)
    area = notebook.page.locator(".jp-Notebook")
    expect(area.locator(".kw-chat")).to_have_count(4 * len(PAYLOADS), timeout=EXPECT_TIMEOUT_MS)
    # Give anything that would load (images, styles, MathJax links) its chance: the ad
    # frames of the turns are loaded by now, so the page has done its work.
    expect(area.locator('iframe[src*="/api/frame/"]').first).to_be_visible(
        timeout=EXPECT_TIMEOUT_MS
    )
    notebook.page.wait_for_load_state("networkidle")

    page = notebook.page
    light = area.evaluate(_READ_BUBBLES_JS)
    texts = [bubble["text"] for bubble in light]
    for payload in PAYLOADS:
        assert payload in texts, f"{payload!r} is not shown literally"
    _check_bubbles(light, "light")
    in_chat = area.locator(".kw-chat").locator("img, a, script, style, iframe, svg, mjx-container")
    expect(in_chat).to_have_count(0)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chat-light.png"))

    set_lab_theme(page, "JupyterLab Dark")
    # The theme's stylesheet applies asynchronously: wait until the bubble has changed.
    page.wait_for_function(
        "(before) => getComputedStyle(document.querySelector('.kw-chat-assistant "
        ".kw-chat-bubble')).backgroundColor !== before",
        arg=light[1]["background"] if light[1]["role"] == "assistant" else light[0]["background"],
    )
    dark = area.evaluate(_READ_BUBBLES_JS)
    _check_bubbles(dark, "dark")
    page.screenshot(path=str(ARTIFACTS / "chat-dark.png"))
    set_lab_theme(page, "JupyterLab Light")

    assert attempts == [], f"requests left for the attacker's host: {attempts}"
    notebook.run_cell(3)
    expect(notebook.output_area(3).locator("img")).to_have_count(1)
    assert_intercepted(page, attempts, f"https://{ATTACKER}/control.png", EXPECT_TIMEOUT_MS)
    assert browser_context.page_errors() == []
