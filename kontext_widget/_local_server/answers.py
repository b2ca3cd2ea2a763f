"""Scripted answers of the local ad server (``LocalAdServer.fill()``, ``.no_fill()``...).

An answer is a small frozen value describing what the next ``/preload`` gets back;
``AnswerSchedule`` decides which one that is: a FIFO queue of one-shot answers
(``times=N`` puts N copies in it) in front of one persistent answer (``times=None``
replaces it). Delays have their own schedule with the same rules, so a delay can
be laid over whatever answer comes up. Rendering to HTTP lives in the server;
this module only holds the script, so it can be validated and tested on its own.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeAlias, TypeVar

__all__ = [
    "AnswerSchedule",
    "EmptyAnswer",
    "ErrorAnswer",
    "FillAnswer",
    "HttpStatusAnswer",
    "InitAnswer",
    "NoFillAnswer",
    "PreloadAnswer",
    "RawAnswer",
    "as_bytes",
    "check_codes",
    "check_delay",
    "check_optional_bool",
    "check_revenue",
    "check_status",
    "check_text",
    "check_times",
]

DEFAULT_REVENUE = 0.0123


@dataclass(frozen=True)
class FillAnswer:
    """One bid per requested placement code (only ``codes`` when given)."""

    revenue: float = DEFAULT_REVENUE
    codes: tuple[str, ...] | None = None
    delay: float = 0.0
    # (code, format) pairs that override the server's formats for this answer only.
    formats: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class NoFillAnswer:
    """``{"sessionId", "skip": true, "skipCode", "bids": []}``."""

    skip_code: str = "no_fill"
    delay: float = 0.0


@dataclass(frozen=True)
class EmptyAnswer:
    """``{"sessionId", "bids": []}`` without a skip flag."""

    delay: float = 0.0


@dataclass(frozen=True)
class ErrorAnswer:
    """``{"errCode", "error", "permanent"}`` with HTTP 200, as the real server does."""

    err_code: str = "unknown"
    message: str = "Local ad server scripted error"
    permanent: bool = False
    delay: float = 0.0


@dataclass(frozen=True)
class HttpStatusAnswer:
    """A bare HTTP status; ``body`` is sent verbatim (never for 204)."""

    status: int
    body: bytes = b""
    delay: float = 0.0


@dataclass(frozen=True)
class RawAnswer:
    """Exactly these bytes, for malformed or hostile answers."""

    body: bytes
    status: int = 200
    content_type: str = "application/json"
    delay: float = 0.0


PreloadAnswer: TypeAlias = (
    FillAnswer | NoFillAnswer | EmptyAnswer | ErrorAnswer | HttpStatusAnswer | RawAnswer
)


@dataclass(frozen=True)
class InitAnswer:
    """The ``/init`` answer; ``None`` fields are left out of the JSON (docs/protocol.md)."""

    enabled: bool | None = True
    preload_timeout: float | None = None
    report_errors: bool | None = None
    report_debug: bool | None = None
    status: int = 200
    raw: bytes | None = None
    delay: float = 0.0

    def json_body(self) -> dict[str, object]:
        body: dict[str, object] = {}
        if self.enabled is not None:
            body["enabled"] = self.enabled
        if self.preload_timeout is not None:
            body["preloadTimeout"] = self.preload_timeout
        if self.report_errors is not None:
            body["reportErrors"] = self.report_errors
        if self.report_debug is not None:
            body["reportDebug"] = self.report_debug
        return body


T = TypeVar("T")


class AnswerSchedule(Generic[T]):
    """One-shot values queued ahead of a persistent default; thread-safe.

    Handlers run on several threads at once, so taking the next value and
    changing the script are serialised by one lock.
    """

    def __init__(self, persistent: T) -> None:
        self._initial = persistent
        self._persistent = persistent
        self._queue: deque[T] = deque()
        self._lock = threading.Lock()

    def set(self, value: T, times: int | None) -> None:
        with self._lock:
            if times is None:
                self._persistent = value
            else:
                self._queue.extend([value] * times)

    def next(self) -> T:
        with self._lock:
            return self._queue.popleft() if self._queue else self._persistent

    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self._persistent = self._initial


def check_times(times: int | None) -> int | None:
    """``times`` is ``None`` (persistent) or a positive int (queue that many answers)."""
    if times is None:
        return None
    if isinstance(times, bool) or not isinstance(times, int):
        raise TypeError(f"times must be an int or None, got {type(times).__name__}")
    if times < 1:
        raise ValueError(f"times must be >= 1 (or None for a persistent answer), got {times}")
    return times


def check_delay(delay: float, name: str = "delay") -> float:
    """A delay is a finite number of seconds >= 0."""
    if isinstance(delay, bool) or not isinstance(delay, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, got {type(delay).__name__}")
    if not math.isfinite(delay) or delay < 0:
        raise ValueError(f"{name} must be a finite number of seconds >= 0, got {delay!r}")
    return float(delay)


def check_status(status: int) -> int:
    if isinstance(status, bool) or not isinstance(status, int):
        raise TypeError(f"status must be an int, got {type(status).__name__}")
    if not 100 <= status <= 599:
        raise ValueError(f"status must be an HTTP status code between 100 and 599, got {status}")
    return status


def check_text(value: str, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{name} must not be empty")
    return value


def check_optional_bool(value: bool | None, name: str) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool or None, got {type(value).__name__}")
    return value


def check_revenue(revenue: float) -> float:
    if isinstance(revenue, bool) or not isinstance(revenue, (int, float)):
        raise TypeError(f"revenue must be a number, got {type(revenue).__name__}")
    if not math.isfinite(revenue) or revenue < 0:
        raise ValueError(f"revenue must be a finite number >= 0, got {revenue!r}")
    return float(revenue)


def check_codes(codes: Iterable[str] | None) -> tuple[str, ...] | None:
    """Placement codes to bid for, deduplicated in the given order."""
    if codes is None:
        return None
    if isinstance(codes, str):
        raise TypeError("codes must be a collection of placement codes, not a single str")
    result = tuple(dict.fromkeys(codes))
    if not result:
        raise ValueError("codes must name at least one placement code (use empty() for no bids)")
    for code in result:
        check_text(code, "each code in codes")
    return result


def as_bytes(body: bytes | str, name: str) -> bytes:
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    raise TypeError(f"{name} must be bytes or str, got {type(body).__name__}")
