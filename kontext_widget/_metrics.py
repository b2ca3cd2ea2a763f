"""Per-placement metrics (``Session.metrics()``) and the event history as plain records.

Publishers prototyping placements want numbers per placement code, not a
scrolling log. The session counts as events are emitted, so the figures cover
the whole session, not only the newest events its history keeps.

Which placement an event belongs to: ``ad.filled`` names its code; events relayed
from an ad's frame belong to that ad's code; a ``/preload`` no-fill or error
answers every code the preload asked for, so it counts for each of them (and
once in ``overall``).

Rates are ``None`` while their denominator is zero, never a made-up 0.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Final

from ._events import AdError, AdEvent, Clicked, Filled, NoFill, RenderCompleted, Viewed

__all__ = ["OVERALL", "MetricsCounter", "PlacementMetrics", "SessionMetrics", "event_record"]

# The ``code`` of the overall figures in ``SessionMetrics.to_records()``.
OVERALL: Final = "(all)"
# Revenue is rounded so that sums of floats print the same on every run (nbval).
_REVENUE_DIGITS: Final = 6


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


@dataclass(frozen=True)
class PlacementMetrics:
    """What happened for one placement code (or for all of them, in ``overall``).

    ``requests`` is how many times an ad of this code was asked for (one per
    ``/preload`` for each enabled code; the sum over codes in ``overall``), so
    ``fill_rate`` is the share of those answered with a bid. ``no_fills`` and
    ``errors`` count by skip code and error code. ``renders`` counts
    ``ad.render-completed``, ``views`` ``ad.viewed`` and ``clicks`` ``ad.clicked``;
    ``revenue`` sums the revenue of views (what impressions earned, not bids).

    Fields: ``code`` (the placement code, ``"(all)"`` in ``overall``),
    ``preloads`` (``/preload`` requests that asked for this code), ``requests``,
    ``fills`` (``ad.filled`` events), ``no_fills`` and ``errors`` (dicts: skip
    code or error code -> count), ``renders``, ``views``, ``clicks``, ``revenue``.
    """

    code: str
    preloads: int = 0
    requests: int = 0
    fills: int = 0
    no_fills: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    renders: int = 0
    views: int = 0
    clicks: int = 0
    revenue: float = 0.0

    @property
    def no_fill_count(self) -> int:
        """All ``ad.no-fill`` events, whatever their skip code."""
        return sum(self.no_fills.values())

    @property
    def error_count(self) -> int:
        """All ``ad.error`` events, whatever their error code."""
        return sum(self.errors.values())

    @property
    def fill_rate(self) -> float | None:
        """``fills / requests``."""
        return _rate(self.fills, self.requests)

    @property
    def view_rate(self) -> float | None:
        """``views / renders``: the share of rendered ads that were seen."""
        return _rate(self.views, self.renders)

    @property
    def ctr(self) -> float | None:
        """``clicks / views``: click-through rate per impression."""
        return _rate(self.clicks, self.views)

    def to_record(self) -> dict[str, Any]:
        """A flat dict (counts, rates, and the per-code counts as dicts)."""
        return {
            "code": self.code,
            "preloads": self.preloads,
            "requests": self.requests,
            "fills": self.fills,
            "no_fills": self.no_fill_count,
            "errors": self.error_count,
            "renders": self.renders,
            "views": self.views,
            "clicks": self.clicks,
            "revenue": self.revenue,
            "fill_rate": self.fill_rate,
            "view_rate": self.view_rate,
            "ctr": self.ctr,
            "no_fills_by_skip_code": dict(self.no_fills),
            "errors_by_code": dict(self.errors),
        }


@dataclass(frozen=True)
class SessionMetrics:
    """``Session.metrics()``: ``overall`` and one ``PlacementMetrics`` per enabled code.

    ``overall`` adds up every code; ``placements`` maps each enabled code to its
    own ``PlacementMetrics``, and ``metrics["inlineAd"]`` is
    ``metrics.placements["inlineAd"]``;
    ``to_records()`` gives one flat dict per code plus the overall row (code
    ``"(all)"``), ready for ``pandas.DataFrame(...)`` or ``polars.DataFrame(...)``.
    """

    overall: PlacementMetrics
    placements: dict[str, PlacementMetrics]

    def __getitem__(self, code: str) -> PlacementMetrics:
        try:
            return self.placements[code]
        except KeyError:
            raise KeyError(
                f"{code!r} is not an enabled placement code of this session "
                f"(codes: {list(self.placements)!r})"
            ) from None

    def to_records(self) -> list[dict[str, Any]]:
        """One ``PlacementMetrics.to_record()`` per code, then the overall row."""
        return [m.to_record() for m in (*self.placements.values(), self.overall)]


@dataclass
class _Tally:
    preloads: int = 0
    requests: int = 0
    fills: int = 0
    no_fills: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    renders: int = 0
    views: int = 0
    clicks: int = 0
    revenue: float = 0.0

    def add(self, event: AdEvent) -> None:
        if isinstance(event, Filled):
            self.fills += 1
        elif isinstance(event, NoFill):
            self.no_fills[event.skip_code] += 1
        elif isinstance(event, AdError):
            self.errors[event.err_code] += 1
        elif isinstance(event, RenderCompleted):
            self.renders += 1
        elif isinstance(event, Viewed):
            self.views += 1
            if event.revenue is not None:
                self.revenue += event.revenue
        elif isinstance(event, Clicked):
            self.clicks += 1

    def freeze(self, code: str) -> PlacementMetrics:
        return PlacementMetrics(
            code=code,
            preloads=self.preloads,
            requests=self.requests,
            fills=self.fills,
            no_fills=dict(sorted(self.no_fills.items())),
            errors=dict(sorted(self.errors.items())),
            renders=self.renders,
            views=self.views,
            clicks=self.clicks,
            revenue=round(self.revenue, _REVENUE_DIGITS),
        )


class MetricsCounter:
    """The session's running tallies; thread-safe, O(1) per event."""

    def __init__(self, codes: tuple[str, ...]) -> None:
        self._lock = threading.Lock()
        self._codes = codes
        self._overall = _Tally()
        self._by_code = {code: _Tally() for code in codes}

    def preload(self) -> None:
        """A ``/preload`` answered (filled, no-fill or error) for every enabled code."""
        with self._lock:
            self._overall.preloads += 1
            self._overall.requests += len(self._codes)
            for tally in self._by_code.values():
                tally.preloads += 1
                tally.requests += 1

    def event(self, event: AdEvent, code: str | None) -> None:
        """Count ``event`` for ``code``, or for every code when it has none (a preload's)."""
        with self._lock:
            self._overall.add(event)
            if code is None:
                for tally in self._by_code.values():
                    tally.add(event)
            elif code in self._by_code:
                self._by_code[code].add(event)

    def snapshot(self) -> SessionMetrics:
        with self._lock:
            return SessionMetrics(
                overall=self._overall.freeze(OVERALL),
                placements={code: tally.freeze(code) for code, tally in self._by_code.items()},
            )


def event_record(
    event: AdEvent,
    seen_at: float,
    code: str | None,
    message_id: str | None,
    bid_id: str | None,
) -> dict[str, Any]:
    """One event as a plain dict: the columns of ``Session.to_records()``."""
    return {
        "time": datetime.fromtimestamp(seen_at, tz=timezone.utc),
        "name": event.name,
        "message_id": message_id,
        "code": code,
        "bid_id": bid_id,
        "payload": event.payload,
    }
