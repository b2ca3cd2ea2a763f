"""What the local ad server receives and hands out: request records, served bids,
the fields it takes from a ``/preload`` body, and the error a request is refused with.

Plain values shared by the scripting side (``server``, ``state``) and the HTTP side
(``http``), so neither has to reach into the other.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .limits import MAX_CODES_PER_PRELOAD, MAX_CONTEXT_CHARS, parse_json

__all__ = ["Headers", "PreloadRequest", "RecordedRequest", "RequestError", "ServedBid"]


class Headers(Mapping[str, str]):
    """Request headers with case-insensitive lookup; iteration keeps the sent spelling."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: dict[str, tuple[str, str]] = {}
        for name, value in items:
            self._items[name.lower()] = (name, value)

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


@dataclass(frozen=True, eq=False)
class RecordedRequest:
    """One request the server received, as it arrived (``json`` is ``None`` if not JSON)."""

    method: str
    path: str
    query: dict[str, str]
    headers: Headers
    body: bytes
    time: float

    @property
    def json(self) -> Any:
        """The body parsed afresh on each access, so a recorded request holds only its
        bytes (a 1 MiB body of ``[{},{},...]`` would be ~25 MiB of Python objects)."""
        return parse_json(self.body)

    @property
    def size(self) -> int:
        """Bytes it holds (body and headers), counted against ``MAX_RECORDED_BYTES``."""
        return len(self.body) + sum(len(k) + len(v) for k, v in self.headers.items()) + 256


@dataclass(frozen=True, eq=False)
class ServedBid:
    """A bid the server handed out, kept so the frame, modal and click pages can render it."""

    bid_id: str
    code: str
    format: str
    revenue: float
    session_id: str
    publisher_token: str
    user_id: str
    conversation_id: str
    # The newest user message of the preload (at most MAX_CONTEXT_CHARS), which the
    # modal page renders: the messages themselves are not kept, so a bid stays small.
    context: str
    is_disabled: bool
    time: float = field(default_factory=time.time)

    @property
    def size(self) -> int:
        """Bytes it holds, counted against ``MAX_BIDS_BYTES``."""
        texts = [self.bid_id, self.code, self.session_id, self.publisher_token]
        texts += [self.user_id, self.conversation_id, self.context]
        return sum(sys.getsizeof(text) for text in texts) + 512


@dataclass(frozen=True)
class PreloadRequest:
    """What the server uses of a ``/preload`` body, taken out at once so the parsed
    body (up to ~25x its 1 MiB of bytes as Python objects) is freed before any
    scripted delay."""

    publisher_token: str
    user_id: str
    conversation_id: str
    session_id: str | None
    codes: tuple[str, ...]
    context: str

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> PreloadRequest:
        """Reject bodies the real server would: the fields docs/protocol.md §2.2 calls required."""
        for name in ("userId", "conversationId"):
            if not isinstance(body.get(name), str) or not body[name]:
                raise RequestError(400, f"/preload body field {name!r} must be a non-empty string")
        codes = body.get("enabledPlacementCodes")
        if (
            not isinstance(codes, list)
            or not codes
            or not all(isinstance(c, str) and c for c in codes)
        ):
            raise RequestError(
                400,
                "/preload body field 'enabledPlacementCodes' must be a non-empty list of strings",
            )
        if len(codes) > MAX_CODES_PER_PRELOAD:
            raise RequestError(
                400,
                f"/preload body field 'enabledPlacementCodes' has {len(codes)} codes; "
                f"this server answers at most {MAX_CODES_PER_PRELOAD}",
            )
        messages = body.get("messages", [])
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            raise RequestError(400, "/preload body field 'messages' must be a list of objects")
        context = next(
            (
                m["content"]
                for m in reversed(messages)
                if m.get("role") == "user" and isinstance(m.get("content"), str)
            ),
            "",
        )
        session_id = body.get("sessionId")
        return cls(
            publisher_token=str(body["publisherToken"]),
            user_id=body["userId"],
            conversation_id=body["conversationId"],
            session_id=session_id if isinstance(session_id, str) and session_id else None,
            codes=tuple(codes),
            context=context[:MAX_CONTEXT_CHARS],
        )


class RequestError(Exception):
    """A request the protocol rejects: answered with ``status`` and ``{"error": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
