"""A TCP proxy on loopback that delays every byte by a fixed time each way.

Production is not loopback: ``LatencyProxy(upstream_port, one_way=0.020)`` in
front of a ``LocalAdServer`` gives each connection a 40 ms round trip (TCP
set-up and TLS handshake pay it too), which is what the warm-connection
benchmark and test need. Order is kept per direction; bandwidth is not limited.
It runs its own asyncio loop on a daemon thread; ``close()`` stops everything.

Each chunk is delivered when it is due, to the tenth of a millisecond: the loop
waits on the package's microsecond selector (``selector.new_loop``). On the
stdlib's, whose waits round up to whole milliseconds, every chunk arrived up to
1 ms late, and a chunk read a fraction of a millisecond after another (an answer
written as head, then body) waited a whole millisecond behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

from kontext_widget._network.selector import new_loop

__all__ = ["LatencyProxy"]


class LatencyProxy:
    def __init__(self, upstream_port: int, one_way: float, host: str = "127.0.0.1") -> None:
        self.one_way = one_way
        self.connections = 0  # accepted so far (read from the test's thread)
        self.accepted: list[float] = []  # time.time() of each accept, likewise
        self._upstream = (host, upstream_port)
        self._loop = new_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, host, 0), self._loop
        ).result()
        self.port: int = self._server.sockets[0].getsockname()[1]
        self._tasks: set[asyncio.Task[None]] = set()

    def __enter__(self) -> LatencyProxy:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        async def stop() -> None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.accepted.append(time.time())
        await asyncio.sleep(self.one_way)  # the SYN's trip to the server
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            writer.close()
            return
        await asyncio.sleep(self.one_way)  # the SYN-ACK's trip back
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.get_running_loop().create_task(self._pump(source, sink))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                if not data:
                    with contextlib.suppress(OSError):
                        sink.write_eof()
                    return
                sink.write(data)
                await sink.drain()

        delivery = asyncio.get_running_loop().create_task(deliver())
        try:
            while True:
                data = await source.read(65536)
                queue.put_nowait((time.monotonic() + self.one_way, data))
                if not data:
                    break
            await delivery
        except OSError:
            delivery.cancel()
        except asyncio.CancelledError:
            delivery.cancel()
            raise
        finally:
            sink.close()
