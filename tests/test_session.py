"""Sessions against a real LocalAdServer over loopback HTTP (docs/protocol.md §3)."""

from __future__ import annotations

import http.server
import inspect
import pydoc
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest

import kontext_widget as kw
from kontext_widget._constants import TIMING


class Recorder:
    """on_event / on_debug_event that remember what arrived, and on which thread."""

    def __init__(self) -> None:
        self.events: list[kw.AdEvent] = []
        self.debug: list[tuple[str, object]] = []
        self.threads: set[str] = set()

    def on_event(self, event: kw.AdEvent) -> None:
        self.threads.add(threading.current_thread().name)
        self.events.append(event)

    def on_debug(self, name: str, data: object) -> None:
        self.debug.append((name, data))

    def names(self) -> list[str]:
        return [event.name for event in self.events]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


SessionFactory = Callable[..., kw.Session]


@pytest.fixture
def make_session(server: kw.LocalAdServer, recorder: Recorder) -> Iterator[SessionFactory]:
    sessions: list[kw.Session] = []

    def make(**options: Any) -> kw.Session:
        options.setdefault("publisher_token", "pub-test")
        options.setdefault("user_id", "user-1")
        options.setdefault("conversation_id", "conv-1")
        options.setdefault("ad_server_url", server.url)
        options.setdefault("on_event", recorder.on_event)
        options.setdefault("on_debug_event", recorder.on_debug)
        session = kw.create_session(**options)
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        session.destroy()


def user(i: int | str, text: str = "best hiking boots?") -> dict[str, str]:
    return {"id": f"u{i}", "role": "user", "content": text}


def assistant(i: int | str, text: str = "Try these boots.") -> dict[str, str]:
    return {"id": f"a{i}", "role": "assistant", "content": text}


def after_first_question(make_session: SessionFactory, **options: Any) -> kw.Session:
    """A new session that sent its first user message and has handled the answer."""
    session = make_session(**options)
    session.add_message(user(1))
    assert session.wait_idle(10)
    return session


def turn(session: kw.Session, i: int = 1) -> None:
    session.add_message(user(i))
    session.add_message(assistant(i))
    assert session.wait_idle(10)


# -- creation -------------------------------------------------------------------


@pytest.mark.parametrize("option", ["publisher_token", "user_id", "conversation_id"])
def test_required_options_are_checked(make_session: SessionFactory, option: str) -> None:
    with pytest.raises(ValueError, match=option):
        make_session(**{option: ""})
    with pytest.raises(TypeError, match=option):
        make_session(**{option: 42})


@pytest.mark.parametrize(
    ("option", "value", "error"),
    [
        ("enabled_placement_codes", "inlineAd", TypeError),
        ("enabled_placement_codes", ["inlineAd", ""], ValueError),
        ("character", {"id": "c"}, TypeError),
        ("regulatory", {"gdpr": 1}, TypeError),
        ("user_email", 3, TypeError),
        ("ad_server_url", "ftp://x", ValueError),
        ("on_event", "print", TypeError),
        ("on_debug_event", 1, TypeError),
    ],
)
def test_optional_options_are_checked(
    make_session: SessionFactory, option: str, value: object, error: type[Exception]
) -> None:
    with pytest.raises(error, match=option):
        make_session(**{option: value})


def test_options_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        kw.create_session("pub", "u", "c")  # type: ignore[misc]


def test_create_session_has_the_signature_of_session() -> None:
    """Declared once (``Session.__init__``): ``help()`` and pdoc show every option for both."""
    session_options = inspect.signature(kw.Session).parameters
    factory = inspect.signature(kw.create_session)
    assert list(factory.parameters) == list(session_options)
    assert len(session_options) == 13
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in factory.parameters.values())
    assert factory.parameters == session_options
    assert factory.return_annotation == "Session"
    assert "publisher_token" in pydoc.render_doc(kw.create_session)


def test_a_missing_or_unknown_option_names_create_session() -> None:
    with pytest.raises(TypeError, match=r"create_session\(\) .*'publisher_token'"):
        kw.create_session(user_id="u", conversation_id="c")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"create_session\(\) .*'colour'"):
        kw.create_session(  # type: ignore[call-arg]
            publisher_token="p", user_id="u", conversation_id="c", colour="red"
        )


