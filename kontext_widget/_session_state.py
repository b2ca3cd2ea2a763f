"""The session's state and the state machine that changes it (docs/protocol.md §3).

``Session`` (``_session.py``) checks what users pass and documents it;
``SessionState`` holds everything that changes and decides: the messages,
the debounce, ``/init`` and the active ``/preload`` on the I/O loop, what their
outcomes do, and when bids attach to messages. The work itself lives in the
modules named for it: the requests (``_network.init``, ``_network.preload``,
``_network.reports``), bids -> messages and the ads (``_assignment``), the
events (``_recorder``) and what a creative is told (``_frame.context``).

Threading model. Public methods run on the caller's thread and only record and
schedule: they take ``_lock`` for a few microseconds and never wait on I/O.
Network work runs on the process-wide I/O loop (``_io_loop``). Callbacks and
ad updates go through ``delivery`` in emission order, on the kernel's main
thread in Jupyter. All mutable state below (the recorder's and the
assignment's included) is guarded by ``_lock``; it is never held across an
``await`` or while user code runs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
import warnings
from collections import deque
from collections.abc import Coroutine
from functools import partial
from itertools import count
from typing import Any

from kontext_widget._ad import Ad, assign
from kontext_widget._assignment import BidAssignment, Preload, bid_for
from kontext_widget._constants import MAX_MESSAGES, TIMING
from kontext_widget._delivery import Delivery
from kontext_widget._device import device
from kontext_widget._events import AdError, Filled, NoFill
from kontext_widget._exceptions import SessionDestroyedError
from kontext_widget._frame.context import frame_context
from kontext_widget._install_id import install_id
from kontext_widget._interfaces import LoggedEvent, SessionLink
from kontext_widget._network import io_loop as _io_loop
from kontext_widget._network.init import fetch_init
from kontext_widget._network.preload import (
    PreloadError,
    PreloadFilled,
    PreloadNoFill,
    PreloadOutcome,
    PreloadRequest,
    fetch_preload,
)
from kontext_widget._network.reports import Reports
from kontext_widget._options import SessionOptions, warn_caller
from kontext_widget._recorder import EventRecorder
from kontext_widget._streams import EventStream, end_stream
from kontext_widget._types import Message

__all__ = ["SessionState"]

logger = logging.getLogger("kontext_widget")

_preload_ids = count(1)


class SessionState:
    """Everything of a session that changes, and the rules that change it."""

    def __init__(self, options: SessionOptions) -> None:
        self._options = options
        self._server = options.ad_server_url
        self._install_id = install_id()

        self._lock = threading.Lock()
        self.delivery = Delivery()
        codes = options.enabled_placement_codes
        self.recorder = EventRecorder(
            self._lock, self.delivery, codes, options.on_event, options.on_debug_event
        )
        identity = {
            "publisherToken": options.publisher_token,
            "conversationId": options.conversation_id,
            "userId": options.user_id,
            "installId": self._install_id,
        }
        self._reports = Reports(self._server, identity, self.delivery)
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
        self.assignments = BidAssignment()

        self._debug("Session: created", {"conversationId": options.conversation_id})
        self.delivery.begin()
        _io_loop.call_soon(self._start_init)

    # -- what the Session reads ------------------------------------------------------
    @property
    def options(self) -> SessionOptions:
        return self._options

    @property
    def session_id(self) -> str | None:
        return self._session_id

    @property
    def disabled(self) -> bool:
        return self._disabled

    @property
    def destroyed(self) -> bool:
        return self._destroyed

    @property
    def preload_timeout_ms(self) -> int:
        return self._preload_timeout_ms

    def messages(self) -> tuple[Message, ...]:
        with self._lock:
            return tuple(self._messages)

    def to_records(self) -> list[dict[str, Any]]:
        with self._lock:
            return self.recorder.records_locked(self.assignments.bid_messages)

    def logged_events(self, last: int) -> list[LoggedEvent]:
        """The newest ``last`` events of the history, message ids resolved (for the event log)."""
        with self._lock:
            return self.recorder.logged_events_locked(last, self.assignments.bid_messages)

    def ads_of_code(self, code: str) -> list[Ad]:
        with self._lock:
            return self.assignments.ads_of_code(code)

    # -- what the Session changes ----------------------------------------------------
    def add_message(self, msg: Message, track_only: bool, added: float) -> None:
        """Section 3.1: record ``msg``; a user message (re)starts the debounce.

        ``added`` is ``time.monotonic()`` when the caller handed the message over:
        the debounce counts from then, not from after this bookkeeping.
        """
        start_task = False
        with self._lock:
            self._check_alive("add_message")
            self._messages.append(msg)
            self.assignments.message_added(msg.id)
            self._assign_locked()
            if msg.role == "user":
                self._active = None  # stale-result guard: an older preload's answer is dropped
                self._pending_track_only = track_only
                if not self._disabled:
                    self._debounce_deadline = added + TIMING.debounce
                    if not self._debounce_pending:
                        self._debounce_pending = True
                        start_task = True
        if start_task:
            self.delivery.begin()
            _io_loop.call_soon(self._start_preload)
        if self.recorder.on_debug_event is not None or self._reports.debug_enabled:
            self._debug("Session: message-added", {"id": msg.id, "role": msg.role})

    def create_ad(self, message_id: str, code: str, theme: str | None) -> Ad:
        """The ad of (``message_id``, ``code``, ``theme``); a new one replaces other themes'."""
        with self._lock:
            self._check_alive("create_ad")
            # docs/protocol.md §3.4: bids go to assistant messages only, so say so now
            # rather than leave an ad that silently never fills.
            is_user = any(m.id == message_id and m.role == "user" for m in self._messages)
            existing = self.assignments.ad(message_id, code, theme)
            if existing is not None:
                return existing
            replaced = self.assignments.ads_of_message(message_id, code)
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
            preload = self.assignments.add_ad(ad, self._messages)
        if preload is not None:
            self._resolve(ad, preload)
        self._debug("Ad: created", {"messageId": message_id, "code": code, "theme": theme})
        return ad

    def update_options(self, changes: dict[str, Any]) -> None:
        """Replace the preload-scoped options in ``changes`` (section 3.5)."""
        with self._lock:
            self._options = dataclasses.replace(self._options, **changes)

    def open_stream(self, max_buffered: int) -> EventStream:
        """A ``stream_events()`` iterator, ended at once if the session is destroyed."""
        stream = EventStream(max_buffered, self.recorder.unsubscribe)
        with self._lock:
            if not self._destroyed:
                self.recorder.subscribe_locked(stream)
                return stream
        end_stream(stream)  # a destroyed session has no later events
        return stream

    def destroy(self) -> None:
        """Cancel in-flight work, end the streams, destroy every ad. Idempotent."""
        with self._lock:
            if self._destroyed:
                return
            self._destroyed = True
            self._active = None
            ads = self.assignments.clear()
            streams = self.recorder.end_streams_locked()
        for stream in streams:
            end_stream(stream)
        for ad in ads:
            ad.destroy()
        _io_loop.call_soon(self._cancel_tasks)
        self._debug("Session: destroyed", None)

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
            self.delivery.end()
            return
        # A connection to the server is kept ready while the session lives (_network/warm.py).
        self._holding = True
        _io_loop.warm().hold(self._server)
        self._init_task = self._track(self._run_init())

    async def _run_init(self) -> None:
        try:
            options = self._options
            settings = await fetch_init(
                self._server, options.publisher_token, options.user_id, self._install_id
            )
        except Exception as exc:  # network, decoding, or a bug of ours: never the user's problem
            # The /error gate is treated as open: /init never said otherwise.
            self.report_error(f"Error initializing session: {exc}", "Init.fetch")
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
                self.recorder.emit_locked(
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
        task.add_done_callback(lambda _task: self.delivery.end())
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
            publisher_token=self._options.publisher_token,
            track_only=preload.track_only,
            timeout_ms=self._preload_timeout_ms,
            codes=self._options.enabled_placement_codes,
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
        options = self._options
        return PreloadRequest(
            publisher_token=options.publisher_token,
            user_id=options.user_id,
            install_id=self._install_id,
            conversation_id=options.conversation_id,
            enabled_placement_codes=options.enabled_placement_codes,
            messages=tuple(self._messages),
            device=device(),
            session_id=self._session_id,
            character=options.character,
            regulatory=options.regulatory,
            user_email=options.user_email,
            variant_id=options.variant_id,
            advertising_id=options.advertising_id,
            vendor_id=options.vendor_id,
        )

    def _apply_preload(self, preload: Preload, outcome: PreloadOutcome) -> None:
        with self._lock:
            if self._destroyed or self._active is not preload:
                return  # superseded or destroyed: dropped silently (section 3.1 #7)
            if not preload.track_only:
                self.recorder.count_preload_locked()
            if isinstance(outcome, PreloadFilled):
                self._session_id = outcome.session_id
                if preload.track_only:
                    self._active = None  # section 3.2: no ad.filled, never assigned
                else:
                    preload.bids = outcome.bids
                    for bid in outcome.bids:
                        self.recorder.emit_locked(
                            Filled(bid_id=bid.bid_id, code=bid.code, revenue=bid.revenue),
                            code=bid.code,
                            bid_id=bid.bid_id,
                        )
                    self._assign_locked()
            elif isinstance(outcome, PreloadNoFill):
                if outcome.session_id is not None:
                    self._session_id = outcome.session_id
                self._active = None
                self.recorder.emit_locked(NoFill(skip_code=outcome.skip_code))
            else:
                self._active = None
                if outcome.permanent:
                    self._disabled = True
                self.recorder.emit_locked(
                    AdError(message=outcome.message, err_code=outcome.err_code)
                )
        if isinstance(outcome, PreloadError) and outcome.report:
            self.report_error(f"Error preloading ads: {outcome.message}", "Preload.fetch")
        self._debug("Session: preload-result", {"outcome": type(outcome).__name__})

    # -- bid assignment and ads ---------------------------------------------------------
    def _assign_locked(self) -> None:
        """Section 3.3: attach the active preload to the last message if it is an assistant one."""
        preload = self._active
        message_id = self.assignments.attach(preload, self._messages)
        if preload is None or message_id is None:
            return
        self.recorder.assigned_locked()
        for ad in self.assignments.ads_of_message(message_id):
            self.delivery.post(partial(self._resolve, ad, preload))
        self._debug_locked("Session: bid-assigned", {"messageId": message_id})
        for text, data in self.assignments.waiting_ad_warnings(message_id):
            self._debug_locked("Ad: waiting-for-message", data)
            self.recorder.post_guarded_locked(warnings.warn, text, UserWarning)

    def _resolve(self, ad: Ad, preload: Preload) -> None:
        bid = bid_for(ad, preload)
        if bid is not None:
            context = frame_context(ad, preload.conversation)
            self.recorder.guarded(assign, ad, bid, self._server, context)

    def forget_ad(self, ad: Ad) -> None:
        """The ad was destroyed: it gets no bid and no user events any more."""
        with self._lock:
            self.assignments.forget_ad(ad)
        self._debug("Ad: destroyed", {"messageId": ad.message_id, "code": ad.code})

    def _check_alive(self, method: str) -> None:
        if self._destroyed:
            raise SessionDestroyedError(
                f"Session.{method}() called after destroy(); create a new session"
            )

    # -- debug events and error reports --------------------------------------------------
    def _debug(self, name: str, data: object | None) -> None:
        with self._lock:
            self._debug_locked(name, data)

    def _debug_locked(self, name: str, data: object | None) -> None:
        self.recorder.debug_locked(name, data)
        if not self._destroyed:
            self._reports.debug(name, data, session_id=self._session_id)

    def report_error(self, error: str, stack: str, *, bid_id: str | None = None) -> None:
        """Log a failure and report it to ``/error`` (docs/protocol.md §2.3)."""
        logger.warning("kontext-widget: %s", error)
        if not self._destroyed:
            self._reports.error(error, stack, bid_id=bid_id)
