"""``Session.chat_turn``: replies whole, streamed or computed; ids; display; bad input."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import kontext_widget as kw
from kontext_widget._notebook import chat as _chat


def test_text_reply_adds_both_messages_and_a_filled_ad(
    session: kw.Session, server: kw.LocalAdServer
) -> None:
    turn = session.chat_turn("Which running shoes?", "These ones.", display=False)
    assert [(m.id, m.role, m.content) for m in session.messages] == [
        ("u1", "user", "Which running shoes?"),
        ("a1", "assistant", "These ones."),
    ]
    assert turn.user is session.messages[0]
    assert turn.assistant is session.messages[1]
    assert turn.ad is session.create_ad("a1")
    assert turn.ad.bid_id in server.bids  # the turn waited for its preload
    assert repr(turn) == (
        "ChatTurn(user='u1', assistant='a1', ad=Ad(message_id='a1', code='inlineAd', "
        "state='filled'))"
    )


def test_streamed_reply_is_added_once_the_stream_ends(session: kw.Session) -> None:
    seen_during_stream: list[tuple[str, ...]] = []

    def stream() -> Iterator[str]:
        for chunk in ("Stride ", "Road ", "Runners."):
            seen_during_stream.append(tuple(m.role for m in session.messages))
            yield chunk

    turn = session.chat_turn("Shoes?", stream(), display=False)
    assert seen_during_stream == [("user",)] * 3
    assert turn.assistant.content == "Stride Road Runners."
    assert [m.role for m in session.messages] == ["user", "assistant"]


def test_callable_reply_gets_the_conversation_and_may_stream(session: kw.Session) -> None:
    received: list[tuple[kw.Message, ...]] = []

    def whole(messages: tuple[kw.Message, ...]) -> str:
        received.append(messages)
        return f"{len(messages)} so far"

    def streamed(messages: tuple[kw.Message, ...]) -> Iterator[str]:
        received.append(messages)
        yield from ("a", "b")

    assert session.chat_turn("one", whole, display=False).assistant.content == "1 so far"
    assert session.chat_turn("two", streamed, display=False).assistant.content == "ab"
    assert [m.content for m in received[1]] == ["one", "1 so far", "two"]


def test_ids_are_per_session_skip_taken_ones_and_can_be_given(
    session: kw.Session, server: kw.LocalAdServer
) -> None:
    session.chat_turn("1", "1", display=False)
    session.add_message({"id": "u2", "role": "user", "content": "by hand"})
    turn = session.chat_turn("3", "3", display=False)
    assert (turn.user.id, turn.assistant.id) == ("u3", "a3")
    given = session.chat_turn(
        "4", "4", user_message_id="q", assistant_message_id="r", code="videoAd", display=False
    )
    assert (given.user.id, given.assistant.id, given.ad.code) == ("q", "r", "videoAd")
    assert session.chat_turn("5", "5", display=False).user.id == "u4"
    with kw.create_session(
        publisher_token="p", user_id="u", conversation_id="other", ad_server_url=server.url
    ) as other:
        assert other.chat_turn("x", "y", display=False, wait=None).user.id == "u1"


def test_display_outside_ipython_prints_the_transcript(
    session: kw.Session, capsys: pytest.CaptureFixture[str]
) -> None:
    session.chat_turn("Shoes?", iter(["The ", "Stride."]))
    assert capsys.readouterr().out.splitlines() == [
        "user: Shoes?",
        "assistant: The Stride.",
        "Ad(message_id='a1', code='inlineAd', state='filled')",
    ]


def test_display_false_shows_nothing_and_does_not_mount(
    session: kw.Session, capsys: pytest.CaptureFixture[str]
) -> None:
    turn = session.chat_turn("Shoes?", "These.", display=False)
    assert capsys.readouterr().out == ""
    turn.ad.mount()  # not mounted yet, so this is allowed once


class FakeHandle:
    def __init__(self, log: list[tuple[str, Any]]) -> None:
        self.log = log

    def update(self, bundle: dict[str, str], *, raw: bool) -> None:
        self.log.append(("update", bundle))


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """What ``chat_turn`` displays and updates, in order, as if in IPython."""
    shown: list[tuple[str, Any]] = []

    def fake_display(bundle: dict[str, str], *, raw: bool, display_id: bool = False) -> Any:
        shown.append(("display", bundle))
        return FakeHandle(shown) if display_id else None

    monkeypatch.setattr(_chat, "_in_ipython", lambda: True)
    monkeypatch.setattr(_chat, "ipython_display", fake_display)
    return shown


def test_stream_display_ends_where_it_started(
    session: kw.Session, shown: list[tuple[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stream's display starts and ends empty (nbval compares the first version)."""
    monkeypatch.setattr(kw.Ad, "mount", lambda ad: ad)
    session.chat_turn("Shoes?", iter(["The ", "Stride."]))
    # The whole reply is shown before the stream is emptied: the page never
    # collapses between the two (the stream's guard hides the reply until then).
    assert shown == [
        ("display", _chat.chat_bundle("user", "Shoes?")),
        ("display", {"text/plain": ""}),
        ("update", _chat._streaming_bundle("The ")),
        ("update", _chat._streaming_bundle("The Stride.")),
        ("display", _chat.chat_bundle("assistant", "The Stride.")),
        ("update", {"text/plain": ""}),
    ]


