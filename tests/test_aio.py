"""The asyncio API under ``asyncio.run``, against a real LocalAdServer over loopback.

Each test runs its coroutine with ``asyncio.run`` on the test's thread, the
way a script does; ``test_aio_kernel.py`` runs the same API in a live ipykernel.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
import time
import warnings
import weakref
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any

import pytest

import kontext_widget as kw
from kontext_widget._streams import EventStream


def _run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


def _session(server: kw.LocalAdServer, **options: Any) -> kw.Session:
    options.setdefault("publisher_token", "pub-test")
    options.setdefault("user_id", "user-1")
    options.setdefault("conversation_id", "conv-1")
    return kw.create_session(ad_server_url=server.url, **options)


class Heartbeat:
    """A task ticking every 5 ms; the longest gap between ticks shows whether the loop blocked."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _beat(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.005)
            now = time.monotonic()
            self.longest = max(self.longest, now - last)
            last = now

    async def __aenter__(self) -> Heartbeat:
        self._task = asyncio.create_task(self._beat())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


# -- wait_idle_async ---------------------------------------------------------------------------


def test_wait_idle_async_delivers_on_the_loop_without_blocking_it(
    server: kw.LocalAdServer,
) -> None:
    server.delay(1.0, times=1)
    delivered: list[tuple[str, str]] = []

    async def main() -> tuple[bool, float, int]:
        session = _session(
            server,
            on_event=lambda e: delivered.append((e.name, threading.current_thread().name)),
        )
        session.add_message({"id": "u1", "role": "user", "content": "hi"})
        async with Heartbeat() as beat:
            idle = await session.wait_idle_async(10)
        session.destroy()
        return idle, beat.longest, threading.get_ident()

    idle, longest_gap, _ = _run(main())
    assert idle is True
    # Delivered before it returned, on the loop's thread (the session was created there).
    assert delivered == [("ad.filled", threading.current_thread().name)]
    assert longest_gap < 0.5, f"the loop was blocked for {longest_gap:.3f} s"


def test_wait_idle_async_times_out_with_false_and_leaves_no_waiter(
    server: kw.LocalAdServer,
) -> None:
    server.delay(2.0, times=1)

    async def main() -> tuple[bool, float, int]:
        session = _session(server)
        session.add_message({"id": "u1", "role": "user", "content": "hi"})
        start = time.monotonic()
        idle = await session.wait_idle_async(0.2)
        elapsed = time.monotonic() - start
        waiters = len(session._state.delivery._waiters)
        session.destroy()
        return idle, elapsed, waiters

    idle, elapsed, waiters = _run(main())
    assert idle is False
    assert 0.15 < elapsed < 1.5
    assert waiters == 0


def test_wait_idle_async_cancelled_leaves_no_waiter(server: kw.LocalAdServer) -> None:
    server.delay(2.0, times=1)

    async def main() -> int:
        session = _session(server)
        session.add_message({"id": "u1", "role": "user", "content": "hi"})
        task = asyncio.create_task(session.wait_idle_async(10))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        waiters = len(session._state.delivery._waiters)
        session.destroy()
        return waiters

    assert _run(main()) == 0


@pytest.mark.parametrize("timeout", [-1, "1", True, None])
def test_wait_idle_async_rejects_bad_timeouts(server: kw.LocalAdServer, timeout: object) -> None:
    async def main() -> None:
        with _session(server) as session, pytest.raises(ValueError, match="timeout"):
            await session.wait_idle_async(timeout)  # type: ignore[arg-type]

    _run(main())


def test_callbacks_move_to_the_callback_thread_once_the_loop_is_gone(
    server: kw.LocalAdServer,
) -> None:
    """Created inside asyncio.run, used after it: no callback is stranded on the dead loop."""
    threads: list[str] = []

    async def create() -> kw.Session:
        return _session(server, on_event=lambda e: threads.append(threading.current_thread().name))

    session = _run(create())
    session.add_message({"id": "u1", "role": "user", "content": "hi"})
    try:
        deadline = time.monotonic() + 10
        while not threads and time.monotonic() < deadline:
            time.sleep(0.01)  # not wait_idle(): on this thread it would deliver itself
        assert threads == ["kontext-widget-callbacks"]
    finally:
        session.destroy()


