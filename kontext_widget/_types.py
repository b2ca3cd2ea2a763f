"""Immutable value types of the public API: ``Message``, ``Character``, ``Regulatory``.

Each validates itself at construction so that bad input raises at the user's
call, naming the field, instead of surfacing later as a server error; each
knows its own wire form (docs/protocol.md §2.2: optional fields omitted,
never ``null``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

__all__ = ["Character", "Message", "Regulatory", "Role", "format_timestamp"]

Role = Literal["user", "assistant"]
_ROLES = ("user", "assistant")


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def format_timestamp(moment: datetime) -> str:
    """UTC ISO-8601 with exactly three fraction digits and ``Z`` (``2025-01-31T09:05:00.123Z``)."""
    utc = moment.astimezone(timezone.utc)
    # Formatted by hand: strftime("%Y") does not zero-pad years before 1000 on every platform.
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T"
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}.{utc.microsecond // 1000:03d}Z"
    )


def _require_str(owner: str, name: str, value: object, *, non_empty: bool = False) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{owner}.{name} must be a str, got {type(value).__name__}")
    if non_empty and not value:
        raise ValueError(f"{owner}.{name} must be a non-empty str")


def _optional_str(owner: str, name: str, value: object) -> None:
    if value is not None:
        _require_str(owner, name, value)


def _optional_bool(owner: str, name: str, value: object) -> None:
    if value is not None and not isinstance(value, bool):
        raise TypeError(f"{owner}.{name} must be a bool or None, got {type(value).__name__}")


def _optional_str_list(owner: str, name: str, value: object) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise TypeError(f"{owner}.{name} must be a list of str, got {type(value).__name__}")
    items = list(value)
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"{owner}.{name} must contain only str, got {type(item).__name__}")
    return items


@dataclass(frozen=True)
class Message:
    """One chat message of the conversation the ad is matched to.

    Fields:

    - ``id``: the message's id in your chat, unique in the session; ads are
      created for an assistant message's id (``Session.create_ad``).
    - ``role``: ``"user"`` or ``"assistant"``; a user message starts a
      ``/preload``, an assistant message receives its bid.
    - ``content``: the message text the ad is matched to (may be empty while a
      reply streams).
    - ``created_at``: when it was written; defaults to now (UTC). A naive
      datetime is read as local time, the way ``datetime.astimezone`` reads it,
      and stored timezone-aware in UTC.

    Wherever a ``Message`` is accepted, a mapping with the same keys works too
    (``Message.coerce``). Bad values raise ``ValueError``/``TypeError`` naming
    the field.
    """

    id: str
    role: Role
    content: str
    created_at: datetime | None = None

    def __post_init__(self) -> None:
        _require_str("Message", "id", self.id, non_empty=True)
        if self.role not in _ROLES:
            raise ValueError(f"Message.role must be 'user' or 'assistant', got {self.role!r}")
        if not isinstance(self.content, str):
            raise ValueError(f"Message.content must be a str, got {type(self.content).__name__}")
        moment = self.created_at
        if moment is None:
            object.__setattr__(self, "created_at", _utc_now())
        elif isinstance(moment, datetime):
            try:
                utc = moment.astimezone(timezone.utc)
            except (OverflowError, ValueError, OSError):
                raise ValueError(
                    f"Message.created_at is outside the range a UTC timestamp can hold: {moment!r}"
                ) from None
            object.__setattr__(self, "created_at", utc)
        else:
            raise TypeError(
                f"Message.created_at must be a datetime or None, got {type(moment).__name__}"
            )

    @classmethod
    def coerce(cls, value: Message | Mapping[str, Any]) -> Message:
        """A ``Message`` from a ``Message`` or a mapping with the same keys.

        Mappings may spell the timestamp ``createdAt`` or ``created_at``, as a
        datetime or an ISO-8601 string (a trailing ``Z`` is accepted).
        """
        if isinstance(value, Message):
            return value
        if not isinstance(value, Mapping):
            raise TypeError(
                f"message must be a kontext_widget.Message or a mapping, got {type(value).__name__}"
            )
        unknown = set(value) - {"id", "role", "content", "createdAt", "created_at"}
        if unknown:
            raise ValueError(f"message has unknown keys: {', '.join(sorted(map(str, unknown)))}")
        for key in ("id", "role", "content"):
            if key not in value:
                raise ValueError(f"message is missing the key {key!r}")
        moment = value.get("createdAt", value.get("created_at"))
        if isinstance(moment, str):
            try:
                moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
            except ValueError:
                raise ValueError(
                    f"message createdAt is not an ISO-8601 timestamp: {moment!r}"
                ) from None
        return cls(id=value["id"], role=value["role"], content=value["content"], created_at=moment)

    @property
    def created_at_wire(self) -> str:
        """``created_at`` as the wire spells it: UTC ISO-8601, milliseconds, ``Z``."""
        assert self.created_at is not None  # set in __post_init__
        return format_timestamp(self.created_at)

    def to_wire(self) -> dict[str, str]:
        """The message as ``/preload`` and ``update-iframe`` carry it."""
        return {
            "id": self.id,
            "role": self.role,
            "content": self.content,
            "createdAt": self.created_at_wire,
        }


@dataclass(frozen=True)
class Character:
    """The assistant persona the conversation is held with (companion apps).

    Sent with every ``/preload`` so ads can suit the character; fixed for a
    session (``create_session(character=...)``).

    Fields:

    - ``id``: the character's id in your app (non-empty).
    - ``name``: its display name.
    - ``avatar_url``: the URL of its picture.
    - ``is_nsfw``: whether it is an adult character, if you know.
    - ``greeting``: its opening line, if any.
    - ``persona``: its description or system prompt, if any.
    - ``tags``: labels such as ``["fantasy", "romance"]``, if any.
    """

    id: str
    name: str
    avatar_url: str
    is_nsfw: bool | None = None
    greeting: str | None = None
    persona: str | None = None
    tags: list[str] | None = field(default=None)

    def __post_init__(self) -> None:
        _require_str("Character", "id", self.id, non_empty=True)
        _require_str("Character", "name", self.name)
        _require_str("Character", "avatar_url", self.avatar_url)
        _optional_bool("Character", "is_nsfw", self.is_nsfw)
        _optional_str("Character", "greeting", self.greeting)
        _optional_str("Character", "persona", self.persona)
        object.__setattr__(self, "tags", _optional_str_list("Character", "tags", self.tags))

    def to_wire(self) -> dict[str, Any]:
        """The ``character`` object of ``/preload`` (camelCase keys, ``None`` fields omitted)."""
        wire: dict[str, Any] = {"id": self.id, "name": self.name, "avatarUrl": self.avatar_url}
        optional = {
            "greeting": self.greeting,
            "persona": self.persona,
            "tags": self.tags,
            "isNsfw": self.is_nsfw,
        }
        wire.update({key: value for key, value in optional.items() if value is not None})
        return wire


def _flag(name: str, value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value not in (0, 1):
        raise ValueError(f"Regulatory.{name} must be 0, 1 or None, got {value!r}")


@dataclass(frozen=True)
class Regulatory:
    """Privacy signals the publisher collected (GDPR/TCF, COPPA, GPP, US privacy).

    Sent with every ``/preload``; the SDK never asks a consent platform itself
    (none is reachable from a kernel). Change it between turns with
    ``Session.update_options(regulatory=...)``.

    Fields (each optional; ``None`` is left out of the request):

    - ``gdpr``: 1 if GDPR applies to the reader, 0 if not.
    - ``gdpr_consent``: the IAB TCF consent string.
    - ``coppa``: 1 if the reader is a child under COPPA, 0 if not.
    - ``gpp``: the IAB Global Privacy Platform string.
    - ``gpp_sid``: the GPP section ids that apply, e.g. ``[7]``.
    - ``us_privacy``: the IAB US Privacy (CCPA) string, e.g. ``"1YNN"``.
    """

    gdpr: int | None = None
    gdpr_consent: str | None = None
    coppa: int | None = None
    gpp: str | None = None
    gpp_sid: list[int] | None = None
    us_privacy: str | None = None

    def __post_init__(self) -> None:
        _flag("gdpr", self.gdpr)
        _flag("coppa", self.coppa)
        _optional_str("Regulatory", "gdpr_consent", self.gdpr_consent)
        _optional_str("Regulatory", "gpp", self.gpp)
        _optional_str("Regulatory", "us_privacy", self.us_privacy)
        if self.gpp_sid is not None:
            if isinstance(self.gpp_sid, str | bytes) or not isinstance(self.gpp_sid, Sequence):
                raise TypeError("Regulatory.gpp_sid must be a list of int")
            sids = list(self.gpp_sid)
            for sid in sids:
                if isinstance(sid, bool) or not isinstance(sid, int):
                    raise TypeError(f"Regulatory.gpp_sid must contain only int, got {sid!r}")
            object.__setattr__(self, "gpp_sid", sids)

    def to_wire(self) -> dict[str, Any] | None:
        """The ``regulatory`` object, or ``None`` when no field has a value (then it is omitted)."""
        wire = {
            "gdpr": self.gdpr,
            "gdprConsent": self.gdpr_consent,
            "coppa": self.coppa,
            "gpp": self.gpp,
            "gppSid": self.gpp_sid,
            "usPrivacy": self.us_privacy,
        }
        present = {key: value for key, value in wire.items() if value is not None}
        return present or None
