"""``kontext-widget demo --marimo``: the marimo chat app run headless and served, as processes."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from demo_runs import first_answer, launched_demo, run_demo

from kontext_widget._notebook import demo as _demo

pytest.importorskip("marimo")


def test_the_app_ships_next_to_the_notebook(tmp_path: Path) -> None:
    source = _demo.notebook_source(_demo.MARIMO_APP)
    assert source.name == "chat_demo_marimo.py"
    copy, copied = _demo.prepare_notebook(tmp_path, _demo.MARIMO_APP)
    assert copied
    assert copy.read_bytes() == source.read_bytes()


def test_execute_chats_the_starter_prompts_against_the_local_server(tmp_path: Path) -> None:
    result = run_demo(
        "--marimo", "--execute", "--dir", str(tmp_path), "--timeout", "20", timeout=90
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
    result = run_demo("--marimo", "--execute", "--dir", str(tmp_path))
    assert result.returncode == 1
    assert "the marimo app failed: RuntimeError('edited badly')" in result.stderr


def test_without_marimo_the_demo_says_which_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_demo, "find_spec", lambda name: None)
    # Not on a package index: the extra is installed from the clone, as README's "Installing".
    message = _demo._missing_marimo()
    assert message is not None
    assert 'pip install ".[marimo]" in your kontext-widget clone' in message
    assert "kontext-widget[" not in message


def test_launch_serves_the_app_behind_a_token_and_stops_with_sigterm(tmp_path: Path) -> None:
    with launched_demo("--marimo", "--dir", str(tmp_path)) as (url, deadline):
        assert url.startswith("http://127.0.0.1:")
        base, token = url.split("/?access_token=")
        assert len(token) >= 24
        stranger = first_answer(lambda: httpx.get(f"{base}/"), deadline, "marimo")
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
