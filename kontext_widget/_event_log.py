"""``EventLog``: a live table of one session's ad events, for watching what an ad did.

``Session.event_log()`` returns one. It starts from the session's event history
and then follows new events through the session's in-package listener hook, so
it runs where the session's callbacks run (the kernel's main thread in Jupyter)
and needs no polling. The browser half is a few lines of framework-free ESM
that builds the table with ``textContent``: event fields come from servers and
creatives, so they are never interpreted as HTML.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import fields
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import anywidget
import traitlets

from ._events import AdError, AdEvent, Clicked, Filled, NoFill, Viewed

if TYPE_CHECKING:
    from ._session import Session

__all__ = ["EventLog"]

# The table shows the newest rows only, so a long session keeps the synced state small.
MAX_ROWS: Final = 200

# Payload fields worth a column, in this order; ids other than the message id are noise here.
DETAIL_FIELDS: Final = ("code", "skip_code", "err_code", "message", "height", "revenue", "url")

_ESM: Final = """
function render({ model, el }) {
  const summary = document.createElement("div");
  summary.style.cssText = "font: 12px monospace; margin: 4px 0;";
  const table = document.createElement("table");
  table.style.cssText = "font: 12px monospace; border-collapse: collapse;";
  const head = table.createTHead().insertRow();
  for (const title of ["time", "event", "message", "details"]) {
    const th = document.createElement("th");
    th.textContent = title;
    th.style.cssText = "text-align: left; padding: 1px 8px 1px 0;";
    head.appendChild(th);
  }
  const body = table.createTBody();
  const draw = () => {
    const s = model.get("summary");
    summary.textContent =
      `${s.fills} fills · ${s.no_fills} no-fills · ${s.errors} errors · ` +
      `${s.views} views · ${s.clicks} clicks · revenue ${s.revenue}`;
    body.replaceChildren();
    for (const row of model.get("rows")) {
      const tr = body.insertRow();
      for (const key of ["time", "name", "message_id", "details"]) {
        const td = tr.insertCell();
        td.textContent = row[key];
        td.style.cssText = "padding: 1px 8px 1px 0; vertical-align: top;";
      }
    }
  };
  model.on("change:rows", draw);
  model.on("change:summary", draw);
  draw();
  el.replaceChildren(summary, table);
}
export default { render };
"""


def _details(event: AdEvent) -> str:
    parts = []
    for field in fields(event):
        if field.name in DETAIL_FIELDS:
            value = getattr(event, field.name)
            if value is not None:
                parts.append(f"{field.name}={value}")
    return " ".join(parts)


def _row(event: AdEvent, seen_at: datetime | None) -> dict[str, str]:
    return {
        "time": seen_at.strftime("%H:%M:%S.%f")[:-3] if seen_at else "",
        "name": event.name,
        "message_id": str(getattr(event, "message_id", "") or ""),
        "details": _details(event),
    }


class EventLog(anywidget.AnyWidget):
    """A live table of a session's ad events with a one-line summary.

    Create it with ``Session.event_log()``. ``time`` is when the log received
    an event (empty for events that happened before the log existed: the
    session's history carries no timestamps). The ``repr`` holds counts only,
    so after ``session.wait_idle()`` it is the same on every run.
    """

    _esm = _ESM

    rows: traitlets.List[dict[str, str]] = traitlets.List(read_only=True).tag(sync=True)
    summary = traitlets.Dict(read_only=True).tag(sync=True)

    def __init__(self, session: Session, **kwargs: Any) -> None:
        if kwargs:
            raise TypeError(
                f"EventLog() got unexpected arguments {sorted(kwargs)}; "
                "create it with session.event_log()"
            )
        super().__init__()
        self._lock = threading.Lock()
        self._counts: Counter[type[AdEvent]] = Counter()
        self._total = 0
        self._revenue = 0.0
        self._rows: list[dict[str, str]] = []
        with self._lock:
            # Subscribe, then read the history, both under the lock the listener takes:
            # an event emitted in between is in both, and is recognised by identity
            # when the listener delivers it.
            session._add_listener(self._on_event)
            history = session.events
            self._in_history = {id(event): event for event in history}
            for event in history:
                self._record_locked(event, None)
        self._publish()

    def __repr__(self) -> str:
        counts = ", ".join(f"{key}={value}" for key, value in self.summary.items())
        return f"EventLog({counts})"

    def _on_event(self, event: AdEvent) -> None:
        with self._lock:
            if self._in_history.pop(id(event), None) is event:
                return
            self._record_locked(event, datetime.now())
        self._publish()

    def _record_locked(self, event: AdEvent, seen_at: datetime | None) -> None:
        self._total += 1
        self._counts[type(event)] += 1
        # Revenue is earned by impressions, so it is summed over ad.viewed, not over bids.
        if isinstance(event, Viewed) and event.revenue is not None:
            self._revenue += event.revenue
        self._rows.append(_row(event, seen_at))
        del self._rows[:-MAX_ROWS]

    def _publish(self) -> None:
        with self._lock:
            rows = list(self._rows)
            summary = {
                "events": self._total,
                "fills": self._counts[Filled],
                "no_fills": self._counts[NoFill],
                "errors": self._counts[AdError],
                "views": self._counts[Viewed],
                "clicks": self._counts[Clicked],
                "revenue": round(self._revenue, 6),
            }
            # Still under the lock: two publishers never leave an older table on top.
            with self.hold_trait_notifications():
                self.set_trait("rows", rows)
                self.set_trait("summary", summary)
