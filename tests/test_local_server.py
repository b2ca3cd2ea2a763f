"""LocalAdServer over real HTTP: endpoints, scripted answers, recording, lifecycle."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from kontext_widget import __version__
from kontext_widget._local_server import Headers, LocalAdServer, default_format
from kontext_widget._local_server.http import CONTENT_SECURITY_POLICY

TOKEN = "pub-test"
AUTH = {"Kontextso-Publisher-Token": TOKEN}


def preload_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "publisherToken": TOKEN,
        "userId": "u-1",
        "installId": "0190f3c2-7d1e-7a6b-9c3d-2f4e5a6b7c8d",
        "conversationId": "c-1",
        "enabledPlacementCodes": ["inlineAd"],
        "messages": [
            {"id": "m1", "role": "user", "content": "best hiking boots?", "createdAt": "x"}
        ],
        "sdk": {"name": "sdk-js", "platform": "web", "version": __version__},
    }
    body.update(overrides)
    return body


@pytest.fixture
def server() -> Iterator[LocalAdServer]:
    with LocalAdServer() as running:
        yield running


@pytest.fixture
def client(server: LocalAdServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10.0) as http:
        yield http


def preload(client: httpx.Client, **overrides: Any) -> httpx.Response:
    return client.post("/preload", json=preload_body(**overrides), headers=AUTH)


def is_uuid(value: object) -> bool:
    return isinstance(value, str) and str(uuid.UUID(value)) == value


# -- lifecycle and binding ------------------------------------------------------------------


def test_binds_loopback_on_a_free_port_and_url_has_no_trailing_slash(
    server: LocalAdServer,
) -> None:
    assert server.host == "127.0.0.1"
    assert server.port > 0
    assert server.url == f"http://127.0.0.1:{server.port}"
    assert server.running


def test_repr_has_no_random_port(server: LocalAdServer) -> None:
    assert repr(server) == "<LocalAdServer running on 127.0.0.1>"
    server.stop()
    assert repr(server) == "<LocalAdServer stopped on 127.0.0.1>"


def test_non_loopback_host_needs_allow_remote() -> None:
    with pytest.raises(ValueError, match="allow_remote=True"):
        LocalAdServer("0.0.0.0")
    with pytest.raises(ValueError, match="not a loopback"):
        LocalAdServer("example.com")
    assert LocalAdServer("0.0.0.0", allow_remote=True).host == "0.0.0.0"
    assert LocalAdServer("localhost").host == "localhost"
    assert LocalAdServer("::1").host == "::1"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"port": -1}, ValueError, "port"),
        ({"port": 70000}, ValueError, "port"),
        ({"port": "80"}, TypeError, "port"),
        ({"formats": {"inlineAd": "banner"}}, ValueError, "formats"),
        ({"revenue": -1.0}, ValueError, "revenue"),
    ],
)
def test_constructor_rejects_bad_arguments(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        LocalAdServer(**kwargs)


def test_url_before_start_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="not running"):
        _ = LocalAdServer().url


def test_start_and_stop_are_idempotent_and_leave_no_thread() -> None:
    before = set(threading.enumerate())
    server = LocalAdServer()
    assert server.start() is server
    port = server.port
    assert server.start() is server
    assert server.port == port
    httpx.get(server.url + "/")
    server.stop()
    server.stop()
    server.close()
    assert not server.running
    assert set(threading.enumerate()) - before == set()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/", timeout=2.0)


def test_ipv6_loopback_url_is_bracketed() -> None:
    try:
        server = LocalAdServer("::1").start()
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with server:
        assert server.url == f"http://[::1]:{server.port}"
        assert httpx.get(server.url + "/").status_code == 200


# -- /init and authentication -------------------------------------------------------------


def test_init_default_answer(client: httpx.Client) -> None:
    response = client.post("/init", json={"publisherToken": TOKEN, "userId": "u"}, headers=AUTH)
    assert response.status_code == 200
    assert response.json() == {"enabled": True}


@pytest.mark.parametrize("path", ["/init", "/preload"])
def test_token_header_is_required(client: httpx.Client, path: str) -> None:
    response = client.post(path, json=preload_body())
    assert response.status_code == 401
    assert "Kontextso-Publisher-Token" in response.json()["error"]


@pytest.mark.parametrize("path", ["/init", "/preload"])
def test_token_must_match_the_body(client: httpx.Client, path: str) -> None:
    response = client.post(path, json=preload_body(publisherToken="other"), headers=AUTH)
    assert response.status_code == 401
    assert "does not match" in response.json()["error"]


@pytest.mark.parametrize("path", ["/init", "/preload", "/error", "/debug"])
def test_body_must_be_json(client: httpx.Client, path: str) -> None:
    response = client.post(path, content=b"not json", headers=AUTH)
    assert response.status_code == 400
    assert "JSON object" in response.json()["error"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"userId": 5}, "userId"),
        ({"conversationId": ""}, "conversationId"),
        ({"enabledPlacementCodes": []}, "enabledPlacementCodes"),
        ({"enabledPlacementCodes": "inlineAd"}, "enabledPlacementCodes"),
        ({"messages": "hi"}, "messages"),
    ],
)
def test_preload_body_is_validated(
    client: httpx.Client, overrides: dict[str, Any], field: str
) -> None:
    response = preload(client, **overrides)
    assert response.status_code == 400
    assert field in response.json()["error"]


def test_init_response_is_scriptable(server: LocalAdServer, client: httpx.Client) -> None:
    body = {"publisherToken": TOKEN}
    server.init_response(enabled=False, preload_timeout=2500, report_errors=False)
    assert client.post("/init", json=body, headers=AUTH).json() == {
        "enabled": False,
        "preloadTimeout": 2500,
        "reportErrors": False,
    }
    server.init_response(report_debug=True)
    assert client.post("/init", json=body, headers=AUTH).json() == {"reportDebug": True}
    server.init_response(status=204)
    response = client.post("/init", json=body, headers=AUTH)
    assert (response.status_code, response.content) == (204, b"")
    server.init_response(status=500, raw="{broken")
    response = client.post("/init", json=body, headers=AUTH)
    assert (response.status_code, response.content) == (500, b"{broken")
    server.reset()
    assert client.post("/init", json=body, headers=AUTH).json() == {"enabled": True}


def test_init_response_validates(server: LocalAdServer) -> None:
    with pytest.raises(TypeError, match="enabled"):
        server.init_response(enabled="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="preload_timeout"):
        server.init_response(preload_timeout="1s")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="204"):
        server.init_response(status=204, raw="{}")


def test_reports_are_accepted_and_recorded(server: LocalAdServer, client: httpx.Client) -> None:
    error = {"error": "Error preloading ads: boom", "stack": "Init.fetch", "additionalData": {}}
    assert client.post("/error", json=error).status_code == 204
    assert client.post("/debug", json={"name": "Ad: mount", "data": "{}"}).status_code == 204
    assert server.requests_to("/error")[0].json == error
    assert server.requests_to("/debug")[0].json["name"] == "Ad: mount"


def test_unknown_path_and_wrong_method(client: httpx.Client) -> None:
    assert client.get("/nope").status_code == 404
    assert client.post("/nope", json={}).status_code == 404
    assert client.get("/preload").status_code == 405
    assert client.post("/api/frame/x", json={}).status_code == 405


# -- /preload answers ------------------------------------------------------------------------


def test_default_fill_one_bid_per_code(server: LocalAdServer, client: httpx.Client) -> None:
    response = preload(client, enabledPlacementCodes=["inlineAd", "videoAd"])
    assert response.status_code == 200
    reply = response.json()
    assert is_uuid(reply["sessionId"])
    assert [bid["code"] for bid in reply["bids"]] == ["inlineAd", "videoAd"]
    for bid in reply["bids"]:
        assert is_uuid(bid["bidId"])
        assert bid["revenue"] == 0.0123
        assert bid["impressionTrigger"] == "immediate"
    served = server.bids[reply["bids"][1]["bidId"]]
    assert (served.code, served.format, served.session_id) == (
        "videoAd",
        "video",
        reply["sessionId"],
    )
    assert served.context == "best hiking boots?"
    assert served.is_disabled is False


def test_session_id_is_reused_per_conversation_and_taken_from_request(
    client: httpx.Client,
) -> None:
    first = preload(client).json()["sessionId"]
    assert preload(client).json()["sessionId"] == first
    other = preload(client, conversationId="c-2").json()["sessionId"]
    assert other != first
    sent = str(uuid.uuid4())
    assert preload(client, sessionId=sent).json()["sessionId"] == sent
    assert preload(client).json()["sessionId"] == sent


def test_is_disabled_header_is_recorded_and_answered_normally(
    server: LocalAdServer, client: httpx.Client
) -> None:
    response = client.post(
        "/preload", json=preload_body(), headers={**AUTH, "Kontextso-Is-Disabled": "1"}
    )
    bid_id = response.json()["bids"][0]["bidId"]
    assert server.bids[bid_id].is_disabled is True
    assert server.requests_to("/preload")[0].headers["kontextso-is-disabled"] == "1"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("inlineAd", "inline"),
        ("VideoAd", "video"),
        ("rewardedVideo", "video"),
        ("rewardAd", "rewarded"),
        ("myInterstitial", "interstitial"),
    ],
)
def test_format_follows_the_code_name(code: str, expected: str) -> None:
    assert default_format(code) == expected


def test_formats_override(client: httpx.Client) -> None:
    with LocalAdServer(formats={"inlineAd": "interstitial"}) as server:
        reply = httpx.post(server.url + "/preload", json=preload_body(), headers=AUTH).json()
        assert server.bids[reply["bids"][0]["bidId"]].format == "interstitial"


def test_fill_formats_override_for_those_answers_only(
    server: LocalAdServer, client: httpx.Client
) -> None:
    server.fill(formats={"inlineAd": "video"}, times=1)
    first = preload(client).json()["bids"][0]["bidId"]
    second = preload(client).json()["bids"][0]["bidId"]
    assert (server.bids[first].format, server.bids[second].format) == ("video", "inline")
    with pytest.raises(ValueError, match="must be one of inline, video"):
        server.fill(formats={"inlineAd": "banner"})


def test_fill_with_revenue_and_foreign_codes(server: LocalAdServer, client: httpx.Client) -> None:
    server.fill(revenue=1.5, codes=["otherAd", "otherAd", "thirdAd"])
    bids = preload(client).json()["bids"]
    assert [(b["code"], b["revenue"]) for b in bids] == [("otherAd", 1.5), ("thirdAd", 1.5)]


def test_constructor_revenue_is_the_default() -> None:
    with LocalAdServer(revenue=0.5) as server:
        reply = httpx.post(server.url + "/preload", json=preload_body(), headers=AUTH).json()
        assert reply["bids"][0]["revenue"] == 0.5


def test_no_fill_empty_and_error_answers(server: LocalAdServer, client: httpx.Client) -> None:
    server.no_fill("ads_disabled", times=1)
    server.empty(times=1)
    server.error("geo_disabled", message="not here", permanent=True, times=1)
    no_fill = preload(client).json()
    assert no_fill == {
        "sessionId": no_fill["sessionId"],
        "skip": True,
        "skipCode": "ads_disabled",
        "bids": [],
    }
    assert preload(client).json() == {"sessionId": no_fill["sessionId"], "bids": []}
    error = preload(client)
    assert error.status_code == 200
    assert error.json() == {"errCode": "geo_disabled", "error": "not here", "permanent": True}
    assert len(preload(client).json()["bids"]) == 1


def test_default_no_fill_skip_code(server: LocalAdServer, client: httpx.Client) -> None:
    server.no_fill()
    assert preload(client).json()["skipCode"] == "no_fill"


@pytest.mark.parametrize("status", [204, 429, 500])
def test_http_status(server: LocalAdServer, client: httpx.Client, status: int) -> None:
    server.http_status(status)
    response = preload(client)
    assert response.status_code == status
    assert response.content == b""


def test_http_status_with_body(server: LocalAdServer, client: httpx.Client) -> None:
    server.http_status(503, body='{"error": "down"}')
    response = preload(client)
    assert (response.status_code, response.json()) == (503, {"error": "down"})


def test_raw_answers_exact_bytes(server: LocalAdServer, client: httpx.Client) -> None:
    server.raw(b'{"sessionId": "not-a-uuid", "bids": [', times=1)
    server.raw("<html>", status=502, content_type="text/html", times=1)
    first = preload(client)
    assert (first.status_code, first.content) == (200, b'{"sessionId": "not-a-uuid", "bids": [')
    assert first.headers["content-type"] == "application/json"
    second = preload(client)
    assert (second.status_code, second.text) == (502, "<html>")
    assert second.headers["content-type"] == "text/html"


def test_times_queue_is_fifo_ahead_of_the_persistent_answer(
    server: LocalAdServer, client: httpx.Client
) -> None:
    server.no_fill(times=2)
    server.http_status(500, times=1)
    server.empty()  # persistent: after the queue drains
    assert server.pending_answers == 3
    assert [preload(client).status_code for _ in range(3)] == [200, 200, 500]
    assert server.pending_answers == 0
    for _ in range(2):
        reply = preload(client).json()
        assert reply["bids"] == []
        assert "skip" not in reply


def test_reset_restores_fill_and_drops_queue(server: LocalAdServer, client: httpx.Client) -> None:
    server.error(times=3)
    server.no_fill()
    server.delay(5.0)
    server.reset()
    assert server.pending_answers == 0
    started = time.monotonic()
    assert len(preload(client).json()["bids"]) == 1
    assert time.monotonic() - started < 2.0


def test_invalid_scripts_are_rejected(server: LocalAdServer) -> None:
    with pytest.raises(ValueError, match="times"):
        server.fill(times=0)
    with pytest.raises(TypeError, match="times"):
        server.fill(times=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="codes"):
        server.fill(codes="inlineAd")
    with pytest.raises(ValueError, match="codes"):
        server.fill(codes=[])
    with pytest.raises(ValueError, match="skip_code"):
        server.no_fill("")
    with pytest.raises(TypeError, match="permanent"):
        server.error(permanent="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="status"):
        server.http_status(99)
    with pytest.raises(ValueError, match="204"):
        server.http_status(204, body="x")
    with pytest.raises(TypeError, match="body"):
        server.raw(123)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seconds"):
        server.delay(-1)
    with pytest.raises(ValueError, match="delay"):
        server.empty(delay=float("inf"))
    assert server.pending_answers == 0


# -- delays ----------------------------------------------------------------------------------


def test_delay_applies_to_the_next_preload_only(
    server: LocalAdServer, client: httpx.Client
) -> None:
    server.delay(0.3, times=1)
    started = time.monotonic()
    preload(client)
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    preload(client)
    assert time.monotonic() - started < 0.3


def test_answer_delay_kwarg(server: LocalAdServer, client: httpx.Client) -> None:
    server.no_fill(delay=0.3, times=1)
    started = time.monotonic()
    assert preload(client).json()["skip"] is True
    assert time.monotonic() - started >= 0.3


def _preload_in_background(
    server: LocalAdServer, *, timeout: float
) -> tuple[threading.Thread, list[httpx.Response], list[Exception]]:
    """A ``/preload`` from another thread, once the server has received it: the thread,
    the answer (once there is one) and the transport error (if the call failed)."""
    answers: list[httpx.Response] = []
    errors: list[Exception] = []

    def call() -> None:
        try:
            answers.append(
                httpx.post(
                    server.url + "/preload", json=preload_body(), headers=AUTH, timeout=timeout
                )
            )
        except httpx.HTTPError as exc:
            errors.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    server.wait_for_request("/preload")
    return thread, answers, errors


def test_delayed_preload_does_not_block_other_requests(server: LocalAdServer) -> None:
    server.delay(3.0, times=1)
    thread, slow, dropped = _preload_in_background(server, timeout=10)
    started = time.monotonic()
    fast = httpx.post(server.url + "/preload", json=preload_body(), headers=AUTH, timeout=10)
    assert fast.status_code == 200
    assert time.monotonic() - started < 1.0
    assert slow == []
    server.stop()
    thread.join(5)
    assert (slow, len(dropped)) == ([], 1)


def test_stop_returns_promptly_during_a_delayed_request() -> None:
    server = LocalAdServer().start()
    server.delay(60.0)
    thread, _, errors = _preload_in_background(server, timeout=30)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2.0
    thread.join(5)
    assert not thread.is_alive()
    assert len(errors) == 1  # the connection was dropped, not answered


def test_delayed_init(server: LocalAdServer, client: httpx.Client) -> None:
    server.init_response(enabled=True, delay=0.3)
    started = time.monotonic()
    client.post("/init", json={"publisherToken": TOKEN}, headers=AUTH)
    assert time.monotonic() - started >= 0.3


# -- recording -------------------------------------------------------------------------------


def test_requests_are_recorded(server: LocalAdServer, client: httpx.Client) -> None:
    preload(client)
    client.get("/static/creative.css?v=1")
    client.get("/missing")
    first, second, third = server.requests
    assert (first.method, first.path, first.json["userId"]) == ("POST", "/preload", "u-1")
    assert first.headers["KONTEXTSO-PUBLISHER-TOKEN"] == TOKEN
    assert "Kontextso-Publisher-Token" in list(first.headers)
    assert first.body.startswith(b"{")
    assert (second.path, second.query, second.json) == ("/static/creative.css", {"v": "1"}, None)
    assert third.path == "/missing"
    assert first.time <= second.time <= third.time
    copy = server.requests
    copy.clear()
    assert len(server.requests) == 3
    server.clear_requests()
    assert server.requests == []


def test_headers_lookup_is_case_insensitive() -> None:
    headers = Headers([("Content-Type", "application/json")])
    assert headers["content-type"] == headers["CONTENT-TYPE"] == "application/json"
    assert "content-TYPE" in headers
    assert list(headers) == ["Content-Type"]
    assert headers.get("missing") is None


def test_requests_to_prefix_and_wait_for_request(
    server: LocalAdServer, client: httpx.Client
) -> None:
    bid_id = preload(client).json()["bids"][0]["bidId"]
    client.get(f"/api/frame/{bid_id}")
    client.get(f"/api/modal/{bid_id}")
    assert len(server.requests_to("/api/")) == 2
    assert server.requests_to("/api") == []
    assert server.wait_for_request("/preload").json["conversationId"] == "c-1"
    body = preload_body(conversationId="later")
    later = threading.Timer(
        0.2, httpx.post, (server.url + "/preload",), {"json": body, "headers": AUTH}
    )
    later.start()
    second = server.wait_for_request("/preload", count=2, timeout=5)
    later.join(5)
    assert second.json["conversationId"] == "later"


def test_wait_for_request_times_out_clearly(server: LocalAdServer) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"1 request\(s\) to '/preload'"):
        server.wait_for_request("/preload", timeout=0.2)
    assert time.monotonic() - started < 1.0


# -- creative pages --------------------------------------------------------------------------


def test_frame_page(server: LocalAdServer, client: httpx.Client) -> None:
    bid_id = preload(client, enabledPlacementCodes=["myVideoAd"]).json()["bids"][0]["bidId"]
    response = client.get(
        f"/api/frame/{bid_id}", params={"code": "myVideoAd", "messageId": "m2", "sdk": "sdk-js"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    page = response.text
    assert f'data-bid-id="{bid_id}"' in page
    assert 'data-code="myVideoAd"' in page
    assert 'data-format="video"' in page
    assert 'data-message-id="m2"' in page
    assert '<script src="/static/creative.js"' in page
    assert "<script>" not in page  # no inline script, CSP would block it anyway


def test_frame_page_escapes_query_values(server: LocalAdServer, client: httpx.Client) -> None:
    bid_id = preload(client).json()["bids"][0]["bidId"]
    page = client.get(
        f"/api/frame/{bid_id}", params={"messageId": '"><script>alert(1)</script>', "theme": "x"}
    ).text
    assert "<script>alert" not in page
    assert 'data-message-id="&quot;&gt;&lt;script&gt;' in page
    assert 'data-theme=""' in page  # unknown themes are dropped


def test_modal_page_carries_escaped_context(server: LocalAdServer, client: httpx.Client) -> None:
    hostile = "<img src=x onerror=alert(1)> coffee?"
    messages = [{"id": "m1", "role": "user", "content": hostile, "createdAt": "x"}]
    bid_id = preload(client, messages=messages).json()["bids"][0]["bidId"]
    response = client.get(f"/api/modal/{bid_id}", params={"theme": "dark"})
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert 'data-mode="modal"' in response.text
    assert 'data-theme="dark"' in response.text
    assert 'data-context="&lt;img src=x onerror=alert(1)&gt; coffee?"' in response.text
    assert "<img" not in response.text


def test_click_landing_page_is_recorded(server: LocalAdServer, client: httpx.Client) -> None:
    bid_id = preload(client).json()["bids"][0]["bidId"]
    response = client.get(
        f"/api/click/{bid_id}", params={"area": "cta", "product": "trail-boots", "messageId": "m2"}
    )
    assert response.status_code == 200
    assert "Ridgeline Trail Boots" in response.text
    click = server.requests_to(f"/api/click/{bid_id}")[0]
    assert click.query == {"area": "cta", "product": "trail-boots", "messageId": "m2"}


@pytest.mark.parametrize("kind", ["frame", "modal", "click"])
def test_unknown_bid_is_404(client: httpx.Client, kind: str) -> None:
    response = client.get(f"/api/{kind}/{uuid.uuid4()}")
    assert response.status_code == 404
    assert "unknown bid" in response.json()["error"]


def test_static_files(client: httpx.Client) -> None:
    script = client.get("/static/creative.js")
    assert script.status_code == 200
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert "init-iframe" in script.text
    assert client.get("/static/creative.css").headers["content-type"].startswith("text/css")
    for name in ["catalogue.json", "frame.html", "..%2Fserver.py", "nope.js", ".hidden.js"]:
        assert client.get(f"/static/{name}").status_code == 404


def test_static_files_are_cached_by_the_browser_and_pages_are_not(client: httpx.Client) -> None:
    """Every ad frame loads the same assets: a browser reuses them, revalidating by ETag."""
    script = client.get("/static/creative.js")
    assert script.headers["cache-control"] == "max-age=3600"
    etag = script.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"') and len(etag) > 10
    again = client.get("/static/creative.js", headers={"If-None-Match": f'"other", {etag}'})
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)
    assert "content-length" not in again.headers
    changed = client.get("/static/creative.js", headers={"If-None-Match": '"stale"'})
    assert (changed.status_code, changed.content) == (200, script.content)
    style = client.get("/static/creative.css")
    assert style.headers["etag"] != etag
    # Pages, answers and errors are never stored.
    assert client.get("/").headers["cache-control"] == "no-store"
    assert client.get("/static/nope.js").headers["cache-control"] == "no-store"
    reply = client.post("/preload", json=preload_body(), headers=AUTH)
    assert reply.headers["cache-control"] == "no-store"
    frame = client.get(f"/api/frame/{reply.json()['bids'][0]['bidId']}")
    assert (frame.status_code, frame.headers["cache-control"]) == (200, "no-store")


def test_index_page(client: httpx.Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert "Kontext local ad server" in response.text


def test_a_stopped_server_can_start_again_and_keeps_its_bids() -> None:
    server = LocalAdServer()
    with server:
        reply = httpx.post(server.url + "/preload", json=preload_body(), headers=AUTH).json()
    server.delay(0.2, times=1)
    with server:
        bid_id = reply["bids"][0]["bidId"]
        assert httpx.get(f"{server.url}/api/frame/{bid_id}").status_code == 200
        # A delayed answer is served, not dropped: the stop signal was cleared on start().
        again = httpx.post(server.url + "/preload", json=preload_body(), headers=AUTH)
        assert again.json()["sessionId"] == reply["sessionId"]


def test_the_http_side_sees_only_its_handler_state() -> None:
    """The handler is given ``HandlerState``: it imports nothing of ``LocalAdServer``'s
    module or the state's, so it cannot reach into their privates."""
    import ast
    from pathlib import Path

    import kontext_widget._local_server.http as http_side

    tree = ast.parse(Path(http_side.__file__).read_text("utf-8"))
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level
    }
    assert imported == {"answers", "limits", "pages", "records"}
    assert "owner" not in Path(http_side.__file__).read_text("utf-8")


def test_an_answer_is_one_write_head_and_body_together(
    server: LocalAdServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Written as head, then body, an answer was two TCP segments (two TLS records) that a
    client reads and parses one after the other (bench/RESULTS.md section 9)."""
    sent: list[bytes] = []
    real_send = socket.socket.send

    def recording_send(sock: socket.socket, data: Any, *args: Any) -> int:
        if threading.current_thread().name == "kontext-local-ad-server-request":
            sent.append(bytes(data))
        return real_send(sock, data, *args)

    monkeypatch.setattr(socket.socket, "send", recording_send)
    response = httpx.post(server.url + "/preload", json=preload_body(), headers=AUTH)
    assert response.status_code == 200
    assert len(sent) == 1, [len(chunk) for chunk in sent]
    assert sent[0].startswith(b"HTTP/1.0 200") and sent[0].endswith(response.content)
