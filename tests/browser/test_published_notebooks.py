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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, expect

from .ad_checks import EXPECT_TIMEOUT_MS
from .jupyter import JupyterServer, NotebookPage
from .notebooks import (
    NotebookSpec,
    session_cell,
    user_message_cell,
    write_first_turn,
    write_notebook,
)
from .pages import BrowserTab
from .published import (
    StaticSite,
    execute_with_widget_state,
    export_html,
    saved_widget_states,
)
from .timings import record_timing

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


# -- a notebook saved with widget state, reopened in JupyterLab ------------------------

# Cell indices of the reopened notebook.
SESSION, USER, RENDER = range(3)

_RUN_ALL_JS = """
async () => {
  const app = window.jupyterapp;
  await app.commands.execute('notebook:run-all-cells');
  const notebook = app.shell.currentWidget.content;
  return notebook.widgets.flatMap((cell) =>
    cell.model.outputs ? cell.model.outputs.toJSON().filter((o) => o.output_type === 'error') : []);
}
"""

# The kernel menu's restart without its confirmation dialog.
_RESTART_KERNEL_JS = """
async () => {
  const context = window.jupyterapp.shell.currentWidget.sessionContext;
  await context.session.kernel.restart();
  return context.session.kernel.status;
}
"""


# When the first ad slot, then the first ad frame, appear in the page (ms).
_WATCH_HANDSHAKE_JS = """
window.__kwHandshake = {};
new MutationObserver(() => {
  const at = performance.now();
  if (!window.__kwHandshake.slot && document.querySelector('.kontext-ad-slot')) {
    window.__kwHandshake.slot = at;
  }
  if (!window.__kwHandshake.frame && document.querySelector('.kontext-ad-slot iframe')) {
    window.__kwHandshake.frame = at;
  }
}).observe(document, { childList: true, subtree: true });
"""


@dataclass
class Reopened:
    notebook: NotebookPage
    spec: NotebookSpec
    stale_bid: str
    opened_at: int  # ad server requests recorded when the saved notebook was opened


def frame_requests(ad_server: Any, bid_id: str) -> list[str]:
    return [r.path for r in ad_server.requests_to(f"/api/frame/{bid_id}")]


def shown_ad(notebook: NotebookPage, ad_server: Any, bid_id: str) -> Locator:
    """The ad iframe of ``bid_id`` in the render cell's output, once the creative rendered."""
    iframe = notebook.output_area(RENDER).locator(
        f'iframe[src^="{ad_server.url}/api/frame/{bid_id}?"]'
    )
    expect(iframe).to_have_count(1, timeout=EXPECT_TIMEOUT_MS)
    expect(iframe).to_be_visible(timeout=EXPECT_TIMEOUT_MS)
    frame = notebook.frame_of(iframe)
    expect(frame.locator("html")).to_have_attribute(
        "data-state", "rendered", timeout=EXPECT_TIMEOUT_MS
    )
    return iframe


@pytest.fixture(scope="module")
def reopened(
    module_context: BrowserTab,
    jupyter_server: JupyterServer,
    local_ad_server: Any,
    kernel_logs: Path,
) -> Iterator[Reopened]:
    """The chat notebook executed headless (widget state saved), then opened in JupyterLab."""
    local_ad_server.reset()
    spec = NotebookSpec.new("reopened-with-state", jupyter_server.root_dir, kernel_logs)
    write_first_turn(
        spec,
        local_ad_server.url,
        "conv-reopened",
        question="Which boots for a rainy hike?",
        reply="Waterproof leather boots.",
    )
    executed = execute_with_widget_state(spec.path)
    stale_bid = spec.log.mark("rendered")["bid_id"]
    assert stale_bid in local_ad_server.bids
    assert any(
        f"/api/frame/{stale_bid}?" in state["state"].get("iframe_url", "")
        for state in saved_widget_states(executed).values()
    ), "the saved widget state has no frame URL: nothing to prove"
    jupyter_server.trust(spec.path)  # as if the user had saved it: its widgets render
    # A fresh kernel, as JupyterLab would start on open, but idle before the page
    # loads: the widget manager's restore of the saved state then does not race
    # the kernel's start-up (see JupyterServer.start_kernel_for).
    jupyter_server.start_kernel_for(spec.name)

    opened_at = len(local_ad_server.requests)
    page = module_context.new_page("reopened")
    notebook = NotebookPage.open(page, jupyter_server, spec.name, "lab")
    yield Reopened(notebook, spec, stale_bid, opened_at)
    notebook.close()


