"""Frame URLs (docs/protocol.md §4) and origins (section 6.1).

Click URLs are resolved in the browser, which opens them (js/clicks.ts).
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from kontext_widget._constants import SDK_NAME

__all__ = ["frame_url", "modal_url", "origin_of"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _query(code: str, message_id: str, theme: str | None) -> str:
    # Form encoding like URLSearchParams (space -> '+'), in the protocol's order.
    params = [("code", code), ("messageId", message_id), ("sdk", SDK_NAME)]
    if theme:
        params.append(("theme", theme))
    return urlencode(params)


def frame_url(server: str, bid_id: str, code: str, message_id: str, theme: str | None) -> str:
    return f"{server}/api/frame/{bid_id}?{_query(code, message_id, theme)}"


def modal_url(server: str, bid_id: str, code: str, message_id: str, theme: str | None) -> str:
    """The modal URL without ``componentParams`` (the browser appends it when present)."""
    return f"{server}/api/modal/{bid_id}?{_query(code, message_id, theme)}"


def origin_of(url: str) -> str:
    """``scheme://host[:port]``, lowercased, default port dropped (section 6.1)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"