# -- stream_events -----------------------------------------------------------------------------


async def _take(stream: AsyncIterator[kw.AdEvent], count: int) -> list[str]:
    names = []
    async for event in stream:
        names.append(event.name)
        if len(names) == count:
            break
    return names


def test_several_consumers_each_see_every_event_in_order(server: kw.LocalAdServer) -> None:
    async def main() -> tuple[list[str], list[str], list[str]]:
        session = _session(server, enabled_placement_codes=["inlineAd", "videoAd"])
        everything = session.stream_events()
        first = asyncio.create_task(_take(session.stream_events(), 3))
        second = asyncio.create_task(_take(session.stream_events(), 3))
        session.add_message({"id": "u1", "role": "user", "content": "hi"})
        session.add_message({"id": "a1", "role": "assistant", "content": "hello"})
        ad = session.create_ad("a1")
        await session.wait_idle_async(10)
        ad._apply(ad._protocol.handle({"type": "init-iframe", "data": {}}))
        results = await asyncio.wait_for(asyncio.gather(first, second), 10)
        session.destroy()
        collected = [event.name async for event in everything]  # ends: the session is gone
        return results[0], results[1], collected

    first, second, everything = _run(main())
    expected = ["ad.filled", "ad.filled", "ad.render-started"]
    assert first == expected
    assert second == expected
    assert everything == expected


def test_stream_ends_when_the_session_is_destroyed(server: kw.LocalAdServer) -> None:
    async def main() -> tuple[list[str], bool]:
        session = _session(server)
        stream = session.stream_events()
        consumer = asyncio.create_task(_take(stream, 100))
        session.add_message({"id": "u1", "role": "user", "content": "hi"})
        await session.wait_idle_async(10)
        await session.aclose()
        names = await asyncio.wait_for(consumer, 5)
        return names, session.destroyed

    names, destroyed = _run(main())
    assert names == ["ad.filled"]
    assert destroyed


def test_stream_of_a_destroyed_session_is_empty(server: kw.LocalAdServer) -> None:
    async def main() -> list[kw.AdEvent]:
        session = _session(server)
        session.destroy()
        return [event async for event in session.stream_events()]

    assert _run(main()) == []


def _streams_left(session: kw.Session) -> int:
    gc.collect()
    return len(session._state.recorder._streams)


def test_consumers_that_stop_early_leave_nothing_behind(server: kw.LocalAdServer) -> None:
    """break, aclose, cancellation and plain abandonment: no stream, waiter or task remains."""

    async def main() -> dict[str, int]:
        session = _session(server)
        baseline_tasks = len(asyncio.all_tasks())

        # 1. break out of async for (the iterator is dropped, never closed).
        async def breaker() -> None:
            async for _event in session.stream_events():
                break

        # 2. an explicit aclose() mid-stream.
        closed = session.stream_events()

        # 3. a consumer task cancelled while it waits for the next event.
        async def waiter() -> None:
            async for _event in session.stream_events():
                pass

        waiting = asyncio.create_task(waiter())
        # 4. subscribed and never iterated, then forgotten.
        forgotten = weakref.ref(session.stream_events())

        breaking = asyncio.create_task(breaker())
        session.add_message({"id": "u1", "role": "user", "content": "hi"})
        await session.wait_idle_async(10)
        await asyncio.wait_for(breaking, 5)
        assert (await closed.__anext__()).name == "ad.filled"
        await closed.aclose()
        await asyncio.sleep(0.01)
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        # A finished task keeps its exception, whose traceback keeps the consumer's
        # frame (and so its stream) alive: dropping the task must free everything.
        del closed, waiting
        await asyncio.sleep(0)  # the loop step that resumed us holds gather()'s results until now
        counts = {
            "streams": _streams_left(session),
            "tasks": len(asyncio.all_tasks()) - baseline_tasks,
            "delivery_waiters": len(session._state.delivery._waiters),
            "forgotten_alive": int(forgotten() is not None),
        }
        # The session still streams to a new consumer after all that.
        fresh = session.stream_events()
        session.add_message({"id": "u2", "role": "user", "content": "again"})
        counts["fresh_sees"] = len(await _take(fresh, 1))
        session.destroy()
        return counts

    assert _run(main()) == {
        "streams": 0,
        "tasks": 0,
        "delivery_waiters": 0,
        "forgotten_alive": 0,
        "fresh_sees": 1,
    }


