"""The public ``Session`` and ``create_session``: what users call, checked and documented.

Each method checks its arguments (``_options``), raising an error that names
the bad one at the call, and hands the work to the session's state
(``_session_state.SessionState``), which owns everything that changes. See
that module for the threading model.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from ._ad import Ad, send_user_event
from ._constants import DEFAULT_PLACEMENT_CODE
from ._events import AdEvent
from ._interfaces import SessionLink
from ._metrics import SessionMetrics
from ._notebook.chat import ChatTurn, Reply, TurnOptions, chat_turn
from ._notebook.chat_async import AsyncReply, chat_turn_async
from ._notebook.event_log import EventLog
from ._options import (
    DebugCallback,
    EventCallback,
    SessionOptions,
    check_timeout,
    optional_callable,
    optional_instance,
    optional_text,
    placement_codes,
    require_text,
    same_options_as,
    server_url,
)
from ._session_state import SessionState
from ._streams import DEFAULT_MAX_BUFFERED, EventStream
from ._types import Character, Message, Regulatory

__all__ = ["Session", "create_session"]


class Session:
    """The ad session of one conversation: create it with ``create_session``.

    Register the chat's messages with ``add_message``; each user message leads
    to a ``/preload`` in the background, whose bid goes to the next assistant
    message. ``create_ad`` / ``render`` give the ``Ad`` widget for an assistant
    message. Methods return at once (network I/O runs on a background thread);
    ``wait_idle`` waits for the outcome. ``destroy`` (or ``with``) ends it.
    Its options are ``create_session``'s (``help(kw.create_session)``).
    """

    def __init__(
        self,
        *,
        publisher_token: str,
        user_id: str,
        conversation_id: str,
        enabled_placement_codes: Sequence[str] | None = None,
        character: Character | None = None,
        regulatory: Regulatory | None = None,
        user_email: str | None = None,
        variant_id: str | None = None,
        advertising_id: str | None = None,
        vendor_id: str | None = None,
        ad_server_url: str | None = None,
        on_event: EventCallback | None = None,
        on_debug_event: DebugCallback | None = None,
    ) -> None:
        options = SessionOptions(
            publisher_token=require_text("publisher_token", publisher_token),
            user_id=require_text("user_id", user_id),
            conversation_id=require_text("conversation_id", conversation_id),
            enabled_placement_codes=placement_codes(enabled_placement_codes),
            character=optional_instance("character", character, Character),
            regulatory=optional_instance("regulatory", regulatory, Regulatory),
            user_email=optional_text("user_email", user_email),
            variant_id=optional_text("variant_id", variant_id),
            advertising_id=optional_text("advertising_id", advertising_id),
            vendor_id=optional_text("vendor_id", vendor_id),
            ad_server_url=server_url(ad_server_url),
            on_event=optional_callable("on_event", on_event),
            on_debug_event=optional_callable("on_debug_event", on_debug_event),
        )
        self._state = SessionState(options)

    # -- context manager and repr --------------------------------------------------
    def __enter__(self) -> Session:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.destroy()

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        # Stable across runs: no server-assigned ids (nbval compares reprs).
        options = self._state.options
        if self._state.destroyed:
            state = "destroyed"
        elif self._state.disabled:
            state = "disabled"
        else:
            state = "active"
        return (
            f"Session(user_id={options.user_id!r}, conversation_id={options.conversation_id!r}, "
            f"messages={len(self._state.messages())}, state={state!r})"
        )

    # -- read-only state -----------------------------------------------------------
    @property
    def session_id(self) -> str | None:
        """Server-assigned session id; ``None`` until a ``/preload`` answer carries one."""
        return self._state.session_id

    @property
    def disabled(self) -> bool:
        """``True`` once the server disabled the session; it is never re-enabled.

        ``/init`` answered ``enabled: false`` or a ``/preload`` error was permanent
        (each with its ``ad.error``). No ``/preload`` is sent any more; messages
        are still recorded and ads already filled keep working.
        """
        return self._state.disabled

    @property
    def destroyed(self) -> bool:
        """``True`` after ``destroy()``: every method that would add or create then raises."""
        return self._state.destroyed

    @property
    def messages(self) -> tuple[Message, ...]:
        """The registered messages in order, newest 30 (what the next ``/preload`` carries)."""
        return self._state.messages()

    @property
    def preload_timeout_ms(self) -> int:
        """The ``/preload`` time limit in ms (16000 unless ``/init`` set another)."""
        return self._state.preload_timeout_ms

    @property
    def events(self) -> list[AdEvent]:
        """Every event this session emitted, oldest first (the newest 1,000)."""
        return self._state.recorder.events()

    def metrics(self) -> SessionMetrics:
        """Counts and rates per placement code and overall, over the whole session.

        See ``PlacementMetrics`` for what each figure counts. After
        ``wait_idle()`` the figures are final, so they print the same on every run.
        """
        return self._state.recorder.metrics()

    def to_records(self) -> list[dict[str, Any]]:
        """The event history (newest 1,000) as plain dicts, oldest first.

        Keys: ``time`` (timezone-aware UTC ``datetime`` of emission), ``name``,
        ``message_id``, ``code`` and ``bid_id`` (``None`` where an event has none:
        a preload's no-fill or error is for every code and no message), and
        ``payload`` (the event's ``payload`` dict). ``pandas.DataFrame(records)``
        and ``polars.DataFrame(records)`` take it as is; neither is a dependency.
        """
        return self._state.to_records()

    @property
    def ad_server_url(self) -> str:
        """The ad server this session talks to, without a trailing slash."""
        return self._state.options.ad_server_url

    @property
    def enabled_placement_codes(self) -> tuple[str, ...]:
        """The placement codes this session asks bids for (``("inlineAd",)`` by default)."""
        return self._state.options.enabled_placement_codes

    # -- messages -----------------------------------------------------------------
    def add_message(
        self, message: Message | Mapping[str, Any], *, track_only: bool = False
    ) -> None:
        """Register a message; returns at once (section 3.1).

        A user message (re)starts the 10 ms debounce that leads to one
        ``/preload`` and aborts a preload still in flight; an assistant message
        lets a pending bid attach to it.
        """
        added = time.monotonic()  # the debounce counts from the call, not from its end
        msg = Message.coerce(message)
        if not isinstance(track_only, bool):
            raise TypeError(f"track_only must be a bool, got {type(track_only).__name__}")
        self._state.add_message(msg, track_only, added)

    # -- ads ----------------------------------------------------------------------
    def create_ad(
        self, message_id: str, *, code: str = DEFAULT_PLACEMENT_CODE, theme: str | None = None
    ) -> Ad:
        """The ``Ad`` widget for an assistant message; the same arguments give the same ad.

        Ads of different codes for one message coexist; the same code with
        another theme replaces the old ad of that code (section 11).
        """
        require_text("message_id", message_id)
        require_text("code", code)
        theme = optional_text("theme", theme) or None
        codes = self._state.options.enabled_placement_codes
        if code not in codes:
            raise ValueError(
                f"code {code!r} is not an enabled placement code of this session "
                f"(enabled_placement_codes={list(codes)!r})"
            )
        return self._state.create_ad(message_id, code, theme)

    def render(
        self, message_id: str, *, code: str = DEFAULT_PLACEMENT_CODE, theme: str | None = None
    ) -> Ad:
        """``create_ad`` + ``Ad.mount()``: display the ad in the current output."""
        return self.create_ad(message_id, code=code, theme=theme).mount()

    def send_user_event(
        self,
        name: str,
        payload: Mapping[str, Any] | None = None,
        *,
        code: str = DEFAULT_PLACEMENT_CODE,
    ) -> None:
        """Post a publisher event (e.g. ``"user.typing.started"``) to the ads of ``code``."""
        require_text("name", name)
        require_text("code", code)
        if payload is not None and not isinstance(payload, Mapping):
            raise TypeError(f"payload must be a mapping or None, got {type(payload).__name__}")
        for ad in self._state.ads_of_code(code):
            send_user_event(ad, name, dict(payload) if payload is not None else None)

    # -- options ------------------------------------------------------------------
    def update_options(
        self,
        *,
        variant_id: str | None = None,
        regulatory: Regulatory | None = None,
        user_email: str | None = None,
        advertising_id: str | None = None,
        vendor_id: str | None = None,
        **fixed: object,
    ) -> None:
        """Replace preload-scoped options; ``None`` leaves one unchanged (section 3.5)."""
        if fixed:
            names = ", ".join(sorted(fixed))
            raise TypeError(
                f"update_options() cannot change {names}: identity, placement and character "
                "options are fixed for a session; create a new session with "
                "kontext_widget.create_session(...) instead"
            )
        updates = {
            "variant_id": optional_text("variant_id", variant_id),
            "regulatory": optional_instance("regulatory", regulatory, Regulatory),
            "user_email": optional_text("user_email", user_email),
            "advertising_id": optional_text("advertising_id", advertising_id),
            "vendor_id": optional_text("vendor_id", vendor_id),
        }
        self._state.update_options(
            {name: value for name, value in updates.items() if value is not None}
        )

    # -- lifecycle ------------------------------------------------------------------
    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until no debounce or request is pending and every event was delivered.

        The pending work includes ``/init`` and the ``/error`` and ``/debug``
        reports already started (docs/protocol.md §2.3), so when this returns
        True everything the session sent so far has reached the server or failed.

        Inside a notebook cell this delivers the callbacks itself (the kernel's
        main thread, where they normally run, is the one waiting).
        """
        return self._state.delivery.wait_idle(check_timeout(timeout))

    async def wait_idle_async(self, timeout: float = 30.0) -> bool:
        """``wait_idle`` without blocking the event loop it is awaited on.

        ``True`` once no debounce or request is pending and every event was
        delivered to ``on_event``; ``False`` on timeout. Works with top-level
        ``await`` in Jupyter and marimo and under ``asyncio.run``.
        """
        return await self._state.delivery.wait_idle_async(check_timeout(timeout))

    def stream_events(self, *, max_buffered: int = DEFAULT_MAX_BUFFERED) -> EventStream:
        """Every event emitted from now on, as an async iterator that ends when the session does.

        ``async for event in session.stream_events(): ...``. Subscribes at
        the call, so nothing emitted after it is missed. Each call is an
        independent consumer that sees every event. A consumer more than
        ``max_buffered`` events behind loses the oldest unread ones (counted in
        the stream's ``dropped``). Leaving the loop early (``break``) or
        ``aclose()`` unsubscribes; nothing stays behind.
        """
        if isinstance(max_buffered, bool) or not isinstance(max_buffered, int) or max_buffered < 1:
            raise ValueError(f"max_buffered must be an int >= 1, got {max_buffered!r}")
        return self._state.open_stream(max_buffered)

    def destroy(self) -> None:
        """Cancel in-flight work, destroy every ad, stop all requests. Idempotent.

        Every ``stream_events()`` iterator ends once it has yielded the events
        emitted before this call.
        """
        self._state.destroy()

    close = destroy

    async def aclose(self, timeout: float = 5.0) -> None:
        """``destroy()``, then wait (without blocking the loop) for the cancelled work to end.

        When it returns, the callbacks already queued have run and no request
        of this session is in flight (unless ``timeout`` seconds were not enough).
        """
        self.destroy()
        await self.wait_idle_async(timeout)

    # -- notebook conveniences (_notebook/chat.py, _notebook/event_log.py) ------------
    def event_log(self) -> EventLog:
        """A live table of this session's events (history first), with a summary line.

        Display it (leave it last in a cell) to watch fills, errors, views and
        clicks arrive; ``.summary`` is the same counts as a dict.
        """
        return EventLog(SessionLink(self._state))

    def chat_turn(
        self,
        user: str,
        reply: Reply,
        *,
        user_message_id: str | None = None,
        assistant_message_id: str | None = None,
        code: str = DEFAULT_PLACEMENT_CODE,
        theme: str | None = None,
        display: bool = True,
        wait: float | None = 5.0,
    ) -> ChatTurn:
        """One chat exchange: add the user message, produce the reply, add it, show its ad.

        ``reply`` is the assistant's text, an iterable of text chunks (a stream:
        drawn as it grows, added to the session once it ends), or a callable
        taking the conversation's messages (including the new user message)
        and returning either. Message ids default to ``u1``/``a1``, ``u2``/``a2``,
        ... per session. Before the ad is created, the turn waits up to ``wait``
        seconds for its ``/preload`` (``wait_idle``), so the ad and the event log
        are final when the cell ends; ``None`` or 0 does not wait (the ad fills
        in when its bid arrives). ``display=False`` shows nothing and only
        creates the ad (``create_ad`` instead of ``render``).
        """
        options = TurnOptions(user_message_id, assistant_message_id, code, theme, display, wait)
        return chat_turn(self, user, reply, options)

    async def chat_turn_async(
        self,
        user: str,
        reply: AsyncReply,
        *,
        user_message_id: str | None = None,
        assistant_message_id: str | None = None,
        code: str = DEFAULT_PLACEMENT_CODE,
        theme: str | None = None,
        display: bool = True,
        wait: float | None = 5.0,
    ) -> ChatTurn:
        """``chat_turn`` for async code: the same turn, awaited, never blocking the loop.

        ``reply`` is anything ``chat_turn`` takes, or an async iterable of
        text chunks (an AsyncOpenAI stream, LangChain's ``astream``), an
        awaitable of text, or a callable taking the conversation's messages and
        returning any of those (``async def`` and async generator functions
        work). Synchronous callables and lazy iterables run in a worker thread,
        so a blocking client does not stall the loop. The wait for the
        ``/preload`` is ``wait_idle_async``.
        """
        options = TurnOptions(user_message_id, assistant_message_id, code, theme, display, wait)
        return await chat_turn_async(self, user, reply, options)


@same_options_as(Session)
def create_session(**options: Any) -> Session:
    """Start an ad session for one conversation; returns at once (``/init`` runs in the background).

    All options are keyword-only. A missing or empty required option, or a value
    of the wrong type, raises ``ValueError``/``TypeError`` naming the option.

    Identity (required, non-empty strings; fixed for the session):

    - ``publisher_token``: your Kontext publisher token (any text for a
      ``LocalAdServer``).
    - ``user_id``: a stable id of the reader in your app; the ad server paces
      and caps ads per user.
    - ``conversation_id``: the id of this chat; one session per conversation.

    Placement and context (fixed for the session):

    - ``enabled_placement_codes``: the placement codes to ask bids for, e.g.
      ``["inlineAd", "videoAd"]``; ``None`` or empty means ``["inlineAd"]``.
      ``create_ad`` refuses any other code.
    - ``character``: a ``Character`` when the chat is held with a persona.

    Targeting and consent (change them later with ``Session.update_options``):

    - ``regulatory``: a ``Regulatory`` with the consent signals you collected.
    - ``user_email``: the reader's e-mail address, if you have consent to share it.
    - ``variant_id``: the variant id Kontext gave you for an experiment, if any.
    - ``advertising_id``: an advertising id you collected for the reader, if any
      (a notebook has no OS-level one).
    - ``vendor_id``: a vendor id for the reader, if any.

    Where and who hears about it:

    - ``ad_server_url``: the ad server; defaults to ``$KONTEXT_AD_SERVER_URL``,
      else the production server. Pass ``LocalAdServer().url`` to work offline.
    - ``on_event``: called with every public event (``Filled``, ``NoFill``,
      ``AdError``, ``Viewed``, ...), one at a time in order: on the kernel's main
      thread in Jupyter, on a ``kontext-widget-callbacks`` thread in a script.
    - ``on_debug_event``: called as ``on_debug_event(name, data)`` with every
      internal debug event (``"Session: message-added"``, ``"Ad: created"``, ...).

    A callback that raises is logged and reported to ``on_debug_event`` as
    ``"Session: callback-error"``, never propagated; network and server failures
    never raise either: they become ``ad.error`` / ``ad.no-fill`` events.
    """
    return Session(**options)


def session_link(session: Session) -> SessionLink:
    """The internal interface to ``session`` for a helper it did not create (the playground)."""
    return SessionLink(session._state)
