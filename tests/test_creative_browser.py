"""The local creative in a real browser: a minimal host page on another loopback origin
embeds the frame and speaks the host side of the iframe protocol (docs/protocol.md §6)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from kontext_widget._local_server import LocalAdServer

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
TOKEN = "pub-browser"
HOSTILE = (
    "<img src=x onerror=\"parent.postMessage({type:'pwned-iframe'},'*')\">"
    "<script>parent.postMessage({type:'pwned-iframe'},'*')</script> best hiking boots?"
)

# The host side, as the widget front end does it: origin + source checks, update-iframe
# on init-iframe, resize/show, dimensions every 200 ms, and a modal iframe on demand.
HOST_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><style>body{margin:0;font:14px sans-serif}</style></head>
<body><div id="slot"><iframe id="ad" style="width:100%;border:0;display:none"
 sandbox="allow-scripts allow-same-origin allow-popups"></iframe></div>
<script>
const CONFIG = __CONFIG__;
window.received = [];
const frame = document.getElementById("ad");
let modal = null;
window.addEventListener("message", (ev) => {
  const fromFrame = ev.source === frame.contentWindow;
  const fromModal = modal !== null && ev.source === modal.contentWindow;
  if (ev.origin !== CONFIG.origin || !(fromFrame || fromModal)) return;
  window.received.push({source: fromModal ? "modal" : "inline", message: ev.data});
  const type = ev.data.type, data = ev.data.data || {};
  if (type === "init-iframe") {
    frame.contentWindow.postMessage({type: "update-iframe", data: CONFIG.context}, CONFIG.origin);
  } else if (type === "resize-iframe") {
    frame.style.height = data.height + "px";
  } else if (type === "show-iframe") {
    frame.style.display = "block";
  } else if (type === "open-component-iframe") {
    modal = document.createElement("iframe");
    modal.style.cssText = "position:fixed;inset:0;width:100%;height:100%;border:0";
    modal.src = CONFIG.modalUrl + "&componentParams=" +
      encodeURIComponent(JSON.stringify(data.componentParams));
    document.body.append(modal);
  } else if (type === "close-component-iframe" && fromModal) {
    modal.remove();
    modal = null;
  }
});
window.sendUserEvent = (name) => frame.contentWindow.postMessage(
  {type: "user-event-iframe", data: {name: name, code: CONFIG.code}}, CONFIG.origin);
setInterval(() => {
  const r = document.getElementById("slot").getBoundingClientRect();
  frame.contentWindow.postMessage({type: "update-dimensions-iframe", data: {
    windowWidth: innerWidth, windowHeight: innerHeight,
    screenWidth: screen.width, screenHeight: screen.height,
    containerWidth: r.width, containerHeight: r.height, containerX: r.x, containerY: r.y,
    keyboardHeight: 0, code: CONFIG.code}}, CONFIG.origin);
}, 200);
frame.src = CONFIG.frameUrl;
</script></body></html>"""


