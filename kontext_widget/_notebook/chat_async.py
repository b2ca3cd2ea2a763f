"""``Session.chat_turn_async``: ``chat_turn`` for async LLM clients, without blocking the loop.

The turn itself (ids, messages, what is shown, the ad) is ``chat_turn``'s,
from ``_chat``; only pulling the reply differs. Async replies (an async
iterable such as an ``AsyncOpenAI`` stream, an awaitable, an ``async def`` or
async generator function) run on the awaiting loop. Synchronous ones may block
(a sync HTTP client, ``time.sleep``): a plain callable is called, and a
generator or other lazy iterable is advanced chunk by chunk, in a worker
thread (``asyncio.to_thread``), so the loop keeps serving other tasks and the
reply is still drawn on the loop's thread. Lists, tuples and strings are
consumed in place: they cannot block.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from kontext_widget._types import Message

from .chat import ChatTurn, PendingTurn, ReplyText, StreamDrawing, TurnOptions, start_turn

if TYPE_CHECKING:
    from kontext_widget._session import Session

__all__ = ["AsyncReply", "chat_turn_async"]

AsyncReplyText = ReplyText | AsyncIterable[str] | Awaitable[str]
AsyncReply = AsyncReplyText | Callable[[tuple[Message, ...]], AsyncReplyText]

_END = object()


def _check_reply(reply: object) -> None:
    accepted = callable(reply) or isinstance(reply, str | AsyncIterable | Iterable | Awaitable)
    if accepted and not isinstance(reply, bytes | bytearray):
        return
    raise TypeError(
        "reply must be a str, an iterable or async iterable of str chunks, an awaitable "
        "of str, or a callable taking the conversation's messages and returning one of "
        f"those; got {type(reply).__name__}"
    )


def _is_async_callable(function: Callable[..., object]) -> bool:
    target = getattr(function, "__call__", None)  # noqa: B004 - instances with async __call__
    return (
        inspect.iscoroutinefunction(function)
        or inspect.isasyncgenfunction(function)
        or inspect.iscoroutinefunction(target)
        or inspect.isasyncgenfunction(target)
    )


async def _resolve(reply: AsyncReply, messages: tuple[Message, ...]) -> object:
    """Call ``reply`` if it is a callable (a sync one in a worker thread) and await the result."""
    produced: object = reply
    if callable(reply):
        if _is_async_callable(reply):
            produced = reply(messages)
        else:
            produced = await asyncio.to_thread(reply, messages)
    if inspect.isawaitable(produced):
        produced = await produced
    if isinstance(produced, str | AsyncIterable):
        return produced
    if isinstance(produced, Iterable) and not isinstance(produced, bytes | bytearray):
        return produced
    raise TypeError(
        "the reply must give a str, an iterable or async iterable of str chunks, or an "
        f"awaitable of str; got {type(produced).__name__}"
    )


async def _collect(stream: Iterable[str] | AsyncIterable[str], turn: PendingTurn) -> Message:
    """Pull the chunks, drawing them as they come, then show and add the whole reply."""
    display = turn.stream_display()
    try:
        drawing = StreamDrawing(display)
        await _pull(stream, drawing)
        return turn.add_reply(drawing.text())
    finally:
        if display is not None:
            display.end()  # empties the stream (also when the stream raised)


async def _pull(stream: Iterable[str] | AsyncIterable[str], drawing: StreamDrawing) -> None:
    if isinstance(stream, AsyncIterable):
        async for piece in stream:
            drawing.add(piece)
    elif isinstance(stream, list | tuple):
        for piece in stream:
            drawing.add(piece)
    else:
        chunks: Iterator[str] = iter(stream)
        while True:
            chunk: Any = await asyncio.to_thread(next, chunks, _END)
            if chunk is _END:
                break
            drawing.add(chunk)


async def chat_turn_async(
    session: Session, user: str, reply: AsyncReply, options: TurnOptions
) -> ChatTurn:
    """Run one exchange; see ``Session.chat_turn_async`` for the parameters."""
    _check_reply(reply)
    try:
        turn = start_turn(session, user, options)
    except BaseException:
        if inspect.iscoroutine(reply):
            reply.close()  # never awaited: spare the user a "was never awaited" warning
        raise
    text = await _resolve(reply, session.messages)
    if isinstance(text, str):
        assistant_message = turn.add_reply(text)
    else:
        assistant_message = await _collect(text, turn)  # type: ignore[arg-type]
    if options.wait:
        await session.wait_idle_async(options.wait)
    return turn.finish(assistant_message)