def test_a_slow_consumer_is_bounded_and_keeps_the_newest_events(
    server: kw.LocalAdServer, caplog: pytest.LogCaptureFixture
) -> None:
    """10,000 events into a consumer that reads none: at most max_buffered are held."""

    async def main() -> tuple[int, int, list[str]]:
        session = _session(server)
        stream = session.stream_events(max_buffered=100)
        for index in range(10_000):
            session._state.recorder.emit(kw.NoFill(skip_code=f"code-{index}"))
        held = len(stream._buffer)
        session.destroy()
        codes = [event.skip_code async for event in stream]  # type: ignore[attr-defined]
        return held, stream.dropped, codes

    with caplog.at_level("WARNING", logger="kontext_widget"):
        held, dropped, codes = _run(main())
    assert held == 100
    assert dropped == 9_900
    assert codes == [f"code-{index}" for index in range(9_900, 10_000)]
    logged = [r.getMessage() for r in caplog.records]
    assert len([m for m in logged if "fell 100 events behind" in m]) == 1  # once, not per event


def test_a_consumer_on_another_thread_is_woken_by_events_from_any_thread(
    server: kw.LocalAdServer,
) -> None:
    session = _session(server)
    try:
        stream = session.stream_events()
        received: list[str] = []

        def consume() -> None:
            received.extend(asyncio.run(_take(stream, 1)))

        thread = threading.Thread(target=consume)
        thread.start()
        time.sleep(0.05)  # let it start waiting: the push must wake it across threads
        session.add_message({"id": "u1", "role": "user", "content": "hi"})
        thread.join(10)
        assert received == ["ad.filled"]
    finally:
        session.destroy()


def test_one_stream_has_one_consumer(server: kw.LocalAdServer) -> None:
    async def main() -> None:
        with _session(server) as session:
            stream = session.stream_events()
            first = asyncio.create_task(stream.__anext__())
            await asyncio.sleep(0.01)
            with pytest.raises(RuntimeError, match="once per consumer"):
                await stream.__anext__()
            first.cancel()
            await asyncio.gather(first, return_exceptions=True)

    _run(main())


@pytest.mark.parametrize("bad", [0, -5, 1.5, True, "10"])
def test_stream_events_rejects_bad_bounds(server: kw.LocalAdServer, bad: object) -> None:
    with _session(server) as session, pytest.raises(ValueError, match="max_buffered"):
        session.stream_events(max_buffered=bad)  # type: ignore[arg-type]


def test_stream_repr_and_type(server: kw.LocalAdServer) -> None:
    with _session(server) as session:
        stream = session.stream_events()
        assert isinstance(stream, EventStream)
        assert repr(stream) == "EventStream(open, buffered=0, dropped=0)"


# -- async with / aclose -----------------------------------------------------------------------


def test_async_with_destroys_and_aclose_waits_for_the_work(server: kw.LocalAdServer) -> None:
    server.delay(1.0, times=1)
    debug: list[str] = []

    async def main() -> tuple[bool, int, float]:
        async with _session(server, on_debug_event=lambda n, _d: debug.append(n)) as session:
            session.add_message({"id": "u1", "role": "user", "content": "hi"})
            await asyncio.sleep(0.1)  # the /preload is in flight
            start = time.monotonic()
        elapsed = time.monotonic() - start
        return session.destroyed, session._state.delivery._work, elapsed

    destroyed, work, elapsed = _run(main())
    assert destroyed
    assert work == 0  # the in-flight /preload was cancelled and has ended
    assert elapsed < 0.9  # cancelled, not waited out
    assert debug[-1] == "Session: destroyed"  # queued callbacks ran before aclose returned


# -- chat_turn_async ---------------------------------------------------------------------------


async def _agen_reply(messages: tuple[kw.Message, ...]) -> AsyncIterator[str]:
    for word in ("Try ", "trail ", "runners."):
        await asyncio.sleep(0.01)
        yield word


