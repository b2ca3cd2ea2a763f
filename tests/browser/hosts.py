"""Throwaway marimo and Voilà servers for the browser tests of those hosts.

Both are started like the JupyterLab server of ``jupyter.py``: on 127.0.0.1 and a
free port, with every config/runtime directory private to the test run, the
repository on ``PYTHONPATH`` (so the app or kernel imports the kontext_widget under
test) and the production credentials removed from the environment (apps and
kernels use the ad server a test names, or their own LocalAdServer).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .jupyter import REPO_ROOT, free_port

SERVER_START_TIMEOUT = 60.0
_PRIVATE_ENV_DROPPED = ("KONTEXT_AD_SERVER_URL", "KONTEXT_PUBLISHER_TOKEN", "OPENAI_API_KEY")


def _base_env(base: Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in _PRIVATE_ENV_DROPPED:
        env.pop(name, None)
    env.update(
        KONTEXT_WIDGET_CONFIG_DIR=str(base / "kontext-config"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")])),
    )
    return env


@dataclass
class HostServer:
    """A server process on 127.0.0.1 whose log goes to a file."""

    name: str
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    @classmethod
    def spawn(
        cls, name: str, command: list[str], *, env: dict[str, str], cwd: Path, url: str, log: Path
    ) -> HostServer:
        with log.open("wb") as out:
            process = subprocess.Popen(
                command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT
            )
        server = cls(name, process, url, log)
        try:
            server._wait_until_ready()
        except BaseException:
            server.stop()
            raise
        return server

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                # Any HTTP answer (a redirect to a login page included) means it is up.
                urllib.request.urlopen(self.url, timeout=5).close()
            except urllib.error.HTTPError:
                return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
                continue
            return
        raise TimeoutError(
            f"{self.name} did not answer {self.url} within {SERVER_START_TIMEOUT}s:\n"
            f"{self.log_tail()}"
        )

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_marimo(app: Path, mode: str, base: Path) -> HostServer:
    """``marimo run`` or ``marimo edit`` of an app file or a folder, without a token.

    A folder is served as marimo's gallery: each app at ``/?file=<name>``. Edit mode
    is told to run the notebook when it opens (``auto_instantiate``, off by default
    in marimo's user config), as a user's "Run all" would.
    """
    if mode not in ("run", "edit"):
        raise ValueError(f"mode must be 'run' or 'edit', got {mode!r}")
    base.mkdir(parents=True, exist_ok=True)
    env = _base_env(base)
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
    env = _base_env(base)
    data_dir = base / "jupyter-data"
    kernel_dir = data_dir / "kernels" / "python3"
    kernel_dir.mkdir(parents=True, exist_ok=True)
    kernel_spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (kontext-widget tests)",
        "language": "python",
    }
    (kernel_dir / "kernel.json").write_text(json.dumps(kernel_spec), encoding="utf-8")
    env.update(
        JUPYTER_PATH=os.pathsep.join(filter(None, [str(data_dir), env.get("JUPYTER_PATH")])),
        JUPYTER_CONFIG_DIR=str(base / "jupyter-config"),
        JUPYTER_RUNTIME_DIR=str(base / "jupyter-runtime"),
        IPYTHONDIR=str(base / "ipython"),
    )
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
