"""The internal interfaces between the session and what it owns.

A ``Session`` owns its ads, event streams and event log; each of them talks
back to it only through the small ``Protocol`` declared here, which the session
implements with one link object (``SessionLink``, below) handed to them at
construction. The other direction goes through the owned module's
public-but-internal functions (``_ad.assign``, ``_ad.send_user_event``,
``_streams.push_event``, ...), which the package does not export. No module calls
another module's private members (``tests/test_module_boundaries.py`` checks it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ._ad import Ad
    from ._events import AdEvent
    from ._metrics import SessionMetrics
    from ._session_state import SessionState

__all__ = ["AdHost", "EventFeed", "LoggedEvent", "SessionLink"]


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """An event of the session's history with what the session knew when it was emitted."""

    event: AdEvent
    time: float  # time.time()
    code: str | None  # None: a preload's no-fill or error, for every code
    message_id: str | None
    bid_id: str | None


class AdHost(Protocol):
    """What an ``Ad`` may ask of the session that created it."""

    def emit(self, event: AdEvent, *, code: str, message_id: str, bid_id: str | None) -> None:
        """Record and deliver an event the ad's creative caused."""

    def report_error(self, error: str, stack: str, *, bid_id: str | None) -> None:
        """Log and report (``/error``, docs/protocol.md §2.3) a failure seen by the ad."""

    def forget_ad(self, ad: Ad) -> None:
        """The ad was destroyed: it gets no bid and no user events any more."""


class EventFeed(Protocol):
    """What the event log and the playground read from a session."""

    @property
    def emitted(self) -> int:
        """How many events were ever emitted (the history keeps the newest only)."""

    def logged_events(self, last: int) -> list[LoggedEvent]:
        """The newest ``last`` events of the history, message ids resolved."""

    def metrics(self) -> SessionMetrics:
        """The session's metrics, as ``Session.metrics()``."""

    def add_listener(self, listener: Callable[[AdEvent], None]) -> None:
        """Deliver every later event to ``listener`` too, in order, on the callback thread."""

    def add_assignment_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (on the callback thread) whenever bids are assigned to a message."""


class SessionLink:
    """The session's side of the interfaces above (``AdHost`` and ``EventFeed``).

    Handed to each ``Ad`` and ``EventLog`` the session creates, so that they call
    these few methods and nothing else of the session. A new link per owner, so the
    session holds no reference to it (no cycle keeps a dropped session alive).
    """

    __slots__ = ("_session",)

    def __init__(self, session: SessionState) -> None:
        self._session = session

    # -- AdHost
    def emit(self, event: AdEvent, *, code: str, message_id: str, bid_id: str | None) -> None:
        self._session.recorder.emit(event, code=code, message_id=message_id, bid_id=bid_id)

    def report_error(self, error: str, stack: str, *, bid_id: str | None) -> None:
        self._session.report_error(error, stack, bid_id=bid_id)

    def forget_ad(self, ad: Ad) -> None:
        self._session.forget_ad(ad)

    # -- EventFeed
    @property
    def emitted(self) -> int:
        return self._session.recorder.emitted

    def logged_events(self, last: int) -> list[LoggedEvent]:
        return self._session.logged_events(last)

    def metrics(self) -> SessionMetrics:
        return self._session.recorder.metrics()

    def add_listener(self, listener: Callable[[AdEvent], None]) -> None:
        self._session.recorder.add_listener(listener)

    def add_assignment_listener(self, listener: Callable[[], None]) -> None:
        self._session.recorder.add_assignment_listener(listener)