async def _coroutine_reply(messages: tuple[kw.Message, ...]) -> str:
    await asyncio.sleep(0.01)
    return "Try trail runners."


class _AsyncChunks:
    """An async iterable that is not a generator (like an ``AsyncOpenAI`` stream object)."""

    def __aiter__(self) -> AsyncIterator[str]:
        return _agen_reply(())


class _AsyncCallable:
    async def __call__(self, messages: tuple[kw.Message, ...]) -> str:
        return "Try trail runners."


def _awaitable() -> Any:
    return _coroutine_reply(())


REPLIES: dict[str, Callable[[], object]] = {
    "async generator function": lambda: _agen_reply,
    "async generator object": lambda: _agen_reply(()),
    "coroutine function": lambda: _coroutine_reply,
    "awaitable": _awaitable,
    "async iterable object": _AsyncChunks,
    "instance with async __call__": _AsyncCallable,
    "callable returning an async iterable": lambda: lambda messages: _AsyncChunks(),
    "text": lambda: "Try trail runners.",
    "list of chunks": lambda: ["Try ", "trail ", "runners."],
    "sync generator": lambda: iter(["Try ", "trail ", "runners."]),
    "sync callable": lambda: lambda messages: "Try trail runners.",
}


@pytest.mark.parametrize("kind", list(REPLIES))
def test_chat_turn_async_takes_every_kind_of_reply(server: kw.LocalAdServer, kind: str) -> None:
    async def main() -> tuple[str, str, str | None]:
        async with _session(server) as session:
            turn = await session.chat_turn_async(
                "Which running shoes?", REPLIES[kind](), display=False
            )
            return turn.assistant.content, repr(turn), turn.ad.bid_id

    content, text, bid_id = _run(main())
    assert content == "Try trail runners."
    assert text == (
        "ChatTurn(user='u1', assistant='a1', "
        "ad=Ad(message_id='a1', code='inlineAd', state='filled'))"
    )
    assert bid_id is not None  # the turn waited for the /preload (wait_idle_async)


def test_chat_turn_async_passes_the_conversation_to_the_reply(server: kw.LocalAdServer) -> None:
    seen: list[tuple[str, ...]] = []

    async def reply(messages: tuple[kw.Message, ...]) -> AsyncIterator[str]:
        seen.append(tuple(m.id for m in messages))
        yield "ok"

    async def main() -> None:
        async with _session(server) as session:
            await session.chat_turn_async("one", reply, display=False)
            await session.chat_turn_async("two", reply, display=False, wait=None)

    _run(main())
    assert seen == [("u1",), ("u1", "a1", "u2")]


def test_a_blocking_sync_reply_does_not_block_the_loop(server: kw.LocalAdServer) -> None:
    def slow_model(messages: tuple[kw.Message, ...]) -> Iterator[str]:
        time.sleep(0.5)  # a blocking client before its first chunk
        for word in ("Try ", "trail ", "runners."):
            time.sleep(0.3)
            yield word

    async def main() -> tuple[str, float]:
        async with _session(server) as session, Heartbeat() as beat:
            turn = await session.chat_turn_async("shoes?", slow_model, display=False)
        return turn.assistant.content, beat.longest

    content, longest_gap = _run(main())
    assert content == "Try trail runners."
    # Blocked, the loop would miss its 5 ms ticks for 0.3 s at least.
    assert longest_gap < 0.25, f"the loop was blocked for {longest_gap:.3f} s"


def test_an_async_reply_that_raises_propagates_and_adds_no_assistant_message(
    server: kw.LocalAdServer,
) -> None:
    async def broken(messages: tuple[kw.Message, ...]) -> AsyncIterator[str]:
        yield "Try "
        raise ConnectionError("model went away")

    async def main() -> list[str]:
        async with _session(server) as session:
            with pytest.raises(ConnectionError, match="went away"):
                await session.chat_turn_async("shoes?", broken, display=False)
            return [m.id for m in session.messages]

    assert _run(main()) == ["u1"]


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (b"bytes", "reply must be"),
        (42, "reply must be"),
        (lambda messages: 42, "the reply must give"),
        (lambda messages: b"x", "the reply must give"),
        (["ok", 3], "reply chunk 1 must be a str"),
    ],
)
def test_chat_turn_async_rejects_bad_replies(
    server: kw.LocalAdServer, reply: object, error: str
) -> None:
    async def main() -> None:
        async with _session(server) as session:
            with pytest.raises(TypeError, match=error):
                await session.chat_turn_async("hi", reply, display=False)  # type: ignore[arg-type]

    _run(main())


