"""``kontext-widget demo --marimo``: the marimo chat app run headless and served, as processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from kontext_widget._notebook import demo as _demo

pytest.importorskip("marimo")

REPO = Path(__file__).resolve().parent.parent


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO)
    for name in ("KONTEXT_PUBLISHER_TOKEN", "KONTEXT_AD_SERVER_URL", "OPENAI_API_KEY"):
        env.pop(name, None)  # the demo must stay offline
    env["MARIMO_SKIP_UPDATE_CHECK"] = "1"
    return env


def _demo_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "kontext_widget._cli", "demo", "--marimo", *args]


def test_the_app_ships_next_to_the_notebook(tmp_path: Path) -> None:
    source = _demo.notebook_source(_demo.MARIMO_APP)
    assert source.name == "chat_demo_marimo.py"
    copy, copied = _demo.prepare_notebook(tmp_path, _demo.MARIMO_APP)
    assert copied
    assert copy.read_bytes() == source.read_bytes()


def test_execute_chats_the_starter_prompts_against_the_local_server(tmp_path: Path) -> None:
    result = subprocess.run(
        _demo_command("--execute", "--dir", str(tmp_path), "--timeout", "20"),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"Copied the demo to {tmp_path / _demo.MARIMO_APP}"
    assert "preloads: 3, fills: 3" in lines, result.stdout
    events = [line.split()[0] for line in lines[lines.index("events:") + 1 :]]
    assert events == ["ad.filled", "ad.filled", "ad.filled"]
    for line in lines[lines.index("events:") + 1 :]:
        assert line.split()[1].startswith("message=") and line.split()[2].startswith("bid=")


def test_execute_reports_a_broken_app_copy(tmp_path: Path) -> None:
    (tmp_path / _demo.MARIMO_APP).write_text("raise RuntimeError('edited badly')\n")
    result = subprocess.run(
        _demo_command("--execute", "--dir", str(tmp_path)),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "the marimo app failed: RuntimeError('edited badly')" in result.stderr


def test_without_marimo_the_demo_says_which_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_demo, "find_spec", lambda name: None)
    # Not on a package index: the extra is installed from the clone, as README's "Installing".
    message = _demo._missing_marimo()
    assert message is not None
    assert 'pip install ".[marimo]" in your kontext-widget clone' in message
    assert "kontext-widget[" not in message


def _read_url(process: subprocess.Popen[str], deadline: float) -> str:
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.startswith("Open "):
            return line.split()[1]
        if not line and process.poll() is not None:
            break
    pytest.fail("kontext-widget demo --marimo printed no URL")


def test_launch_serves_the_app_behind_a_token_and_stops_with_sigterm(tmp_path: Path) -> None:
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
        base, token = url.split("/?access_token=")
        assert len(token) >= 24
        while True:
            try:
                stranger = httpx.get(f"{base}/")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "marimo never answered"
                time.sleep(0.2)
        # Without the token: sent to the login page. With it: a session cookie, then the app.
        assert stranger.status_code == 303
        assert stranger.headers["location"].startswith("/auth/login")
        with httpx.Client() as client:
            admitted = client.get(url)
            assert admitted.status_code == 303
            assert admitted.headers["location"] == "/"
            page = client.get(f"{base}/")
        assert page.status_code == 200
        assert "<title>kontext-widget chat demo</title>" in page.text
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{base}/api/status", timeout=2)
