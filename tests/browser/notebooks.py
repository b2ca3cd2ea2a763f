"""Build the notebooks the browser tests open, and read what their kernel reports.

The kernel runs in another process, so it reports back through a JSON-lines file:
the session's ``on_event`` appends every public event the moment Python receives
it (with the kernel's ``time.time()``), and cells append named marks and dumps.
Kernel and test share one machine clock, which is what makes the browser-to-Python
latencies measurable.
"""

from __future__ import annotations

import json
import re
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

POLL_SECONDS = 0.05


def write_notebook(path: Path, cells: Sequence[str]) -> Path:
    """Write a notebook of code cells (source dedented) that opens on the python3 kernel."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.cells = [nbformat.v4.new_code_cell(textwrap.dedent(src).strip()) for src in cells]
    nbformat.validate(notebook)
    path.write_text(nbformat.writes(notebook), encoding="utf-8")
    return path


KERNEL_SUPPORT = "kw_browser_support"

# Imported by the notebooks' first cell; a module rather than cell source so the
# cells stay short and the ad lands high on the page (in view, as ad.viewed needs).
_KERNEL_SUPPORT_SOURCE = """
\"\"\"Kernel side of the kontext-widget browser tests (written by tests/browser).\"\"\"
import json
import time

import kontext_widget as kw

_log_path = None


def _write(record):
    with open(_log_path, "a", encoding="utf-8") as log:
        log.write(json.dumps(record, default=str) + "\\n")


def mark(name, **values):
    _write({"kind": "mark", "name": name, "t": time.time(), **values})


def on_event(event):
    _write({"kind": "event", "t": time.time(), **event.to_dict()})


def start_session(log_path, ad_server_url, conversation_id, codes):
    global _log_path
    _log_path = log_path
    session = kw.create_session(
        publisher_token="pub-browser-test",
        user_id="user-browser-test",
        conversation_id=conversation_id,
        enabled_placement_codes=list(codes),
        ad_server_url=ad_server_url,
        on_event=on_event,
    )
    mark("session-created")
    return session
"""


def write_kernel_support(root: Path) -> None:
    """Put the kernel-side helper module next to the notebooks (the kernel's cwd)."""
    (root / f"{KERNEL_SUPPORT}.py").write_text(_KERNEL_SUPPORT_SOURCE.lstrip(), encoding="utf-8")


# The question and reply most test notebooks (and the marimo and Voilà apps) start with.
USER_TEXT = "What are the best hiking boots for a rainy trip?"
REPLY_TEXT = "Waterproof leather boots with a deep lug sole are a good start."


def session_cell(
    spec: NotebookSpec,
    ad_server_url: str,
    conversation_id: str,
    codes: Sequence[str] = ("inlineAd",),
) -> str:
    """The first cell: a session on the ad server whose events go to the spec's log."""
    log_path = spec.log.path
    return f"""
        from {KERNEL_SUPPORT} import kw, mark, start_session
        session = start_session(
            {str(log_path)!r}, {ad_server_url!r}, {conversation_id!r}, {list(codes)!r}
        )
    """


def user_message_cell(message_id: str, content: str) -> str:
    """Add a user message and wait until its ``/preload`` answered (the bid is pending)."""
    return f"""
        session.add_message(kw.Message(id={message_id!r}, role="user", content={content!r}))
        assert session.wait_idle(15), "the preload did not finish"
        mark("preloaded", message_id={message_id!r})
    """


def render_cell(message_id: str, content: str, *, code: str = "inlineAd") -> str:
    """Add the assistant message (marking the moment) and render its ad in this output."""
    return f"""
        mark("assistant-added", message_id={message_id!r})
        session.add_message(kw.Message(id={message_id!r}, role="assistant", content={content!r}))
        ad = session.render({message_id!r}, code={code!r})
        mark("rendered", bid_id=ad.bid_id, iframe_url=ad.iframe_url)
    """


def write_first_turn(
    spec: NotebookSpec,
    ad_server_url: str,
    conversation_id: str,
    *more_cells: str,
    question: str = USER_TEXT,
    reply: str = REPLY_TEXT,
    code: str = "inlineAd",
) -> None:
    """Write the spec's notebook as most tests start it, then ``more_cells``.

    Cell 0: a session on ``ad_server_url`` with the placement ``code`` whose events
    go to the spec's log; cell 1: the user's ``question`` (``u1``, preloaded);
    cell 2: the ``reply`` (``a1``) rendered with its ad.
    """
    session = session_cell(spec, ad_server_url, conversation_id, [code])
    first_turn = [session, user_message_cell("u1", question), render_cell("a1", reply, code=code)]
    write_notebook(spec.path, [*first_turn, *more_cells])


def dump_cell(tag: str) -> str:
    """Write the session's event history and the ad's synced state as one mark."""
    return f"""
        mark(
            {tag!r},
            events=[e.to_dict() for e in session.events],
            bid_id=ad.bid_id,
            iframe_url=ad.iframe_url,
            height=ad.height,
            visible=ad.visible,
            destroyed=ad.destroyed,
        )
    """


class KernelLog:
    """The JSON-lines file a notebook's kernel writes (see ``session_cell``)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def records(self) -> list[dict[str, Any]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        # A line being written right now may be incomplete: only whole lines count.
        return [json.loads(line) for line in text.splitlines(keepends=True) if line.endswith("\n")]

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        return [
            r
            for r in self.records()
            if r["kind"] == "event" and (name is None or r["name"] == name)
        ]

    def marks(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.records() if r["kind"] == "mark" and r["name"] == name]

    def mark(self, name: str) -> dict[str, Any]:
        found = self.marks(name)
        assert found, f"the kernel wrote no {name!r} mark; records: {self.records()}"
        return found[-1]

    def wait_for(
        self,
        predicate: Callable[[dict[str, Any]], bool],
        *,
        timeout: float = 10.0,
        what: str = "a record",
    ) -> dict[str, Any]:
        """The first record matching ``predicate``, polling the file until ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            for record in self.records():
                if predicate(record):
                    return record
            if time.monotonic() >= deadline:
                names = [(r["kind"], r["name"]) for r in self.records()]
                raise AssertionError(
                    f"the kernel did not report {what} within {timeout}s; it wrote {names}"
                )
            time.sleep(POLL_SECONDS)

    def wait_for_event(
        self,
        name: str,
        *,
        timeout: float = 10.0,
        where: Callable[[dict[str, Any]], bool] = lambda _record: True,
    ) -> dict[str, Any]:
        return self.wait_for(
            lambda r: r["kind"] == "event" and r["name"] == name and where(r),
            timeout=timeout,
            what=f"event {name!r}",
        )


@dataclass
class NotebookSpec:
    """Where one test's notebook lives (in the server root) and where its kernel logs."""

    name: str
    path: Path
    log: KernelLog

    @classmethod
    def new(cls, label: str, root: Path, logs: Path) -> NotebookSpec:
        slug = re.sub(r"[^A-Za-z0-9_-]+", "-", label).strip("-")
        return cls(
            f"{slug}.ipynb",
            root / f"{slug}.ipynb",
            KernelLog(logs / f"{slug}-{time.monotonic_ns()}.jsonl"),
        )
