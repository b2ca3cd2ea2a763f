"""``kontext-widget demo``: the chat notebook against a local ad server, in one command.

Offline by default: the demo starts a ``LocalAdServer`` in this process and
exports its URL as ``KONTEXT_AD_SERVER_URL``; the kernels started from here (by
JupyterLab, or by nbclient with ``--execute``) inherit it, so the notebook's
session talks to the local server without any configuration. With
``KONTEXT_PUBLISHER_TOKEN`` set the user asked for production ads: no server is
started and nothing is exported (a ``KONTEXT_AD_SERVER_URL`` the user set
themselves is left as it is and wins, as everywhere else). The notebook then
uses the real model when ``OPENAI_API_KEY`` is set. The notebook is copied into a working
directory so that the user's edits never touch the installed package, and an
existing copy is left alone so that those edits survive the next ``demo``.

``--marimo`` does the same with the marimo chat app (``chat_demo_marimo.py``):
``marimo run`` serves it, and ``--execute`` runs the app in this process
(``app.run()``) and sends its starter prompts through the app's own chat model,
since a ``mo.ui.chat`` has no turns until somebody types.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from importlib.util import find_spec, module_from_spec, spec_from_file_location
from pathlib import Path
from types import FrameType
from typing import Any

from kontext_widget._constants import SERVER_URL_ENV
from kontext_widget._local_server import LocalAdServer

__all__ = [
    "MARIMO_APP",
    "NOTEBOOK",
    "demo_ad_server",
    "notebook_source",
    "prepare_notebook",
    "run_demo",
]

PUBLISHER_TOKEN_ENV = "KONTEXT_PUBLISHER_TOKEN"

# The package is not on a package index: the extras install from the clone (README,
# "Installing").
_INSTALL_EXTRA = (
    'pip install ".[{extra}]" in your kontext-widget clone '
    '(it is not on PyPI: see the README\'s "Installing")'
)

NOTEBOOK = "chat_demo.ipynb"
MARIMO_APP = "chat_demo_marimo.py"

# Run after the notebook by --execute: the notebook's `session` is the demo's contract.
# Its records (not the events alone) say which message each bid went to.
_COLLECT_EVENTS = (
    "import json as _json\n"
    "print(_json.dumps([{k: r[k] for k in ('name', 'message_id', 'payload')}"
    " for r in session.to_records()]))"
)


def notebook_source(name: str = NOTEBOOK) -> Path:
    """A shipped demo (``NOTEBOOK`` or ``MARIMO_APP``): inside the wheel, else in the checkout."""
    packaged = resources.files("kontext_widget").joinpath("notebooks").joinpath(name)
    if packaged.is_file():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[2] / "notebooks" / name
    if checkout.is_file():
        return checkout
    raise FileNotFoundError(f"the demo {name} is missing from this installation")


def prepare_notebook(directory: Path, name: str = NOTEBOOK) -> tuple[Path, bool]:
    """Copy the demo ``name`` into ``directory`` unless a copy is there; ``(path, copied)``."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / name
    if target.exists():
        return target, False
    shutil.copyfile(notebook_source(name), target)
    return target, True


@contextmanager
def demo_ad_server() -> Iterator[LocalAdServer | None]:
    """The ad server the demo's kernels use: ``None`` with ``KONTEXT_PUBLISHER_TOKEN``
    set (production ads, or the user's own ``KONTEXT_AD_SERVER_URL``; nothing is
    started or exported), else a ``LocalAdServer`` whose URL is exported while it runs."""
    if os.environ.get(PUBLISHER_TOKEN_ENV):
        yield None
        return
    previous = os.environ.get(SERVER_URL_ENV)
    with LocalAdServer() as server:
        os.environ[SERVER_URL_ENV] = server.url
        try:
            yield server
        finally:
            if previous is None:
                os.environ.pop(SERVER_URL_ENV, None)
            else:
                os.environ[SERVER_URL_ENV] = previous


def run_demo(
    directory: Path, *, execute: bool, port: int, timeout: float, marimo: bool = False
) -> int:
    """The ``demo`` subcommand; returns the exit status."""
    problem = _missing_marimo() if marimo else _missing_jupyter()
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2
    notebook, copied = prepare_notebook(directory, MARIMO_APP if marimo else NOTEBOOK)
    print(f"{'Copied the demo to' if copied else 'Using'} {notebook}", flush=True)
    with demo_ad_server() as server:
        print(_ads_from(server), flush=True)
        if marimo:
            if execute:
                return _execute_marimo(notebook, server, timeout)
            return _launch_marimo(notebook, port)
        if execute:
            return _execute(notebook, server, timeout)
        return _launch_lab(notebook, port)


def _missing_jupyter() -> str | None:
    """Why the demo cannot run here, or ``None``: JupyterLab (and nbclient) are an extra."""
    missing = [name for name in ("jupyterlab", "nbclient") if find_spec(name) is None]
    if not missing:
        return None
    install = _INSTALL_EXTRA.format(extra="demo")
    return f"kontext-widget demo needs {' and '.join(missing)}: {install}"


def _missing_marimo() -> str | None:
    if find_spec("marimo") is not None:
        return None
    return f"kontext-widget demo --marimo needs marimo: {_INSTALL_EXTRA.format(extra='marimo')}"


