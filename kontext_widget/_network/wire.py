"""Wire format of the ad-server HTTP API: request bodies and tolerant response decoding.

Pure functions, no I/O (docs/protocol.md §2). Decoding never raises on what a
server sends: unknown fields are ignored, a wrong-typed optional field counts as
absent, and malformed JSON, a wrong-typed required field or a non-UUID id
becomes a ``PreloadError`` with ``errCode`` ``request_failed`` (section 2.2 #8).

Bounds on what an answer can make us keep or emit (docs/protocol.md §13): the
first ``MAX_BIDS`` entries of ``bids`` are looked at and the rest ignored
unread; of those, the first bid per placement code is kept (one ``ad.filled``
per code); strings taken from an answer (``skipCode``, ``errCode``) are cut to
``MAX_ANSWER_STRING`` characters; and ``/init``'s ``preloadTimeout`` is capped
at ``MAX_PRELOAD_TIMEOUT_MS``.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kontext_widget._constants import sdk_info
from kontext_widget._types import Character, Message, Regulatory

__all__ = [
    "Bid",
    "InitSettings",
    "PreloadError",
    "PreloadFilled",
    "PreloadNoFill",
    "PreloadOutcome",
    "PreloadRequest",
    "classify_preload",
    "debug_body",
    "decode_init",
    "error_body",
    "init_body",
]

DEFAULT_SKIP_CODE = "no_fill"  # section 11: Android's default

# A real answer has one bid per requested code; 64 leaves room for many codes.
MAX_BIDS = 64
# Codes are short identifiers; anything longer is cut, not trusted to be short.
MAX_ANSWER_STRING = 1024
# A server cannot take the preload deadline away: 1e308 ms would mean "never".
MAX_PRELOAD_TIMEOUT_MS = 60_000


class DecodeError(ValueError):
    """The server's answer could not be understood."""


@dataclass(frozen=True)
class Bid:
    bid_id: str
    code: str
    revenue: float | None = None


@dataclass(frozen=True)
class PreloadFilled:
    session_id: str
    bids: tuple[Bid, ...]


@dataclass(frozen=True)
class PreloadNoFill:
    skip_code: str
    session_id: str | None = None


@dataclass(frozen=True)
class PreloadError:
    message: str
    err_code: str
    permanent: bool = False
    # True for internal failures (section 2.2 #8), which are also reported to /error.
    report: bool = False


PreloadOutcome = PreloadFilled | PreloadNoFill | PreloadError


@dataclass(frozen=True)
class InitSettings:
    enabled: bool = True
    preload_timeout_ms: int | None = None
    report_errors: bool = True
    report_debug: bool = False


@dataclass(frozen=True)
class PreloadRequest:
    """Everything a ``/preload`` body is built from, snapshotted under the session lock."""

    publisher_token: str
    user_id: str
    install_id: str
    conversation_id: str
    enabled_placement_codes: Sequence[str]
    messages: Sequence[Message]
    device: Mapping[str, Any]
    session_id: str | None = None
    character: Character | None = None
    regulatory: Regulatory | None = None
    user_email: str | None = None
    variant_id: str | None = None
    advertising_id: str | None = None
    vendor_id: str | None = None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "publisherToken": self.publisher_token,
            "userId": self.user_id,
            "installId": self.install_id,
            "conversationId": self.conversation_id,
            "enabledPlacementCodes": list(self.enabled_placement_codes),
            "messages": [message.to_wire() for message in self.messages],
            "sdk": sdk_info(),
            "device": dict(self.device),
        }
        optional: dict[str, Any] = {
            "sessionId": self.session_id,
            "character": self.character.to_wire() if self.character else None,
            "regulatory": self.regulatory.to_wire() if self.regulatory else None,
            "userEmail": self.user_email,
            "variantId": self.variant_id,
            "advertisingId": self.advertising_id,
            "vendorId": self.vendor_id,
        }
        body.update({key: value for key, value in optional.items() if value is not None})
        return body


def init_body(publisher_token: str, user_id: str, install_id: str) -> dict[str, Any]:
    # `app` is omitted, as the web SDK does (section 11).
    return {
        "publisherToken": publisher_token,
        "userId": user_id,
        "installId": install_id,
        "sdk": sdk_info(),
    }


def _additional_data(identity: Mapping[str, str | None]) -> dict[str, Any]:
    data: dict[str, Any] = {key: value for key, value in identity.items() if value is not None}
    data["sdk"] = sdk_info()
    return data


def error_body(error: str, stack: str, identity: Mapping[str, str | None]) -> dict[str, Any]:
    """``/error`` body; ``identity`` holds the session's ids (section 2.3)."""
    return {"error": error, "stack": stack, "additionalData": _additional_data(identity)}


