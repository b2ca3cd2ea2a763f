"""A throwaway Jupyter server and a driver for notebooks open in a real browser.

One ``jupyter lab`` process serves both front ends: JupyterLab at ``/lab/tree/<path>``
and Notebook 7 at ``/notebooks/<path>`` (the ``notebook`` server extension is enabled
by its package, so the one ``jupyter_server`` answers both). Both apps are exposed as
``window.jupyterapp`` so the driver runs cells through the same commands a user's
"Run" button uses, and waits on the promise those commands return (it resolves when
the kernel has answered ``execute_reply``) instead of sleeping.
"""

from __future__ import annotations

import json
import secrets
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Frame, FrameLocator, Locator, Page

from .processes import ServerProcess, free_port, jupyter_env

NOTEBOOK_OPEN_TIMEOUT = 60.0
CELL_TIMEOUT = 45.0

# User settings written into the server's private settings directory: no news or
# update toasts that could cover the notebook, and no one-off prompts.
_LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


def _api(url: str, token: str, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        f"{url}{path}",
        method=method,
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
        data=None if body is None else json.dumps(body).encode(),
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        answer = response.read()
    return json.loads(answer) if answer else None


@dataclass
class JupyterServer:
    """A running ``jupyter lab`` process on 127.0.0.1 with a private root and config."""

    process: ServerProcess
    url: str
    token: str
    root_dir: Path

    @classmethod
    def start(cls, base: Path) -> JupyterServer:
        """Start the server with everything isolated under ``base`` and wait for it.

        The kernel is this interpreter (``sys.executable``) with the repository on
        ``PYTHONPATH``, so the notebook imports the kontext_widget under test even
        when it is not installed; ``KONTEXT_WIDGET_CONFIG_DIR`` keeps the install id
        out of the real user config.
        """
        root_dir = base / "root"
        settings_dir = base / "lab-settings"
        for directory in (root_dir, settings_dir):
            directory.mkdir(parents=True, exist_ok=True)
        for name, value in _LAB_SETTINGS.items():
            target = settings_dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(value), encoding="utf-8")
        env = jupyter_env(base)  # its notebook signatures too (see ``trust``)
        port = free_port()
        token = secrets.token_hex(16)
        command = [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            "--ServerApp.port_retries=0",
            "--ServerApp.allow_root=True",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root_dir}",
            "--ServerApp.disable_check_xsrf=True",
            "--LabApp.expose_app_in_browser=True",
            "--JupyterNotebookApp.expose_app_in_browser=True",
            f"--LabApp.user_settings_dir={settings_dir}",
            f"--LabApp.workspaces_dir={base / 'workspaces'}",
        ]
        url = f"http://127.0.0.1:{port}"
        process = ServerProcess.spawn(
            "jupyter lab",
            command,
            env=env,
            cwd=root_dir,
            log=base / "jupyter-server.log",
            answers=lambda: _api(url, token, "GET", "/api/status"),
            what="/api/status",
        )
        return cls(process, url, token, root_dir)

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """Call the server's REST API with the token; the decoded JSON answer (or None)."""
        return _api(self.url, self.token, method, path, body)

    def trust(self, path: Path) -> None:
        """Sign ``path`` as this server does on save: its outputs (widgets) render on open."""
        import nbformat
        from nbformat.sign import NotebookNotary

        notebook = nbformat.read(path, as_version=4)
        NotebookNotary(data_dir=str(self.root_dir.parent / "jupyter-data")).sign(notebook)

    def start_kernel_for(self, notebook_path: str) -> None:
        """Start the notebook's session (a fresh python3 kernel) and wait until it is idle.

        For a notebook saved with widget state. JupyterLab's widget manager
        (@jupyter-widgets/jupyterlab-manager 3.0.x) restores it in steps that all
        wait on the kernel: ask it for live widgets (a control comm, given up after
        4 s), ask it for comm info, then create the saved models; a second,
        kernel-only restore starts whenever the kernel's websocket reports
        "connected" between those steps, and either one marks the manager
        restored. A view whose model is not there within get_model's 2 s poll
        after the manager says restored shows "Error displaying widget: model
        not found" for good. With the kernel still starting when the page opens
        (slow on a loaded machine) every step and the connection land seconds
        apart; with an idle kernel the page connects within milliseconds, while
        the first restore is still on its kernel step, and restores once.
        """
        session = self.api(
            "POST",
            "/api/sessions",
            {
                "path": notebook_path,
                "name": notebook_path,
                "type": "notebook",
                "kernel": {"name": "python3"},
            },
        )
        kernel_id = session["kernel"]["id"]
        # A kernel nobody talks to stays "starting": ask it for its info, as the
        # page would, on its connection file (the server's private runtime dir).
        from jupyter_client import BlockingKernelClient

        client = BlockingKernelClient()
        runtime = self.root_dir.parent / "runtime"
        client.load_connection_file(str(runtime / f"kernel-{kernel_id}.json"))
        # No heartbeat channel: on a loaded machine a heartbeat answered later than
        # its 1 s allowance makes wait_for_ready report "Kernel died" at once; the
        # kernel_info reply within the timeout is the proof of life that counts.
        client.start_channels(hb=False)
        deadline = time.monotonic() + NOTEBOOK_OPEN_TIMEOUT
        state = "unknown"
        try:
            client.wait_for_ready(timeout=NOTEBOOK_OPEN_TIMEOUT)
            # The server learns the state from the kernel's iopub status messages;
            # its subscription may join after the first ones were published (a ZMQ
            # subscriber misses what was sent before it connected), so ask again
            # until the server has seen one.
            while time.monotonic() < deadline:
                state = self.api("GET", f"/api/kernels/{kernel_id}")["execution_state"]
                if state == "idle":
                    return
                client.kernel_info()
                time.sleep(0.2)
        finally:
            client.stop_channels()
        raise TimeoutError(
            f"the kernel of {notebook_path} did not become idle within "
            f"{NOTEBOOK_OPEN_TIMEOUT}s (last state: {state})\n{self.log_tail()}"
        )

    def shutdown_kernels_of(self, notebook_path: str) -> None:
        """Delete the sessions (and so the kernels) of one notebook: 2 cores go a short way."""
        for session in self.api("GET", "/api/sessions"):
            if session.get("path") == notebook_path:
                self.api("DELETE", f"/api/sessions/{session['id']}")

    def log_tail(self, lines: int = 60) -> str:
        return self.process.log_tail(lines)

    def stop(self) -> None:
        self.process.stop()


