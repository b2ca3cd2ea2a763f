"""Response bodies read and decoded under a size bound checked while decoding.

docs/protocol.md §13 (Bounds): a body is capped at ``MAX_RESPONSE_BYTES``
**after** decoding. httpx's own decoders inflate each received chunk
completely before the caller sees it, so an 825-byte answer with
``Content-Encoding: gzip, gzip`` grew to hundreds of MB before any size check
could run. The client therefore reads the raw bytes (``Response.aiter_raw``)
and decodes them here, asking zlib at every step for at most what is left
under the cap, and never more than 64 KiB: peak memory stays within a few MB
of the cap (about 1.5 MiB measured, ``bench`` section 8) whatever the
encoding layers.

Only what zlib can decode with an output limit is asked for and accepted
(``Accept-Encoding: gzip, deflate``); any other coding (``br``, ``zstd``,
``compress``, unknown names) or more than ``MAX_CODINGS`` layers is refused, as
is a body whose compressed stream is corrupt or truncated.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterator, Sequence

__all__ = ["ACCEPT_ENCODING", "MAX_CODINGS", "BodyRefused", "read_bounded"]

ACCEPT_ENCODING = "gzip, deflate"
# Real servers send one layer; two leave room for a proxy that compresses again.
MAX_CODINGS = 2
# A compressed layer of a body within the cap is at most a few hundred bytes
# larger than the body (stored deflate blocks); each encoded layer gets this slack.
_LAYER_SLACK = 64 * 1024

# Each layer hands on at most this much at a time, so a layer's output never piles up.
_STEP = 64 * 1024

_GZIP_WBITS = 16 + zlib.MAX_WBITS
_ZLIB_WBITS = {"gzip": _GZIP_WBITS, "x-gzip": _GZIP_WBITS, "deflate": zlib.MAX_WBITS}


class BodyRefused(Exception):
    """A complete answer the client will not take: too large, or an encoding it cannot bound."""


class _Inflater:
    """One ``Content-Encoding`` layer whose total output is capped at ``limit`` bytes."""

    def __init__(self, coding: str, limit: int) -> None:
        self._coding = coding
        self._limit = limit
        self._produced = 0
        self._started = False
        self._stream = zlib.decompressobj(_ZLIB_WBITS[coding])

    def feed(self, data: bytes) -> Iterator[bytes]:
        """The output for ``data``, in pieces of at most ``_STEP`` bytes."""
        while True:
            room = self._limit - self._produced
            piece = self._decompress(data, min(_STEP, room + 1))
            self._produced += len(piece)
            if self._produced > self._limit:
                raise BodyRefused(f"larger than {self._limit} bytes once decoded")
            if piece:
                yield piece
            if len(piece) < _STEP:
                return  # zlib stopped short of the step: the input is used up
            data = self._stream.unconsumed_tail

    def _decompress(self, data: bytes, max_length: int) -> bytes:
        try:
            piece = self._stream.decompress(data, max_length)
        except zlib.error:
            if self._coding == "deflate" and not self._started:
                # "deflate" is zlib-wrapped by the RFC, raw deflate in practice (as httpx does).
                self._stream = zlib.decompressobj(-zlib.MAX_WBITS)
                self._started = True
                return self._decompress(data, max_length)
            raise BodyRefused(f"malformed {self._coding} body") from None
        self._started = True
        return piece

    def finish(self) -> None:
        if not self._stream.eof:
            raise BodyRefused(f"truncated {self._coding} body")


def _codings(header_values: Sequence[str]) -> list[str]:
    """``Content-Encoding`` layers in the order they were applied, ``identity`` dropped."""
    layers = [
        part.strip().lower() for value in header_values for part in value.split(",") if part.strip()
    ]
    return [layer for layer in layers if layer != "identity"]


async def read_bounded(
    raw: AsyncIterator[bytes], content_encoding: Sequence[str], limit: int
) -> bytes:
    """The decoded body of ``raw`` (bytes as received), or ``BodyRefused``.

    At no point is more than ``limit`` decoded bytes, plus one ``_STEP`` per
    layer and the received chunk, held in memory.
    """
    layers = _codings(content_encoding)
    if len(layers) > MAX_CODINGS:
        raise BodyRefused(f"{len(layers)} content codings (at most {MAX_CODINGS})")
    unsupported = [layer for layer in layers if layer not in _ZLIB_WBITS]
    if unsupported:
        raise BodyRefused(f"unsupported Content-Encoding {unsupported[0][:32]!r}")
    # Decoding undoes the last-applied coding first; only the last step yields the body.
    inflaters = [
        _Inflater(layer, limit if index == len(layers) - 1 else limit + _LAYER_SLACK)
        for index, layer in enumerate(reversed(layers))
    ]
    body = bytearray()

    def take(data: bytes, depth: int) -> None:
        if depth == len(inflaters):
            if len(body) + len(data) > limit:
                raise BodyRefused(f"larger than {limit} bytes")
            body.extend(data)
            return
        for piece in inflaters[depth].feed(data):
            take(piece, depth + 1)

    received = 0
    async for chunk in raw:
        # Compressed bytes of a body within the cap are within the cap plus a little:
        # more (e.g. endless empty deflate blocks) only burns CPU and bandwidth.
        received += len(chunk)
        if received > limit + _LAYER_SLACK * len(inflaters):
            raise BodyRefused(f"larger than {limit} bytes on the wire")
        take(chunk, 0)
    if received:  # an empty body (a 204 with the header) is just empty
        for inflater in inflaters:
            inflater.finish()
    return bytes(body)
