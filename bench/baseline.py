"""The Before column: the package as it was at the start of issue 10, measured in the same run.

``BASELINE`` is a pinned commit, not ``main``: once this work is merged, main's
code is the After, and a Before taken from main would compare the code with
itself. ``snapshot()`` extracts that commit's ``kontext_widget`` next to a link
to this tree's ``bench``, so the same measuring code runs against the old
package in a worker interpreter (``python -m bench.baseline SECTION``), which
prints the section's figures as JSON. A section the old code cannot run (an
API it did not have) says so in its cells; ``recorded()`` reads the figures
that commit's own ``bench/RESULTS.md`` holds, for what cannot be re-measured
(the browser timings).

The old layout had flat modules (``kontext_widget._client``,
``kontext_widget._io_loop``); ``package_module`` finds a module in either.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import subprocess
import sys
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from types import ModuleType

from .suite import Figure

ROOT = Path(__file__).parent.parent

# Issue 10 ("Latency, round two") started at this commit (2026-11-22). Pinned so the
# Before column keeps showing the code the issue started from after merges to main.
BASELINE = "a324ca4"

# The section 8 worker may not take more memory than this: the old client had no bound
# on a decoded answer, and the bomb decodes to 1 GiB.
MEMORY_LIMIT = 3 << 30


def package_module(name: str) -> ModuleType:
    """``kontext_widget._network.<name>``, or the flat ``kontext_widget._<name>`` of old."""
    try:
        return importlib.import_module(f"kontext_widget._network.{name}")
    except ModuleNotFoundError:
        return importlib.import_module(f"kontext_widget._{name}")


@cache
def snapshot() -> Path:
    """``BASELINE``'s ``kontext_widget`` in a temporary directory, with this tree's ``bench``."""
    target = Path(tempfile.mkdtemp(prefix="kw-baseline-"))
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", BASELINE, "kontext_widget"],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    # ``python -m`` puts the working directory first on sys.path: workers for the
    # baseline run from here, where only ``bench`` (this tree's) sits next to the old package.
    (target / "bench").symlink_to(ROOT / "bench")
    return target


def run(args: list[str], *, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m bench.<args>`` against the baseline package; output captured."""
    tree = snapshot()
    return subprocess.run(
        [sys.executable, "-m", *args],
        env={**os.environ, **(env or {}), "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        cwd=tree,
        check=False,
    )


def section(number: str) -> dict[str, str]:
    """Figure name -> value of one section measured on the baseline, or ``{"": why not}``."""
    done = run(["bench.baseline", number])
    if done.returncode == 0:
        result: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
        return result
    lines = (done.stderr or done.stdout).strip().splitlines()
    return {"": f"could not run at {BASELINE}: {lines[-1] if lines else done.returncode}"}


def with_before(figures: list[Figure], before: dict[str, str]) -> list[Figure]:
    """``figures`` with their Before filled from ``before`` (by name), or why it is missing."""
    why = before.get("", "")
    filled = []
    for figure in figures:
        if figure.before is not None:
            filled.append(figure)
            continue
        value = before.get(figure.name) or before.get(_unnumbered(figure.name))
        filled.append(
            Figure(
                figure.name,
                figure.value,
                figure.target,
                figure.passed,
                before=value if value is not None else (why or f"not measured at {BASELINE}"),
            )
        )
    return filled


def _unnumbered(name: str) -> str:
    return name.split(" (", 1)[0]


@cache
def recorded() -> dict[str, str]:
    """Figure name -> Measured, from ``bench/RESULTS.md`` as committed at ``BASELINE``."""
    text = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{BASELINE}:bench/RESULTS.md"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    figures: dict[str, str] = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] not in ("Figure", "---"):
            figures[cells[0]] = f"{cells[1]} (from {BASELINE}'s RESULTS.md)"
    return figures


def _sections() -> dict[str, Callable[[], list[Figure]]]:
    from kontext_widget import LocalAdServer

    from . import hostile, suite

    def with_server(measure: Callable[[LocalAdServer], list[Figure]]) -> list[Figure]:
        with LocalAdServer() as server:
            return measure(server)

    return {
        "1": lambda: with_server(suite.add_message_cost),
        "2": lambda: with_server(suite.coalescing),
        "4": lambda: with_server(suite.scale),
        "5": suite.long_life,
        "7": suite.server_throughput,
        "8": hostile.decompression_bomb,
    }


def _worker(number: str) -> int:
    os.environ.setdefault("KONTEXT_WIDGET_CONFIG_DIR", tempfile.mkdtemp(prefix="kw-baseline-"))
    if number == "8":
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    try:
        figures = _sections()[number]()
    except MemoryError:
        print(json.dumps({"": f"ran out of a {MEMORY_LIMIT >> 30} GiB memory limit"}))
        return 0
    print(json.dumps({figure.name: figure.value for figure in figures}))
    return 0


if __name__ == "__main__":
    raise SystemExit(_worker(sys.argv[1]))