def test_init_is_sent_in_the_background(
    make_session: SessionFactory, server: kw.LocalAdServer
) -> None:
    started = time.perf_counter()
    session = make_session()
    assert time.perf_counter() - started < 0.5
    request = server.wait_for_request("/init")
    assert request.headers["Kontextso-Publisher-Token"] == "pub-test"
    assert request.headers["Content-Type"] == "application/json"
    assert request.json["publisherToken"] == "pub-test"
    assert request.json["userId"] == "user-1"
    assert request.json["sdk"] == {"name": "sdk-js", "platform": "web", "version": kw.__version__}
    assert "app" not in request.json
    assert session.wait_idle(5)


def test_install_id_is_persisted_and_shared(
    make_session: SessionFactory, server: kw.LocalAdServer
) -> None:
    make_session()
    make_session(conversation_id="conv-2")
    first, second = server.wait_for_request("/init"), server.wait_for_request("/init", count=2)
    assert first.json["installId"] == second.json["installId"]


def test_server_url_from_environment(
    server: kw.LocalAdServer, monkeypatch: pytest.MonkeyPatch, make_session: SessionFactory
) -> None:
    monkeypatch.setenv("KONTEXT_AD_SERVER_URL", server.url + "/")
    session = make_session(ad_server_url=None)
    assert session.ad_server_url == server.url
    server.wait_for_request("/init")


def test_default_placement_code(make_session: SessionFactory) -> None:
    assert make_session(enabled_placement_codes=[]).enabled_placement_codes == ("inlineAd",)
    assert make_session().enabled_placement_codes == ("inlineAd",)


# -- preload --------------------------------------------------------------------


def test_100_user_messages_coalesce_into_one_preload(
    make_session: SessionFactory, server: kw.LocalAdServer
) -> None:
    session = make_session()
    for i in range(100):
        session.add_message(user(i))
    assert session.wait_idle(10)
    preloads = server.requests_to("/preload")
    assert len(preloads) == 1
    messages = preloads[0].json["messages"]
    assert [m["id"] for m in messages] == [f"u{i}" for i in range(70, 100)]


def test_preload_body_and_headers(make_session: SessionFactory, server: kw.LocalAdServer) -> None:
    session = make_session(
        character=kw.Character("c1", "Ava", "https://a/x.png"),
        regulatory=kw.Regulatory(gdpr=1, gdpr_consent="CONSENT"),
        user_email="a@b.c",
        variant_id="v1",
        vendor_id="vendor",
        enabled_placement_codes=["inlineAd", "videoAd"],
    )
    session.add_message(user(1))
    assert session.wait_idle(10)
    request = server.requests_to("/preload")[0]
    body = request.json
    assert request.headers["Kontextso-Publisher-Token"] == "pub-test"
    assert request.headers["Kontextso-Is-Disabled"] == "0"
    assert body["conversationId"] == "conv-1"
    assert body["enabledPlacementCodes"] == ["inlineAd", "videoAd"]
    assert body["character"] == {"id": "c1", "name": "Ava", "avatarUrl": "https://a/x.png"}
    assert body["regulatory"] == {"gdpr": 1, "gdprConsent": "CONSENT"}
    assert body["userEmail"] == "a@b.c"
    assert body["variantId"] == "v1"
    assert body["vendorId"] == "vendor"
    assert "advertisingId" not in body
    assert "sessionId" not in body
    assert body["device"]["hardware"] == {"type": "desktop"}
    assert set(body["device"]["os"]) == {"name", "version", "locale", "timezone"}
    assert body["messages"][0]["createdAt"].endswith("Z")


def test_session_id_is_stored_and_sent(
    make_session: SessionFactory, server: kw.LocalAdServer
) -> None:
    session = make_session()
    assert session.session_id is None
    turn(session, 1)
    assert session.session_id is not None
    turn(session, 2)
    second = server.requests_to("/preload")[1]
    assert second.json["sessionId"] == session.session_id


