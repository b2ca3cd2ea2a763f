"""Hostile conversation text through a real kernel and nbconvert's HTML renderer.

A model's reply can be prompt-injected, so ``chat_turn`` output is attacked the
way an exfiltration would be tried: Markdown images, links, autolinks,
reference links, raw HTML, MathJax ``\\href`` and bare URLs, as the user's
text, as a whole reply and as a stream. The notebook is executed by nbclient in
a real kernel, exported by nbconvert's HTMLExporter (which interprets
``text/markdown`` outputs), and the page is parsed: no element may carry an
attribute derived from the text, and the chat bubbles hold nothing but text.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser

import nbformat
import pytest
from hostile_text import ATTACKER, PAYLOADS
from nbclient import NotebookClient
from nbconvert import HTMLExporter

import kontext_widget as kw


class _Page(HTMLParser):
    """Collects every attribute value, and every tag opened inside a chat bubble."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.attribute_values: list[str] = []
        self.tags_in_chat: list[str] = []
        self.chat_text: list[str] = []
        self.chat_bubbles = 0
        self._depth = 0  # open elements inside the current .kw-chat, 0 when outside

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attribute_values.extend(value or "" for _name, value in attrs)
        classes = (dict(attrs).get("class") or "").split()
        if self._depth:
            self.tags_in_chat.append(tag)
            self._depth += 1
        elif "kw-chat" in classes:
            self.chat_bubbles += 1
            self._depth = 1

    def handle_endtag(self, tag: str) -> None:
        if self._depth:
            self._depth -= 1

    def handle_data(self, data: str) -> None:
        if self._depth:
            self.chat_text.append(data)


@pytest.fixture(scope="module")
def exported_page() -> str:
    with kw.LocalAdServer() as server:
        source = f"""
import kontext_widget as kw
session = kw.create_session(publisher_token="p", user_id="u", conversation_id="c",
                            ad_server_url={server.url!r})
payloads = {json.dumps(PAYLOADS)}
for text in payloads:
    session.chat_turn(text, text, wait=None)
    session.chat_turn("stream it", (text[i : i + 5] for i in range(0, len(text), 5)), wait=None)
session.wait_idle(10);
"""
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
        NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    outputs = notebook.cells[0].outputs
    assert not [output for output in outputs if output.output_type == "error"]
    assert all("text/markdown" not in output.get("data", {}) for output in outputs)
    body, _resources = HTMLExporter().from_notebook_node(notebook)
    return str(body)


def test_no_attribute_of_the_page_comes_from_conversation_text(exported_page: str) -> None:
    page = _Page()
    page.feed(exported_page)
    assert page.chat_bubbles == 4 * len(PAYLOADS)  # user + reply, whole and streamed
    leaked = [
        value for value in page.attribute_values if ATTACKER in value or "javascript:" in value
    ]
    assert leaked == []


def test_chat_bubbles_hold_only_text(exported_page: str) -> None:
    page = _Page()
    page.feed(exported_page)
    assert set(page.tags_in_chat) == {"div"}  # label and text: no img, a, script, iframe, style
    text = "".join(page.chat_text)
    for payload in PAYLOADS:
        assert payload in text  # shown literally, as typed
