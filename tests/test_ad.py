"""The Ad widget's Python half: front-end messages in, traits and events out."""

from __future__ import annotations

from typing import Any

import pytest

import kontext_widget as kw
from kontext_widget._device import browser_facts, device


def front_end(ad: kw.Ad, content: object) -> None:
    ad._on_front_end_message(ad, content, [])


def frame(ad: kw.Ad, kind: str, **data: object) -> None:
    front_end(
        ad, {"kind": "frame-message", "source": "inline", "message": {"type": kind, "data": data}}
    )


def test_traits_after_assignment(
    filled: tuple[kw.Session, kw.Ad], server: kw.LocalAdServer
) -> None:
    _, ad = filled
    assert ad.server_origin == server.url
    assert (
        ad.modal_url == f"{server.url}/api/modal/{ad.bid_id}?code=inlineAd&messageId=a1&sdk=sdk-js"
    )
    assert ad.frame_context["sdk"] == "sdk-js"
    assert ad.frame_context["messageId"] == "a1"
    assert ad.frame_context["otherParams"] == {}
    assert repr(ad) == "Ad(message_id='a1', code='inlineAd', state='filled')"


def test_frame_messages_become_events_and_traits(
    filled: tuple[kw.Session, kw.Ad],
) -> None:
    session, ad = filled
    frame(ad, "init-iframe")
    frame(ad, "resize-iframe", height=90)
    frame(ad, "show-iframe")
    frame(
        ad,
        "event-iframe",
        name="ad.viewed",
        payload={"content": "c", "messageId": "a1", "format": "inline"},
    )
    assert session.wait_idle(5)
    assert ad.height == 90.0 and ad.visible
    names = [event.name for event in session.events]
    assert names[-3:] == ["ad.render-started", "ad.height", "ad.viewed"]
    viewed = session.events[-1]
    assert isinstance(viewed, kw.Viewed) and viewed.revenue == 0.0123


def test_malformed_frame_message_is_reported(
    filled: tuple[kw.Session, kw.Ad],
    server: kw.LocalAdServer,
) -> None:
    _, ad = filled
    frame(ad, "resize-iframe", height="tall")
    report = server.wait_for_request("/error")
    assert report.json["error"].startswith("Malformed frame message")
    assert report.json["additionalData"]["bidId"] == ad.bid_id


def test_click_failure_is_reported(
    filled: tuple[kw.Session, kw.Ad], server: kw.LocalAdServer
) -> None:
    _, ad = filled
    front_end(ad, {"kind": "click-failed", "url": "javascript:alert(1)", "reason": "scheme"})
    assert "javascript:alert(1)" in server.wait_for_request("/error").json["error"]


def test_a_relay_drop_notice_is_reported_once_per_reason_with_bounded_text(
    filled: tuple[kw.Session, kw.Ad], server: kw.LocalAdServer
) -> None:
    session, ad = filled
    for _ in range(100):  # a page says it once per reason; even if it said it more often
        front_end(ad, {"kind": "frame-message-dropped", "reason": "size", "type": "x" * 100_000})
        front_end(ad, {"kind": "frame-message-dropped", "reason": "<script>", "type": "x"})
    front_end(ad, {"kind": "frame-message-dropped", "reason": "rate", "type": "resize-iframe"})
    assert session.wait_idle(5)
    errors = [r.json for r in server.requests_to("/error")]
    # Two reports, each its own request: they may reach the server in either order.
    assert sorted(e["error"][:48] for e in errors) == [
        "Frame messages not relayed to the kernel: rate (",
        "Frame messages not relayed to the kernel: size (",
    ]
    assert all(len(e["error"]) < 200 for e in errors)
    assert {e["additionalData"]["bidId"] for e in errors} == {ad.bid_id}


def test_modal_timeout_event(filled: tuple[kw.Session, kw.Ad]) -> None:
    session, ad = filled
    front_end(ad, {"kind": "modal-timeout"})
    assert session.wait_idle(5)
    assert session.events[-1] == kw.AdError(message="modal init timeout", err_code="timeout")


def test_browser_facts_reach_the_device(filled: tuple[kw.Session, kw.Ad]) -> None:
    _, ad = filled
    front_end(
        ad,
        {
            "kind": "browser-facts",
            "facts": {
                "screen": {
                    "width": 1920,
                    "height": 1080,
                    "dpr": 2,
                    "darkMode": True,
                    "orientation": "landscape",
                },
                "locale": "cs-CZ",
                "timezone": "Europe/Prague",
                "userAgent": "Mozilla/5.0",
                "network": {"type": "wifi", "detail": "4g"},
            },
        },
    )
    merged = device()
    assert merged["screen"] == {
        "width": 1920,
        "height": 1080,
        "dpr": 2.0,
        "darkMode": True,
        "orientation": "landscape",
    }
    assert merged["os"]["locale"] == "cs-CZ"
    assert merged["os"]["timezone"] == "Europe/Prague"
    assert merged["network"] == {"type": "wifi", "detail": "4g", "userAgent": "Mozilla/5.0"}
    assert merged["hardware"] == {"type": "desktop"}