def test_filled_bid_attaches_when_assistant_arrives_after_the_fill(
    make_session: SessionFactory, recorder: Recorder, server: kw.LocalAdServer
) -> None:
    session = after_first_question(make_session)
    assert recorder.names() == ["ad.filled"]
    ad = session.create_ad("a1")
    assert ad.bid_id is None
    session.add_message(assistant(1))
    assert session.wait_idle(5)
    filled = recorder.events[0]
    assert isinstance(filled, kw.Filled)
    assert ad.bid_id == filled.bid_id
    assert filled.bid_id in server.bids
    assert ad.iframe_url == (
        f"{server.url}/api/frame/{filled.bid_id}?code=inlineAd&messageId=a1&sdk=sdk-js"
    )


def test_filled_bid_attaches_when_assistant_arrives_before_the_fill(
    make_session: SessionFactory, server: kw.LocalAdServer
) -> None:
    server.fill(delay=0.2)
    session = make_session()
    session.add_message(user(1))
    session.add_message(assistant(1))
    ad = session.create_ad("a1", theme="dark")
    assert ad.bid_id is None
    assert session.wait_idle(10)
    assert ad.bid_id is not None
    assert ad.iframe_url.endswith("&messageId=a1&sdk=sdk-js&theme=dark")
    assert ad.frame_context["otherParams"] == {"theme": "dark"}
    assert [m["id"] for m in ad.frame_context["messages"]] == ["u1", "a1"]


def test_trailing_user_message_blocks_assignment(make_session: SessionFactory) -> None:
    session = after_first_question(make_session)
    session.add_message(user(2))
    session.add_message(assistant(2))
    assert session.wait_idle(10)
    # The first preload's bids were dropped by the newer user message; the
    # second's attach to a2, never to an older assistant message.
    assert session.create_ad("a2").bid_id is not None


def test_a_preload_attaches_to_one_message_only(make_session: SessionFactory) -> None:
    session = make_session()
    turn(session, 1)
    session.add_message(assistant("1b"))
    assert session.wait_idle(5)
    assert session.create_ad("a1").bid_id is not None
    assert session.create_ad("a1b").bid_id is None


def test_earlier_ads_keep_their_bids(make_session: SessionFactory) -> None:
    session = make_session()
    turn(session, 1)
    first = session.create_ad("a1")
    bid = first.bid_id
    turn(session, 2)
    second = session.create_ad("a2")
    assert first.bid_id == bid
    assert second.bid_id not in (None, bid)


def test_several_codes_each_ad_takes_its_own_bid(make_session: SessionFactory) -> None:
    session = make_session(enabled_placement_codes=["inlineAd", "videoAd"])
    turn(session)
    inline, video = session.create_ad("a1"), session.create_ad("a1", code="videoAd")
    assert inline.bid_id and video.bid_id and inline.bid_id != video.bid_id
    assert "code=videoAd" in video.iframe_url


# -- update-iframe: each ad describes its own turn (section 11) ------------------------


def _context_ids(ad: kw.Ad) -> list[str]:
    return [message["id"] for message in ad.frame_context["messages"]]


def test_an_ad_created_late_describes_its_own_turn(make_session: SessionFactory) -> None:
    session = make_session()
    session.add_message(user(1, "best hiking boots?"))
    session.add_message(assistant(1))
    assert session.wait_idle(10)
    session.add_message(user(2, "and a coffee grinder?"))
    session.add_message(assistant(2))
    assert session.wait_idle(10)
    # a1's ad is created (or drawn) after the second turn: it still ends at a1.
    first, second = session.create_ad("a1"), session.create_ad("a2")
    assert _context_ids(first) == ["u1", "a1"]
    assert _context_ids(second) == ["u1", "a1", "u2", "a2"]
    assert first.frame_context["messages"][0]["content"] == "best hiking boots?"
    assert first.frame_context["messageId"] == "a1"


def test_an_ad_keeps_its_turn_when_the_conversation_moves_on(
    make_session: SessionFactory,
) -> None:
    session = make_session()
    turn(session, 1)
    ad = session.create_ad("a1")
    before = dict(ad.frame_context)
    turn(session, 2)
    session.add_message(user(3))
    assert session.wait_idle(10)
    assert ad.frame_context == before
    assert _context_ids(ad) == ["u1", "a1"]


