"""Process-wide machinery: the I/O loop, callback delivery, device facts and the install id."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

import kontext_widget as kw
from kontext_widget import _device, _install_id
from kontext_widget._delivery import Delivery
from kontext_widget._network import io_loop as _io_loop


def test_one_io_thread_for_many_sessions() -> None:
    with kw.LocalAdServer() as server:
        sessions = [
            kw.create_session(
                publisher_token="p", user_id="u", conversation_id=f"c{i}", ad_server_url=server.url
            )
            for i in range(200)
        ]
        for session in sessions:
            session.add_message({"id": "u1", "role": "user", "content": "hi"})
        assert all(session.wait_idle(30) for session in sessions)
        names = [thread.name for thread in threading.enumerate()]
        assert names.count(_io_loop.THREAD_NAME) == 1
        assert len(server.requests_to("/preload")) == 200
        for session in sessions:
            session.destroy()


def _asking(server: kw.LocalAdServer, on_event: Callable[[kw.AdEvent], object]) -> kw.Session:
    """A session on ``server`` that has just sent its first user message."""
    session = kw.create_session(
        publisher_token="p",
        user_id="u",
        conversation_id="c",
        ad_server_url=server.url,
        on_event=on_event,
    )
    session.add_message({"id": "u1", "role": "user", "content": "hi"})
    return session


def test_callbacks_run_on_the_creating_loop_thread() -> None:
    """In a kernel (a thread running an asyncio loop) callbacks come back to that thread."""
    seen: list[str] = []

    async def main() -> None:
        with kw.LocalAdServer() as server:
            session = _asking(
                server, on_event=lambda event: seen.append(threading.current_thread().name)
            )
            for _ in range(200):
                await asyncio.sleep(0.02)
                if seen:
                    break
            session.destroy()

    asyncio.run(main())
    assert seen == [threading.current_thread().name]


def test_wait_idle_delivers_when_the_loop_thread_is_blocked() -> None:
    """A notebook cell blocks the kernel loop; wait_idle must deliver callbacks itself."""
    seen: list[str] = []

    async def main() -> None:
        with kw.LocalAdServer() as server:
            session = _asking(server, on_event=lambda event: seen.append(event.name))
            assert session.wait_idle(10)  # blocks this loop's thread, as a cell would
            assert seen == ["ad.filled"]
            session.destroy()

    asyncio.run(main())


def test_delivery_keeps_order_and_survives_a_closed_loop() -> None:
    loop = asyncio.new_event_loop()
    delivery = loop.run_until_complete(_make_delivery())
    loop.close()
    seen: list[int] = []
    for i in range(100):
        delivery.post(lambda i=i: seen.append(i))
    assert delivery.wait_idle(5)
    assert seen == list(range(100))


async def _make_delivery() -> Delivery:
    return Delivery()


def test_kernel_device_facts() -> None:
    facts = _device.kernel_device()
    assert facts["hardware"] == {"type": "desktop"}
    assert facts["os"]["name"]
    assert "-" in facts["os"]["locale"] or facts["os"]["locale"].isalpha()
    assert facts["os"]["timezone"]


@pytest.mark.parametrize(
    ("raw", "tag"), [("en_US.UTF-8", "en-US"), ("C", None), ("de_DE@euro", "de-DE"), (None, None)]
)
def test_bcp47(raw: str | None, tag: str | None) -> None:
    assert _device._bcp47(raw) == tag


def test_install_id_is_persisted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(_install_id.CONFIG_DIR_ENV, str(tmp_path / "cfg"))
    first = _install_id.install_id()
    assert uuid.UUID(first).version == 7
    assert (tmp_path / "cfg" / "install-id").read_text().strip() == first
    monkeypatch.setattr(_install_id, "_cached", None)
    assert _install_id.install_id() == first


def test_install_id_falls_back_when_unwritable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv(_install_id.CONFIG_DIR_ENV, str(blocker / "cfg"))
    value = _install_id.install_id()
    assert uuid.UUID(value)


def test_uuid7_is_time_ordered() -> None:
    ids = [_install_id.uuid7() for _ in range(50)]
    assert all(uuid.UUID(i).version == 7 for i in ids)
    assert [i[:13] for i in ids] == sorted(i[:13] for i in ids)
