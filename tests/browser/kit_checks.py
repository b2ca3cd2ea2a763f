"""Read what the notebook kit (``EventLog``, ``chat_turn``) shows in the browser.

The ``EventLog`` front end sets no class names: it replaces its element's children
with a summary ``<div>`` and a ``<table>`` whose body holds one row per event
(time, event, message, details). So the table is found as the only ``<table>`` in
a cell's output and the summary as the table's previous sibling, and both are read
as text content, which is what a user sees.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from playwright.sync_api import Locator

POLL_SECONDS = 0.1

# The event log widget's summary and rows, read in one go so they are consistent.
_READ_EVENT_LOG_JS = """
(area) => {
  const tables = area.querySelectorAll('table');
  if (tables.length !== 1) return null;
  const table = tables[0];
  const summary = table.previousElementSibling;
  return {
    summary: summary ? summary.textContent : null,
    rows: [...table.tBodies[0].rows].map((tr) => [...tr.cells].map((td) => td.textContent)),
  };
}
"""


@dataclass(frozen=True)
class EventLogView:
    """The event log as the browser shows it."""

    summary: str
    rows: list[dict[str, str]]

    @property
    def names(self) -> list[str]:
        return [row["event"] for row in self.rows]


def read_event_log(output_area: Locator) -> EventLogView | None:
    """The event log table in ``output_area``, or None while it is not rendered."""
    raw = output_area.evaluate(_READ_EVENT_LOG_JS)
    if raw is None or raw["summary"] is None:
        return None
    columns = ("time", "event", "message", "details")
    rows = [dict(zip(columns, cells, strict=True)) for cells in raw["rows"]]
    return EventLogView(raw["summary"], rows)


def wait_for_event_log(
    output_area: Locator,
    predicate: Callable[[EventLogView], bool],
    *,
    timeout: float,
    what: str,
) -> EventLogView:
    """Poll the event log in ``output_area`` until ``predicate`` holds, up to ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        view = read_event_log(output_area)
        if view is not None and predicate(view):
            return view
        if time.monotonic() >= deadline:
            raise AssertionError(f"the event log did not show {what} within {timeout}s: {view}")
        time.sleep(POLL_SECONDS)


def error_outputs(notebook_json: dict[str, Any]) -> list[dict[str, Any]]:
    """Every error output of a notebook model (``NotebookModel.toJSON()``), with its cell."""
    return [
        {"cell": index, **output}
        for index, cell in enumerate(notebook_json["cells"])
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
