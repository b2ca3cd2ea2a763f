"""Ad clicks in a VS Code-like notebook output frame, in real Chromium.

VS Code renders notebook outputs in a webview frame sandboxed WITHOUT
``allow-popups`` (``sandbox="allow-same-origin allow-pointer-lock allow-scripts
allow-downloads allow-forms"``, from its webview ``index.html``), so
``window.open`` is blocked there; its notebook preload listens for clicks on
``<body>`` and turns a click on any ``<a href>`` into "open this link" for the
workbench (``webviewPreloads.ts``: ``handleInnerClick`` posts ``clicked-link``,
then ``preventDefault`` + ``stopPropagation``). VS Code itself is not available
here, so this test rebuilds that frame: same sandbox, a listener that does what
the preload does (and records the href instead of posting it), and the real
bundle rendered with a minimal anywidget model (traits from a real session on
the LocalAdServer; it answers the page's liveness "hello" as a live kernel's `Ad`
does). The creative's CTA is clicked for real.
"""

from __future__ import annotations

import functools
import json
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from .ad_checks import EXPECT_TIMEOUT_MS, wait_for_js_value
from .host_checks import frame_of
from .pages import BrowserTab
from .processes import REPO_ROOT

pytestmark = pytest.mark.browser

BUNDLE = REPO_ROOT / "kontext_widget" / "static" / "widget.js"
VSCODE_OUTPUT_SANDBOX = (
    "allow-same-origin allow-pointer-lock allow-scripts allow-downloads allow-forms"
)

_INDEX = f"""<!doctype html>
<html><body style="margin:0">
<iframe id="active-frame" sandbox="{VSCODE_OUTPUT_SANDBOX}" src="/frame.html"
        style="border:0;width:900px;height:700px"></iframe>
</body></html>"""

# What VS Code's notebook preload does with a click on a link (see the module docstring).
_LINK_LISTENER = """
window.__clickedLinks = [];
document.body.addEventListener("click", (event) => {
  for (const node of event.composedPath()) {
    if (node instanceof HTMLAnchorElement && node.href) {
      window.__clickedLinks.push(node.getAttribute("href"));
      event.preventDefault();
      event.stopPropagation();
      return;
    }
  }
});
"""

# The part of an anywidget model the bundle uses; trait values from a real session.
_FRAME = """<!doctype html>
<html><body>
<div id="out"></div>
<script type="module">
{listener}
window.__sent = [];
window.__opened = 0;
const realOpen = window.open.bind(window);
window.open = (...args) => {{ window.__opened += 1; return realOpen(...args); }};
const traits = {traits};
const handlers = new Map();
// A live kernel's `Ad` answers the page's "hello" with "live" (docs/protocol.md §11).
const model = {{
  get: (key) => traits[key],
  on: (name, callback) => {{
    if (!handlers.has(name)) handlers.set(name, new Set());
    handlers.get(name).add(callback);
  }},
  off: (name, callback) => handlers.get(name)?.delete(callback),
  send: (message) => {{
    window.__sent.push(message);
    if (message && message.kind === "hello") {{
      setTimeout(() => (handlers.get("msg:custom") || []).forEach((h) => h({{ kind: "live" }})));
    }}
  }},
  save_changes: () => {{}},
  widget_manager: {{}},
}};
const widget = await import("/widget.js");
const signal = new AbortController().signal;
widget.default.initialize?.({{ model, signal }});
widget.default.render({{ model, el: document.getElementById("out"), signal }});
window.__rendered = true;
</script>
</body></html>"""


@pytest.fixture
def ad_traits(ad_server: Any) -> Iterator[dict[str, Any]]:
    import kontext_widget as kw

    session = kw.create_session(
        publisher_token="pub-browser-test",
        user_id="user-vscode",
        conversation_id="conv-vscode",
        ad_server_url=ad_server.url,
    )
    try:
        session.add_message(kw.Message(id="u1", role="user", content="Best hiking boots?"))
        assert session.wait_idle(15)
        session.add_message(kw.Message(id="a1", role="assistant", content="Leather boots."))
        ad = session.create_ad("a1")
        assert ad.bid_id
        yield {
            "iframe_url": ad.iframe_url,
            "server_origin": ad.server_origin,
            "modal_url": ad.modal_url,
            "frame_context": dict(ad.frame_context),
            "code": ad.code,
            "message_id": ad.message_id,
            "theme": None,
            "height": 0,
            "visible": False,
            "destroyed": False,
            "bid_id": ad.bid_id,
        }
    finally:
        session.destroy()


