"""``kontext-widget demo`` as a child process, for the JupyterLab and marimo demo tests.

The child imports this checkout and stays offline: no production credentials and
no model key in its environment, so the demo always uses its own LocalAdServer.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

REPO = Path(__file__).resolve().parent.parent
LAUNCH_TIMEOUT = 60.0

T = TypeVar("T")


def demo_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO)  # the kernel (or marimo) imports this checkout
    for name in ("KONTEXT_PUBLISHER_TOKEN", "KONTEXT_AD_SERVER_URL", "OPENAI_API_KEY"):
        env.pop(name, None)  # the demo must stay offline
    env["MARIMO_SKIP_UPDATE_CHECK"] = "1"
    return env


def demo_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "kontext_widget._cli", "demo", *args]


def run_demo(
    *args: str, timeout: float = 180, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``kontext-widget demo *args`` run to its end (``--execute``), output captured."""
    return subprocess.run(
        demo_command(*args),
        env=demo_env() if env is None else env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@contextmanager
def launched_demo(*args: str) -> Iterator[tuple[str, float]]:
    """``kontext-widget demo *args`` serving: the URL it printed and the deadline for the
    server to answer. On the way out it is sent SIGTERM, must exit with 0 and must no
    longer answer."""
    process = subprocess.Popen(
        demo_command(*args),
        env=demo_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        deadline = time.monotonic() + LAUNCH_TIMEOUT
        url = _read_url(process, deadline)
        yield url, deadline
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    with pytest.raises(httpx.TransportError):
        httpx.get(url, timeout=2)


def _read_url(process: subprocess.Popen[str], deadline: float) -> str:
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.startswith("Open "):
            return line.split()[1]
        if not line and process.poll() is not None:
            break
    pytest.fail(f"kontext-widget demo {' '.join(process.args[5:])} printed no URL")


def first_answer(call: Callable[[], T], deadline: float, what: str) -> T:
    """``call()``'s result once the server answers at all, polling until ``deadline``."""
    while True:
        try:
            return call()
        except httpx.TransportError:
            assert time.monotonic() < deadline, f"{what} never answered"
            time.sleep(0.2)
