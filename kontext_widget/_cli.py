"""The ``kontext-widget`` console script.

``kontext-widget serve`` runs ``LocalAdServer`` in the foreground so a notebook, a
browser or another process can use an offline ad server. The URL is the first line
printed (and flushed), which lets scripts and tests read it from a pipe. Subcommands
live in argparse subparsers: ``demo`` (``_notebook/demo.py``) sits beside ``serve``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from ._local_server import LocalAdServer
from ._notebook.demo import run_demo
from ._version import __version__

__all__ = ["main"]


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kontext-widget",
        description="Kontext.so ads for LLM chat notebooks.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve",
        help="run the offline local ad server",
        description="Run the offline Kontext ad server (LocalAdServer) until interrupted. "
        "The first line printed is its URL, for ad_server_url=...",
    )
    serve.add_argument("--port", type=int, default=0, help="port to bind (default 0: a free port)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --host (the server has no authentication)",
    )
    serve.set_defaults(run=_serve)

    demo = commands.add_parser(
        "demo",
        help="open the chat demo notebook against a local ad server",
        description="Start a local ad server, copy the chat demo notebook into DIR and open it "
        "in JupyterLab on 127.0.0.1 (the URL is printed). With --execute, run it headless "
        "instead and print the fills and events.",
    )
    demo.add_argument(
        "--dir",
        type=Path,
        default=Path("kontext-widget-demo"),
        help="working directory for the notebook or app (default ./kontext-widget-demo; "
        "an existing copy is kept)",
    )
    demo.add_argument(
        "--execute", action="store_true", help="run the notebook headless and print the events"
    )
    demo.add_argument(
        "--marimo",
        action="store_true",
        help="the marimo chat app (mo.ui.chat, chat_demo_marimo.py) with `marimo run` instead "
        "(with --execute: run the app and chat its starter prompts headless)",
    )
    demo.add_argument(
        "--port", type=int, default=0, help="JupyterLab or marimo port (default: a free one)"
    )
    demo.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        help="per-cell timeout of --execute (--marimo: how long to wait for the ads), in seconds",
    )
    demo.set_defaults(run=_demo)
    return parser


def _demo(args: argparse.Namespace) -> int:
    return run_demo(
        args.dir, execute=args.execute, port=args.port, timeout=args.timeout, marimo=args.marimo
    )


def _serve(args: argparse.Namespace) -> int:
    try:
        server = LocalAdServer(args.host, args.port, allow_remote=args.allow_remote)
        server.start()
    except (ValueError, OSError) as exc:
        # The message names the Python argument; here the switch is the CLI flag.
        message = str(exc).replace("pass allow_remote=True", "pass --allow-remote")
        print(f"kontext-widget serve: {message}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    try:
        print(server.url, flush=True)
        print("Local Kontext ad server running; press Ctrl+C to stop.", file=sys.stderr)
        # Event.wait with a timeout keeps the main thread responsive to Ctrl+C.
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kontext-widget`` console script; returns the exit status."""
    args = _build_parser().parse_args(argv)
    status: int = args.run(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