def test_stream_versions_carry_the_guard_only_in_rich_types() -> None:
    bundle = _chat._streaming_bundle("The <b>")
    plain = _chat.chat_bundle("assistant", "The <b>" + _chat._CURSOR)
    assert bundle["text/plain"] == plain["text/plain"]
    for key in set(bundle) & {"text/html", "text/markdown"}:
        assert bundle[key] == _chat._STREAM_GUARD + plain[key]
        assert "<b>" not in bundle[key]  # the reply itself is still escaped
    assert "kw-stream-live" in _chat._STREAM_GUARD


def test_a_stream_that_raises_still_ends_its_display(
    session: kw.Session, shown: list[tuple[str, Any]]
) -> None:
    def failing() -> Iterator[str]:
        yield "The "
        raise RuntimeError("model went away")

    with pytest.raises(RuntimeError, match="model went away"):
        session.chat_turn("Shoes?", failing())
    # Emptied, so the guard no longer hides the traceback that follows it.
    assert shown[-1] == ("update", {"text/plain": ""})


def test_no_wait_renders_at_once(session: kw.Session) -> None:
    turn = session.chat_turn("Shoes?", "These.", display=False, wait=None)
    assert session.wait_idle(10)
    assert turn.ad.bid_id is not None  # filled in when the bid arrived


@pytest.mark.parametrize(
    ("arguments", "error", "match"),
    [
        ({"user": 3}, TypeError, "user must be the user's message text"),
        ({"reply": 3}, TypeError, "reply must be a str, an iterable"),
        ({"reply": b"bytes"}, TypeError, "reply must be a str, an iterable"),
        ({"code": "sidebarAd"}, ValueError, "'sidebarAd' is not an enabled placement code"),
        ({"theme": 1}, TypeError, "theme must be a str or None"),
        ({"display": "yes"}, TypeError, "display must be a bool"),
        ({"wait": -1}, ValueError, "wait must be >= 0"),
        ({"wait": "1"}, TypeError, "wait must be a number"),
        ({"user_message_id": ""}, ValueError, "user_message_id must be a non-empty str"),
        ({"assistant_message_id": 7}, TypeError, "assistant_message_id must be a str"),
        (
            {"user_message_id": "x", "assistant_message_id": "x"},
            ValueError,
            "must differ",
        ),
    ],
)
def test_bad_input_is_rejected_before_anything_is_added(
    session: kw.Session, arguments: dict[str, Any], error: type[Exception], match: str
) -> None:
    call: dict[str, Any] = {"user": "hi", "reply": "hello", "display": False} | arguments
    with pytest.raises(error, match=match):
        session.chat_turn(**call)
    assert session.messages == ()


def test_an_id_already_in_the_session_is_rejected(session: kw.Session) -> None:
    session.chat_turn("hi", "hello", display=False)
    with pytest.raises(ValueError, match="assistant_message_id 'a1' is already the id"):
        session.chat_turn("again", "hello", assistant_message_id="a1", display=False)


def test_bad_chunks_and_bad_callable_results_name_the_problem(session: kw.Session) -> None:
    with pytest.raises(TypeError, match="reply chunk 1 must be a str, got int"):
        session.chat_turn("hi", iter(["ok", 2]), display=False)
    with pytest.raises(TypeError, match="the reply callable must return a str or an iterable"):
        session.chat_turn("hi", lambda messages: 42, display=False)
    # The user messages were added; no assistant message was.
    assert [m.role for m in session.messages] == ["user", "user"]


def test_destroyed_session_raises(session: kw.Session) -> None:
    session.destroy()
    with pytest.raises(kw.SessionDestroyedError):
        session.chat_turn("hi", "hello", display=False)


def test_conversation_text_is_never_markup() -> None:
    bundle = _chat.chat_bundle("assistant", '<img src=x onerror="alert(1)"> & <script>x</script>')
    assert set(bundle) == {"text/plain", "text/html"}  # no Markdown: it would be interpreted
    assert "<img" not in bundle["text/html"]
    assert "<script>" not in bundle["text/html"]
    assert (
        "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; &lt;script&gt;" in bundle["text/html"]
    )
    assert bundle["text/plain"].startswith("assistant: <img")


def test_bubbles_tell_the_speakers_apart_and_follow_the_theme() -> None:
    user = _chat.chat_bubble_html("user", "hi")
    assistant = _chat.chat_bubble_html("assistant", "hello")
    assert "kw-chat-user" in user and ">You<" in user
    assert "kw-chat-assistant" in assistant and ">Assistant<" in assistant
    assert "justify-content:flex-end" in user and "justify-content:flex-start" in assistant
    # JupyterLab's theme variables (light and dark), with fallbacks elsewhere.
    assert "var(--jp-layout-color2," in assistant and "var(--jp-content-font-color1," in assistant
    assert "mathjax_ignore" in user and "mathjax_ignore" in assistant
    with pytest.raises(ValueError, match="role must be 'user' or 'assistant'"):
        _chat.chat_bubble_html("system", "x")
