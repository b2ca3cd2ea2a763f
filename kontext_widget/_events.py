"""Public ad events (PROTOCOL.md section 7).

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
    """Base class of every public event; ``name`` is the wire name (``"ad.filled"``, ...)."""

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
        return {"name": self.name, "payload": self.payload}


@dataclass(frozen=True)
class Filled(AdEvent):
    name: ClassVar[str] = "ad.filled"
    bid_id: str
    code: str
    revenue: float | None = None


@dataclass(frozen=True)
class NoFill(AdEvent):
    name: ClassVar[str] = "ad.no-fill"
    skip_code: str


@dataclass(frozen=True)
class AdHeight(AdEvent):
    name: ClassVar[str] = "ad.height"
    bid_id: str
    message_id: str
    height: float


@dataclass(frozen=True)
class Viewed(AdEvent):
    name: ClassVar[str] = "ad.viewed"
    bid_id: str
    content: str
    message_id: str
    format: str
    revenue: float | None = None


@dataclass(frozen=True)
class Clicked(AdEvent):
    """``url`` is the clicked http(s) URL, ``None`` when the creative gave no such URL."""

    name: ClassVar[str] = "ad.clicked"
    bid_id: str
    content: str
    message_id: str
    url: str | None
    format: str
    area: str


@dataclass(frozen=True)
class RenderStarted(AdEvent):
    name: ClassVar[str] = "ad.render-started"
    bid_id: str


@dataclass(frozen=True)
class RenderCompleted(AdEvent):
    name: ClassVar[str] = "ad.render-completed"
    bid_id: str


@dataclass(frozen=True)
class AdError(AdEvent):
    name: ClassVar[str] = "ad.error"
    message: str
    err_code: str


@dataclass(frozen=True)
class VideoStarted(AdEvent):
    name: ClassVar[str] = "video.started"
    bid_id: str


@dataclass(frozen=True)
class VideoCompleted(AdEvent):
    name: ClassVar[str] = "video.completed"
    bid_id: str


@dataclass(frozen=True)
class RewardGranted(AdEvent):
    name: ClassVar[str] = "reward.granted"
    bid_id: str
