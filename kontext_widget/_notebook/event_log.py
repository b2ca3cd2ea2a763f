"""``EventLog``: a live table of one session's ad events, read at a glance.

``Session.event_log()`` returns one. It shows the session's per-placement
metrics (``Session.metrics()``) above a fixed-height, scrolling table of the
newest events: time, event (with a colour per kind), placement code, message,
short bid id and the event's key fields. The session knows which message each
bid went to, so an ``ad.filled`` shows its message as soon as the bid is
assigned, even though it was emitted before the message existed.

Every publish is a snapshot of the session (its history and counters), taken
when an event is delivered or bids are assigned: through the session's
in-package listener hooks, on the thread where its callbacks run (the kernel's
main thread in Jupyter), with no polling. All text is formatted here, so the
browser half (``js/event_log.ts``, bundled into ``static/event_log.js``) only
draws it, setting ``textContent`` and ``title`` only: event fields come from
servers and creatives, so they are never interpreted as HTML. Colours are
JupyterLab theme variables with fallbacks, so the table reads in the light and
dark themes.
"""

from __future__ import annotations

import threading
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import anywidget
import traitlets

from kontext_widget import _events as events
from kontext_widget._events import AdEvent
from kontext_widget._metrics import PlacementMetrics, SessionMetrics

if TYPE_CHECKING:
    from kontext_widget._interfaces import EventFeed, LoggedEvent

__all__ = ["EventLog", "plural", "summary_text"]

# The table shows the newest rows only, so a long session keeps the synced state small.
MAX_ROWS: Final = 200
# A bid id is a UUID: its first 8 characters tell the ads of one page apart.
SHORT_BID: Final = 8
# Longest text of a cell (its hover title included): event fields come from the wire.
MAX_CELL_CHARS: Final = 1000

# Payload fields worth showing in the details column, in this order (code, message
# and bid have columns of their own).
DETAIL_FIELDS: Final = (
    "skip_code",
    "err_code",
    "message",
    "height",
    "format",
    "revenue",
    "area",
    "url",
)

# Event kind -> the colour of its marker (mid tones, visible on light and dark).
_KINDS: Final[dict[type[AdEvent], str]] = {
    events.Filled: "fill",
    events.NoFill: "no-fill",
    events.AdError: "error",
    events.RenderStarted: "render",
    events.RenderCompleted: "render",
    events.AdHeight: "render",
    events.Viewed: "view",
    events.Clicked: "click",
}

# The front end (js/event_log.ts), bundled by `npm run build`. Its text, not its Path:
# anywidget turns a Path into a watched file whose change signal holds every widget
# strongly, so no EventLog (nor the session it listens to) could be freed.
_BUNDLE: Final = Path(__file__).parent.parent / "static" / "event_log.js"


def plural(count: int, noun: str) -> str:
    """``1 click``, ``2 clicks``, ``0 no-fills``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def summary_text(overall: PlacementMetrics) -> str:
    """The one-line summary above the tables, with correct plurals."""
    return " · ".join(
        [
            plural(overall.fills, "fill"),
            plural(overall.no_fill_count, "no-fill"),
            plural(overall.error_count, "error"),
            plural(overall.views, "view"),
            plural(overall.clicks, "click"),
            f"revenue {_number(overall.revenue)}",
        ]
    )


def _number(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".") if value else "0"


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.0%}"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{key}: {value}" for key, value in counts.items())


def _metrics_row(metrics: PlacementMetrics, *, overall: bool) -> dict[str, Any]:
    return {
        "overall": overall,
        "code": "all placements" if overall else metrics.code,
        "requests": str(metrics.requests),
        "fills": str(metrics.fills),
        "fill_rate": _percent(metrics.fill_rate),
        "no_fills": str(metrics.no_fill_count),
        "errors": str(metrics.error_count),
        "renders": str(metrics.renders),
        "views": str(metrics.views),
        "view_rate": _percent(metrics.view_rate),
        "clicks": str(metrics.clicks),
        "ctr": _percent(metrics.ctr),
        "revenue": _number(metrics.revenue),
        # Hover text: the breakdowns behind the counts, and the rates' definitions.
        "titles": {
            "no_fills": _counts(metrics.no_fills) or "no no-fills",
            "errors": _counts(metrics.errors) or "no errors",
            "fill_rate": "fills / requests",
            "view_rate": "views / renders",
            "ctr": "clicks / views",
            "requests": f"{plural(metrics.preloads, 'preload')}, each asking for every code",
        },
    }


def metrics_rows(metrics: SessionMetrics) -> list[dict[str, Any]]:
    """The metrics table's rows: one per placement code, then the overall row."""
    rows = [_metrics_row(m, overall=False) for m in metrics.placements.values()]
    if len(rows) > 1:
        rows.append(_metrics_row(metrics.overall, overall=True))
    return rows


