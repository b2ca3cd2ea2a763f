"""``Session.chat_turn``: one chat exchange and its ad, without the plumbing.

A turn is the sequence every chat host repeats: add the user message (which
starts the ``/preload`` at once, so the ad is fetched while the model is still
answering), produce the assistant reply, add it, and show the ad under it. The
reply may arrive whole, as a stream of chunks, or from a function of the
conversation, which is how an LLM client plugs in.

Why streamed replies are shown the way they are: nbval compares the first
version of a display, while ``nbconvert --execute`` stores the last one. The
stream is drawn in a display that ends where it started (empty) and the whole
reply is then displayed once, so a notebook's stored outputs and a re-run agree.

Swapping the stream for the whole reply takes two messages (show the reply,
empty the stream), which a browser may draw one frame apart. So the reply is
shown first, and while it is drawn the stream carries a style rule that hides
every later output of its cell (JupyterLab and Notebook 7 class names): the
reply appears in the very style recalculation that removes the stream, in the
stream's place, and the page neither collapses nor shows the reply twice.
Front ends with other class names ignore the rule and just swap.
"""

from __future__ import annotations

import html
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import count
from typing import TYPE_CHECKING

from IPython.core.interactiveshell import InteractiveShell
from IPython.display import display as ipython_display

from kontext_widget._types import Message

if TYPE_CHECKING:
    from kontext_widget._ad import Ad
    from kontext_widget._session import Session

__all__ = [
    "ChatTurn",
    "PendingTurn",
    "Reply",
    "StreamDrawing",
    "TurnOptions",
    "chat_bubble_html",
    "chat_bundle",
    "chat_turn",
    "start_turn",
]

ReplyText = str | Iterable[str]
Reply = ReplyText | Callable[[tuple[Message, ...]], ReplyText]

# A display that starts and ends with this bundle compares equal under nbval.
_EMPTY: dict[str, str] = {"text/plain": ""}
_CURSOR = "▍"
# Put first (never into stored outputs) in the stream's rich versions: while the
# stream is on screen, the outputs after it in its cell (the whole reply, shown
# just before the stream is emptied) stay hidden. First, not last, so that a reply
# still inside an unclosed Markdown construct (a code fence, while it streams)
# cannot turn the guard into visible text; in Markdown it is a one-line raw HTML
# block (it starts with <style>), which takes no height.
_STREAM_GUARD = (
    "<style>.jp-OutputArea-child:has(.kw-stream-live) ~ .jp-OutputArea-child"
    '{display:none !important}</style><span class="kw-stream-live" hidden></span>\n\n'
)
_RICH_TYPES = ("text/html", "text/markdown")

_turn_numbers: weakref.WeakKeyDictionary[Session, Iterator[int]] = weakref.WeakKeyDictionary()
_turn_numbers_lock = threading.Lock()


@dataclass(frozen=True, repr=False)
class ChatTurn:
    """What ``Session.chat_turn`` did: the two messages it added and the ad under the reply."""

    user: Message
    assistant: Message
    ad: Ad

    def __repr__(self) -> str:
        # Ids, not the messages: their created_at would make notebook outputs differ per run.
        return f"ChatTurn(user={self.user.id!r}, assistant={self.assistant.id!r}, ad={self.ad!r})"


def _in_ipython() -> bool:
    return bool(InteractiveShell.initialized())


# Chat bubbles are HTML built here from escaped text only. Markdown is never used:
# a model's reply (think prompt injection) could otherwise load a remote image
# (``![](https://...)``) or render a ``javascript:`` link, and outputs of a live
# kernel are trusted, so raw HTML would run. No attribute value is ever derived
# from the text. ``mathjax_ignore`` keeps JupyterLab's MathJax off the text
# (``$\href{...}{x}$`` would otherwise become a link). Colours are JupyterLab's
# theme variables with light fallbacks (Notebook 7, VS Code, nbconvert pages).
_ROW_STYLE = {
    "user": "display:flex;justify-content:flex-end;margin:6px 0;",
    "assistant": "display:flex;justify-content:flex-start;margin:6px 0;",
}
_BUBBLE_STYLE = {
    "user": (
        "max-width:80%;padding:8px 12px;border-radius:14px 14px 4px 14px;"
        "background:var(--jp-brand-color0,#1565c0);color:#fff;"
    ),
    "assistant": (
        "max-width:80%;padding:8px 12px;border-radius:14px 14px 14px 4px;"
        "background:var(--jp-layout-color2,#eeeeee);color:var(--jp-content-font-color1,#1f1f1f);"
        "border:1px solid var(--jp-border-color2,#e0e0e0);"
    ),
}
_LABEL_STYLE = "font-size:11px;font-weight:600;opacity:0.75;margin-bottom:2px;"
_TEXT_STYLE = "white-space:pre-wrap;overflow-wrap:anywhere;"
_FONT_STYLE = (
    "font-family:var(--jp-content-font-family,system-ui,-apple-system,'Segoe UI',sans-serif);"
    "font-size:var(--jp-content-font-size1,14px);line-height:1.5;"
)
_LABELS = {"user": "You", "assistant": "Assistant"}