def test_update_iframe_messages_carry_created_at(make_session: SessionFactory) -> None:
    session = make_session()
    session.add_message({**user(1), "createdAt": "2026-01-02T03:04:05Z"})
    session.add_message(assistant(1))
    assert session.wait_idle(10)
    first = session.create_ad("a1").frame_context["messages"][0]
    assert first == {
        "id": "u1",
        "role": "user",
        "content": "best hiking boots?",
        "createdAt": "2026-01-02T03:04:05.000Z",
    }


def test_update_iframe_holds_the_newest_30_up_to_the_ads_message(
    make_session: SessionFactory,
) -> None:
    session = make_session()
    for i in range(40):
        session.add_message(user(i, f"question {i}"))
        session.add_message(assistant(i))
    assert session.wait_idle(10)
    ad = session.create_ad("a39")
    assert _context_ids(ad) == [f"{role}{i}" for i in range(25, 40) for role in "ua"]
    # A new ad of a39 (another theme replaces it) after the window moved on: the same turn.
    turn(session, 40)
    assert _context_ids(session.create_ad("a39", theme="dark")) == _context_ids(ad)


def test_messages_are_trimmed_to_30(make_session: SessionFactory) -> None:
    session = make_session()
    for i in range(35):
        session.add_message(assistant(i))
    assert [m.id for m in session.messages] == [f"a{i}" for i in range(5, 35)]


def test_track_only(
    make_session: SessionFactory, recorder: Recorder, server: kw.LocalAdServer
) -> None:
    session = make_session()
    session.add_message(user(1), track_only=True)
    session.add_message(assistant(1))
    assert session.wait_idle(10)
    request = server.requests_to("/preload")[0]
    assert request.headers["Kontextso-Is-Disabled"] == "1"
    assert recorder.names() == []
    assert session.session_id is not None
    assert session.create_ad("a1").bid_id is None


def test_track_only_failures_are_forwarded(
    make_session: SessionFactory, recorder: Recorder, server: kw.LocalAdServer
) -> None:
    server.no_fill("ads_disabled", times=1)
    session = make_session()
    session.add_message(user(1), track_only=True)
    assert session.wait_idle(10)
    assert [e.to_dict() for e in recorder.events] == [
        {"name": "ad.no-fill", "payload": {"skipCode": "ads_disabled"}}
    ]


# -- answers --------------------------------------------------------------------


# Answer (scripted once) -> the one event the first question ends with.
NO_FILL_ANSWERS: dict[str, tuple[Callable[[kw.LocalAdServer], object], str]] = {
    "http 204": (lambda server: server.http_status(204, times=1), "unfilled_bid"),
    "empty bids, default skip code": (lambda server: server.empty(times=1), "no_fill"),
    "no bid for the enabled codes": (
        lambda server: server.fill(codes=["otherAd"], times=1),
        "unfilled_bid",
    ),
}


@pytest.mark.parametrize("answer", list(NO_FILL_ANSWERS))
def test_answers_without_a_bid_are_no_fills(
    make_session: SessionFactory, recorder: Recorder, server: kw.LocalAdServer, answer: str
) -> None:
    script, skip_code = NO_FILL_ANSWERS[answer]
    script(server)
    after_first_question(make_session)
    assert recorder.events == [kw.NoFill(skip_code=skip_code)]


def test_skip_stores_session_id(
    make_session: SessionFactory, recorder: Recorder, server: kw.LocalAdServer
) -> None:
    server.no_fill("ads_disabled", times=1)
    session = after_first_question(make_session)
    assert recorder.events == [kw.NoFill(skip_code="ads_disabled")]
    assert session.session_id is not None


def test_error_answer(
    make_session: SessionFactory, recorder: Recorder, server: kw.LocalAdServer
) -> None:
    server.error("geo_disabled", times=1)
    session = after_first_question(make_session)
    assert recorder.events == [kw.AdError(message="Ad generation skipped", err_code="geo_disabled")]
    assert session.session_id is None
    assert not session.disabled
    turn(session, 2)
    assert recorder.names()[-1] == "ad.filled"


def test_permanent_error_disables_the_session(
    make_session: SessionFactory, recorder: Recorder, server: kw.LocalAdServer
) -> None:
    server.error("geo_disabled", permanent=True, times=1)
    session = after_first_question(make_session)
    assert session.disabled
    assert recorder.events == [kw.AdError(message="Session is disabled", err_code="geo_disabled")]
    session.add_message(user(2))
    session.add_message(assistant(2))
    assert session.wait_idle(5)
    assert len(server.requests_to("/preload")) == 1
    assert [m.id for m in session.messages] == ["u1", "u2", "a2"]


