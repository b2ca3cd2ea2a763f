"""Server processes for the browser tests: JupyterLab, marimo and Voilà all start alike.

Each runs on 127.0.0.1 and a free port with its output in a log file, every
config/runtime directory private to the test run, the repository on
``PYTHONPATH`` (so the kernel or app imports the kontext_widget under test) and
the production credentials removed from the environment (kernels and apps use
the ad server a test names, or their own LocalAdServer). A test waits for the
server to answer, and a failure to start says why with the tail of its log.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

SERVER_START_TIMEOUT = 60.0
_PRIVATE_ENV_DROPPED = ("KONTEXT_AD_SERVER_URL", "KONTEXT_PUBLISHER_TOKEN", "OPENAI_API_KEY")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def isolated_env(base: Path) -> dict[str, str]:
    """This process's environment without production credentials, with the repository
    on ``PYTHONPATH`` and the install id kept under ``base``."""
    env = dict(os.environ)
    for name in _PRIVATE_ENV_DROPPED:
        env.pop(name, None)
    env.update(
        KONTEXT_WIDGET_CONFIG_DIR=str(base / "kontext-config"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")])),
    )
    return env


def write_python3_kernelspec(data_dir: Path) -> None:
    """A ``python3`` kernelspec in the Jupyter data dir ``data_dir`` that runs this interpreter."""
    kernel_dir = data_dir / "kernels" / "python3"
    kernel_dir.mkdir(parents=True, exist_ok=True)
    kernel_spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (kontext-widget tests)",
        "language": "python",
    }
    (kernel_dir / "kernel.json").write_text(json.dumps(kernel_spec), encoding="utf-8")


def jupyter_env(base: Path) -> dict[str, str]:
    """``isolated_env`` for a Jupyter server: its data (with the ``python3`` kernelspec),
    config and runtime dirs and IPython's under ``base``, as ``jupyter-data``, ``config``,
    ``runtime`` and ``ipython``."""
    data_dir = base / "jupyter-data"
    write_python3_kernelspec(data_dir)
    for directory in (base / "runtime", base / "config"):
        directory.mkdir(parents=True, exist_ok=True)
    env = isolated_env(base)
    env.update(
        JUPYTER_PATH=os.pathsep.join(filter(None, [str(data_dir), env.get("JUPYTER_PATH")])),
        # Private notebook signatures too.
        JUPYTER_DATA_DIR=str(data_dir),
        JUPYTER_CONFIG_DIR=str(base / "config"),
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        IPYTHONDIR=str(base / "ipython"),
    )
    return env


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Terminate ``process`` if it still runs; kill it if it ignores that for 15 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@dataclass
class ServerProcess:
    """A server process whose output goes to ``log_path``."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @classmethod
    def spawn(
        cls,
        name: str,
        command: list[str],
        *,
        env: dict[str, str],
        cwd: Path,
        log: Path,
        answers: Callable[[], object],
        what: str,
    ) -> ServerProcess:
        """Start ``command`` and wait until ``answers()`` returns without a connection
        error (``what`` names that answer in the timeout message); stopped on failure."""
        with log.open("wb") as out:
            process = subprocess.Popen(
                command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT
            )
        server = cls(name, process, log)
        try:
            server._wait_until_answering(answers, what)
        except BaseException:
            server.stop()
            raise
        return server

    def _wait_until_answering(self, answers: Callable[[], object], what: str) -> None:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                answers()
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
                continue
            return
        raise TimeoutError(
            f"{self.name} did not answer {what} within {SERVER_START_TIMEOUT}s:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        stop_process(self.process)