def chat_bubble_html(role: str, content: str) -> str:
    """One chat message as an HTML bubble; ``content`` is escaped, never interpreted."""
    if role not in _LABELS:
        raise ValueError(f"role must be 'user' or 'assistant', got {role!r}")
    text = html.escape(content, quote=True)
    return (
        f'<div class="kw-chat kw-chat-{role} mathjax_ignore tex2jax_ignore" '
        f'style="{_ROW_STYLE[role]}{_FONT_STYLE}">'
        f'<div class="kw-chat-bubble" style="{_BUBBLE_STYLE[role]}">'
        f'<div class="kw-chat-label" style="{_LABEL_STYLE}">{_LABELS[role]}</div>'
        f'<div class="kw-chat-text" style="{_TEXT_STYLE}">{text}</div>'
        "</div></div>"
    )


def chat_bundle(role: str, content: str) -> dict[str, str]:
    """The display bundle of one chat message: an HTML bubble and a plain-text line."""
    return {"text/plain": f"{role}: {content}", "text/html": chat_bubble_html(role, content)}


def _show(role: str, content: str) -> None:
    bundle = chat_bundle(role, content)
    if _in_ipython():
        ipython_display(bundle, raw=True)  # type: ignore[no-untyped-call]
    else:
        print(bundle["text/plain"])