def test_http_500_is_not_retried(
    make_session: SessionFactory, recorder: Recorder, server: kw.LocalAdServer
) -> None:
    server.http_status(500, times=1)
    after_first_question(make_session)
    assert len(server.requests_to("/preload")) == 1
    assert recorder.events == [kw.AdError(message="HTTP 500", err_code="request_failed")]
    assert server.requests_to("/error") == []


@pytest.mark.usefixtures("fast_retries")
def test_429_is_retried_then_succeeds(
    make_session: SessionFactory, recorder: Recorder, server: kw.LocalAdServer
) -> None:
    server.http_status(429, times=2)
    after_first_question(make_session)
    assert len(server.requests_to("/preload")) == 3
    assert recorder.names() == ["ad.filled"]


@pytest.mark.usefixtures("fast_retries")
def test_429_exhausted_is_rate_limited(
    make_session: SessionFactory, recorder: Recorder, server: kw.LocalAdServer
) -> None:
    server.http_status(429, times=4)
    after_first_question(make_session)
    assert len(server.requests_to("/preload")) == 4
    assert recorder.events == [kw.AdError(message="rate limited", err_code="request_failed")]
    report = server.wait_for_request("/error")
    assert report.json["error"] == "Error preloading ads: rate limited"
    assert "Kontextso-Publisher-Token" not in report.headers


def test_malformed_answer_is_reported(
    make_session: SessionFactory, recorder: Recorder, server: kw.LocalAdServer
) -> None:
    server.raw(b'{"sessionId": ', times=1)
    after_first_question(make_session)
    [event] = recorder.events
    assert isinstance(event, kw.AdError)
    assert event.err_code == "request_failed"
    report = server.wait_for_request("/error")
    assert report.json["stack"] == "Preload.fetch"
    assert report.json["additionalData"]["conversationId"] == "conv-1"


def test_timeout_uses_init_override(
    make_session: SessionFactory, recorder: Recorder, server: kw.LocalAdServer
) -> None:
    TIMING.retry_waits = ()
    server.init_response(preload_timeout=200)
    session = make_session()
    server.wait_for_request("/init")
    assert session.wait_idle(5)
    assert session.preload_timeout_ms == 200
    server.fill(delay=2.0, times=1)
    started = time.monotonic()
    session.add_message(user(1))
    assert session.wait_idle(10)
    assert time.monotonic() - started < 1.5
    [event] = recorder.events
    assert event == kw.AdError(message="timed out after 200 ms", err_code="request_failed")


@pytest.mark.usefixtures("fast_retries")
def test_server_down(make_session: SessionFactory, recorder: Recorder) -> None:
    with kw.LocalAdServer() as doomed:
        url = doomed.url
    after_first_question(make_session, ad_server_url=url)
    [event] = recorder.events
    assert isinstance(event, kw.AdError)
    assert event.err_code == "request_failed"
    assert "ConnectError" in event.message


def test_init_disable(
    make_session: SessionFactory, recorder: Recorder, server: kw.LocalAdServer
) -> None:
    server.init_response(enabled=False)
    session = make_session()
    assert session.wait_idle(10)
    assert session.disabled
    assert recorder.events == [
        kw.AdError(message="Session is disabled", err_code="session_disabled_by_init")
    ]
    session.add_message(user(1))
    assert session.wait_idle(5)
    assert server.requests_to("/preload") == []
    assert len(session.messages) == 1


def test_init_report_gates(
    make_session: SessionFactory, recorder: Recorder, server: kw.LocalAdServer
) -> None:
    server.init_response(report_errors=False, report_debug=True)
    session = make_session()
    assert session.wait_idle(10)
    server.raw(b"nonsense", times=1)
    session.add_message(user(1))
    assert session.wait_idle(10)
    debug = server.wait_for_request("/debug")
    assert debug.json["name"].startswith("Session: ")
    assert isinstance(debug.json.get("data", ""), str)
    assert server.requests_to("/error") == []  # wait_idle covers reports already started