def test_bad_browser_facts_are_dropped_field_by_field() -> None:
    browser_facts.update(
        {
            "screen": {"width": "wide", "height": -1, "dpr": 1.5, "orientation": "diagonal"},
            "userAgent": 7,
        }
    )
    assert device()["screen"] == {"dpr": 1.5}
    assert "network" not in device()
    browser_facts.update("nonsense")


def test_garbage_from_the_front_end_changes_nothing(
    filled: tuple[kw.Session, kw.Ad],
    server: kw.LocalAdServer,
) -> None:
    session, ad = filled
    assert session.wait_idle(5)
    events, reports = len(session.events), len(server.requests_to("/error"))
    for content in (
        None,
        [],
        "resize-iframe",
        {"kind": 3},
        {"kind": "frame-message"},
        {"kind": "frame-message", "message": "x"},
        {"kind": "frame-message", "message": {"type": "unknown-iframe", "data": {}}},
        {"kind": "browser-facts", "facts": ["not", "a", "mapping"]},
    ):
        front_end(ad, content)
    assert session.wait_idle(5)  # covers any /error report the garbage could have started
    assert len(session.events) == events
    # Only the two frame messages that are not objects are reported (rate-limited, §13).
    new_reports = sorted(r.json["error"] for r in server.requests_to("/error")[reports:])
    assert new_reports == [
        "Malformed frame message: malformed frame message: NoneType",
        "Malformed frame message: malformed frame message: str",
    ]
    assert (ad.height, ad.visible) == (0.0, False)
    # The handler is still working after all that.
    frame(ad, "resize-iframe", height=42)
    assert ad.height == 42.0


def test_destroy_is_idempotent_and_stops_handling(
    filled: tuple[kw.Session, kw.Ad],
) -> None:
    session, ad = filled
    ad.destroy()
    ad.destroy()
    assert ad.destroyed
    before = len(session.events)
    frame(ad, "init-iframe")
    assert len(session.events) == before
    assert repr(ad).endswith("state='destroyed')")
    assert session.create_ad("a1") is not ad


def test_ad_cannot_be_constructed_with_unknown_arguments(
    filled: tuple[kw.Session, kw.Ad],
) -> None:
    session, _ = filled
    with pytest.raises(TypeError, match="create_ad"):
        kw.Ad(session, "a1", "inlineAd", None, colour="red")


def test_announces_itself_when_created_and_answers_hello(
    filled: tuple[kw.Session, kw.Ad], monkeypatch: pytest.MonkeyPatch
) -> None:
    # docs/protocol.md §11: the front end loads no frame before it heard "live".
    session, _ = filled
    sent: list[tuple[kw.Ad, object]] = []
    monkeypatch.setattr(
        kw.Ad, "send", lambda self, content, buffers=None: sent.append((self, content))
    )
    ad = session.create_ad("a1", code="inlineAd", theme="dark")
    assert sent == [(ad, {"kind": "live"})]
    front_end(ad, {"kind": "hello"})
    assert sent == [(ad, {"kind": "live"})] * 2


def test_a_destroyed_ad_does_not_answer_hello(
    filled: tuple[kw.Session, kw.Ad], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, ad = filled
    sent: list[object] = []
    monkeypatch.setattr(kw.Ad, "send", lambda self, content, buffers=None: sent.append(content))
    ad.destroy()
    front_end(ad, {"kind": "hello"})
    assert sent == []


def test_the_page_gets_one_open_one_live_and_one_update_for_the_bid(
    server: kw.LocalAdServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The page handles comm messages one after another and mounts the frame on the
    # bid's update: the identity traits ride in comm_open, the bid's four in one update.
    import comm as comm_package
    import ipywidgets.widgets.widget as widget_module
    from comm.base_comm import BaseComm

    published: list[tuple[str, dict[str, Any]]] = []

    class RecordingComm(BaseComm):  # type: ignore[misc]
        def publish_msg(self, msg_type: str, data: Any = None, *_: Any, **__: Any) -> None:
            published.append((msg_type, data or {}))

    monkeypatch.setattr(comm_package, "create_comm", RecordingComm)
    monkeypatch.setattr(widget_module.comm, "create_comm", comm_package.create_comm)
    with kw.create_session(
        publisher_token="p", user_id="u", conversation_id="c", ad_server_url=server.url
    ) as session:
        session.add_message({"id": "u1", "role": "user", "content": "boots"})
        assert session.wait_idle(10)
        ad = session.create_ad("a1", theme="dark")
        session.add_message({"id": "a1", "role": "assistant", "content": "Boots!"})
        assert session.wait_idle(10)
        assert ad.bid_id is not None
    opened = [data["state"] for kind, data in published if kind == "comm_open"]
    assert [state["_model_name"] for state in opened] == ["LayoutModel", "AnyModel"]
    assert {key: opened[1][key] for key in ("message_id", "code", "theme")} == {
        "message_id": "a1",
        "code": "inlineAd",
        "theme": "dark",
    }
    messages = [data for kind, data in published if kind == "comm_msg"]
    assert messages[0] == {"method": "custom", "content": {"kind": "live"}}
    assert messages[1]["method"] == "update"
    assert sorted(messages[1]["state"]) == [
        "frame_context",
        "iframe_url",
        "modal_url",
        "server_origin",
    ]
    assert messages[1]["state"]["iframe_url"] == ad.iframe_url
