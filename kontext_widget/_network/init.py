"""``/init`` (docs/protocol.md §2.1): its body, its decoding and the request itself.

What ``/init`` answers are the session's settings; a failure or an empty answer
keeps the defaults. ``preloadTimeout`` is capped at ``MAX_PRELOAD_TIMEOUT_MS``
(docs/protocol.md §13).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from kontext_widget._constants import TIMING, sdk_info
from kontext_widget._network import client
from kontext_widget._network.wire import finite, json_object

__all__ = ["MAX_PRELOAD_TIMEOUT_MS", "InitSettings", "decode_init", "fetch_init", "init_body"]

# A server cannot take the preload deadline away: 1e308 ms would mean "never".
MAX_PRELOAD_TIMEOUT_MS = 60_000


@dataclass(frozen=True)
class InitSettings:
    enabled: bool = True
    preload_timeout_ms: int | None = None
    report_errors: bool = True
    report_debug: bool = False


def init_body(publisher_token: str, user_id: str, install_id: str) -> dict[str, Any]:
    # `app` is omitted, as the web SDK does (section 11).
    return {
        "publisherToken": publisher_token,
        "userId": user_id,
        "installId": install_id,
        "sdk": sdk_info(),
    }


def _preload_timeout_ms(timeout: float | None) -> int | None:
    """Whole milliseconds, rounded up so that any positive value stays positive, capped."""
    if timeout is None or timeout <= 0:
        return None
    return min(math.ceil(timeout), MAX_PRELOAD_TIMEOUT_MS)


def decode_init(status: int, content: bytes) -> InitSettings | None:
    """``/init``'s settings; ``None`` keeps the defaults. Raises ``DecodeError`` on garbage."""
    if status == 204 or not 200 <= status < 300 or not content.strip():
        return None
    body = json_object(content)
    enabled = body.get("enabled")
    timeout = finite(body.get("preloadTimeout"))
    report_errors = body.get("reportErrors")
    report_debug = body.get("reportDebug")
    return InitSettings(
        enabled=enabled if isinstance(enabled, bool) else True,
        preload_timeout_ms=_preload_timeout_ms(timeout),
        report_errors=report_errors if isinstance(report_errors, bool) else True,
        report_debug=report_debug if isinstance(report_debug, bool) else False,
    )


async def fetch_init(
    server: str, publisher_token: str, user_id: str, install_id: str
) -> InitSettings | None:
    """Send ``/init`` (with retries); raises on a network failure or an undecodable answer."""
    body = init_body(publisher_token, user_id, install_id)
    headers = client.json_headers(publisher_token)
    response = await client.post_with_retry(server + "/init", body, headers, TIMING.init_timeout)
    return decode_init(response.status, response.content)