class _HostPage:
    """Serves one host page from its own loopback port (a different origin from the ad)."""

    def __init__(self) -> None:
        self.page = b""
        page_holder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page_holder.page)))
                self.end_headers()
                self.wfile.write(page_holder.page)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("no Chromium at /usr/bin/chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def host() -> Iterator[_HostPage]:
    page = _HostPage()
    yield page
    page.close()


@pytest.fixture
def server() -> Iterator[LocalAdServer]:
    with LocalAdServer() as running:
        yield running


def open_ad(
    browser: Any, host: _HostPage, server: LocalAdServer, code: str, theme: str = "dark"
) -> tuple[Any, str]:
    """Preload one bid for ``code`` and open the host page embedding its frame."""
    messages = [{"id": "m1", "role": "user", "content": HOSTILE, "createdAt": "x"}]
    body = {
        "publisherToken": TOKEN,
        "userId": "u",
        "conversationId": "c",
        "enabledPlacementCodes": [code],
        "messages": messages,
    }
    reply = httpx.post(
        server.url + "/preload", json=body, headers={"Kontextso-Publisher-Token": TOKEN}
    ).json()
    bid_id: str = reply["bids"][0]["bidId"]
    query = urlencode({"code": code, "messageId": "m2", "sdk": "sdk-js", "theme": theme})
    context = {
        "messages": [*messages, {"id": "m2", "role": "assistant", "content": "Try these."}],
        "sdk": "sdk-js",
        "code": code,
        "messageId": "m2",
        "otherParams": {"theme": theme},
    }
    config = {
        "origin": server.url,
        "code": code,
        "context": context,
        "frameUrl": f"{server.url}/api/frame/{bid_id}?{query}",
        "modalUrl": f"{server.url}/api/modal/{bid_id}?{query}",
    }
    # "<" escaped: the hostile text must not close the host page's own <script>.
    config_js = json.dumps(config).replace("<", "\\u003c")
    host.page = HOST_PAGE.replace("__CONFIG__", config_js).encode()
    page = browser.new_page()
    page.goto(host.url)
    return page, bid_id


def wait_for_message(page: Any, kind: str, name: str | None = None) -> dict[str, Any]:
    """The first received message of type ``kind`` (and event ``name``), waiting up to 8 s."""
    predicate = (
        "([kind, name]) => window.received.some((r) => r.message.type === kind &&"
        " (name === null || r.message.data.name === name))"
    )
    page.wait_for_function(predicate, arg=[kind, name], timeout=8000)
    received: list[dict[str, Any]] = page.evaluate("window.received")
    return next(
        r
        for r in received
        if r["message"]["type"] == kind and (name is None or r["message"]["data"]["name"] == name)
    )


def messages_of(page: Any) -> list[dict[str, Any]]:
    return [r["message"] for r in page.evaluate("window.received")]


def test_inline_ad_renders_reports_and_is_viewed(
    browser: Any, host: _HostPage, server: LocalAdServer
) -> None:
    page, bid_id = open_ad(browser, host, server, "inlineAd")
    try:
        viewed = wait_for_message(page, "event-iframe", "ad.viewed")["message"]["data"]
        assert viewed["payload"]["id"] == bid_id
        assert viewed["payload"]["format"] == "inline"
        assert viewed["payload"]["messageId"] == "m2"
        assert viewed["payload"]["content"].startswith("Ridgeline Trail Boots")
        types = [m["type"] for m in messages_of(page)]
        assert types[0] == "init-iframe"
        for expected in ("resize-iframe", "show-iframe", "ad-done-iframe", "view-iframe"):
            assert expected in types
        names = [m["data"]["name"] for m in messages_of(page) if m["type"] == "event-iframe"]
        assert names.index("ad.render-started") < names.index("ad.render-completed")
        assert names.count("ad.viewed") == 1
        assert all(m["data"]["code"] == "inlineAd" for m in messages_of(page))
        heights = [m["data"]["height"] for m in messages_of(page) if m["type"] == "resize-iframe"]
        assert all(h > 50 for h in heights)
        rendered = page.locator("#ad").evaluate("(frame) => frame.getBoundingClientRect().height")
        assert rendered == heights[-1]

        frame = page.frame_locator("#ad")
        because = frame.locator(".because").inner_text()
        assert "<img src=x onerror=" in because  # shown literally
        assert frame.locator("img").count() == 0
        assert frame.locator("#ad script").count() == 0
        assert "pwned-iframe" not in [m["type"] for m in messages_of(page)]
        assert server.requests_to("/api/frame/x") == []
        assert frame.locator("html").get_attribute("data-theme") == "dark"

        frame.locator(".cta").click()
        click = wait_for_message(page, "click-iframe")["message"]["data"]
        assert click["url"].startswith(f"/api/click/{bid_id}?")
        assert click["target"] == "browser"
        assert click["id"] == bid_id
        clicked = wait_for_message(page, "event-iframe", "ad.clicked")["message"]["data"]
        assert clicked["payload"]["url"] == server.url + click["url"]
        assert clicked["payload"]["area"] == "cta"
        assert page.frames[1].url.startswith(f"{server.url}/api/frame/{bid_id}")  # no navigation

        page.evaluate("window.sendUserEvent('user.typing.started')")
        frame.locator("#typing").wait_for(state="visible", timeout=3000)
    finally:
        page.close()


def test_rewarded_ad_plays_and_grants_the_reward(
    browser: Any, host: _HostPage, server: LocalAdServer
) -> None:
    page, bid_id = open_ad(browser, host, server, "rewardAd", theme="light")
    try:
        wait_for_message(page, "event-iframe", "reward.granted")
        names = [m["data"]["name"] for m in messages_of(page) if m["type"] == "event-iframe"]
        video = [n for n in names if n.startswith(("video.", "reward."))]
        assert video == ["video.started", "video.completed", "reward.granted"]
        payloads = [m["data"]["payload"] for m in messages_of(page) if m["type"] == "event-iframe"]
        assert all(p["id"] == bid_id for p in payloads)
    finally:
        page.close()


def test_interstitial_opens_a_modal_that_closes(
    browser: Any, host: _HostPage, server: LocalAdServer
) -> None:
    page, bid_id = open_ad(browser, host, server, "interstitialAd")
    try:
        opened = wait_for_message(page, "open-component-iframe")["message"]["data"]
        assert opened == {
            "timeout": 5000,
            "componentParams": {"bidId": bid_id},
            "code": "interstitialAd",
            "component": "modal",
        }
        init = wait_for_message(page, "init-component-iframe")
        assert init["source"] == "modal"
        assert init["message"]["data"] == {"code": "interstitialAd", "component": "modal"}
        modal_request = server.wait_for_request(f"/api/modal/{bid_id}")
        assert json.loads(modal_request.query["componentParams"]) == {"bidId": bid_id}

        modal = page.frame_locator("iframe >> nth=1")
        assert "<img src=x" in modal.locator(".because").inner_text()
        modal.locator(".cta").click()
        click = wait_for_message(page, "click-iframe")
        assert click["source"] == "modal"
        assert click["message"]["data"]["component"] == "modal"
        modal.locator(".close").click()
        closed = wait_for_message(page, "close-component-iframe")
        assert closed["message"]["data"]["component"] == "modal"
        opens = [m for m in messages_of(page) if m["type"] == "open-component-iframe"]
        assert len(opens) == 1
    finally:
        page.close()


def test_video_ad_is_a_player_the_reader_can_pause(
    browser: Any, host: _HostPage, server: LocalAdServer
) -> None:
    page, bid_id = open_ad(browser, host, server, "videoAd", theme="light")
    try:
        wait_for_message(page, "event-iframe", "video.started")
        frame = page.frame_locator("#ad")
        player = frame.locator(".player")
        assert frame.locator(".sponsored").inner_text() == "Sponsored"
        assert frame.locator(".ad-badge").inner_text().startswith("Ad")
        assert player.get_attribute("data-state") == "playing"
        frame.locator(".controls .toggle").click()
        assert player.get_attribute("data-state") == "paused"
        paused_at = frame.locator(".progress > .bar").evaluate("(bar) => bar.style.width")
        assert paused_at not in ("", "0%", "100%")
        page.wait_for_timeout(600)  # paused: the clip does not advance meanwhile
        assert frame.locator(".progress > .bar").evaluate("(bar) => bar.style.width") == paused_at
        assert "video.completed" not in [
            m["data"].get("name") for m in messages_of(page) if m["type"] == "event-iframe"
        ]
        frame.locator(".controls .toggle").click()  # the reader resumes it
        wait_for_message(page, "event-iframe", "video.completed")
        assert player.get_attribute("data-state") == "ended"
        assert frame.locator(".progress > .bar").evaluate("(bar) => bar.style.width") == "100%"
        names = [m["data"]["name"] for m in messages_of(page) if m["type"] == "event-iframe"]
        assert [n for n in names if n.startswith(("video.", "reward."))] == [
            "video.started",
            "video.completed",
        ]
        frame.locator(".big-play").click()  # a replay sends no second set of events
        frame.locator('.player[data-state="playing"]').wait_for(timeout=2000)
        names = [m["data"]["name"] for m in messages_of(page) if m["type"] == "event-iframe"]
        assert names.count("video.started") == 1
        assert all(
            m["data"]["payload"]["id"] == bid_id
            for m in messages_of(page)
            if m["type"] == "event-iframe" and m["data"]["name"].startswith("video.")
        )
    finally:
        page.close()
