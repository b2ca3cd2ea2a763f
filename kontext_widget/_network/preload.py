"""``/preload`` (docs/protocol.md §2.2): its body, the request, and the outcome it has.

Every way a ``/preload`` can end is one ``PreloadOutcome``: a fill, a no-fill
or an error; ``fetch_preload`` never raises (a network failure, an answer it
cannot read or a bug of ours is a ``PreloadError``). Bounds on what an answer
can make us keep (docs/protocol.md §13): the first ``MAX_BIDS`` entries of
``bids`` are looked at and the rest ignored unread; of those, the first bid per
placement code is kept (one ``ad.filled`` per code).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kontext_widget._constants import sdk_info
from kontext_widget._network import client
from kontext_widget._network.wire import (
    Bid,
    DecodeError,
    finite,
    json_object,
    optional_str,
    uuid_text,
)
from kontext_widget._types import Character, Message, Regulatory

__all__ = [
    "MAX_BIDS",
    "PreloadError",
    "PreloadFilled",
    "PreloadNoFill",
    "PreloadOutcome",
    "PreloadRequest",
    "classify_preload",
    "fetch_preload",
]

logger = logging.getLogger("kontext_widget")

DEFAULT_SKIP_CODE = "no_fill"  # section 11: Android's default

# A real answer has one bid per requested code; 64 leaves room for many codes.
MAX_BIDS = 64


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


async def fetch_preload(
    server: str,
    body: Mapping[str, Any],
    *,
    publisher_token: str,
    track_only: bool,
    timeout_ms: int,
    codes: Iterable[str],
) -> PreloadOutcome:
    """Send ``/preload`` (with retries) and classify what came back; never raises."""
    headers = client.json_headers(publisher_token, is_disabled=track_only)
    try:
        response = await client.post_with_retry(
            server + "/preload", body, headers, timeout_ms / 1000
        )
        return classify_preload(response.status, response.content, codes)
    except client.RequestFailed as exc:
        return PreloadError(str(exc), "request_failed", report=True)
    except Exception as exc:  # a bug of ours must not cost the user an event either
        logger.exception("kontext-widget: unexpected /preload failure")
        return PreloadError(f"{type(exc).__name__}: {exc}", "request_failed", report=True)


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
                bid_id=uuid_text(item.get("bidId"), f"bids[{index}].bidId"),
                code=code,
                revenue=finite(item.get("revenue")),
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
        body = json_object(content)
        raw_session = body.get("sessionId")
        session_id = None if raw_session is None else uuid_text(raw_session, "sessionId")
        err_code = optional_str(body.get("errCode"))
        if err_code is not None or session_id is None:
            if body.get("permanent") is True:
                return PreloadError("Session is disabled", err_code or "session_disabled", True)
            return PreloadError("Ad generation skipped", err_code or "unknown")
        skip_code = optional_str(body.get("skipCode")) or DEFAULT_SKIP_CODE
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
