"""The ``kontext-widget`` console script, run as a real subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from kontext_widget._cli import main

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def serving(*extra: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``kontext-widget serve`` in a child process, and the first line it printed;
    killed on the way out if the test did not stop it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    process = subprocess.Popen(
        [sys.executable, "-m", "kontext_widget._cli", "serve", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        yield process, process.stdout.readline()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_serve_prints_url_serves_and_stops_on_sigterm() -> None:
    with serving("--port", "0") as (process, first_line):
        url = first_line.strip()
        assert url.startswith("http://127.0.0.1:")
        assert not url.endswith("/")
        body = {
            "publisherToken": "p",
            "userId": "u",
            "conversationId": "c",
            "enabledPlacementCodes": ["inlineAd"],
            "messages": [],
        }
        response = httpx.post(
            url + "/preload", json=body, headers={"Kontextso-Publisher-Token": "p"}, timeout=5
        )
        assert response.status_code == 200
        assert response.json()["bids"][0]["code"] == "inlineAd"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


def test_serve_stops_on_ctrl_c() -> None:
    with serving() as (process, first_line):
        assert first_line.startswith("http://127.0.0.1:")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0


def test_serve_refuses_a_remote_host_without_allow_remote(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert "pass --allow-remote" in err
    assert "allow_remote=True" not in err


def test_a_subcommand_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2
    assert "serve" in capsys.readouterr().err