def test_newer_user_message_aborts_the_inflight_preload(
    make_session: SessionFactory, recorder: Recorder, server: kw.LocalAdServer
) -> None:
    server.fill(delay=0.5, times=1)
    session = make_session()
    session.add_message(user(1))
    server.wait_for_request("/preload")
    session.add_message(user(2))
    session.add_message(assistant(2))
    assert session.wait_idle(10)
    preloads = server.requests_to("/preload")
    assert len(preloads) == 2
    # The snapshot is taken after the debounce (Android), so a2 rides along.
    assert [m["id"] for m in preloads[1].json["messages"]] == ["u1", "u2", "a2"]
    assert recorder.names() == ["ad.filled"]
    assert session.create_ad("a2").bid_id == recorder.events[0].bid_id  # type: ignore[attr-defined]
    assert server.requests_to("/error") == []


# -- options ----------------------------------------------------------------------


def test_update_options(make_session: SessionFactory, server: kw.LocalAdServer) -> None:
    session = make_session(variant_id="v1", user_email="a@b.c")
    session.update_options(variant_id="v2", advertising_id="ad-1", user_email=None)
    turn(session)
    body = server.requests_to("/preload")[0].json
    assert body["variantId"] == "v2"
    assert body["advertisingId"] == "ad-1"
    assert body["userEmail"] == "a@b.c"


@pytest.mark.parametrize(
    "name",
    [
        "publisher_token",
        "user_id",
        "conversation_id",
        "enabled_placement_codes",
        "character",
        "ad_server_url",
    ],
)
def test_update_options_refuses_identity_fields(make_session: SessionFactory, name: str) -> None:
    session = make_session()
    with pytest.raises(TypeError, match="new session"):
        session.update_options(**{name: "x"})


def test_update_options_checks_types(make_session: SessionFactory) -> None:
    with pytest.raises(TypeError, match="regulatory"):
        make_session().update_options(regulatory={"gdpr": 1})  # type: ignore[arg-type]


# -- ads --------------------------------------------------------------------------


def test_create_ad_keys(make_session: SessionFactory) -> None:
    session = make_session(enabled_placement_codes=["inlineAd", "videoAd"])
    ad = session.create_ad("a1")
    assert session.create_ad("a1") is ad
    assert session.create_ad("a1", code="inlineAd", theme=None) is ad
    video = session.create_ad("a1", code="videoAd")
    dark = session.create_ad("a1", theme="dark")
    assert ad.destroyed and not video.destroyed and not dark.destroyed
    assert session.create_ad("a1", theme="dark") is dark
    assert session.create_ad("a1") is not ad


def test_create_ad_checks_arguments(make_session: SessionFactory) -> None:
    session = make_session()
    with pytest.raises(ValueError, match="message_id"):
        session.create_ad("")
    with pytest.raises(ValueError, match="not an enabled placement code"):
        session.create_ad("a1", code="sidebar")
    with pytest.raises(TypeError, match="theme"):
        session.create_ad("a1", theme=3)  # type: ignore[arg-type]


def test_ad_members_are_read_only(make_session: SessionFactory) -> None:
    ad = make_session().create_ad("a1", theme="light")
    assert (ad.message_id, ad.code, ad.theme) == ("a1", "inlineAd", "light")
    with pytest.raises(Exception, match="read-only"):
        ad.message_id = "other"
    assert (
        repr(ad) == "Ad(message_id='a1', code='inlineAd', theme='light', state='waiting for a bid')"
    )


def test_mount_once(make_session: SessionFactory) -> None:
    ad = make_session().create_ad("a1")
    assert ad.mount() is ad
    with pytest.raises(RuntimeError, match="already mounted"):
        ad.mount()


def test_render_mounts(make_session: SessionFactory) -> None:
    session = make_session()
    ad = session.render("a1")
    with pytest.raises(RuntimeError):
        ad.mount()


