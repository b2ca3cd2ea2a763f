"""The asyncio API in a live ipykernel, driven by nbclient: top-level ``await`` in cells.

A kernel runs cells on its own asyncio loop, so this is the case the asyncio
API exists for: awaiting must never block that loop, callbacks must arrive on
its thread, and an async generator reply must stream into the cell's output.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbclient
import nbformat
import pytest

import kontext_widget as kw

REPO = Path(__file__).resolve().parent.parent

CELLS = [
    # 1. A session created in a cell: its callbacks belong to the kernel's loop.
    """
import asyncio, json, threading, time
import kontext_widget as kw

received = []
session = kw.create_session(
    publisher_token="p", user_id="u", conversation_id="c",
    on_event=lambda e: received.append((e.name, threading.current_thread().name)),
)
""",
    # 2. Top-level await: an async generator reply, a concurrent stream consumer, a heartbeat.
    """
async def model(messages):
    for word in ["Try ", "trail ", "runners."]:
        await asyncio.sleep(0.05)
        yield word

async def consume(stream):
    return [event.name async for event in stream]

consumer = asyncio.create_task(consume(session.stream_events()))
ticks = 0
async def beat():
    global ticks
    while True:
        await asyncio.sleep(0.01)
        ticks += 1
beating = asyncio.create_task(beat())
turn = await session.chat_turn_async("Which running shoes?", model)
idle = await session.wait_idle_async(10)
beating.cancel()
print(json.dumps({"idle": idle, "content": turn.assistant.content, "ticked": ticks >= 10,
                  "bid": turn.ad.bid_id is not None}))
""",
    # 3. Callbacks ran on the kernel's main thread; aclose() ends the stream.
    """
await session.aclose()
names = await asyncio.wait_for(consumer, 5)
print(json.dumps({"received": received, "streamed": names, "destroyed": session.destroyed}))
""",
    # 4. async with, in a cell.
    """
async with kw.create_session(publisher_token="p", user_id="u", conversation_id="c2") as other:
    other.add_message({"id": "u1", "role": "user", "content": "hi"})
    print(await other.wait_idle_async(10), [e.name for e in other.events])
print(other.destroyed)
""",
]


def _stdout(cell: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")


def test_top_level_await_in_a_live_kernel(
    server: kw.LocalAdServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KONTEXT_AD_SERVER_URL", server.url)
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(source.strip()) for source in CELLS]
    )
    nbclient.NotebookClient(notebook, timeout=60, kernel_name="python3").execute()
    cells = notebook.cells

    turn = json.loads(_stdout(cells[1]))
    assert turn == {"idle": True, "content": "Try trail runners.", "ticked": True, "bid": True}
    # The reply was drawn in the cell as it streamed (a display updated in place),
    # then shown whole, then the ad.
    kinds = [o["output_type"] for o in cells[1].outputs]
    assert kinds.count("display_data") >= 3
    assert "update_display_data" not in kinds  # updates are applied to the stored output
    widget = "application/vnd.jupyter.widget-view+json"
    ad_outputs = [o for o in cells[1].outputs if widget in o.get("data", {})]
    assert len(ad_outputs) == 1

    after = json.loads(_stdout(cells[2]))
    assert after["received"] == [["ad.filled", "MainThread"]]
    assert after["streamed"] == ["ad.filled"]
    assert after["destroyed"] is True

    assert _stdout(cells[3]) == "True ['ad.filled']\nTrue\n"