def test_chat_turn_async_checks_arguments_before_adding_anything(
    server: kw.LocalAdServer,
) -> None:
    async def main() -> int:
        async with _session(server) as session:
            coroutine = _coroutine_reply(())
            with pytest.raises(ValueError, match="code 'nope'"):
                await session.chat_turn_async("hi", coroutine, code="nope")
            with pytest.raises(TypeError, match="user must be"):
                await session.chat_turn_async(3, "x")  # type: ignore[arg-type]
            return len(session.messages)

    with _no_unawaited_coroutine_warning():
        assert _run(main()) == 0


@contextlib.contextmanager
def _no_unawaited_coroutine_warning() -> Iterator[None]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
        gc.collect()
    assert not [w for w in caught if "never awaited" in str(w.message)]


def test_a_drain_stranded_on_a_stopped_loop_is_rescued() -> None:
    """A drain handed to a loop that stops before running it still happens (wait_idle[_async])."""
    from kontext_widget._delivery import Delivery

    loop = asyncio.new_event_loop()
    created: list[Delivery] = []
    release = threading.Event()
    blocking = threading.Event()

    def blocker() -> None:
        blocking.set()
        release.wait(5)
        loop.stop()  # the drain queued meanwhile is after us: never run by this loop

    def run() -> None:
        async def make() -> None:
            created.append(Delivery())  # targets this loop

        loop.run_until_complete(make())
        loop.call_soon(blocker)
        loop.run_forever()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert blocking.wait(5)
        delivery = created[0]
        delivered: list[str] = []
        delivery.post(lambda: delivered.append(threading.current_thread().name))
        release.set()
        thread.join(5)
        assert not loop.is_running()
        assert delivered == []  # stranded
        assert delivery.wait_idle(5)
        assert delivered == ["kontext-widget-callbacks"]

        delivery.post(lambda: delivered.append("second"))  # later posts skip the dead loop
        assert asyncio.run(delivery.wait_idle_async(5))
        assert delivered[-1] == "second"
    finally:
        release.set()
        thread.join(5)
        loop.close()


SCRIPT = """
import asyncio, json, sys, threading
import kontext_widget as kw

async def model(messages):
    for word in ["Try ", "trail ", "runners."]:
        await asyncio.sleep(0.01)
        yield word

async def main():
    threads = []
    async with kw.create_session(
        publisher_token="p", user_id="u", conversation_id="c", ad_server_url=sys.argv[1],
        on_event=lambda e: threads.append(threading.current_thread().name),
    ) as session:
        names = []
        async def consume():
            async for event in session.stream_events():
                names.append(event.name)
        consumer = asyncio.create_task(consume())
        turn = await session.chat_turn_async("Which running shoes?", model)
        idle = await session.wait_idle_async(10)
    await asyncio.wait_for(consumer, 5)  # ended by the session's destruction
    print(json.dumps({"content": turn.assistant.content, "idle": idle, "names": names,
                      "threads": threads, "ad": repr(turn.ad)}))

asyncio.run(main())
"""


def test_a_plain_script_under_asyncio_run(server: kw.LocalAdServer, tmp_path: Any) -> None:
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "chat.py"
    script.write_text(SCRIPT, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    done = subprocess.run(
        [sys.executable, str(script), server.url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    *shown, last = done.stdout.splitlines()
    assert shown == [  # outside IPython the turn prints what it would display
        "user: Which running shoes?",
        "assistant: Try trail runners.",
        "Ad(message_id='a1', code='inlineAd', state='filled')",
    ]
    result = json.loads(last)
    assert result == {
        "content": "Try trail runners.",
        "idle": True,
        "names": ["ad.filled"],
        "threads": ["MainThread"],  # on the loop the session was created in
        "ad": "Ad(message_id='a1', code='inlineAd', state='destroyed')",
    }
