"""Frame -> host messages turned into public events (PROTOCOL.md sections 6.2, 6.5, 11).

The browser relays every iframe message that passed its origin and source
checks; this module re-validates each field (a relay is not a trust boundary
we want to lean on) and decides what the message means. It holds the per-ad
state the mapping needs: the bid, the last height, and which render events
were already emitted (both render sources are accepted, each event at most
once per ad).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._events import (
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
from ._wire import Bid

__all__ = ["FrameOutcome", "FrameProtocol"]

MODAL_ERROR_MESSAGE = "Modal component error"
MODAL_ERROR_CODE = "modal_component_error"

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
        return {key: str(value) for key, value in values.items()}
    return None


class FrameProtocol:
    """The Python half of one ad's frame protocol."""

    def __init__(self, code: str, message_id: str) -> None:
        self.code = code
        self.message_id = message_id
        self.bid: Bid | None = None
        self._height = 0.0
        self._render_started = False
        self._render_completed = False

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
        component = data.get("component")
        if component is not None and (component != "modal" or source != "modal"):
            return FrameOutcome()
        return self._dispatch(kind, data)

    def modal_timeout(self) -> FrameOutcome:
        return FrameOutcome(events=[AdError(message="modal init timeout", err_code="timeout")])

    # -- mapping -------------------------------------------------------------
    def _dispatch(self, kind: str, data: Mapping[str, Any]) -> FrameOutcome:
        if kind == "init-iframe":
            return FrameOutcome(events=self._render_started_event())
        if kind == "ad-done-iframe":
            return FrameOutcome(events=self._render_completed_event())
        if kind == "resize-iframe":
            return self._resize(data.get("height"))
        if kind == "show-iframe":
            return FrameOutcome(visible=True)
        if kind == "hide-iframe":
            self._height = 0.0
            return FrameOutcome(visible=False, height=0.0)
        if kind == "error-iframe":
            # Section 11: the ad hides itself and stays destroyable.
            self._height = 0.0
            error = AdError(message="iframe error", err_code="iframe_error")
            return FrameOutcome(events=[error], visible=False, height=0.0)
        if kind == "error-component-iframe":
            text = data.get("message")
            code = data.get("errorType")
            return FrameOutcome(
                events=[
                    AdError(
                        message=text if isinstance(text, str) and text else MODAL_ERROR_MESSAGE,
                        err_code=code if isinstance(code, str) and code else MODAL_ERROR_CODE,
                    )
                ]
            )
        if kind == "event-iframe":
            return self._event(data)
        # Host-side types (clicks, modal, styles) were acted on in the browser;
        # measurement-only and unknown types are ignored (section 6.2).
        return FrameOutcome()

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
        value = float(height)
        if not math.isfinite(value) or value < 0:
            return FrameOutcome(report=f"resize-iframe with an invalid height {height!r}")
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
        payload = data.get("payload")
        if not isinstance(payload, Mapping):
            payload = {}
        bid = self.bid
        if name == "ad.render-started":
            return FrameOutcome(events=self._render_started_event())
        if name == "ad.render-completed":
            return FrameOutcome(events=self._render_completed_event())
        if bid is None:
            return FrameOutcome()  # section 6.5: events carrying a bid id wait for one
        if name == "ad.viewed":
            fields = _strings(payload, "content", "messageId", "format")
            if fields is None:
                return FrameOutcome(report="ad.viewed without content/messageId/format strings")
            viewed = Viewed(
                bid_id=bid.bid_id,
                content=fields["content"],
                message_id=fields["messageId"],
                format=fields["format"],
                revenue=bid.revenue,
            )
            return FrameOutcome(events=[viewed])
        if name == "ad.clicked":
            fields = _strings(payload, "content", "messageId", "url", "format", "area")
            if fields is None:
                return FrameOutcome(report="ad.clicked without its string fields")
            clicked = Clicked(
                bid_id=bid.bid_id,
                content=fields["content"],
                message_id=fields["messageId"],
                url=fields["url"],
                format=fields["format"],
                area=fields["area"],
            )
            return FrameOutcome(events=[clicked])
        event_type = _BID_ONLY_EVENTS.get(name)
        if event_type is not None:
            return FrameOutcome(events=[event_type(bid_id=bid.bid_id)])
        return FrameOutcome()
