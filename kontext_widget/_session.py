"""The session: the public ``Session`` and ``create_session``, and the state machine behind them.

docs/protocol.md §3. The session owns its state and decides; the work lives
in modules named for it: argument checks (``_options``), the requests
(``_network.init``, ``_network.preload``, ``_network.reports``), bids ->
messages and the ads (``_assignment``), the events (``_recorder``) and what a
creative is told (``_frame.context``).

Threading model. Public methods run on the caller's thread and only record and
schedule: they take ``_lock`` for a few microseconds and never wait on I/O.
Network work runs on the process-wide I/O loop (``_io_loop``). Callbacks and
ad updates go through ``_delivery`` in emission order, on the kernel's main
thread in Jupyter. All mutable state below (the recorder's and the
assignment's included) is guarded by ``_lock``; it is never held across an
``await`` or while user code runs.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Coroutine, Mapping, Sequence
from functools import partial
from itertools import count
from typing import Any

from ._ad import Ad, assign, send_user_event
from ._assignment import BidAssignment, Preload, bid_for
from ._constants import DEFAULT_PLACEMENT_CODE, MAX_MESSAGES, TIMING
from ._delivery import Delivery
from ._device import device
from ._events import AdError, AdEvent, Filled, NoFill
from ._exceptions import SessionDestroyedError
from ._frame.context import frame_context
from ._install_id import install_id
from ._interfaces import LoggedEvent
from ._metrics import SessionMetrics
from ._network import io_loop as _io_loop
from ._network.init import fetch_init
from ._network.preload import (
    PreloadError,
    PreloadFilled,
    PreloadNoFill,
    PreloadOutcome,
    PreloadRequest,
    fetch_preload,
)
from ._network.reports import Reports
from ._notebook.chat import ChatTurn, Reply, TurnOptions, chat_turn
from ._notebook.chat_async import AsyncReply, chat_turn_async
from ._notebook.event_log import EventLog
from ._options import (
    check_timeout,
    optional_callable,
    optional_instance,
    optional_text,
    placement_codes,
    require_text,
    same_options_as,
    server_url,
    warn_caller,
)
from ._recorder import DebugCallback, EventCallback, EventRecorder
from ._streams import DEFAULT_MAX_BUFFERED, EventStream, end_stream
from ._types import Character, Message, Regulatory

__all__ = ["Session", "create_session"]

logger = logging.getLogger("kontext_widget")

_preload_ids = count(1)


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
        self._publisher_token = require_text("publisher_token", publisher_token)
        self._user_id = require_text("user_id", user_id)
        self._conversation_id = require_text("conversation_id", conversation_id)
        self._codes = placement_codes(enabled_placement_codes)
        self._character: Character | None = optional_instance("character", character, Character)
        self._regulatory: Regulatory | None = optional_instance(
            "regulatory", regulatory, Regulatory
        )
        self._user_email = optional_text("user_email", user_email)
        self._variant_id = optional_text("variant_id", variant_id)
        self._advertising_id = optional_text("advertising_id", advertising_id)
        self._vendor_id = optional_text("vendor_id", vendor_id)
        self._server = server_url(ad_server_url)
        self._install_id = install_id()

        self._lock = threading.Lock()
        self._delivery = Delivery()
        self._recorder = EventRecorder(
            self._lock,
            self._delivery,
            self._codes,
            optional_callable("on_event", on_event),
            optional_callable("on_debug_event", on_debug_event),
        )
        identity = {
            "publisherToken": self._publisher_token,
            "conversationId": self._conversation_id,
            "userId": self._user_id,
            "installId": self._install_id,
        }
        self._reports = Reports(self._server, identity, self._delivery)
        self._messages: deque[Message] = deque(maxlen=MAX_MESSAGES)
        self._session_id: str | None = None
        self._disabled = False
        self._destroyed = False
        self._preload_timeout_ms = round(TIMING.preload_timeout * 1000)
        # Debounce and preload (section 3.1).
        self._debounce_deadline = 0.0
        self._debounce_pending = False
        self._pending_track_only = False
        self._active: Preload | None = None
        self._preload_task: asyncio.Task[None] | None = None
        self._init_task: asyncio.Task[None] | None = None
        self._holding = False  # I/O loop only: this session holds a spare connection
        # Bid assignment (section 3.3) and ads (section 3.4).
        self._assignments = BidAssignment()

        self._debug("Session: created", {"conversationId": self._conversation_id})
        self._delivery.begin()
        _io_loop.call_soon(self._start_init)

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
        if self._destroyed:
            state = "destroyed"
        elif self._disabled:
            state = "disabled"
        else:
            state = "active"
        return (
            f"Session(user_id={self._user_id!r}, conversation_id={self._conversation_id!r}, "
            f"messages={len(self._messages)}, state={state!r})"
        )

    # -- read-only state -----------------------------------------------------------
    @property
    def session_id(self) -> str | None:
        """Server-assigned session id; ``None`` until a ``/preload`` answer carries one."""
        return self._session_id

    @property
    def disabled(self) -> bool:
        """``True`` once the server disabled the session; it is never re-enabled.

        ``/init`` answered ``enabled: false`` or a ``/preload`` error was permanent
        (each with its ``ad.error``). No ``/preload`` is sent any more; messages
        are still recorded and ads already filled keep working.
        """
        return self._disabled

    @property
    def destroyed(self) -> bool:
        """``True`` after ``destroy()``: every method that would add or create then raises."""
        return self._destroyed

    @property
    def messages(self) -> tuple[Message, ...]:
        """The registered messages in order, newest 30 (what the next ``/preload`` carries)."""
        with self._lock:
            return tuple(self._messages)

    @property
    def preload_timeout_ms(self) -> int:
        """The ``/preload`` time limit in ms (16000 unless ``/init`` set another)."""
        return self._preload_timeout_ms

    @property
    def events(self) -> list[AdEvent]:
        """Every event this session emitted, oldest first (the newest 1,000)."""
        return self._recorder.events()

    def metrics(self) -> SessionMetrics:
        """Counts and rates per placement code and overall, over the whole session.

        See ``PlacementMetrics`` for what each figure counts. After
        ``wait_idle()`` the figures are final, so they print the same on every run.
        """
        return self._recorder.metrics()

    def to_records(self) -> list[dict[str, Any]]:
        """The event history (newest 1,000) as plain dicts, oldest first.

        Keys: ``time`` (timezone-aware UTC ``datetime`` of emission), ``name``,
        ``message_id``, ``code`` and ``bid_id`` (``None`` where an event has none:
        a preload's no-fill or error is for every code and no message), and
        ``payload`` (the event's ``payload`` dict). ``pandas.DataFrame(records)``
        and ``polars.DataFrame(records)`` take it as is; neither is a dependency.
        """
        with self._lock:
            return self._recorder.records_locked(self._assignments.bid_messages)

    def _logged_events(self, last: int) -> list[LoggedEvent]:
        """The newest ``last`` events of the history, message ids resolved (for the event log)."""
        with self._lock:
            return self._recorder.logged_events_locked(last, self._assignments.bid_messages)

    @property
    def ad_server_url(self) -> str:
        """The ad server this session talks to, without a trailing slash."""
        return self._server

    @property
    def enabled_placement_codes(self) -> tuple[str, ...]:
        """The placement codes this session asks bids for (``("inlineAd",)`` by default)."""
        return self._codes

    # -- messages -----------------------------------------------------------------
    def add_message(
        self, message: Message | Mapping[str, Any], *, track_only: bool = False
    ) -> None:
        """Register a message; returns at once (section 3.1).

        A user message (re)starts the 10 ms debounce that leads to one
        ``/preload`` and aborts a preload still in flight; an assistant message
        lets a pending bid attach to it.
        """
        msg = Message.coerce(message)
        if not isinstance(track_only, bool):
            raise TypeError(f"track_only must be a bool, got {type(track_only).__name__}")
        start_task = False
        with self._lock:
            self._check_alive("add_message")
            self._messages.append(msg)
            self._assignments.message_added(msg.id)
            self._assign_locked()
            if msg.role == "user":
                self._active = None  # stale-result guard: an older preload's answer is dropped
                self._pending_track_only = track_only
                if not self._disabled:
                    self._debounce_deadline = time.monotonic() + TIMING.debounce
                    if not self._debounce_pending:
                        self._debounce_pending = True
                        start_task = True
        if start_task:
            self._delivery.begin()
            _io_loop.call_soon(self._start_preload)
        if self._recorder.on_debug_event is not None or self._reports.debug_enabled:
            self._debug("Session: message-added", {"id": msg.id, "role": msg.role})

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
        if code not in self._codes:
            raise ValueError(
                f"code {code!r} is not an enabled placement code of this session "
                f"(enabled_placement_codes={list(self._codes)!r})"
            )
        with self._lock:
            self._check_alive("create_ad")
            # docs/protocol.md §3.4: bids go to assistant messages only, so say so now
            # rather than leave an ad that silently never fills.
            is_user = any(m.id == message_id and m.role == "user" for m in self._messages)
            existing = self._assignments.ad(message_id, code, theme)
            if existing is not None:
                return existing
            replaced = self._assignments.ads_of_message(message_id, code)
        if is_user:
            warn_caller(
                f"message {message_id!r} is a user message: ads go under assistant messages, "
                f"so this ad ({code!r}) will never fill; pass the assistant reply's id"
            )
        for ad in replaced:
            ad.destroy()
        ad = Ad(SessionLink(self), message_id, code, theme)
        with self._lock:
            if self._destroyed:
                ad.destroy()
                raise SessionDestroyedError("the session was destroyed while creating the ad")
            preload = self._assignments.add_ad(ad, self._messages)
        if preload is not None:
            self._resolve(ad, preload)
        self._debug("Ad: created", {"messageId": message_id, "code": code, "theme": theme})
        return ad

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
        with self._lock:
            ads = self._assignments.ads_of_code(code)
        for ad in ads:
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
            "_variant_id": optional_text("variant_id", variant_id),
            "_regulatory": optional_instance("regulatory", regulatory, Regulatory),
            "_user_email": optional_text("user_email", user_email),
            "_advertising_id": optional_text("advertising_id", advertising_id),
            "_vendor_id": optional_text("vendor_id", vendor_id),
        }
        with self._lock:
            for attribute, value in updates.items():
                if value is not None:
                    setattr(self, attribute, value)

    # -- lifecycle ------------------------------------------------------------------
    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until no debounce or request is pending and every event was delivered.

        The pending work includes ``/init`` and the ``/error`` and ``/debug``
        reports already started (docs/protocol.md §2.3), so when this returns
        True everything the session sent so far has reached the server or failed.

        Inside a notebook cell this delivers the callbacks itself (the kernel's
        main thread, where they normally run, is the one waiting).
        """
        return self._delivery.wait_idle(check_timeout(timeout))

    async def wait_idle_async(self, timeout: float = 30.0) -> bool:
        """``wait_idle`` without blocking the event loop it is awaited on.

        ``True`` once no debounce or request is pending and every event was
        delivered to ``on_event``; ``False`` on timeout. Works with top-level
        ``await`` in Jupyter and marimo and under ``asyncio.run``.
        """
        return await self._delivery.wait_idle_async(check_timeout(timeout))

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
        stream = EventStream(max_buffered, self._recorder.unsubscribe)
        with self._lock:
            if not self._destroyed:
                self._recorder.subscribe_locked(stream)
                return stream
        end_stream(stream)  # a destroyed session has no later events
        return stream

    def destroy(self) -> None:
        """Cancel in-flight work, destroy every ad, stop all requests. Idempotent.

        Every ``stream_events()`` iterator ends once it has yielded the events
        emitted before this call.
        """
        with self._lock:
            if self._destroyed:
                return
            self._destroyed = True
            self._active = None
            ads = self._assignments.clear()
            streams = self._recorder.end_streams_locked()
        for stream in streams:
            end_stream(stream)
        for ad in ads:
            ad.destroy()
        _io_loop.call_soon(self._cancel_tasks)
        self._debug("Session: destroyed", None)

    close = destroy

    async def aclose(self, timeout: float = 5.0) -> None:
        """``destroy()``, then wait (without blocking the loop) for the cancelled work to end.

        When it returns, the callbacks already queued have run and no request
        of this session is in flight (unless ``timeout`` seconds were not enough).
        """
        self.destroy()
        await self.wait_idle_async(timeout)

    # -- internals: I/O loop side -----------------------------------------------------
    def _cancel_tasks(self) -> None:
        for task in (self._preload_task, self._init_task):
            if task is not None:
                task.cancel()
        if self._holding:
            self._holding = False
            _io_loop.warm().release(self._server)

    def _start_init(self) -> None:
        if self._destroyed:
            self._delivery.end()
            return
        # A connection to the server is kept ready while the session lives (_network/warm.py).
        self._holding = True
        _io_loop.warm().hold(self._server)
        self._init_task = self._track(self._run_init())

    async def _run_init(self) -> None:
        try:
            settings = await fetch_init(
                self._server, self._publisher_token, self._user_id, self._install_id
            )
        except Exception as exc:  # network, decoding, or a bug of ours: never the user's problem
            # The /error gate is treated as open: /init never said otherwise.
            self._report_error(f"Error initializing session: {exc}", "Init.fetch")
            return
        if settings is None:
            return
        with self._lock:
            if self._destroyed:
                return
            # Android applies the other fields even when enabled is false.
            self._reports.errors_enabled = settings.report_errors
            self._reports.debug_enabled = settings.report_debug
            if settings.preload_timeout_ms is not None:
                self._preload_timeout_ms = settings.preload_timeout_ms
            if not settings.enabled and not self._disabled:
                self._disabled = True
                self._recorder.emit_locked(
                    AdError(message="Session is disabled", err_code="session_disabled_by_init")
                )

    def _start_preload(self) -> None:
        if self._holding:
            _io_loop.warm().prepare(self._server)  # opened while the debounce runs
        previous = self._preload_task
        if previous is not None and not previous.done():
            previous.cancel()  # superseded: no event, no /error (section 2)
        self._preload_task = self._track(self._run_preload())

    def _track(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Start ``coro`` and end its ``begin()`` when it finishes, even if cancelled unstarted."""
        task = _io_loop.loop().create_task(coro)
        task.add_done_callback(lambda _task: self._delivery.end())
        return task

    async def _run_preload(self) -> None:
        request = await self._debounce()
        if request is None:
            return
        preload, body = request
        self._debug("Session: preload-start", {"messageCount": len(body["messages"])})
        outcome = await fetch_preload(
            self._server,
            body,
            publisher_token=self._publisher_token,
            track_only=preload.track_only,
            timeout_ms=self._preload_timeout_ms,
            codes=self._codes,
        )
        self._apply_preload(preload, outcome)

    async def _debounce(self) -> tuple[Preload, dict[str, Any]] | None:
        """Wait until 10 ms passed without a user message, then snapshot the request."""
        while True:
            with self._lock:
                if self._destroyed:
                    self._debounce_pending = False
                    return None
                deadline = self._debounce_deadline
                if deadline <= time.monotonic():
                    self._debounce_pending = False
                    if self._disabled:
                        return None
                    preload = Preload(next(_preload_ids), self._pending_track_only)
                    self._active = preload
                    return preload, self._preload_request_locked().body()
            await _io_loop.sleep_until(deadline)

    def _preload_request_locked(self) -> PreloadRequest:
        return PreloadRequest(
            publisher_token=self._publisher_token,
            user_id=self._user_id,
            install_id=self._install_id,
            conversation_id=self._conversation_id,
            enabled_placement_codes=self._codes,
            messages=tuple(self._messages),
            device=device(),
            session_id=self._session_id,
            character=self._character,
            regulatory=self._regulatory,
            user_email=self._user_email,
            variant_id=self._variant_id,
            advertising_id=self._advertising_id,
            vendor_id=self._vendor_id,
        )

    def _apply_preload(self, preload: Preload, outcome: PreloadOutcome) -> None:
        with self._lock:
            if self._destroyed or self._active is not preload:
                return  # superseded or destroyed: dropped silently (section 3.1 #7)
            if not preload.track_only:
                self._recorder.count_preload_locked()
            if isinstance(outcome, PreloadFilled):
                self._session_id = outcome.session_id
                if preload.track_only:
                    self._active = None  # section 3.2: no ad.filled, never assigned
                else:
                    preload.bids = outcome.bids
                    for bid in outcome.bids:
                        self._recorder.emit_locked(
                            Filled(bid_id=bid.bid_id, code=bid.code, revenue=bid.revenue),
                            code=bid.code,
                            bid_id=bid.bid_id,
                        )
                    self._assign_locked()
            elif isinstance(outcome, PreloadNoFill):
                if outcome.session_id is not None:
                    self._session_id = outcome.session_id
                self._active = None
                self._recorder.emit_locked(NoFill(skip_code=outcome.skip_code))
            else:
                self._active = None
                if outcome.permanent:
                    self._disabled = True
                self._recorder.emit_locked(
                    AdError(message=outcome.message, err_code=outcome.err_code)
                )
        if isinstance(outcome, PreloadError) and outcome.report:
            self._report_error(f"Error preloading ads: {outcome.message}", "Preload.fetch")
        self._debug("Session: preload-result", {"outcome": type(outcome).__name__})

    # -- internals: bid assignment and ads ----------------------------------------------
    def _assign_locked(self) -> None:
        """Section 3.3: attach the active preload to the last message if it is an assistant one."""
        preload = self._active
        message_id = self._assignments.attach(preload, self._messages)
        if preload is None or message_id is None:
            return
        self._recorder.assigned_locked()
        for ad in self._assignments.ads_of_message(message_id):
            self._delivery.post(partial(self._resolve, ad, preload))
        self._debug_locked("Session: bid-assigned", {"messageId": message_id})
        for text, data in self._assignments.waiting_ad_warnings(message_id):
            self._debug_locked("Ad: waiting-for-message", data)
            self._recorder.post_guarded_locked(warnings.warn, text, UserWarning)

    def _resolve(self, ad: Ad, preload: Preload) -> None:
        bid = bid_for(ad, preload)
        if bid is not None:
            context = frame_context(ad, preload.conversation)
            self._recorder.guarded(assign, ad, bid, self._server, context)

    def _forget_ad(self, ad: Ad) -> None:
        with self._lock:
            self._assignments.forget_ad(ad)
        self._debug("Ad: destroyed", {"messageId": ad.message_id, "code": ad.code})

    def _check_alive(self, method: str) -> None:
        if self._destroyed:
            raise SessionDestroyedError(
                f"Session.{method}() called after destroy(); create a new session"
            )

    # -- internals: debug events and error reports ------------------------------------
    def _debug(self, name: str, data: object | None) -> None:
        with self._lock:
            self._debug_locked(name, data)

    def _debug_locked(self, name: str, data: object | None) -> None:
        self._recorder.debug_locked(name, data)
        if not self._destroyed:
            self._reports.debug(name, data, session_id=self._session_id)

    def _report_error(self, error: str, stack: str, *, bid_id: str | None = None) -> None:
        logger.warning("kontext-widget: %s", error)
        if not self._destroyed:
            self._reports.error(error, stack, bid_id=bid_id)

    # -- notebook conveniences (_notebook/chat.py, _notebook/event_log.py) ------------
    def event_log(self) -> EventLog:
        """A live table of this session's events (history first), with a summary line.

        Display it (leave it last in a cell) to watch fills, errors, views and
        clicks arrive; ``.summary`` is the same counts as a dict.
        """
        return EventLog(SessionLink(self))

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


class SessionLink:
    """The session's side of the internal interfaces (``_interfaces.AdHost``, ``EventFeed``).

    Handed to each ``Ad`` and ``EventLog`` the session creates, so that they call
    these few methods and nothing else of the session. A new link per owner, so the
    session holds no reference to it (no cycle keeps a dropped session alive).
    """

    __slots__ = ("_session",)

    def __init__(self, session: Session) -> None:
        self._session = session

    # -- AdHost
    def emit(self, event: AdEvent, *, code: str, message_id: str, bid_id: str | None) -> None:
        self._session._recorder.emit(event, code=code, message_id=message_id, bid_id=bid_id)

    def report_error(self, error: str, stack: str, *, bid_id: str | None) -> None:
        self._session._report_error(error, stack, bid_id=bid_id)

    def forget_ad(self, ad: Ad) -> None:
        self._session._forget_ad(ad)

    # -- EventFeed
    @property
    def emitted(self) -> int:
        return self._session._recorder.emitted

    def logged_events(self, last: int) -> list[LoggedEvent]:
        return self._session._logged_events(last)

    def metrics(self) -> SessionMetrics:
        return self._session.metrics()

    def add_listener(self, listener: EventCallback) -> None:
        self._session._recorder.add_listener(listener)

    def add_assignment_listener(self, listener: Callable[[], None]) -> None:
        self._session._recorder.add_assignment_listener(listener)


def session_link(session: Session) -> SessionLink:
    """The internal interface to ``session`` for a helper it did not create (the playground)."""
    return SessionLink(session)
