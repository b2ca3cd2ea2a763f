"""Read what the notebook kit (``EventLog``, ``chat_turn``) shows in the browser.

The ``EventLog`` front end renders ``.kw-log``: a summary line
(``.kw-log-summary``), the per-placement metrics table (``.kw-log-metrics``) and
the scrolling events table (``.kw-log-events``, one row per event: time, event,
placement, message, bid, details). All are read as text content, which is what a
user sees.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from playwright.sync_api import Locator, Page

POLL_SECONDS = 0.1

# The event log widget's summary and rows, read in one go so they are consistent.
_READ_EVENT_LOG_JS = """
(log) => {
  const summary = log.querySelector('.kw-log-summary');
  if (summary === null) return null;
  const text = (table) =>
    [...table.tBodies[0].rows].map((tr) => [...tr.cells].map((td) => td.textContent));
  return {
    summary: summary.textContent,
    metrics: text(log.querySelector('.kw-log-metrics')),
    rows: text(log.querySelector('.kw-log-events')),
  };
}
"""
_COLUMNS = ("time", "event", "code", "message", "bid", "details")


@dataclass(frozen=True)
class EventLogView:
    """The event log as the browser shows it."""

    summary: str
    rows: list[dict[str, str]]
    metrics: list[list[str]]

    @property
    def names(self) -> list[str]:
        return [row["event"] for row in self.rows]


def read_event_log(output_area: Locator | Page) -> EventLogView | None:
    """The event log in ``output_area``, or None while there is not exactly one rendered.

    Found through a Playwright locator, which enters open shadow roots: marimo renders
    the widget in one, where a ``querySelector`` from outside does not look.
    """
    logs = output_area.locator(".kw-log")
    if logs.count() != 1:
        return None
    raw = logs.evaluate(_READ_EVENT_LOG_JS)
    if raw is None:
        return None
    rows = [dict(zip(_COLUMNS, cells, strict=True)) for cells in raw["rows"]]
    return EventLogView(raw["summary"], rows, raw["metrics"])


def wait_for_event_log(
    output_area: Locator | Page,
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


def _luminance(css_rgb: str) -> float:
    channels = [float(v) / 255 for v in css_rgb[css_rgb.index("(") + 1 : -1].split(",")[:3]]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(colour: str, background: str) -> float:
    """WCAG contrast of two computed ``rgb(...)`` colours (4.5 is the bar for body text)."""
    high, low = sorted((_luminance(colour), _luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def set_lab_theme(page: Any, theme: str) -> None:
    """Switch JupyterLab to ``theme`` ("JupyterLab Light"/"JupyterLab Dark") and wait until
    it applies and the splash JupyterLab shows during the switch is gone."""
    light = "false" if "Dark" in theme else "true"
    page.evaluate(
        "(theme) => window.jupyterapp.commands.execute('apputils:change-theme', {theme})", theme
    )
    page.wait_for_function(f"() => document.body.dataset.jpThemeLight === '{light}'")
    page.wait_for_selector("#jupyterlab-splash", state="detached")
