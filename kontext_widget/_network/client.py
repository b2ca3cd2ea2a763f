"""The ad-server client: one coroutine per endpoint over the shared httpx pool.

Retry policy (docs/protocol.md §2), for ``/init`` and ``/preload`` only:
network failures and 429 are retried after 1 s, 2 s, 4 s; any other status is
returned as is. Each attempt, connect to last body byte, has its own time limit.
Cancellation propagates untouched: a superseded preload stops at once.
An answer the client refuses (larger than ``MAX_RESPONSE_BYTES`` once decoded,
or in an encoding it cannot decode under that bound; ``_bounded_body``) is a
failure that is never retried: the same server would send the same bytes.
``/error`` and ``/debug`` are fire-and-forget: one attempt, failures swallowed;
the caller may ask to hear when the attempt ended, so that ``wait_idle`` covers
the reports already started (docs/protocol.md §2.3).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from kontext_widget._constants import IS_DISABLED_HEADER, PUBLISHER_TOKEN_HEADER, TIMING

from . import io_loop as _io_loop
from .bounded_body import ACCEPT_ENCODING, BodyRefused, read_bounded

__all__ = [
    "MAX_RESPONSE_BYTES",
    "AnswerRefused",
    "RawResponse",
    "RequestFailed",
    "post",
    "post_with_retry",
    "report",
]

logger = logging.getLogger("kontext_widget")

T = TypeVar("T")

# An ad answer is a few KB; anything this large is a broken or hostile server.
MAX_RESPONSE_BYTES = 1 << 20


class RequestFailed(Exception):
    """A request that failed for good: the text is what ``ad.error`` and ``/error`` say."""


class AnswerRefused(RequestFailed):
    """The server answered, but with a body the client will not take; never retried."""


@dataclass(frozen=True)
class RawResponse:
    status: int
    content: bytes


def json_headers(
    publisher_token: str | None = None, *, is_disabled: bool | None = None
) -> dict[str, str]:
    # Only the codings ``_bounded_body`` decodes under its bound (httpx would add
    # br/zstd whenever their packages happen to be installed).
    headers = {"Content-Type": "application/json", "Accept-Encoding": ACCEPT_ENCODING}
    if publisher_token is not None:
        headers[PUBLISHER_TOKEN_HEADER] = publisher_token
    if is_disabled is not None:
        headers[IS_DISABLED_HEADER] = "1" if is_disabled else "0"
    return headers


async def _read_limited(response: httpx.Response) -> bytes:
    encoding = response.headers.get_list("content-encoding")
    length = response.headers.get("content-length", "")
    # An announced plain body over the cap is refused before a byte of it is read.
    if not encoding and length.isdigit() and int(length[:12]) > MAX_RESPONSE_BYTES:
        raise AnswerRefused(f"response refused: larger than {MAX_RESPONSE_BYTES} bytes")
    try:
        return await read_bounded(response.aiter_raw(), encoding, MAX_RESPONSE_BYTES)
    except BodyRefused as exc:
        raise AnswerRefused(f"response refused: {exc}") from None


async def _attempt(url: str, body: Mapping[str, Any], headers: Mapping[str, str]) -> RawResponse:
    client = _io_loop.http_client()
    async with client.stream("POST", url, json=body, headers=headers) as response:
        return RawResponse(response.status_code, await _read_limited(response))


async def _within(seconds: float, coro: Coroutine[Any, Any, T]) -> T:
    """``coro`` under a deadline; ``asyncio.timeout`` where it exists, as it spares a task."""
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(seconds):
            return await coro
    return await asyncio.wait_for(coro, seconds)


async def post(
    url: str, body: Mapping[str, Any], headers: Mapping[str, str], timeout: float
) -> RawResponse:
    """One attempt within ``timeout`` seconds; raises ``RequestFailed`` on network failure."""
    try:
        # The attempt's time limit starts once it has a slot: waiting behind other
        # sessions' requests is not the server being slow.
        async with _io_loop.request_slots():
            return await _within(timeout, _attempt(url, body, headers))
    except asyncio.TimeoutError:
        raise RequestFailed(f"timed out after {timeout * 1000:.0f} ms") from None
    except httpx.HTTPError as exc:
        raise RequestFailed(
            f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        ) from None


async def post_with_retry(
    url: str, body: Mapping[str, Any], headers: Mapping[str, str], timeout: float
) -> RawResponse:
    """Up to ``1 + len(TIMING.retry_waits)`` attempts; 429 and network failures are retried.

    A refused answer (``AnswerRefused``) ends the request at once.
    """
    waits = TIMING.retry_waits
    for attempt in range(len(waits) + 1):
        last = attempt == len(waits)
        try:
            response = await post(url, body, headers, timeout)
        except AnswerRefused:
            raise
        except RequestFailed:
            if last:
                raise
        else:
            if response.status != 429:
                return response
            if last:
                raise RequestFailed("rate limited")
        await asyncio.sleep(waits[attempt])
    raise AssertionError("unreachable")  # pragma: no cover


def report(url: str, body: Mapping[str, Any], done: Callable[[], None] | None = None) -> None:
    """Fire-and-forget ``/error`` or ``/debug`` POST, from any thread.

    ``done`` runs on the I/O loop once the attempt ended, however it ended
    (answered, failed, timed out or cancelled unstarted).
    """

    async def send() -> None:
        try:
            await post(url, body, json_headers(), TIMING.report_timeout)
        except RequestFailed as exc:
            logger.debug("kontext-widget: report to %s failed: %s", url, exc)

    def start() -> None:
        task = _io_loop.spawn(send())
        if done is not None:
            task.add_done_callback(lambda _task: done())

    _io_loop.call_soon(start)