@pytest.fixture
def webview_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A static server on loopback playing the webview's origin (another port than the
    ad server's, so cross-origin as in VS Code). Loopback, because Chromium's local
    network access checks keep a public origin from framing a loopback ad server."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="webview-origin", daemon=True)
    thread.start()
    try:
        yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _open_output_frame(
    tab: BrowserTab, root: tuple[Path, str], traits: dict[str, Any], *, vscode_links: bool
) -> Any:
    directory, origin = root
    (directory / "index.html").write_text(_INDEX, encoding="utf-8")
    (directory / "frame.html").write_text(
        _FRAME.format(listener=_LINK_LISTENER if vscode_links else "", traits=json.dumps(traits)),
        encoding="utf-8",
    )
    shutil.copyfile(BUNDLE, directory / "widget.js")
    page = tab.new_page("vscode-like")
    page.goto(f"{origin}/index.html")
    page.wait_for_function(
        "() => document.getElementById('active-frame').contentWindow.__rendered === true"
    )
    return page, page.frame_locator("#active-frame")


def _output_window(page: Any) -> Any:
    frame = page.locator("#active-frame").element_handle().content_frame()
    assert frame is not None
    return frame


def test_a_click_is_handed_to_a_host_that_takes_links(
    browser_context: BrowserTab,
    ad_server: Any,
    ad_traits: dict[str, Any],
    webview_root: tuple[Path, str],
) -> None:
    page, output = _open_output_frame(browser_context, webview_root, ad_traits, vscode_links=True)
    iframe = output.locator(f'iframe[src="{ad_traits["iframe_url"]}"]')
    expect(iframe).to_be_visible(timeout=EXPECT_TIMEOUT_MS)
    pages_before = len(browser_context.context.pages)
    frame_of(iframe).locator("#ad a.cta").click()

    window = _output_window(page)
    links = wait_for_js_value(window, "window.__clickedLinks.length ? window.__clickedLinks : null")
    bid_id = ad_traits["bid_id"]
    assert len(links) == 1, links
    assert links[0].startswith(f"{ad_server.url}/api/click/{bid_id}?"), links
    # The host took it: nothing else was opened, and the page got no popup.
    assert window.evaluate("window.__opened") == 0
    assert len(browser_context.context.pages) == pages_before
    assert window.evaluate("document.querySelectorAll('a').length") == 0  # the anchor is gone
    sent = window.evaluate("window.__sent")
    clicks = [m for m in sent if m.get("message", {}).get("type") == "click-iframe"]
    assert len(clicks) == 1, sent  # relayed to Python as usual
    assert not [m for m in sent if m.get("kind") == "click-failed"], sent
    assert browser_context.page_errors() == []


def test_without_such_a_host_the_sandbox_blocks_window_open(
    browser_context: BrowserTab, ad_traits: dict[str, Any], webview_root: tuple[Path, str]
) -> None:
    # The control: the same frame with nobody taking links. Chromium refuses the
    # popup (no allow-popups) and says so; this is what VS Code users saw before.
    page, output = _open_output_frame(browser_context, webview_root, ad_traits, vscode_links=False)
    iframe = output.locator(f'iframe[src="{ad_traits["iframe_url"]}"]')
    expect(iframe).to_be_visible(timeout=EXPECT_TIMEOUT_MS)
    with page.expect_console_message(lambda m: "allow-popups" in m.text) as refusal:
        frame_of(iframe).locator("#ad a.cta").click()
    assert "Blocked opening" in refusal.value.text
    assert _output_window(page).evaluate("window.__opened") == 1
    assert len(browser_context.context.pages) == 1
