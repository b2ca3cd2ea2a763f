"""Throwaway marimo and Voilà servers for the browser tests of those hosts.

Both are started like the JupyterLab server of ``jupyter.py`` (``processes.py``):
on 127.0.0.1 and a free port, with every config/runtime directory private to the
test run, the repository on ``PYTHONPATH`` and no production credentials.
"""

from __future__ import annotations

import contextlib
import secrets
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .processes import ServerProcess, free_port, isolated_env, jupyter_env


def _any_http_answer(url: str) -> Callable[[], None]:
    def answers() -> None:
        # Any HTTP answer (a redirect to a login page included) means it is up.
        with contextlib.suppress(urllib.error.HTTPError):
            urllib.request.urlopen(url, timeout=5).close()

    return answers


@dataclass
class HostServer:
    """A server process on 127.0.0.1 whose log goes to a file."""

    process: ServerProcess
    url: str

    @classmethod
    def spawn(
        cls, name: str, command: list[str], *, env: dict[str, str], cwd: Path, url: str, log: Path
    ) -> HostServer:
        process = ServerProcess.spawn(
            name, command, env=env, cwd=cwd, log=log, answers=_any_http_answer(url), what=url
        )
        return cls(process, url)

    def stop(self) -> None:
        self.process.stop()


def start_marimo(app: Path, mode: str, base: Path) -> HostServer:
    """``marimo run`` or ``marimo edit`` of an app file or a folder, without a token.

    A folder is served as marimo's gallery: each app at ``/?file=<name>``. Edit mode
    is told to run the notebook when it opens (``auto_instantiate``, off by default
    in marimo's user config), as a user's "Run all" would.
    """
    if mode not in ("run", "edit"):
        raise ValueError(f"mode must be 'run' or 'edit', got {mode!r}")
    base.mkdir(parents=True, exist_ok=True)
    env = isolated_env(base)
    config_home = base / "xdg-config"
    (config_home / "marimo").mkdir(parents=True, exist_ok=True)
    (config_home / "marimo" / "marimo.toml").write_text(
        "[runtime]\nauto_instantiate = true\n", encoding="utf-8"
    )
    env.update(
        XDG_CONFIG_HOME=str(config_home),
        XDG_CACHE_HOME=str(base / "xdg-cache"),
        XDG_STATE_HOME=str(base / "xdg-state"),
        MARIMO_SKIP_UPDATE_CHECK="1",
    )
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "marimo",
        mode,
        str(app),
        "--headless",
        "--host=127.0.0.1",
        f"--port={port}",
        "--no-token",
    ]
    if mode == "edit":
        command.append("--skip-update-check")
    return HostServer.spawn(
        f"marimo {mode}",
        command,
        env=env,
        cwd=app if app.is_dir() else app.parent,
        url=f"http://127.0.0.1:{port}/",
        log=base / f"marimo-{mode}.log",
    )


@dataclass
class VoilaServer:
    """``voila <root>``: every notebook of ``root`` at ``/voila/render/<name>``."""

    server: HostServer
    token: str

    def render_url(self, notebook: str) -> str:
        return f"{self.server.url}voila/render/{notebook}?token={self.token}"

    def stop(self) -> None:
        self.server.stop()


def start_voila(root: Path, base: Path) -> VoilaServer:
    """Voilà on ``root`` with a random token and a ``python3`` kernel that is this interpreter."""
    env = jupyter_env(base)
    port = free_port()
    token = secrets.token_hex(16)
    command = [
        sys.executable,
        "-m",
        "voila",
        str(root),
        "--no-browser",
        "--Voila.ip=127.0.0.1",
        f"--port={port}",
        f"--token={token}",
        "--show_tracebacks=True",
    ]
    server = HostServer.spawn(
        "voila",
        command,
        env=env,
        cwd=root,
        url=f"http://127.0.0.1:{port}/",
        log=base / "voila.log",
    )
    return VoilaServer(server, token)
