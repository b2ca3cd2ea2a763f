"""Property-based fuzzing of every input boundary (issue 5): user input, server answers, frames.

Three boundaries, three contracts:

* What the publisher passes (value types, ``create_session`` options, session
  methods) either works or raises ``ValueError``/``TypeError`` naming the
  problem, and a rejected call leaves the session as it was.
* What the ad server answers never raises out of ``_wire``: every answer is
  classified into one outcome consistent with docs/protocol.md §2.2.
* What an ad frame posts never raises out of ``FrameProtocol`` and only
  produces the events section 6.5 allows.

Example counts are bounded so that the module runs in seconds.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kontext_widget import (
    AdError,
    AdHeight,
    Character,
    LocalAdServer,
    Message,
    Regulatory,
    RenderCompleted,
    RenderStarted,
    Session,
    Viewed,
    create_session,
)
from kontext_widget._frame.inbound import FrameProtocol
from kontext_widget._network.init import MAX_PRELOAD_TIMEOUT_MS, InitSettings, decode_init
from kontext_widget._network.preload import (
    PreloadError,
    PreloadFilled,
    PreloadNoFill,
    classify_preload,
)
from kontext_widget._network.wire import Bid, DecodeError

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# -- strategies ----------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
# Anything a Python caller might pass by mistake, JSON-like or not.
any_value = st.one_of(
    json_values,
    st.binary(max_size=8),
    st.datetimes(timezones=st.none() | st.timezones()),
    st.tuples(st.text(max_size=4)),
    st.just(object()),
    st.just(b"inlineAd"),
    st.just(float("nan")),
)
uuids = st.uuids().map(str)
uuid_like = st.one_of(
    uuids,
    uuids.map(str.upper),
    st.text(max_size=40),
    st.integers(),
    st.none(),
    st.just(""),
)
huge_numbers = st.one_of(
    st.integers(min_value=10**308, max_value=10**400), st.integers(max_value=-(10**308))
)
wrong_typed = st.one_of(json_values, huge_numbers)


# -- 1. publisher input ----------------------------------------------------------------

ACCEPTABLE = (ValueError, TypeError)


def constructs_or_rejects(factory: Any, *args: Any, **kwargs: Any) -> object | None:
    """Call ``factory``; a rejection must be ValueError/TypeError with a message."""
    rejection: Exception | None = None
    try:
        return factory(*args, **kwargs)
    except ACCEPTABLE as exc:
        rejection = exc
    assert str(rejection), f"{type(rejection).__name__} without a message"
    return None


@FUZZ
@given(
    id=st.one_of(st.text(max_size=10), any_value),
    role=st.one_of(st.sampled_from(["user", "assistant", "system", "User", ""]), any_value),
    content=st.one_of(st.text(max_size=10), any_value),
    created_at=st.one_of(st.none(), st.datetimes(timezones=st.none() | st.timezones()), any_value),
)
def test_message_constructs_or_rejects(
    id: object, role: object, content: object, created_at: object
) -> None:
    message = constructs_or_rejects(
        Message, id=id, role=role, content=content, created_at=created_at
    )
    if isinstance(message, Message):
        wire = message.to_wire()
        assert wire["role"] in ("user", "assistant")
        # Section 2.2: UTC ISO-8601 with three fraction digits and Z, whatever the year.
        assert len(wire["createdAt"]) == 24
        assert wire["createdAt"].endswith("Z")
        json.dumps(wire)


@FUZZ
@given(
    mapping=st.one_of(
        st.dictionaries(
            st.sampled_from(["id", "role", "content", "createdAt", "created_at", "extra"]),
            st.one_of(st.text(max_size=30), any_value),
        ),
        any_value,
    )
)
def test_message_coerce_constructs_or_rejects(mapping: object) -> None:
    message = constructs_or_rejects(Message.coerce, mapping)
    if isinstance(message, Message):
        # What the SDK sends, read back, is the same message (to the millisecond).
        again = Message.coerce(json.loads(json.dumps(message.to_wire())))
        assert (again.id, again.role, again.content) == (message.id, message.role, message.content)
        assert again.to_wire() == message.to_wire()


@FUZZ
@given(
    id=any_value,
    name=any_value,
    avatar_url=any_value,
    is_nsfw=any_value,
    greeting=any_value,
    persona=any_value,
    tags=st.one_of(st.lists(st.text(max_size=5), max_size=3), any_value),
)
def test_character_constructs_or_rejects(**fields: object) -> None:
    character = constructs_or_rejects(Character, **fields)
    if isinstance(character, Character):
        json.dumps(character.to_wire())


@FUZZ
@given(
    gdpr=st.one_of(st.sampled_from([0, 1, True, 2, -1, 1.0]), any_value),
    gdpr_consent=any_value,
    coppa=st.one_of(st.sampled_from([0, 1, False]), any_value),
    gpp=any_value,
    gpp_sid=st.one_of(st.lists(st.integers(), max_size=3), any_value),
    us_privacy=any_value,
)
def test_regulatory_constructs_or_rejects(**fields: object) -> None:
    regulatory = constructs_or_rejects(Regulatory, **fields)
    if isinstance(regulatory, Regulatory):
        wire = regulatory.to_wire()
        if wire is not None:
            assert wire.get("gdpr", 0) in (0, 1)
            assert wire.get("coppa", 0) in (0, 1)
            json.dumps(wire)


@pytest.fixture(scope="module")
def server() -> Iterator[LocalAdServer]:
    with LocalAdServer() as local_server:
        yield local_server


not_an_url = st.one_of(
    # Blank means "the default server", so it is not fuzzed: no request may leave the machine.
    st.text(min_size=1, max_size=20).filter(
        lambda text: bool(text.strip()) and not text.strip().lower().startswith("http")
    ),
    st.integers(),
    st.binary(max_size=4),
)

OPTION_NAMES = [
    "publisher_token",
    "user_id",
    "conversation_id",
    "enabled_placement_codes",
    "character",
    "regulatory",
    "user_email",
    "variant_id",
    "advertising_id",
    "vendor_id",
    "ad_server_url",
    "on_event",
    "on_debug_event",
]


@FUZZ
@given(
    name=st.sampled_from(OPTION_NAMES),
    value=st.one_of(any_value, st.lists(any_value, max_size=3)),
    url_value=not_an_url,
)
def test_create_session_options_construct_or_reject(
    server: LocalAdServer, name: str, value: object, url_value: object
) -> None:
    options: dict[str, Any] = {
        "publisher_token": "pub-fuzz",
        "user_id": "user-fuzz",
        "conversation_id": "conv-fuzz",
        "ad_server_url": server.url,
    }
    # Never hand an arbitrary URL to a session that could then resolve it.
    options[name] = url_value if name == "ad_server_url" else value
    session = constructs_or_rejects(create_session, **options)
    if isinstance(session, Session):
        session.destroy()
        assert session.ad_server_url == server.url


@pytest.fixture(scope="module")
def live_session(server: LocalAdServer) -> Iterator[Session]:
    with create_session(
        publisher_token="pub-fuzz",
        user_id="user-fuzz",
        conversation_id="conv-fuzz",
        ad_server_url=server.url,
    ) as session:
        yield session


@FUZZ
@given(
    call=st.sampled_from(["add_message", "create_ad", "update_options", "send_user_event"]),
    value=st.one_of(
        any_value,
        st.dictionaries(
            st.sampled_from(["id", "role", "content", "createdAt"]),
            st.one_of(st.text(max_size=10), any_value),
        ),
    ),
    keyword=st.sampled_from(
        ["track_only", "code", "theme", "variant_id", "regulatory", "user_id", "payload"]
    ),
)
def test_a_rejected_call_leaves_the_session_working(
    live_session: Session, call: str, value: object, keyword: str
) -> None:
    before = live_session.messages
    method = getattr(live_session, call)
    if call == "update_options":
        outcome = constructs_or_rejects(method, **{keyword: value})
    elif call == "add_message":
        outcome = constructs_or_rejects(method, value, track_only=value)
    else:
        outcome = constructs_or_rejects(method, value, **{keyword: value})
    if outcome is None and call == "add_message":
        assert live_session.messages == before
    # The session still takes a valid message after whatever happened.
    marker = Message(id=f"ok-{uuid.uuid4()}", role="assistant", content="still alive")
    live_session.add_message(marker)
    assert live_session.messages[-1] == marker
    assert not live_session.destroyed


def test_the_fuzzed_session_still_fills(live_session: Session) -> None:
    live_session.add_message(Message(id="final-user", role="user", content="boots?"))
    assert live_session.wait_idle(10)
    assert any(event.name == "ad.filled" for event in live_session.events)


# -- 2. server answers -------------------------------------------------------------------

CODES = ("inlineAd", "videoAd")

bid_objects = st.fixed_dictionaries(
    {},
    optional={
        "bidId": uuid_like,
        "code": st.one_of(st.sampled_from([*CODES, "otherAd", ""]), wrong_typed),
        "revenue": st.one_of(st.floats(), huge_numbers, wrong_typed),
        "impressionTrigger": wrong_typed,
    },
)
structured_answers = st.fixed_dictionaries(
    {},
    optional={
        "sessionId": uuid_like,
        "bids": st.one_of(st.lists(st.one_of(bid_objects, wrong_typed), max_size=3), wrong_typed),
        "skip": st.one_of(st.booleans(), wrong_typed),
        "skipCode": st.one_of(st.text(max_size=10), wrong_typed),
        "errCode": st.one_of(st.text(max_size=10), wrong_typed),
        "permanent": st.one_of(st.booleans(), wrong_typed),
        "error": wrong_typed,
    },
)


def _canonical_uuid(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def check_outcome(status: int, content: bytes, codes: tuple[str, ...]) -> object:
    outcome = classify_preload(status, content, codes)
    assert isinstance(outcome, PreloadFilled | PreloadNoFill | PreloadError)
    if status == 204:
        assert outcome == PreloadNoFill("unfilled_bid")
    elif not 200 <= status < 300:
        assert outcome == PreloadError(f"HTTP {status}", "request_failed")
    if isinstance(outcome, PreloadError):
        assert isinstance(outcome.message, str)
        assert outcome.message
        assert isinstance(outcome.err_code, str)
        assert outcome.err_code
        assert not outcome.report or outcome.err_code == "request_failed"
        assert not (outcome.report and outcome.permanent)
    elif isinstance(outcome, PreloadNoFill):
        assert isinstance(outcome.skip_code, str)
        assert outcome.skip_code
        assert (
            outcome.session_id is None or _canonical_uuid(outcome.session_id) == outcome.session_id
        )
    else:
        assert outcome.bids
        assert _canonical_uuid(outcome.session_id) == outcome.session_id
        for bid in outcome.bids:
            assert isinstance(bid, Bid)
            assert bid.code in codes
            assert _canonical_uuid(bid.bid_id) == bid.bid_id
            assert bid.revenue is None or (
                isinstance(bid.revenue, float) and math.isfinite(bid.revenue)
            )
    return outcome


@FUZZ
@given(status=st.integers(100, 599), content=st.binary(max_size=200))
def test_classify_preload_never_raises_on_bytes(status: int, content: bytes) -> None:
    check_outcome(status, content, CODES)


@FUZZ
@given(value=json_values)
def test_classify_preload_never_raises_on_json(value: object) -> None:
    check_outcome(200, json.dumps(value).encode(), CODES)


@FUZZ
@given(answer=structured_answers)
def test_classify_preload_follows_section_2_2_on_wrong_typed_answers(
    answer: dict[str, Any],
) -> None:
    outcome = check_outcome(200, json.dumps(answer).encode(), CODES)
    raw_session = answer.get("sessionId")
    session_id = _canonical_uuid(raw_session)
    err_code = answer.get("errCode")
    has_err_code = isinstance(err_code, str) and bool(err_code)
    if raw_session is not None and session_id is None:
        # #8: a sessionId that is there but is not a UUID is a request failure.
        assert outcome == PreloadError(outcome.message, "request_failed", report=True)  # type: ignore[union-attr]
        return
    if has_err_code or session_id is None:  # #3 and #4
        permanent = answer.get("permanent") is True
        expected_code = (
            err_code if has_err_code else ("session_disabled" if permanent else "unknown")
        )
        assert isinstance(outcome, PreloadError)
        assert outcome.err_code == expected_code
        assert outcome.permanent is permanent
        assert not outcome.report
        return
    if answer.get("skip") is True:  # #5
        skip_code = answer.get("skipCode")
        expected_skip = skip_code if isinstance(skip_code, str) and skip_code else "no_fill"
        assert outcome == PreloadNoFill(expected_skip, session_id)
        return
    if isinstance(outcome, PreloadFilled):  # #9: only well-formed bids of enabled codes
        assert outcome.session_id == session_id
        assert all(bid.code in CODES for bid in outcome.bids)
        # docs/protocol.md §13: the first bid per code, one ad.filled per code.
        assert len({bid.code for bid in outcome.bids}) == len(outcome.bids)


@FUZZ
@given(
    content=st.one_of(
        st.binary(max_size=100),
        json_values.map(lambda value: json.dumps(value).encode()),
        st.fixed_dictionaries(
            {},
            optional={
                "enabled": wrong_typed,
                "preloadTimeout": st.one_of(
                    st.floats(), st.floats(0, 1), huge_numbers, st.integers(), wrong_typed
                ),
                "reportErrors": wrong_typed,
                "reportDebug": wrong_typed,
            },
        ).map(lambda value: json.dumps(value).encode()),
    ),
    status=st.sampled_from([200, 201, 204, 299, 400, 429, 500]),
)
def test_decode_init_returns_settings_or_raises_decode_error_only(
    content: bytes, status: int
) -> None:
    try:
        settings_ = decode_init(status, content)
    except DecodeError:
        assert 200 <= status < 300
        return
    if settings_ is None:
        return
    assert isinstance(settings_, InitSettings)
    assert isinstance(settings_.enabled, bool)
    assert isinstance(settings_.report_errors, bool)
    assert isinstance(settings_.report_debug, bool)
    timeout = settings_.preload_timeout_ms
    # Section 2.1: only a usable positive timeout replaces the default; §13 caps it.
    assert timeout is None or (isinstance(timeout, int) and 0 < timeout <= MAX_PRELOAD_TIMEOUT_MS)


def test_decode_init_survives_deep_nesting_and_huge_numbers() -> None:
    """Two inputs random generation rarely reaches, pinned explicitly."""
    for content in (b"[" * 100_000, b'{"preloadTimeout": 1' + b"0" * 400 + b"}"):
        try:
            settings_ = decode_init(200, content)
        except DecodeError:
            continue
        assert settings_ is not None
        assert settings_.preload_timeout_ms is None or settings_.preload_timeout_ms > 0


def test_classify_preload_survives_deep_nesting() -> None:
    outcome = classify_preload(200, b'{"bids": ' + b"[" * 100_000, CODES)
    assert isinstance(outcome, PreloadError)
    assert outcome.err_code == "request_failed"
    assert outcome.report


def test_classify_preload_survives_a_revenue_beyond_float_range() -> None:
    # Section 2: a wrong-typed optional field counts as absent; the bid itself is fine.
    bid = {"bidId": BID.bid_id, "code": "inlineAd", "revenue": 10**400}
    answer = json.dumps({"sessionId": BID.bid_id, "bids": [bid]}).encode()
    assert classify_preload(200, answer, CODES) == PreloadFilled(
        BID.bid_id, (Bid(BID.bid_id, "inlineAd", None),)
    )


# -- 3. frame messages -----------------------------------------------------------------

FRAME_TYPES = [
    "init-iframe",
    "resize-iframe",
    "show-iframe",
    "hide-iframe",
    "set-styles-iframe",
    "view-iframe",
    "click-iframe",
    "ad-done-iframe",
    "error-iframe",
    "event-iframe",
    "open-component-iframe",
    "init-component-iframe",
    "ad-done-component-iframe",
    "close-component-iframe",
    "error-component-iframe",
    "retire-iframe",
    "update-iframe",
]
EVENT_NAMES = [
    "ad.viewed",
    "ad.clicked",
    "ad.render-started",
    "ad.render-completed",
    "ad.error",
    "video.started",
    "video.completed",
    "reward.granted",
    "ad.filled",
]
OWN_CODE = "inlineAd"
OWN_MESSAGE = "a1"
BID = Bid(bid_id=str(uuid.UUID(int=7)), code=OWN_CODE, revenue=0.25)

payloads = st.fixed_dictionaries(
    {},
    optional={
        key: st.one_of(st.text(max_size=8), wrong_typed)
        for key in ("content", "messageId", "format", "url", "area", "id", "message", "errCode")
    },
)
frame_data = st.fixed_dictionaries(
    {},
    optional={
        "code": st.one_of(st.just(OWN_CODE), st.just("otherAd"), wrong_typed),
        "component": st.one_of(st.just("modal"), wrong_typed),
        "height": st.one_of(st.floats(), st.integers(-5, 5000), huge_numbers, wrong_typed),
        "name": st.one_of(st.sampled_from(EVENT_NAMES), wrong_typed),
        "payload": st.one_of(payloads, wrong_typed),
        "message": wrong_typed,
        "errorType": wrong_typed,
    },
)
frame_messages = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"type": st.one_of(st.sampled_from(FRAME_TYPES), wrong_typed)},
        optional={"data": st.one_of(frame_data, wrong_typed)},
    ),
)
sources = st.sampled_from(["inline", "modal", "", "other"])


@settings(max_examples=250, deadline=None)
@given(
    before=st.lists(st.tuples(frame_messages, sources), max_size=6),
    after=st.lists(st.tuples(frame_messages, sources), max_size=12),
)
def test_frame_protocol_never_raises_and_only_emits_allowed_events(
    before: list[tuple[object, str]], after: list[tuple[object, str]]
) -> None:
    protocol = FrameProtocol(OWN_CODE, OWN_MESSAGE)
    for message, source in before:
        outcome = protocol.handle(message, source)
        # Section 6.5: nothing that carries a bid id before the ad has a bid.
        assert all(isinstance(event, AdError) for event in outcome.events), outcome.events
        check_frame_outcome(outcome, message)
    protocol.bid = BID
    emitted = []
    for message, source in after:
        outcome = protocol.handle(message, source)
        check_frame_outcome(outcome, message)
        emitted.extend(outcome.events)
    for event in emitted:
        bid_id = getattr(event, "bid_id", BID.bid_id)
        assert bid_id == BID.bid_id
        if isinstance(event, AdHeight):
            assert event.message_id == OWN_MESSAGE
            assert math.isfinite(event.height)
            assert event.height >= 0
        if isinstance(event, Viewed):
            assert event.revenue == BID.revenue  # section 6.5: revenue from the bid
    # Both render sources are accepted, each event at most once per ad (section 11).
    assert sum(isinstance(event, RenderStarted) for event in emitted) <= 1
    assert sum(isinstance(event, RenderCompleted) for event in emitted) <= 1


def check_frame_outcome(outcome: Any, message: object) -> None:
    if outcome.height is not None:
        assert math.isfinite(outcome.height)
        assert outcome.height >= 0
    assert outcome.report is None or isinstance(outcome.report, str)
    data = message.get("data") if isinstance(message, dict) else None
    if isinstance(data, dict) and data.get("code") not in (None, OWN_CODE):
        # Section 6.1 #3: another placement's traffic is not this ad's business.
        assert outcome.events == []
        assert outcome.height is None
        assert outcome.visible is None


def test_only_the_modal_handler_checks_the_component() -> None:
    """Section 6.1 rule 3: the modal's handler drops another component's traffic;
    the inline frame's handler has no component and accepts any."""
    protocol = FrameProtocol(OWN_CODE, OWN_MESSAGE)
    error = [AdError(message="Modal component error", err_code="modal_component_error")]
    message = {"type": "error-component-iframe", "data": {"component": "modal"}}
    assert protocol.handle(message, "inline").events == error
    assert protocol.handle(message, "modal").events == error
    other = {"type": "error-component-iframe", "data": {"component": "skoverlay"}}
    assert protocol.handle(other, "modal").events == []
    assert protocol.handle(other, "inline").events == error


def test_message_timestamps_far_from_now_keep_the_wire_format() -> None:
    """Edge years random generation rarely reaches: valid wire form, or a clear rejection."""
    east = timezone(timedelta(hours=5))
    west = timezone(timedelta(hours=-5))
    for moment in (
        datetime(1, 1, 1, 12, tzinfo=timezone.utc),
        datetime(999, 6, 1, tzinfo=timezone.utc),
        datetime(1, 1, 1, tzinfo=east),  # before year 1 in UTC
        datetime(9999, 12, 31, 23, tzinfo=west),  # after year 9999 in UTC
    ):
        message = constructs_or_rejects(
            Message, id="m", role="user", content="x", created_at=moment
        )
        if isinstance(message, Message):
            assert len(message.to_wire()["createdAt"]) == 24, message.to_wire()["createdAt"]
