"""Frame -> host messages turned into public events (docs/protocol.md §6.2, §6.5, §11).

The browser relays every iframe message that passed its origin and source
checks; this module re-validates each field (a relay is not a trust boundary
we want to lean on) and decides what the message means. It holds the per-ad
state the mapping needs: the bid, the last height, and which render events
were already emitted (both render sources are accepted, each event at most
once per ad).

A creative is third-party code, so what it says is bounded (docs/protocol.md
§13): fields that name our objects (bid id, message id) come from the ad,
never from the message; strings it supplies are cut to ``MAX_FRAME_STRING``
characters; a click URL is kept only if it is http(s); heights are clamped to
``MAX_HEIGHT``; and the ``/error`` reports its malformed messages cause are
rate-limited per ad (``ReportBudget``). One ``ad.viewed`` per bid is enforced
by the session, across every ad of the bid.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, NoReturn, cast
from urllib.parse import urlsplit

from kontext_widget._events import (
    AdError,
    AdEvent,
    AdHeight,
    Clicked,
    RenderCompleted,
    RenderStarted,
    RewardGranted,
    VideoCompleted,
    VideoStarted,
    Viewed,
)
from kontext_widget._network.wire import Bid

__all__ = [
    "FRAME_VOCABULARY",
    "FrameEventName",
    "FrameOutcome",
    "FrameProtocol",
    "FrameToHostType",
    "ReportBudget",
    "http_url",
]

# The vocabulary's one source is js/vocabulary.ts; `npm run build` writes this copy
# (docs/protocol.md §6). The Literal types below spell it for mypy, and
# tests/test_frame_vocabulary.py checks that they are the copy, name for name.
FRAME_VOCABULARY: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vocabulary.json").read_text(encoding="utf-8")
)
FrameToHostType = Literal[
    "init-iframe",
    "show-iframe",
    "hide-iframe",
    "ad-done-iframe",
    "view-iframe",
    "click-iframe",
    "resize-iframe",
    "set-styles-iframe",
    "open-component-iframe",
    "open-skoverlay-iframe",
    "close-skoverlay-iframe",
    "update-skoverlay-iframe",
    "init-component-iframe",
    "error-component-iframe",
    "close-component-iframe",
    "ad-done-component-iframe",
    "retire-iframe",
    "event-iframe",
    "error-iframe",
]
FrameEventName = Literal[
    "ad.clicked",
    "ad.viewed",
    "ad.filled",
    "ad.no-fill",
    "ad.render-started",
    "ad.render-completed",
    "ad.error",
    "reward.granted",
    "video.started",
    "video.completed",
]
# The events that carry the ad's bid id, so wait for one (docs/protocol.md §6.5).
_BidEventName = Literal[
    "ad.viewed", "ad.clicked", "video.started", "video.completed", "reward.granted"
]
_FRAME_TO_HOST = frozenset(FRAME_VOCABULARY["frame_to_host"])
_FRAME_EVENTS = frozenset(FRAME_VOCABULARY["frame_events"])

# The payload fields read from the two events that carry text (the bid id is the
# ad's own, never the message's, docs/protocol.md §13); tests/test_frame_vocabulary.py
# checks them against the official payload fields in the vocabulary copy.
VIEWED_FIELDS: Final = ("content", "messageId", "format")
CLICKED_FIELDS: Final = ("content", "messageId", "url", "format", "area")

MODAL_ERROR_MESSAGE = "Modal component error"
MODAL_ERROR_CODE = "modal_component_error"

# CSS pixels; taller than any ad, short enough that a frame cannot push the notebook away.
MAX_HEIGHT = 10_000.0
# Ad text fields (content, format, area, error texts) from the creative.
MAX_FRAME_STRING = 1024
# Longer URLs are dropped rather than cut: a cut URL is another URL.
MAX_URL_LENGTH = 2048
# Frame-driven /error reports per ad: a burst of REPORT_BURST, then one per
# REPORT_WINDOW / REPORT_BURST seconds (10 a minute).
REPORT_BURST = 10
REPORT_WINDOW = 60.0
# The inline frame's own state (docs/protocol.md 6.2): the front end acts on these
# only from the inline frame, so the modal cannot move Python's height or
# visibility either. A modal's error-iframe counts as a modal component error.
_INLINE_ONLY = frozenset(
    {"init-iframe", "resize-iframe", "show-iframe", "hide-iframe", "ad-done-iframe"}
)

_BID_ONLY_EVENTS: dict[str, type[VideoStarted | VideoCompleted | RewardGranted]] = {
    "video.started": VideoStarted,
    "video.completed": VideoCompleted,
    "reward.granted": RewardGranted,
}


@dataclass
class FrameOutcome:
    """What one frame message changes: events to emit, trait updates, an error to report."""

    events: list[AdEvent] = field(default_factory=list)
    height: float | None = None
    visible: bool | None = None
    report: str | None = None


def _strings(payload: Mapping[str, Any], *keys: str) -> dict[str, str] | None:
    values = {key: payload.get(key) for key in keys}
    if all(isinstance(value, str) for value in values.values()):
        return {key: str(value)[:MAX_FRAME_STRING] for key, value in values.items()}
    return None


def _text(value: object, default: str) -> str:
    return value[:MAX_FRAME_STRING] if isinstance(value, str) and value else default


def http_url(value: object) -> str | None:
    """``value`` if it is an absolute http(s) URL of sane length, else ``None``."""
    if not isinstance(value, str) or len(value) > MAX_URL_LENGTH:
        return None
    # No control characters or spaces: browsers strip some of them, which lets
    # "java\tscript:" or " javascript:" pass a naive prefix check.
    if any(ord(char) <= 0x20 or ord(char) == 0x7F for char in value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return value


class ReportBudget:
    """A token bucket: ``REPORT_BURST`` reports at once, refilled at 10 a minute."""

    def __init__(
        self,
        burst: int = REPORT_BURST,
        window: float = REPORT_WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._burst = burst
        self._interval = window / burst
        self._clock = clock
        self._tokens = float(burst)
        self._updated = clock()

    def take(self) -> bool:
        """Spend one report if the budget allows it."""
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._updated) / self._interval)
        self._updated = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class FrameProtocol:
    """The Python half of one ad's frame protocol."""

    def __init__(self, code: str, message_id: str) -> None:
        self.code = code
        self.message_id = message_id
        self.bid: Bid | None = None
        self._height = 0.0
        self._render_started = False
        self._render_completed = False
        self.reports = ReportBudget()

    def handle(self, message: object, source: str = "inline") -> FrameOutcome:
        """Interpret one relayed message; never raises, whatever it is given."""
        if not isinstance(message, Mapping):
            return FrameOutcome(report=f"malformed frame message: {type(message).__name__}")
        kind = message.get("type")
        data = message.get("data")
        if data is None:
            data = {}
        if not isinstance(kind, str) or not isinstance(data, Mapping):
            return FrameOutcome(report=f"malformed frame message of type {str(kind)[:64]!r}")
        code = data.get("code")
        if code is not None and code != self.code:
            return FrameOutcome()
        # docs/protocol.md 6.1 rule 3: only the modal's handler has a component to
        # check; the inline frame's accepts any (the official builder puts
        # component "modal" in the inline frame's own open-component-iframe).
        component = data.get("component")
        if source == "modal" and component is not None and component != "modal":
            return FrameOutcome()
        if source == "modal" and kind in _INLINE_ONLY:
            return FrameOutcome()
        if source == "modal" and kind == "error-iframe":
            kind = "error-component-iframe"
        if kind not in _FRAME_TO_HOST:
            return FrameOutcome()  # unknown types are ignored (docs/protocol.md §6.2)
        return self._dispatch(cast(FrameToHostType, kind), data)

    def modal_timeout(self) -> FrameOutcome:
        return FrameOutcome(events=[AdError(message="modal init timeout", err_code="timeout")])

    # -- mapping -------------------------------------------------------------
    def _dispatch(self, kind: FrameToHostType, data: Mapping[str, Any]) -> FrameOutcome:
        # Every frame -> host type, each once: mypy fails on a missing case (_unhandled).
        match kind:
            case "init-iframe":
                return FrameOutcome(events=self._render_started_event())
            case "ad-done-iframe":
                return FrameOutcome(events=self._render_completed_event())
            case "resize-iframe":
                return self._resize(data.get("height"))
            case "show-iframe":
                return FrameOutcome(visible=True)
            case "hide-iframe":
                self._height = 0.0
                return FrameOutcome(visible=False, height=0.0)
            case "error-iframe":
                # Section 11: the ad hides itself and stays destroyable.
                self._height = 0.0
                error = AdError(message="iframe error", err_code="iframe_error")
                return FrameOutcome(events=[error], visible=False, height=0.0)
            case "error-component-iframe":
                return FrameOutcome(
                    events=[
                        AdError(
                            message=_text(data.get("message"), MODAL_ERROR_MESSAGE),
                            err_code=_text(data.get("errorType"), MODAL_ERROR_CODE),
                        )
                    ]
                )
            case "event-iframe":
                return self._event(data)
            case (
                "click-iframe"
                | "set-styles-iframe"
                | "open-component-iframe"
                | "init-component-iframe"
                | "close-component-iframe"
            ):
                return FrameOutcome()  # host-side: acted on in the browser (section 6.2, 6.4)
            case (
                "view-iframe"
                | "ad-done-component-iframe"
                | "open-skoverlay-iframe"
                | "close-skoverlay-iframe"
                | "update-skoverlay-iframe"
                | "retire-iframe"
            ):
                return FrameOutcome()  # measurement-only or the native SDKs' (section 6.2)
            case _:
                return _unhandled(kind)

    def _render_started_event(self) -> list[AdEvent]:
        if self.bid is None or self._render_started:
            return []
        self._render_started = True
        return [RenderStarted(bid_id=self.bid.bid_id)]

    def _render_completed_event(self) -> list[AdEvent]:
        if self.bid is None or self._render_completed:
            return []
        self._render_completed = True
        return [RenderCompleted(bid_id=self.bid.bid_id)]

    def _resize(self, height: object) -> FrameOutcome:
        if isinstance(height, bool) or not isinstance(height, int | float):
            return FrameOutcome(report="resize-iframe without a numeric height")
        try:
            value = float(height)
        except OverflowError:  # an int beyond float range: finite, and far too tall
            value = -math.inf if height < 0 else MAX_HEIGHT
        if not math.isfinite(value) or value < 0:
            return FrameOutcome(report=f"resize-iframe with an invalid height {value!r}")
        value = min(value, MAX_HEIGHT)
        changed = value != self._height
        self._height = value
        events: list[AdEvent] = []
        if changed and self.bid is not None:
            events.append(
                AdHeight(bid_id=self.bid.bid_id, message_id=self.message_id, height=value)
            )
        return FrameOutcome(events=events, height=value)

    def _event(self, data: Mapping[str, Any]) -> FrameOutcome:
        name = data.get("name")
        if not isinstance(name, str):
            return FrameOutcome(report="event-iframe without a name")
        if name not in _FRAME_EVENTS:
            return FrameOutcome()  # an event name the protocol does not know
        payload = data.get("payload")
        if not isinstance(payload, Mapping):
            payload = {}
        bid = self.bid
        event_name = cast(FrameEventName, name)
        match event_name:
            case "ad.render-started":
                return FrameOutcome(events=self._render_started_event())
            case "ad.render-completed":
                return FrameOutcome(events=self._render_completed_event())
            case "ad.filled" | "ad.no-fill" | "ad.error":
                return FrameOutcome()  # the session's own, from the ad server, never a frame's
            case (
                "ad.viewed" | "ad.clicked" | "video.started" | "video.completed" | "reward.granted"
            ):
                if bid is None:
                    return FrameOutcome()  # section 6.5: events carrying a bid id wait for one
                return self._bid_event(event_name, bid, payload)
            case _:
                return _unhandled(event_name)

    def _bid_event(
        self,
        name: Literal[
            "ad.viewed", "ad.clicked", "video.started", "video.completed", "reward.granted"
        ],
        bid: Bid,
        payload: Mapping[str, Any],
    ) -> FrameOutcome:
        if name == "ad.viewed":
            fields = _strings(payload, *VIEWED_FIELDS)
            if fields is None:
                return FrameOutcome(report="ad.viewed without content/messageId/format strings")
            viewed = Viewed(
                bid_id=bid.bid_id,
                content=fields["content"],
                message_id=self.message_id,
                format=fields["format"],
                revenue=bid.revenue,
            )
            return FrameOutcome(events=[viewed])
        if name == "ad.clicked":
            fields = _strings(payload, *CLICKED_FIELDS)
            if fields is None:
                return FrameOutcome(report="ad.clicked without its string fields")
            clicked = Clicked(
                bid_id=bid.bid_id,
                content=fields["content"],
                message_id=self.message_id,
                url=http_url(payload.get("url")),
                format=fields["format"],
                area=fields["area"],
            )
            return FrameOutcome(events=[clicked])
        return FrameOutcome(events=[_BID_ONLY_EVENTS[name](bid_id=bid.bid_id)])


def _unhandled(value: NoReturn) -> NoReturn:
    """Reached by no value: mypy reports a vocabulary name the match above misses."""
    raise AssertionError(f"unhandled frame vocabulary name {value!r}")