def _message_id(name: str, value: object, taken: set[str]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str or None, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{name} must be a non-empty str")
    if value in taken:
        raise ValueError(f"{name} {value!r} is already the id of a message of this session")
    return value


def _generated_ids(session: Session, taken: set[str]) -> tuple[str, str]:
    """The next ``u<n>``/``a<n>`` pair of this session that no message uses yet."""
    with _turn_numbers_lock:
        numbers = _turn_numbers.setdefault(session, count(1))
        while True:
            number = next(numbers)
            user_id, assistant_id = f"u{number}", f"a{number}"
            if user_id not in taken and assistant_id not in taken:
                return user_id, assistant_id


def _check_reply(reply: object) -> None:
    if callable(reply) or isinstance(reply, str):
        return
    if isinstance(reply, bytes | bytearray) or not isinstance(reply, Iterable):
        raise TypeError(
            "reply must be a str, an iterable of str chunks, or a callable taking the "
            f"conversation's messages and returning either; got {type(reply).__name__}"
        )


def _resolve_reply(reply: Reply, messages: tuple[Message, ...]) -> ReplyText:
    if callable(reply):
        produced: object = reply(messages)
        if not isinstance(produced, str) and (
            isinstance(produced, bytes | bytearray) or not isinstance(produced, Iterable)
        ):
            raise TypeError(
                "the reply callable must return a str or an iterable of str chunks, "
                f"got {type(produced).__name__}"
            )
        return produced
    return reply


def _streaming_bundle(text: str) -> dict[str, str]:
    """The growing reply with the cursor, plus the guard in its rich representations."""
    bundle = chat_bundle("assistant", text + _CURSOR)
    return {
        key: _STREAM_GUARD + value if key in _RICH_TYPES else value for key, value in bundle.items()
    }


class _StreamDisplay:
    """The display a stream is drawn in; ``end`` puts it back to its first (empty) version."""

    def __init__(self) -> None:
        self._handle = ipython_display(_EMPTY, raw=True, display_id=True)  # type: ignore[no-untyped-call]
        self._ended = False

    def draw(self, text: str) -> None:
        self._handle.update(_streaming_bundle(text), raw=True)

    def end(self) -> None:
        if not self._ended:
            self._ended = True
            self._handle.update(_EMPTY, raw=True)


class StreamDrawing:
    """A streamed reply as it grows: checks each chunk and draws the text so far.

    Shared by ``chat_turn`` and ``chat_turn_async``, which differ only in how
    they pull the chunks.
    """

    def __init__(self, display: _StreamDisplay | None) -> None:
        self._parts: list[str] = []
        self._display = display

    def add(self, chunk: object) -> None:
        if not isinstance(chunk, str):
            raise TypeError(
                f"reply chunk {len(self._parts)} must be a str, got {type(chunk).__name__}"
            )
        self._parts.append(chunk)
        if self._display is not None:
            self._display.draw("".join(self._parts))

    def text(self) -> str:
        return "".join(self._parts)


def _collect(stream: Iterable[str], display: _StreamDisplay | None) -> str:
    """Join the chunks, drawing the growing reply in ``display`` if there is one."""
    drawing = StreamDrawing(display)
    for chunk in stream:
        drawing.add(chunk)
    return drawing.text()


@dataclass(frozen=True)
class TurnOptions:
    """The keywords of ``Session.chat_turn`` and ``chat_turn_async``, as passed (see ``check``)."""

    user_message_id: str | None
    assistant_message_id: str | None
    code: str
    theme: str | None
    display: bool
    wait: float | None

    def check(self, enabled_codes: tuple[str, ...]) -> None:
        """Raise, naming the keyword, before the turn adds anything (ids: ``start_turn``)."""
        code, theme, display, wait = self.code, self.theme, self.display, self.wait
        if not isinstance(code, str) or code not in enabled_codes:
            raise ValueError(
                f"code {code!r} is not an enabled placement code of this session "
                f"(enabled_placement_codes={list(enabled_codes)!r})"
            )
        if theme is not None and not isinstance(theme, str):
            raise TypeError(f"theme must be a str or None, got {type(theme).__name__}")
        if not isinstance(display, bool):
            raise TypeError(f"display must be a bool, got {type(display).__name__}")
        if wait is not None and (isinstance(wait, bool) or not isinstance(wait, int | float)):
            raise TypeError(f"wait must be a number of seconds or None, got {type(wait).__name__}")
        if wait is not None and wait < 0:
            raise ValueError(f"wait must be >= 0 seconds, got {wait!r}")


@dataclass(frozen=True)
class PendingTurn:
    """A turn whose user message was added: what is left is the reply and the ad."""

    session: Session
    user_message: Message
    assistant_id: str
    options: TurnOptions

    def stream_display(self) -> _StreamDisplay | None:
        """The display a streamed reply is drawn in (``None``: not shown, or not in IPython)."""
        return _StreamDisplay() if self.options.display and _in_ipython() else None

    def add_reply(self, text: str) -> Message:
        """Show the whole reply and add it as the assistant message.

        While a stream display is open the reply stays hidden by its guard;
        the caller ends the stream right after (also when the stream raised).
        """
        if self.options.display:
            _show("assistant", text)
        assistant_message = Message(id=self.assistant_id, role="assistant", content=text)
        self.session.add_message(assistant_message)
        return assistant_message

    def finish(self, assistant_message: Message) -> ChatTurn:
        """Show (or only create) the ad under the reply; call after waiting for the preload."""
        code, theme = self.options.code, self.options.theme
        if self.options.display:
            ad = self.session.render(assistant_message.id, code=code, theme=theme)
        else:
            ad = self.session.create_ad(assistant_message.id, code=code, theme=theme)
        return ChatTurn(user=self.user_message, assistant=assistant_message, ad=ad)


def chat_turn(session: Session, user: str, reply: Reply, options: TurnOptions) -> ChatTurn:
    """Run one exchange; see ``Session.chat_turn`` for the parameters."""
    _check_reply(reply)
    turn = start_turn(session, user, options)
    text = _resolve_reply(reply, session.messages)
    if isinstance(text, str):
        assistant_message = turn.add_reply(text)
    else:
        stream = turn.stream_display()
        try:
            assistant_message = turn.add_reply(_collect(text, stream))
        finally:
            if stream is not None:
                stream.end()  # empties the stream (also when the stream raised)
    if options.wait:
        session.wait_idle(options.wait)
    return turn.finish(assistant_message)


def start_turn(session: Session, user: str, options: TurnOptions) -> PendingTurn:
    """Check the arguments (raising before anything is added), add and show the user message."""
    if not isinstance(user, str):
        raise TypeError(f"user must be the user's message text (a str), got {type(user).__name__}")
    options.check(session.enabled_placement_codes)
    taken = {message.id for message in session.messages}
    user_id = _message_id("user_message_id", options.user_message_id, taken)
    assistant_id = _message_id("assistant_message_id", options.assistant_message_id, taken)
    if user_id is not None and user_id == assistant_id:
        raise ValueError("user_message_id and assistant_message_id must differ")
    if user_id is None or assistant_id is None:
        generated_user_id, generated_assistant_id = _generated_ids(session, taken)
        user_id = user_id or generated_user_id
        assistant_id = assistant_id or generated_assistant_id
    user_message = Message(id=user_id, role="user", content=user)
    # Added first so that the /preload runs while the reply is being produced.
    session.add_message(user_message)
    if options.display:
        _show("user", user)
    return PendingTurn(session, user_message, assistant_id, options)