def _execute(notebook: Path, server: LocalAdServer | None, timeout: float) -> int:
    """Run the notebook headless, save it with its outputs, print what the ads did."""
    # Imported here: nbclient comes with the optional `demo` extra.
    import nbformat  # noqa: PLC0415
    from nbclient import NotebookClient  # noqa: PLC0415
    from nbclient.exceptions import CellExecutionError  # noqa: PLC0415

    nb = nbformat.read(notebook, as_version=4)  # type: ignore[no-untyped-call]
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(notebook.parent)}},
    )
    collect = nbformat.v4.new_code_cell(_COLLECT_EVENTS)  # type: ignore[no-untyped-call]
    try:
        with client.setup_kernel():
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
            nb.cells.append(collect)
            client.execute_cell(collect, len(nb.cells) - 1)
            nb.cells.pop()
    except CellExecutionError as exc:
        print(f"kontext-widget demo: the notebook failed:\n{exc}", file=sys.stderr)
        return 1
    nbformat.write(nb, notebook)  # type: ignore[no-untyped-call]

    print(f"Executed {notebook} (saved with its outputs)")
    _print_events(_collected_events(collect.outputs), server)
    return 0


def _execute_marimo(app_path: Path, server: LocalAdServer | None, timeout: float) -> int:
    """Run the marimo app here and chat its starter prompts through its own chat model."""
    # Imported here: marimo comes with the optional `marimo` extra.
    import marimo  # noqa: PLC0415

    spec = spec_from_file_location("kontext_widget_demo_marimo_app", app_path)
    if spec is None or spec.loader is None:
        print(f"kontext-widget demo: cannot load {app_path}", file=sys.stderr)
        return 1
    module = module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        _outputs, defs = module.app.run()
        session, reply_with_ad = defs["session"], defs["reply_with_ad"]
        try:
            for prompt in defs["starter_prompts"]:
                reply_with_ad([marimo.ai.ChatMessage(role="user", content=prompt)])
            session.wait_idle(timeout)
            events = [
                {key: record[key] for key in ("name", "message_id", "payload")}
                for record in session.to_records()
            ]
        finally:
            session.destroy()
    except Exception as exc:  # the app is the user's copy: report any failure, do not crash
        print(f"kontext-widget demo: the marimo app failed: {exc!r}", file=sys.stderr)
        return 1
    print(f"Executed {app_path} (app.run(), then its starter prompts through its chat model)")
    _print_events(events, server)
    return 0


def _ads_from(server: LocalAdServer | None) -> str:
    if server is not None:
        return f"Local ad server: {server.url}"
    if os.environ.get(SERVER_URL_ENV):
        return f"Ads from {os.environ[SERVER_URL_ENV]} ({SERVER_URL_ENV} is set)"
    return f"Ads from Kontext production ({PUBLISHER_TOKEN_ENV} is set)"


def _print_events(events: list[dict[str, Any]], server: LocalAdServer | None) -> None:
    fills = [event for event in events if event["name"] == "ad.filled"]
    # Preloads are only counted where the demo can see them: on its own server.
    preloads = "" if server is None else f"preloads: {len(server.requests_to('/preload'))}, "
    print(f"{preloads}fills: {len(fills)}")
    print("events:")
    for event in events:
        print(f"  {event['name']:<20} {_event_text(event)}")


def _event_text(event: dict[str, Any]) -> str:
    """``key=value`` pairs led by the message the event is about and the bid labelled
    ``bid=`` (the payload's ``id`` names the bid), so each line says which turn its ad
    belongs to."""
    fields = dict(event["payload"])
    shown = [] if event.get("message_id") is None else [f"message={event['message_id']}"]
    if "id" in fields:
        shown.append(f"bid={fields.pop('id')}")
    shown += [f"{key}={value}" for key, value in fields.items()]
    return " ".join(shown)


def _collected_events(outputs: list[Any]) -> list[dict[str, Any]]:
    text = "".join(output.get("text", "") for output in outputs if output.get("name") == "stdout")
    events: list[dict[str, Any]] = json.loads(text)
    return events


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class _Stop(Exception):
    """SIGTERM, turned into an exception so that JupyterLab is stopped with us."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def _launch_lab(notebook: Path, port: int) -> int:
    """Run JupyterLab on 127.0.0.1 in the notebook's directory until interrupted."""
    port = port or _free_port()
    token = secrets.token_urlsafe(24)
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={notebook.parent}",
        f"--IdentityProvider.token={token}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # JupyterLab refuses root unless told; containers often run as root, and the
        # server is bound to 127.0.0.1 behind a random token either way.
        command.append("--ServerApp.allow_root=True")
    return _serve(
        command,
        f"Open http://127.0.0.1:{port}/lab/tree/{notebook.name}?token={token}\n"
        "Press Ctrl+C to stop JupyterLab and the ad server.",
    )


def _launch_marimo(app_path: Path, port: int) -> int:
    """Serve the marimo app with ``marimo run`` on 127.0.0.1 until interrupted."""
    port = port or _free_port()
    token = secrets.token_urlsafe(24)
    command = [
        sys.executable,
        "-m",
        "marimo",
        "run",
        str(app_path),
        "--headless",
        "--host=127.0.0.1",
        f"--port={port}",
        "--token",
        f"--token-password={token}",
    ]
    return _serve(
        command,
        f"Open http://127.0.0.1:{port}/?access_token={token}\n"
        f"(marimo edit {app_path} shows its code.)\n"
        "Press Ctrl+C to stop marimo and the ad server.",
    )


def _serve(command: list[str], message: str) -> int:
    """Run a notebook server until it exits, Ctrl+C or SIGTERM; then stop it."""
    child = subprocess.Popen(command, stdin=subprocess.DEVNULL)
    previous = signal.signal(signal.SIGTERM, _raise_stop)
    try:
        print(message, flush=True)
        return child.wait()
    except (KeyboardInterrupt, _Stop):
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