def test_send_user_event(make_session: SessionFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    session = make_session(enabled_placement_codes=["inlineAd", "videoAd"])
    inline, video = session.create_ad("a1"), session.create_ad("a1", code="videoAd")
    sent: list[tuple[str, dict[str, object]]] = []
    monkeypatch.setattr(inline, "send", lambda content: sent.append(("inline", content)))
    monkeypatch.setattr(video, "send", lambda content: sent.append(("video", content)))
    session.send_user_event("user.typing.started")
    session.send_user_event("custom", {"x": 1}, code="videoAd")
    assert sent == [
        ("inline", {"kind": "user-event", "name": "user.typing.started"}),
        ("video", {"kind": "user-event", "name": "custom", "payload": {"x": 1}}),
    ]
    with pytest.raises(ValueError, match="name"):
        session.send_user_event("")
    with pytest.raises(TypeError, match="payload"):
        session.send_user_event("x", [1])  # type: ignore[arg-type]


def test_create_ad_for_a_user_message_warns_at_once(make_session: SessionFactory) -> None:
    """docs/protocol.md §3.4: bids go under assistant messages; a user id could never fill."""
    session = make_session()
    session.add_message(user(1))
    with pytest.warns(UserWarning, match="'u1' is a user message") as caught:
        ad = session.create_ad("u1")
    assert caught[0].filename == __file__  # attributed to the caller, not to the package
    assert ad.bid_id is None
    with pytest.warns(UserWarning, match="'u1' is a user message") as caught:
        session.render("u1", theme="dark")
    assert caught[0].filename == __file__


def test_an_id_not_known_yet_is_accepted_and_fills_later(
    make_session: SessionFactory, recorder: Recorder
) -> None:
    session = make_session()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # from every thread, delivery's included
        ad = session.create_ad("a1")  # e.g. rendered before a streamed reply ends
        turn(session)
    assert [str(w.message) for w in caught] == []
    assert ad.bid_id is not None
    assert not [name for name, _ in recorder.debug if name == "Ad: waiting-for-message"]


def test_a_waiting_ad_is_named_when_the_bid_goes_elsewhere(
    make_session: SessionFactory, recorder: Recorder
) -> None:
    session = make_session()
    ad = session.create_ad("reply-1")  # an id no message will have
    with pytest.warns(UserWarning, match="waits for message 'reply-1'.*went to .*'a1'"):
        turn(session)  # wait_idle delivers the warning with the events
    assert ad.bid_id is None
    waiting = [data for name, data in recorder.debug if name == "Ad: waiting-for-message"]
    assert waiting == [{"messageId": "reply-1", "code": "inlineAd", "bidAssignedTo": "a1"}]


def test_an_ad_whose_message_left_the_window_is_not_waiting(
    make_session: SessionFactory, recorder: Recorder, server: kw.LocalAdServer
) -> None:
    session = make_session()
    server.no_fill("ads_disabled", times=1)
    turn(session, 1)
    old = session.create_ad("a1")  # its turn had no fill
    for i in range(2, 40):  # a1 leaves the 30-message window
        session.add_message(assistant(f"{i}-filler"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        turn(session, 40)  # this bid goes to a40: a1 is not waiting for it
    assert [str(w.message) for w in caught] == []
    assert old.bid_id is None
    assert session.create_ad("a40").bid_id is not None
    assert not [name for name, _ in recorder.debug if name == "Ad: waiting-for-message"]


class _SlowReports(http.server.BaseHTTPRequestHandler):
    """Answers /error and /debug only after a while, and records them just before answering."""

    delay = 0.3
    answered: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        if self.path == "/init":
            body = b'{"enabled": true, "reportErrors": true, "reportDebug": true}'
        elif self.path == "/preload":
            body = b"not json"  # an internal failure (section 2.2 #8): reported to /error
        else:
            threading.Event().wait(self.delay)  # the server is slow, the test does not sleep
            self.answered.append(self.path)
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_wait_idle_covers_the_reports_already_started() -> None:
    """docs/protocol.md §2.3: when wait_idle returns, the /error and /debug reports arrived."""
    _SlowReports.answered = []
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SlowReports) as slow:
        serving = threading.Thread(target=slow.serve_forever, daemon=True)
        serving.start()
        session = kw.create_session(
            publisher_token="p",
            user_id="u",
            conversation_id="c",
            ad_server_url=f"http://127.0.0.1:{slow.server_address[1]}",
        )
        try:
            assert session.wait_idle(10)  # /init answered: the debug gate is open
            session.add_message(user(1))
            assert session.wait_idle(10)
            answered = list(_SlowReports.answered)
        finally:
            session.destroy()
            slow.shutdown()
            serving.join(5)
    assert "/error" in answered
    assert "/debug" in answered


# -- lifecycle --------------------------------------------------------------------


def test_destroy_during_inflight_preload(
    make_session: SessionFactory, recorder: Recorder, server: kw.LocalAdServer
) -> None:
    server.fill(delay=0.5, times=1)
    session = make_session()
    ad = session.create_ad("a1")
    session.add_message(user(1))
    server.wait_for_request("/preload")
    session.destroy()
    session.destroy()
    assert session.destroyed and ad.destroyed
    assert session.wait_idle(5)  # the cancelled preload's task has ended: nothing can follow
    assert recorder.names() == []
    assert len(server.requests_to("/preload")) == 1
    for call in (
        lambda: session.add_message(user(2)),
        lambda: session.create_ad("a2"),
        lambda: session.render("a2"),
    ):
        with pytest.raises(kw.SessionDestroyedError):
            call()


def test_context_manager_destroys(server: kw.LocalAdServer) -> None:
    with kw.create_session(
        publisher_token="p", user_id="u", conversation_id="c", ad_server_url=server.url
    ) as session:
        ad = session.create_ad("a1")
    assert session.destroyed and ad.destroyed
    assert (
        repr(session) == "Session(user_id='u', conversation_id='c', messages=0, state='destroyed')"
    )


def test_close_is_destroy(make_session: SessionFactory) -> None:
    session = make_session()
    session.close()
    assert session.destroyed


def test_callback_exceptions_are_contained(
    make_session: SessionFactory, recorder: Recorder
) -> None:
    def explode(_event: kw.AdEvent) -> None:
        raise RuntimeError("user bug")

    session = make_session(on_event=explode)
    turn(session, 1)
    turn(session, 2)
    errors = [data for name, data in recorder.debug if name == "Session: callback-error"]
    assert len(errors) == 2
    assert "user bug" in errors[0]["error"]  # type: ignore[index]
    assert [e.name for e in session.events] == ["ad.filled", "ad.filled"]


def test_raising_debug_callback_is_contained(
    make_session: SessionFactory, recorder: Recorder
) -> None:
    def explode(_name: str, _data: object) -> None:
        raise RuntimeError("debug bug")

    session = make_session(on_debug_event=explode)
    turn(session)
    assert recorder.names() == ["ad.filled"]


def test_callbacks_run_in_order_on_the_callback_thread(
    make_session: SessionFactory, recorder: Recorder, server: kw.LocalAdServer
) -> None:
    session = make_session(enabled_placement_codes=["inlineAd", "videoAd"])
    for i in range(5):
        turn(session, i)
    assert recorder.names() == ["ad.filled"] * 10
    assert recorder.threads == {"kontext-widget-callbacks"}
    assert session.events == recorder.events


def test_events_history_is_bounded(make_session: SessionFactory) -> None:
    session = make_session()
    for i in range(1005):
        session._state.recorder.emit(kw.NoFill(skip_code=str(i)))
    events = session.events
    assert len(events) == 1000
    assert events[0] == kw.NoFill(skip_code="5")


def test_debug_events(make_session: SessionFactory, recorder: Recorder) -> None:
    session = make_session()
    turn(session)
    names = [name for name, _ in recorder.debug]
    for expected in (
        "Session: created",
        "Session: message-added",
        "Session: preload-start",
        "Session: bid-assigned",
    ):
        assert expected in names


def test_wait_idle_checks_timeout(make_session: SessionFactory) -> None:
    with pytest.raises(ValueError, match="timeout"):
        make_session().wait_idle(-1)


def test_wait_idle_times_out(make_session: SessionFactory, server: kw.LocalAdServer) -> None:
    server.fill(delay=1.0, times=1)
    session = make_session()
    session.add_message(user(1))
    assert session.wait_idle(0.1) is False
    assert session.wait_idle(10) is True


def test_assignments_stay_bounded(make_session: SessionFactory) -> None:
    session = make_session()
    kept = None
    for i in range(70):
        turn(session, i)
        if i == 0:
            kept = session.create_ad("a0")
    assert len(session._state.assignments._by_message) <= 61
    assert "a0" in session._state.assignments._by_message  # it has a live ad
    assert kept is not None and kept.bid_id is not None
    assert session.create_ad("a69").bid_id is not None
