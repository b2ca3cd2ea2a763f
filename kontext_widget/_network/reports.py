"""``/error`` and ``/debug`` (docs/protocol.md §2.3): what a report carries and when one is sent.

Reports are fire-and-forget: a failed one is logged at debug level and never
retried. ``/init`` decides whether they are sent at all (``reportErrors``,
``reportDebug``); every report sent is pending work of its session, so
``wait_idle`` covers it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

from kontext_widget._constants import sdk_info
from kontext_widget._network import client

__all__ = ["PendingWork", "Reports", "debug_body", "error_body"]


class PendingWork(Protocol):
    """Counts work in flight (the session's ``Delivery``: ``wait_idle`` waits for it)."""

    def begin(self) -> None:
        """One more piece of work started."""

    def end(self) -> None:
        """One piece of work ended, however it ended."""


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


class Reports:
    """One session's reports to its server; the gates are ``/init``'s to change."""

    def __init__(self, server: str, identity: Mapping[str, str], work: PendingWork) -> None:
        self.errors_enabled = True  # /init's reportErrors
        self.debug_enabled = False  # /init's reportDebug
        self._server = server
        self._identity = dict(identity)
        self._work = work

    def error(self, error: str, stack: str, *, bid_id: str | None) -> None:
        """Report a failure to ``/error`` unless ``/init`` turned error reports off."""
        if self.errors_enabled:
            identity = {**self._identity, "bidId": bid_id}
            self._send("/error", error_body(error, stack, identity))

    def debug(self, name: str, data: object | None, *, session_id: str | None) -> None:
        """Report a debug event to ``/debug`` if ``/init`` turned debug reports on."""
        if self.debug_enabled:
            identity = {**self._identity, "sessionId": session_id}
            self._send("/debug", debug_body(name, data, identity))

    def _send(self, path: str, body: Mapping[str, Any]) -> None:
        self._work.begin()  # wait_idle covers the report (docs/protocol.md §2.3)
        client.report(self._server + path, body, self._work.end)
