"""``kontext-widget demo``: headless execution and the JupyterLab launch, as real processes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import nbformat
import pytest
from demo_runs import demo_env, first_answer, launched_demo, run_demo

from kontext_widget import LocalAdServer
from kontext_widget._notebook import demo as _demo


def test_execute_runs_the_notebook_against_the_local_server(tmp_path: Path) -> None:
    result = run_demo("--execute", "--dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "preloads: 3, fills: 3" in lines
    events = [line.split()[0] for line in lines[lines.index("events:") + 1 :]]
    assert events == ["ad.filled", "ad.filled", "ad.filled"]
    # Each bid is labelled as one and says which message (turn) it went to.
    fills = [line.split() for line in lines[lines.index("events:") + 1 :]]
    messages = [fields[1] for fields in fills]
    assert all(m.startswith("message=") for m in messages) and len(set(messages)) == 3
    assert all(fields[2].startswith("bid=") for fields in fills)
    assert not any(" id=" in line for line in lines)
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


def test_launch_serves_the_notebook_in_jupyterlab_and_stops_with_sigterm(
    tmp_path: Path,
) -> None:
    with launched_demo("--dir", str(tmp_path)) as (url, deadline):
        assert url.startswith("http://127.0.0.1:")
        assert "/lab/tree/chat_demo.ipynb?token=" in url
        base, token = url.split("/lab/tree/")[0], url.split("token=")[1]
        response = first_answer(
            lambda: httpx.get(
                f"{base}/api/contents/{_demo.NOTEBOOK}",
                params={"content": "0"},
                headers={"Authorization": f"token {token}"},
            ),
            deadline,
            "JupyterLab",
        )
        assert response.status_code == 200
        assert response.json()["type"] == "notebook"
        unauthorised = httpx.get(f"{base}/api/contents/{_demo.NOTEBOOK}")
        assert unauthorised.status_code == 403


def test_with_a_publisher_token_the_demo_starts_no_server_and_exports_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KONTEXT_PUBLISHER_TOKEN", "pub-real")
    monkeypatch.delenv("KONTEXT_AD_SERVER_URL", raising=False)
    with _demo.demo_ad_server() as server:
        assert server is None
        assert "KONTEXT_AD_SERVER_URL" not in os.environ  # the session goes to production
    assert _demo._ads_from(None) == "Ads from Kontext production (KONTEXT_PUBLISHER_TOKEN is set)"


def test_without_a_token_the_demo_exports_its_local_server_while_it_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KONTEXT_PUBLISHER_TOKEN", raising=False)
    monkeypatch.delenv("KONTEXT_AD_SERVER_URL", raising=False)
    with _demo.demo_ad_server() as server:
        assert server is not None and server.running
        assert os.environ["KONTEXT_AD_SERVER_URL"] == server.url
    assert not server.running
    assert "KONTEXT_AD_SERVER_URL" not in os.environ


def test_execute_with_a_token_uses_the_users_server_and_starts_none(tmp_path: Path) -> None:
    """A token and the user's own KONTEXT_AD_SERVER_URL: the demo neither starts a server
    nor overrides the URL, so every preload reaches the user's server with the token."""
    with LocalAdServer() as users_server:
        env = demo_env() | {
            "KONTEXT_PUBLISHER_TOKEN": "pub-users",
            "KONTEXT_AD_SERVER_URL": users_server.url,
        }
        result = run_demo("--execute", "--dir", str(tmp_path), env=env)
        preloads = users_server.requests_to("/preload")
        users_url = users_server.url
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert f"Ads from {users_url} (KONTEXT_AD_SERVER_URL is set)" in lines
    assert not any(line.startswith("Local ad server") for line in lines)
    assert "fills: 3" in lines  # no preload count: the demo has no server of its own
    assert len(preloads) == 3
    assert {r.json["publisherToken"] for r in preloads} == {"pub-users"}


def test_the_notebook_uses_the_real_model_when_openai_api_key_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The notebook's set-up cell, run as the demo's kernel would, with only the key set."""
    setup = nbformat.read(_demo.notebook_source(), as_version=4).cells
    source = next(cell.source for cell in setup if "assistant =" in cell.source)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.delenv("KONTEXT_PUBLISHER_TOKEN", raising=False)
    with LocalAdServer() as server:
        monkeypatch.setenv("KONTEXT_AD_SERVER_URL", server.url)
        namespace: dict[str, object] = {}
        exec(compile(source, "chat_demo.ipynb", "exec"), namespace)
        session = namespace["session"]
        try:
            assert type(namespace["assistant"]).__name__ == "OpenAIChat"
        finally:
            session.destroy()  # type: ignore[attr-defined]


def test_without_jupyter_the_demo_says_to_install_the_extra_from_the_clone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_demo, "find_spec", lambda name: None)
    message = _demo._missing_jupyter()
    assert message is not None
    assert 'pip install ".[demo]" in your kontext-widget clone' in message
    assert "kontext-widget[" not in message