def _details(event: AdEvent) -> str:
    """The event's key fields in ``DETAIL_FIELDS`` order (a long URL last)."""
    names = {field.name for field in fields(event)}
    values = ((name, getattr(event, name)) for name in DETAIL_FIELDS if name in names)
    return " ".join(f"{name}={value}" for name, value in values if value is not None)


def _capped(text: str) -> str:
    return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 1] + "…"


def event_row(logged: LoggedEvent) -> dict[str, str]:
    """One table row: every cell already text (the front end sets it as textContent)."""
    seen_at = datetime.fromtimestamp(logged.time)
    event = logged.event
    bid = _capped(logged.bid_id or "")
    code = logged.code or (event.code if isinstance(event, events.Filled) else "")
    # A preload's no-fill or error answers every code the session asked for.
    every_code = isinstance(event, events.NoFill | events.AdError)
    return {
        "time": seen_at.strftime("%H:%M:%S.%f")[:-3],
        "time_full": seen_at.isoformat(sep=" ", timespec="milliseconds"),
        "name": event.name,
        "kind": _KINDS.get(type(event), "other"),
        "code": _capped(code) or ("all" if every_code else ""),
        "message_id": _capped(logged.message_id or ""),
        "bid": bid[:SHORT_BID],
        "bid_full": bid,
        "details": _capped(_details(event)),
    }


class EventLog(anywidget.AnyWidget):
    """Per-placement metrics and a live table of a session's ad events.

    Create it with ``Session.event_log()``. ``summary`` is the overall counts
    as a dict; the ``repr`` holds the same counts only, so after
    ``session.wait_idle()`` it is the same on every run.
    """

    _esm = _BUNDLE.read_text(encoding="utf-8")

    rows: traitlets.List[dict[str, str]] = traitlets.List(read_only=True).tag(sync=True)
    metrics: traitlets.List[dict[str, Any]] = traitlets.List(read_only=True).tag(sync=True)
    summary = traitlets.Dict(read_only=True).tag(sync=True)
    summary_text = traitlets.Unicode("", read_only=True).tag(sync=True)

    def __init__(self, feed: EventFeed, **kwargs: Any) -> None:
        if kwargs:
            raise TypeError(
                f"EventLog() got unexpected arguments {sorted(kwargs)}; "
                "create it with session.event_log()"
            )
        super().__init__()
        self._feed = feed
        self._lock = threading.Lock()
        feed.add_listener(self._on_event)
        feed.add_assignment_listener(self._publish)
        self._publish()

    def __repr__(self) -> str:
        counts = ", ".join(f"{key}={value}" for key, value in self.summary.items())
        return f"EventLog({counts})"

    def _on_event(self, _event: AdEvent) -> None:
        self._publish()

    def _publish(self) -> None:
        # Under the lock: two publishers never leave an older snapshot on top.
        with self._lock:
            history = self._feed.logged_events(MAX_ROWS)
            metrics = self._feed.metrics()
            overall = metrics.overall
            summary = {
                "events": self._feed.emitted,
                "fills": overall.fills,
                "no_fills": overall.no_fill_count,
                "errors": overall.error_count,
                "views": overall.views,
                "clicks": overall.clicks,
                "revenue": overall.revenue,
            }
            with self.hold_trait_notifications():
                self.set_trait("rows", [event_row(logged) for logged in history])
                self.set_trait("metrics", metrics_rows(metrics))
                self.set_trait("summary", summary)
                self.set_trait("summary_text", summary_text(overall))
