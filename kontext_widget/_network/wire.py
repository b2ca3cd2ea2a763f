"""Wire types and decoding shared by the endpoints (docs/protocol.md §2).

Pure functions, no I/O. Decoding never raises on what a server sends except
``DecodeError``: unknown fields are ignored, a wrong-typed optional field counts
as absent, and each endpoint module (``init``, ``preload``) turns a
``DecodeError`` into its own outcome (section 2.2 #8).

Strings taken from an answer (``skipCode``, ``errCode``) are cut to
``MAX_ANSWER_STRING`` characters (docs/protocol.md §13).
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAX_ANSWER_STRING",
    "Bid",
    "DecodeError",
    "finite",
    "json_object",
    "optional_str",
    "uuid_text",
]

# Codes are short identifiers; anything longer is cut, not trusted to be short.
MAX_ANSWER_STRING = 1024


class DecodeError(ValueError):
    """The server's answer could not be understood."""


@dataclass(frozen=True)
class Bid:
    bid_id: str
    code: str
    revenue: float | None = None


def json_object(content: bytes) -> Mapping[str, Any]:
    try:
        decoded = json.loads(content)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise DecodeError(f"malformed JSON: {type(exc).__name__}: {exc}"[:300]) from None
    if not isinstance(decoded, dict):
        raise DecodeError(f"expected a JSON object, got {type(decoded).__name__}")
    return decoded


def uuid_text(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise DecodeError(f"{field} is not a string")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise DecodeError(f"{field} is not a UUID: {value[:64]!r}") from None


def optional_str(value: object) -> str | None:
    return value[:MAX_ANSWER_STRING] if isinstance(value, str) and value else None


def finite(value: object) -> float | None:
    """A JSON number as a finite float, else ``None`` (bools, NaN, ints beyond float range)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None
