"""A session's events: recorded once, counted, and handed to everyone who listens.

Every event a session emits is recorded here: an ad's through ``emit``, where a
bid's second view, video start/end or reward is dropped (docs/protocol.md §13),
an ``/init`` or ``/preload`` outcome through ``emit_locked``. Each enters the
bounded history and the metrics, is pushed to every open ``stream_events()``
iterator and is posted, in emission order, to ``on_event`` and the in-package
listeners (the event log). User code runs guarded: a
callback that raises is logged and reported to ``on_debug_event``, never
propagated.

The recorder shares its session's lock, which guards all of its state; methods
ending in ``_locked`` expect the caller to hold it.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
import weakref
from collections import deque
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from kontext_widget._constants import MAX_EVENT_HISTORY
from kontext_widget._delivery import Delivery
from kontext_widget._events import AdEvent, RewardGranted, VideoCompleted, VideoStarted, Viewed
from kontext_widget._interfaces import LoggedEvent
from kontext_widget._metrics import MetricsCounter, SessionMetrics, event_record
from kontext_widget._options import DebugCallback, EventCallback
from kontext_widget._streams import EventStream, push_event

__all__ = ["EventRecorder"]

logger = logging.getLogger("kontext_widget")

# Events a bid may cause only once: each counts revenue or grants something.
_ONCE_PER_BID = (Viewed, VideoStarted, VideoCompleted, RewardGranted)


class EventRecorder:
    """History, metrics and fan-out of one session's events (guarded by the session's lock)."""

    def __init__(
        self,
        lock: threading.Lock,
        delivery: Delivery,
        codes: tuple[str, ...],
        on_event: EventCallback | None,
        on_debug_event: DebugCallback | None,
    ) -> None:
        self._lock = lock
        self._delivery = delivery
        self._on_event = on_event
        self.on_debug_event = on_debug_event
        self._history: deque[LoggedEvent] = deque(maxlen=MAX_EVENT_HISTORY)
        self._metrics = MetricsCounter(codes)
        self._emitted = 0  # every event ever emitted (the history keeps the newest only)
        # (event name, bid id) of the once-per-bid events already emitted, oldest first
        # (an insertion-ordered dict used as a bounded set).
        self._counted_once: dict[tuple[str, str], None] = {}
        # In-package observers of events (e.g. the event log widget), after on_event.
        self._listeners: list[EventCallback] = []
        # In-package observers of bid assignments (the event log fills in message ids).
        self._assignment_listeners: list[Callable[[], None]] = []
        # Open stream_events() iterators, held weakly: an abandoned one unsubscribes itself.
        self._streams: weakref.WeakSet[EventStream] = weakref.WeakSet()

    @property
    def emitted(self) -> int:
        """How many events were ever emitted (the history keeps the newest only)."""
        return self._emitted

    # -- emitting ------------------------------------------------------------------
    def emit(
        self,
        event: AdEvent,
        *,
        code: str | None = None,
        message_id: str | None = None,
        bid_id: str | None = None,
    ) -> None:
        """An ad's event; a bid's second view, video start/end or reward is dropped.

        A creative that repeats them would otherwise count revenue, or grant a reward,
        several times for one bid (docs/protocol.md §13). The ad passes its own code,
        message and bid (not the creative's) for the history and the metrics.
        """
        with self._lock:
            if isinstance(event, _ONCE_PER_BID):
                key = (event.name, event.bid_id)
                if key in self._counted_once:
                    return
                self._counted_once[key] = None
                if len(self._counted_once) > MAX_EVENT_HISTORY:
                    del self._counted_once[next(iter(self._counted_once))]
            self._record_locked(event, code, message_id, bid_id)

    def emit_locked(
        self, event: AdEvent, *, code: str | None = None, bid_id: str | None = None
    ) -> None:
        """A ``/preload`` or ``/init`` outcome (the caller holds the lock): no message yet."""
        self._record_locked(event, code, None, bid_id)

    def _record_locked(
        self, event: AdEvent, code: str | None, message_id: str | None, bid_id: str | None
    ) -> None:
        self._history.append(LoggedEvent(event, time.time(), code, message_id, bid_id))
        self._emitted += 1
        self._metrics.event(event, code)
        for stream in self._streams:
            push_event(stream, event)
        for callback in (self._on_event, *self._listeners):
            if callback is not None:
                self._delivery.post(partial(self.guarded, callback, event))

    def count_preload_locked(self) -> None:
        """A ``/preload`` that counts in the metrics ended (not a track-only one)."""
        self._metrics.preload()

    def debug_locked(self, name: str, data: object | None) -> None:
        """Post a debug event to ``on_debug_event``, if there is one."""
        callback = self.on_debug_event
        if callback is not None:
            self._delivery.post(partial(self._call_debug, callback, name, data))

    def post_guarded_locked(self, function: Callable[..., object], *args: object) -> None:
        """Run ``function(*args)`` on the callback thread, after what is already posted."""
        self._delivery.post(partial(self.guarded, function, *args))

    def assigned_locked(self) -> None:
        """Bids were assigned to a message: tell the assignment listeners."""
        for notify in self._assignment_listeners:
            self.post_guarded_locked(notify)

    def guarded(self, function: Callable[..., object], *args: object) -> None:
        """Run user-facing code so that an exception never breaks the session."""
        try:
            function(*args)
        except Exception as exc:
            logger.exception("kontext-widget: a callback raised")
            callback = self.on_debug_event
            if callback is not None and function is not callback:
                self._call_debug(
                    callback,
                    "Session: callback-error",
                    {"error": repr(exc), "traceback": traceback.format_exc()},
                )

    @staticmethod
    def _call_debug(callback: DebugCallback, name: str, data: object | None) -> None:
        try:
            callback(name, data)
        except Exception:
            logger.exception("kontext-widget: on_debug_event raised")

    # -- listening -------------------------------------------------------------------
    def add_listener(self, listener: EventCallback) -> None:
        """Deliver every later event to ``listener`` too, in order, on the callback thread."""
        with self._lock:
            self._listeners.append(listener)

    def add_assignment_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (on the callback thread) whenever bids are assigned to a message."""
        with self._lock:
            self._assignment_listeners.append(listener)

    def subscribe_locked(self, stream: EventStream) -> None:
        self._streams.add(stream)

    def unsubscribe(self, stream: EventStream) -> None:
        with self._lock:
            self._streams.discard(stream)

    def end_streams_locked(self) -> list[EventStream]:
        """Unsubscribe every stream; the caller ends them (``end_stream``) outside the lock."""
        streams = list(self._streams)
        self._streams.clear()
        return streams

    # -- reading ---------------------------------------------------------------------
    def events(self) -> list[AdEvent]:
        with self._lock:
            return [logged.event for logged in self._history]

    def metrics(self) -> SessionMetrics:
        return self._metrics.snapshot()

    def records_locked(self, bid_messages: Mapping[str, str]) -> list[dict[str, Any]]:
        """``Session.to_records()``: message ids of bids assigned later filled in."""
        return [
            event_record(
                logged.event,
                logged.time,
                logged.code,
                logged.message_id or bid_messages.get(logged.bid_id or ""),
                logged.bid_id,
            )
            for logged in self._history
        ]

    def logged_events_locked(self, last: int, bid_messages: Mapping[str, str]) -> list[LoggedEvent]:
        """The newest ``last`` events of the history, message ids resolved (for the event log)."""
        start = max(0, len(self._history) - last)
        return [_resolved(self._history[i], bid_messages) for i in range(start, len(self._history))]


def _resolved(logged: LoggedEvent, bid_messages: Mapping[str, str]) -> LoggedEvent:
    if logged.message_id is not None or logged.bid_id is None:
        return logged
    message_id = bid_messages.get(logged.bid_id)
    if message_id is None:
        return logged
    return LoggedEvent(logged.event, logged.time, logged.code, message_id, logged.bid_id)
