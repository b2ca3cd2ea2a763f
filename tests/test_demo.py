"""``kontext-widget demo``: headless execution and the JupyterLab launch, as real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import nbformat
import pytest

from kontext_widget import _demo

REPO = Path(__file__).resolve().parent.parent


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO)  # the kernel imports this checkout
    env.pop("KONTEXT_PUBLISHER_TOKEN", None)  # the demo must stay offline
    return env


def _demo_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "kontext_widget._cli", "demo", *args]


def test_execute_runs_the_notebook_against_the_local_server(tmp_path: Path) -> None:
    started = time.monotonic()
    result = subprocess.run(
        _demo_command("--execute", "--dir", str(tmp_path)),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 30
    lines = result.stdout.splitlines()
    assert "preloads: 3, fills: 3" in lines
    events = [line.split()[0] for line in lines[lines.index("events:") + 1 :]]
    assert events == ["ad.filled", "ad.filled", "ad.filled"]
    # Saved with its outputs, without the demo's own event-collecting cell.
    executed = nbformat.read(tmp_path / _demo.NOTEBOOK, as_version=4)
    source = nbformat.read(_demo.notebook_source(), as_version=4)
    assert len(executed.cells) == len(source.cells)
    (summary_cell,) = [cell for cell in executed.cells if cell.source.endswith("log.summary")]
    assert "'fills': 3" in summary_cell.outputs[0]["data"]["text/plain"]


def test_an_existing_copy_is_kept(tmp_path: Path) -> None:
    first, copied = _demo.prepare_notebook(tmp_path)
    assert copied
    assert first.read_bytes() == _demo.notebook_source().read_bytes()
    first.write_text(json.dumps({"edited": True}))
    second, copied_again = _demo.prepare_notebook(tmp_path)
    assert second == first
    assert not copied_again
    assert json.loads(second.read_text()) == {"edited": True}


def _read_url(process: subprocess.Popen[str], deadline: float) -> str:
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.startswith("Open "):
            return line.split()[1]
        if not line and process.poll() is not None:
            break
    pytest.fail("kontext-widget demo printed no URL")


def test_launch_serves_the_notebook_in_jupyterlab_and_stops_with_sigterm(
    tmp_path: Path,
) -> None:
    process = subprocess.Popen(
        _demo_command("--dir", str(tmp_path)),
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        url = _read_url(process, deadline)
        assert url.startswith("http://127.0.0.1:")
        assert "/lab/tree/chat_demo.ipynb?token=" in url
        base, token = url.split("/lab/tree/")[0], url.split("token=")[1]
        while True:
            try:
                response = httpx.get(
                    f"{base}/api/contents/{_demo.NOTEBOOK}",
                    params={"content": "0"},
                    headers={"Authorization": f"token {token}"},
                )
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "JupyterLab never answered"
                time.sleep(0.2)
        assert response.status_code == 200
        assert response.json()["type"] == "notebook"
        unauthorised = httpx.get(f"{base}/api/contents/{_demo.NOTEBOOK}")
        assert unauthorised.status_code == 403
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{base}/api/status", timeout=2)
