"""Public ad events (docs/protocol.md §7).

Each kind is a frozen dataclass whose class-level ``name`` is the wire name.
Fields are the native SDKs' typed payload; ``to_dict()`` gives the JavaScript
SDK's ``{name, payload}`` shape with its key spelling, where the bid id is
``id``. ``revenue`` and ``ad.height`` are native additions kept here.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

__all__ = [
    "AdError",
    "AdEvent",
    "AdHeight",
    "Clicked",
    "Filled",
    "NoFill",
    "RenderCompleted",
    "RenderStarted",
    "RewardGranted",
    "VideoCompleted",
    "VideoStarted",
    "Viewed",
]

# Field name -> the JavaScript SDK's payload key.
_WIRE_KEYS = {
    "bid_id": "id",
    "message_id": "messageId",
    "skip_code": "skipCode",
    "err_code": "errCode",
}


@dataclass(frozen=True)
class AdEvent:
    """Base class of every public event; ``name`` is the wire name (``"ad.filled"``, ...).

    Events are frozen dataclasses: compare them with ``==``, match them with
    ``isinstance`` or ``match``, or branch on ``event.name``. ``event.to_dict()``
    gives the shape the JavaScript SDK hands its ``onEvent``.
    """

    name: ClassVar[str] = ""

    @property
    def payload(self) -> dict[str, Any]:
        """The JavaScript SDK's payload: camelCase keys, bid id as ``id``, ``None`` omitted."""
        return {
            _WIRE_KEYS.get(f.name, f.name): getattr(self, f.name)
            for f in fields(self)
            if getattr(self, f.name) is not None
        }

    def to_dict(self) -> dict[str, Any]:
        """``{"name": <wire name>, "payload": <payload>}``: the JavaScript SDK's event shape."""
        return {"name": self.name, "payload": self.payload}


@dataclass(frozen=True)
class Filled(AdEvent):
    """``ad.filled``: a ``/preload`` answer kept a bid for one placement code.

    One per kept bid (the first bid per enabled placement code), emitted when the
    answer arrives, whether or not the assistant message it will go to exists yet.

    Fields:

    - ``bid_id``: the bid's id (a lowercase string); the ``Ad`` that shows it
      reports the same ``Ad.bid_id``.
    - ``code``: the placement code the bid is for (one of the session's
      ``enabled_placement_codes``).
    - ``revenue``: what the server says the bid is worth, or ``None`` when the
      answer gave no number.
    """

    name: ClassVar[str] = "ad.filled"
    bid_id: str
    code: str
    revenue: float | None = None


@dataclass(frozen=True)
class NoFill(AdEvent):
    """``ad.no-fill``: the server answered a ``/preload`` without an ad for this turn.

    Fields:

    - ``skip_code``: why, as the server said it (``"ads_disabled"``, ...);
      ``"no_fill"`` when it sent no bids and no reason, ``"unfilled_bid"`` for
      an HTTP 204 answer or bids for none of the enabled placement codes.
    """

    name: ClassVar[str] = "ad.no-fill"
    skip_code: str


@dataclass(frozen=True)
class AdHeight(AdEvent):
    """``ad.height``: the ad's iframe changed height (it asked to be resized, or hid).

    Fields:

    - ``bid_id``: the bid the ad shows.
    - ``message_id``: the assistant message the ad sits under.
    - ``height``: the new height in CSS pixels (clamped; 0 when hidden).
    """

    name: ClassVar[str] = "ad.height"
    bid_id: str
    message_id: str
    height: float


@dataclass(frozen=True)
class Viewed(AdEvent):
    """``ad.viewed``: the creative reports an impression (at most once per bid).

    Fields:

    - ``bid_id``: the bid the ad shows.
    - ``content``: the ad text the reader saw.
    - ``message_id``: the assistant message the ad sits under.
    - ``format``: the creative's format (``"inline"``, ``"video"``, ...).
    - ``revenue``: what the impression earned, or ``None`` when unknown.
    """

    name: ClassVar[str] = "ad.viewed"
    bid_id: str
    content: str
    message_id: str
    format: str
    revenue: float | None = None


@dataclass(frozen=True)
class Clicked(AdEvent):
    """``ad.clicked``: the reader clicked the ad.

    Analytics only: the landing page is opened by the front end when the
    creative asks it to, before this event reaches Python.

    Fields:

    - ``bid_id``: the bid the ad shows.
    - ``content``: the ad text that was clicked.
    - ``message_id``: the assistant message the ad sits under.
    - ``url``: the clicked http(s) URL (the landing page), ``None`` when the
      creative gave no such URL.
    - ``format``: the creative's format (``"inline"``, ``"video"``, ...).
    - ``area``: which part of the creative was clicked, as the creative names it
      (the local creative: ``"cta"`` or ``"body"``).
    """

    name: ClassVar[str] = "ad.clicked"
    bid_id: str
    content: str
    message_id: str
    url: str | None
    format: str
    area: str


@dataclass(frozen=True)
class RenderStarted(AdEvent):
    """``ad.render-started``: the creative began drawing (at most once per ad).

    Fields:

    - ``bid_id``: the bid the ad shows.
    """

    name: ClassVar[str] = "ad.render-started"
    bid_id: str


@dataclass(frozen=True)
class RenderCompleted(AdEvent):
    """``ad.render-completed``: the creative finished drawing (at most once per ad).

    Fields:

    - ``bid_id``: the bid the ad shows.
    """

    name: ClassVar[str] = "ad.render-completed"
    bid_id: str


@dataclass(frozen=True)
class AdError(AdEvent):
    """``ad.error``: something failed; the session carries on (nothing is raised).

    Network and server failures, a session disabled by the server, an iframe or
    modal that reported an error or timed out all end here.

    Fields:

    - ``message``: what happened, for people (``"Session is disabled"``, ``"HTTP 500"``, ...).
    - ``err_code``: the stable code to branch on: the server's ``errCode``, or
      one of ``session_disabled_by_init``, ``session_disabled``, ``request_failed``,
      ``unknown``, ``iframe_error``, ``modal_component_error``, ``timeout``.
    """

    name: ClassVar[str] = "ad.error"
    message: str
    err_code: str


@dataclass(frozen=True)
class VideoStarted(AdEvent):
    """``video.started``: a video creative started playing.

    Fields:

    - ``bid_id``: the bid the ad shows.
    """

    name: ClassVar[str] = "video.started"
    bid_id: str


@dataclass(frozen=True)
class VideoCompleted(AdEvent):
    """``video.completed``: a video creative played to its end.

    Fields:

    - ``bid_id``: the bid the ad shows.
    """

    name: ClassVar[str] = "video.completed"
    bid_id: str


@dataclass(frozen=True)
class RewardGranted(AdEvent):
    """``reward.granted``: a rewarded creative says the reader earned the reward.

    Fields:

    - ``bid_id``: the bid the ad shows.
    """

    name: ClassVar[str] = "reward.granted"
    bid_id: str