def test_reopened_notebook_loads_no_stale_ad_until_run(
    reopened: Reopened, local_ad_server: Any
) -> None:
    notebook = reopened.notebook
    # The saved view is rendered from the saved state (the Ad's own code ran) ...
    slot = notebook.output_area(RENDER).locator(".kontext-ad-slot")
    expect(slot).to_have_count(1, timeout=EXPECT_TIMEOUT_MS)
    # ... and loads nothing: the kernel that owned that session is gone.
    expect(notebook.page.locator("iframe")).to_have_count(0)
    assert [r.path for r in local_ad_server.requests[reopened.opened_at :]] == []
    expect(slot).to_have_attribute("data-liveness", "waiting")

    errors = notebook.page.evaluate(_RUN_ALL_JS)
    assert errors == [], errors
    fresh_bid = reopened.spec.log.marks("rendered")[-1]["bid_id"]
    assert fresh_bid not in (None, reopened.stale_bid)
    shown_ad(notebook, local_ad_server, fresh_bid)
    expect(notebook.page.locator(".kontext-ad-slot iframe")).to_have_count(1)
    # nbclient has no browser: the stale bid's frame was never loaded by anyone.
    assert frame_requests(local_ad_server, reopened.stale_bid) == []


def test_reload_with_the_kernel_alive_shows_the_ad_again(
    reopened: Reopened, local_ad_server: Any, jupyter_server: JupyterServer
) -> None:
    fresh_bid = reopened.spec.log.marks("rendered")[-1]["bid_id"]
    loads = len(frame_requests(local_ad_server, fresh_bid))
    # Saved first, or the reload would show the file's older outputs. The reloaded
    # page asks the Python Ad (the kernel is idle) and shows the same ad again.
    page = reopened.notebook.page
    page.evaluate("() => window.jupyterapp.shell.currentWidget.context.save()")
    page.add_init_script(_WATCH_HANDSHAKE_JS)
    notebook = NotebookPage.open(reopened.notebook.page, jupyter_server, reopened.spec.name, "lab")
    shown_ad(notebook, local_ad_server, fresh_bid)
    expect(notebook.page.locator(".kontext-ad-slot iframe")).to_have_count(1)
    assert len(frame_requests(local_ad_server, fresh_bid)) == loads + 1
    # What the hello -> live round trip cost this page (measured, not asserted).
    waited = page.evaluate("window.__kwHandshake.frame - window.__kwHandshake.slot")
    record_timing(
        "reload: ad view rendered -> frame mounted (hello/live round trip)", waited / 1000
    )


def test_kernel_restart_empties_the_old_views_for_good(
    reopened: Reopened, local_ad_server: Any
) -> None:
    notebook = reopened.notebook
    fresh_bid = reopened.spec.log.marks("rendered")[-1]["bid_id"]
    shown_ad(notebook, local_ad_server, fresh_bid)
    before = len(local_ad_server.requests)
    notebook.page.evaluate(_RESTART_KERNEL_JS)
    slot = notebook.output_area(RENDER).locator(".kontext-ad-slot")
    expect(slot).to_have_attribute("data-liveness", "gone", timeout=EXPECT_TIMEOUT_MS)
    expect(notebook.page.locator("iframe")).to_have_count(0)
    notebook._wait_ready()  # the new kernel is idle: nothing it says revives the old ad
    expect(slot).to_have_attribute("data-liveness", "gone")
    expect(notebook.page.locator("iframe")).to_have_count(0)
    assert [r.path for r in local_ad_server.requests[before:]] == []


# -- the live path keeps its speed: no round trip while a cell runs --------------------

_RENDER_AND_HOLD_CELL = """
import os
import time
mark("assistant-added", message_id="a1")
session.add_message(kw.Message(id="a1", role="assistant", content="Waterproof leather boots."))
ad = session.render("a1")
mark("rendered", bid_id=ad.bid_id, iframe_url=ad.iframe_url)
# The cell goes on (a chat loop, a long model call) until the test lets it end.
deadline = time.time() + 30
while not os.path.exists({flag!r}) and time.time() < deadline:
    time.sleep(0.05)
mark("cell-done")
"""

_START_CELL_JS = """
(index) => {
  const app = window.jupyterapp;
  const notebook = app.shell.currentWidget.content;
  notebook.deselectAll();
  notebook.activeCellIndex = index;
  void app.commands.execute('notebook:run-cell');
}
"""


def test_ad_shows_while_its_cell_is_still_running(
    notebook_spec: NotebookSpec, open_notebook: Any, ad_server: Any, tmp_path: Path
) -> None:
    # A page cannot ask a busy kernel (comm messages wait for the cell), so the Ad
    # announces itself when created: the page knows before the cell ends.
    flag = tmp_path / "let-the-cell-end"
    write_notebook(
        notebook_spec.path,
        [
            session_cell(notebook_spec, ad_server.url, "conv-busy-cell"),
            user_message_cell("u1", "Which boots for a rainy hike?"),
            _RENDER_AND_HOLD_CELL.format(flag=str(flag)),
        ],
    )
    notebook = open_notebook(notebook_spec.name, "lab")
    notebook.run_cells([SESSION, USER])
    notebook.page.evaluate(_START_CELL_JS, RENDER)
    bid_id = notebook_spec.log.wait_for(
        lambda r: r["kind"] == "mark" and r["name"] == "rendered", what="the rendered mark"
    )["bid_id"]
    try:
        shown_ad(notebook, ad_server, bid_id)
        assert notebook_spec.log.marks("cell-done") == [], "the cell ended before the check"
    finally:
        flag.touch()
    notebook_spec.log.wait_for(
        lambda r: r["kind"] == "mark" and r["name"] == "cell-done", what="the end of the cell"
    )
