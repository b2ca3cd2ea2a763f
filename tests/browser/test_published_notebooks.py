"""Published notebooks show no stale ad: an ad frame loads only under a live session.

A notebook executed headless (nbclient, ``store_widget_state=True``, what every
publishing tool does) saves the ``Ad``'s state, including a frame URL for a bid
served at build time. The static HTML export runs the widget again in each
visitor's browser; it must render, and must not ask the ad server for anything:
no frame, no modal, no creative asset.

The LocalAdServer that served the bid stays up during the test, so a stale load
would be recorded rather than fail unseen.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from .ad_checks import EXPECT_TIMEOUT_MS
from .notebooks import write_notebook
from .pages import BrowserTab
from .published import (
    StaticSite,
    execute_with_widget_state,
    export_html,
    saved_widget_states,
)

pytestmark = pytest.mark.browser

# A chat turn with its ad, as a user would write it; the printed URL lets the
# test see that the saved state does carry a loadable frame URL.
_CHAT_CELL = """
import kontext_widget as kw
session = kw.create_session(
    publisher_token="pub-published", user_id="u-published", conversation_id="c-published",
    ad_server_url={url!r},
)
turn = session.chat_turn("Which boots for a rainy hike?", "Waterproof leather boots.")
print(turn.ad.bid_id)
"""


def executed_chat_notebook(path: Path, ad_server: Any) -> tuple[Any, str]:
    """Write and execute the chat notebook; (the executed notebook, the bid it rendered)."""
    write_notebook(path, [_CHAT_CELL.format(url=ad_server.url)])
    notebook = execute_with_widget_state(path)
    (printed,) = [out for out in notebook.cells[0].outputs if out["output_type"] == "stream"]
    bid_id = printed["text"].strip()
    assert bid_id in ad_server.bids, f"the executed notebook rendered no served bid: {bid_id!r}"
    ads = [
        state["state"]
        for state in saved_widget_states(notebook).values()
        if state["state"].get("iframe_url")
    ]
    # The premise of the test: the published state carries the stale frame URL.
    assert len(ads) == 1, ads
    assert f"/api/frame/{bid_id}?" in ads[0]["iframe_url"]
    return notebook, bid_id


def test_static_html_export_loads_nothing_from_the_ad_server(
    tmp_path: Path, ad_server: Any, browser_context: BrowserTab
) -> None:
    notebook, bid_id = executed_chat_notebook(tmp_path / "published.ipynb", ad_server)
    before = len(ad_server.requests)

    with StaticSite() as site:
        site.html = export_html(notebook, site.url)
        sources = re.findall(r"<script[^>]*\ssrc=\"([^\"]*)\"", site.html)
        assert sources and all(src.startswith(site.url) for src in sources), sources
        page = browser_context.new_page("export")
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        # Only loopback: a CDN request would fail offline anyway, and must not happen.
        foreign: list[str] = []

        def only_local(route: Any) -> None:
            url = route.request.url
            if url.startswith(("http://127.0.0.1:", "blob:", "data:")):
                route.continue_()
            else:
                foreign.append(url)
                route.abort()

        page.route("**/*", only_local)
        page.goto(site.page_url, wait_until="load")
        # The html-manager, anywidget and the Ad's own code ran: its view is in the
        # cell's output. Before the fix the same render mounted the frame at once.
        slot = page.locator(".jp-OutputArea .kontext-ad-slot")
        expect(slot).to_have_count(1, timeout=EXPECT_TIMEOUT_MS)
        expect(page.locator(".jp-OutputArea")).to_contain_text(bid_id)
        expect(page.locator("iframe")).to_have_count(0)
        expect(slot).to_be_hidden()
        # Whatever the page would still fetch has been fetched once it is quiet.
        page.wait_for_load_state("networkidle")
        assert [r.path for r in ad_server.requests[before:]] == []
        assert not [url for url in requested if url.startswith(ad_server.url)], requested
        assert foreign == [], f"the export reached beyond loopback: {foreign}"
        assert any("/html-manager@" in path for path in site.requests), site.requests
        assert any(path.startswith("/npm/anywidget@") for path in site.requests), site.requests
        assert browser_context.page_errors() == []