class CellError(AssertionError):
    """A notebook cell raised, or did not finish in time."""


# Runs one cell through the app's own command and resolves with its outcome.
# `notebook:run-cell` resolves after the kernel's execute_reply; a JS-side deadline
# keeps a hung kernel from blocking the test forever.
_RUN_CELL_JS = """
async ([index, timeoutMs]) => {
  const app = window.jupyterapp;
  const panel = app.shell.currentWidget;
  const notebook = panel.content;
  notebook.deselectAll();
  notebook.activeCellIndex = index;
  const run = app.commands.execute('notebook:run-cell');
  const timedOut = new Promise((resolve) => setTimeout(() => resolve('timeout'), timeoutMs));
  const outcome = await Promise.race([run.then(() => 'done'), timedOut]);
  const cell = notebook.widgets[index];
  return {
    outcome,
    executionCount: cell.model.executionCount,
    outputs: cell.model.outputs.toJSON(),
  };
}
"""

_NOTEBOOK_READY_JS = """
async (path) => {
  const app = window.jupyterapp;
  if (!app || !app.shell) return 'no app';
  const panel = app.shell.currentWidget;
  if (!panel || !panel.context || panel.context.path !== path) return 'no panel';
  await panel.context.ready;
  await panel.sessionContext.ready;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  if (!kernel) return 'no kernel';
  return kernel.status;
}
"""


class NotebookPage:
    """A notebook open in JupyterLab or Notebook 7, in one browser page."""

    def __init__(self, page: Page, server: JupyterServer, path: str, ui: str) -> None:
        self.page = page
        self.server = server
        self.path = path
        self.ui = ui

    @classmethod
    def open(cls, page: Page, server: JupyterServer, path: str, ui: str) -> NotebookPage:
        """Load ``path`` in ``ui`` ("lab" or "notebook7") and wait for an idle kernel."""
        if ui == "lab":
            url = f"{server.url}/lab/tree/{path}?reset&token={server.token}"
        elif ui == "notebook7":
            url = f"{server.url}/notebooks/{path}?token={server.token}"
        else:
            raise ValueError(f"ui must be 'lab' or 'notebook7', got {ui!r}")
        page.goto(url, wait_until="domcontentloaded")
        notebook = cls(page, server, path, ui)
        notebook._wait_ready()
        return notebook

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + NOTEBOOK_OPEN_TIMEOUT
        state = "not loaded"
        while time.monotonic() < deadline:
            try:
                state = self.page.evaluate(_NOTEBOOK_READY_JS, self.path)
            except PlaywrightError as exc:
                # JupyterLab rewrites the URL (`?reset`) while loading: the page may
                # navigate under the poll; the next poll runs in the new document.
                state = f"page navigating ({exc.message.splitlines()[0]})"
            if state == "idle":
                return
            self.page.wait_for_timeout(100)
        raise TimeoutError(
            f"{self.path} did not reach an idle kernel in {self.ui} within "
            f"{NOTEBOOK_OPEN_TIMEOUT}s (last state: {state})\n{self.server.log_tail()}"
        )

    def run_cell(self, index: int, *, timeout: float = CELL_TIMEOUT) -> list[dict[str, Any]]:
        """Run cell ``index`` and return its outputs; raise ``CellError`` if it failed."""
        result = self.page.evaluate(_RUN_CELL_JS, [index, int(timeout * 1000)])
        outputs: list[dict[str, Any]] = result["outputs"]
        if result["outcome"] != "done":
            raise CellError(f"cell {index} of {self.path} did not finish within {timeout}s")
        for output in outputs:
            if output.get("output_type") == "error":
                traceback = "\n".join(output.get("traceback", []))
                raise CellError(
                    f"cell {index} of {self.path} raised {output.get('ename')}: "
                    f"{output.get('evalue')}\n{traceback}"
                )
        return outputs

    def run_cells(self, indices: range | list[int]) -> None:
        for index in indices:
            self.run_cell(index)

    def cell(self, index: int) -> Locator:
        """The DOM node of cell ``index`` (same class names in Lab and Notebook 7)."""
        return self.page.locator(".jp-Notebook .jp-Cell").nth(index)

    def output_area(self, index: int) -> Locator:
        return self.cell(index).locator(".jp-OutputArea")

    def frame_of(self, iframe: Locator) -> Frame:
        """The ``Frame`` behind an ``<iframe>`` element (to evaluate script inside it)."""
        handle = iframe.element_handle(timeout=10_000)
        frame = handle.content_frame()
        if frame is None:
            raise AssertionError("the iframe has no content frame")
        return frame

    def frame_locator(self, iframe_selector: str) -> FrameLocator:
        return self.page.frame_locator(iframe_selector)

    def close(self) -> None:
        self.server.shutdown_kernels_of(self.path)