def debug_body(name: str, data: object, identity: Mapping[str, str | None]) -> dict[str, Any]:
    """``/debug`` body; ``data`` travels as a string (JSON text, else its text form)."""
    body: dict[str, Any] = {"name": name, "additionalData": _additional_data(identity)}
    if data is not None:
        try:
            body["data"] = json.dumps(data, separators=(",", ":"), default=str)
        except (TypeError, ValueError):
            body["data"] = str(data)
    return body


# -- decoding -----------------------------------------------------------------


def _json_object(content: bytes) -> Mapping[str, Any]:
    try:
        decoded = json.loads(content)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise DecodeError(f"malformed JSON: {type(exc).__name__}: {exc}"[:300]) from None
    if not isinstance(decoded, dict):
        raise DecodeError(f"expected a JSON object, got {type(decoded).__name__}")
    return decoded


def _uuid(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise DecodeError(f"{field} is not a string")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise DecodeError(f"{field} is not a UUID: {value[:64]!r}") from None


def _optional_str(value: object) -> str | None:
    return value[:MAX_ANSWER_STRING] if isinstance(value, str) and value else None


def _finite(value: object) -> float | None:
    """A JSON number as a finite float, else ``None`` (bools, NaN, ints beyond float range)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _bids(raw: object) -> list[Bid]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise DecodeError("bids is not a list")
    bids = []
    for index, item in enumerate(raw[:MAX_BIDS]):
        if not isinstance(item, dict):
            raise DecodeError(f"bids[{index}] is not an object")
        code = item.get("code")
        if not isinstance(code, str) or not code:
            raise DecodeError(f"bids[{index}].code is missing or not a string")
        bids.append(
            Bid(
                bid_id=_uuid(item.get("bidId"), f"bids[{index}].bidId"),
                code=code,
                revenue=_finite(item.get("revenue")),
            )
        )
    return bids


def classify_preload(status: int, content: bytes, enabled_codes: Iterable[str]) -> PreloadOutcome:
    """Section 2.2's classification table, first match wins."""
    if status == 204:
        return PreloadNoFill("unfilled_bid")
    if not 200 <= status < 300:
        # Section 11: Android's behaviour, body unread, 5xx not retried.
        return PreloadError(f"HTTP {status}", "request_failed")
    try:
        body = _json_object(content)
        raw_session = body.get("sessionId")
        session_id = None if raw_session is None else _uuid(raw_session, "sessionId")
        err_code = _optional_str(body.get("errCode"))
        if err_code is not None or session_id is None:
            if body.get("permanent") is True:
                return PreloadError("Session is disabled", err_code or "session_disabled", True)
            return PreloadError("Ad generation skipped", err_code or "unknown")
        skip_code = _optional_str(body.get("skipCode")) or DEFAULT_SKIP_CODE
        if body.get("skip") is True:
            return PreloadNoFill(skip_code, session_id)
        bids = _bids(body.get("bids"))
    except DecodeError as exc:
        return PreloadError(f"Invalid /preload response: {exc}", "request_failed", report=True)
    if not bids:
        return PreloadNoFill(skip_code, session_id)
    codes = set(enabled_codes)
    firsts: dict[str, Bid] = {}
    for bid in bids:
        if bid.code in codes and bid.code not in firsts:
            firsts[bid.code] = bid
    kept = tuple(firsts.values())
    if not kept:
        return PreloadNoFill("unfilled_bid", session_id)
    return PreloadFilled(session_id, kept)


def _preload_timeout_ms(timeout: float | None) -> int | None:
    """Whole milliseconds, rounded up so that any positive value stays positive, capped."""
    if timeout is None or timeout <= 0:
        return None
    return min(math.ceil(timeout), MAX_PRELOAD_TIMEOUT_MS)


def decode_init(status: int, content: bytes) -> InitSettings | None:
    """``/init``'s settings; ``None`` keeps the defaults. Raises ``DecodeError`` on garbage."""
    if status == 204 or not 200 <= status < 300 or not content.strip():
        return None
    body = _json_object(content)
    enabled = body.get("enabled")
    timeout = _finite(body.get("preloadTimeout"))
    report_errors = body.get("reportErrors")
    report_debug = body.get("reportDebug")
    return InitSettings(
        enabled=enabled if isinstance(enabled, bool) else True,
        preload_timeout_ms=_preload_timeout_ms(timeout),
        report_errors=report_errors if isinstance(report_errors, bool) else True,
        report_debug=report_debug if isinstance(report_debug, bool) else False,
    )
