"""What the installed pytest plugin costs a test run that does not use it.

pytest imports every ``pytest11`` entry point at start-up, so the plugin
module (and whatever it imports) is paid for by every test suite in an
environment where kontext-widget is installed. We time ``pytest --co`` on a
one-test project without the plugin, with an empty plugin (what pytest itself
charges for any ``-p`` plugin) and with ours, with plugin auto-loading off so
that other installed plugins (nbval alone imports jsonschema) do not drown the
difference, interleaved so that machine load hits all alike. CPU time (user +
system, from ``wait4``) is reported: wall time on a shared machine mostly
measures the neighbours, and even CPU time varies by some 20 ms between runs.
The import of the plugin module itself is measured in-process, which is exact.
For scale: importing the package's public API eagerly (the widget, IPython,
httpx), which the plugin no longer does. The Before column is the package at
``baseline.BASELINE``, its ``pytest --co`` interleaved with the others.

``import_cost`` times ``import kontext_widget`` alone in fresh interpreters
(section 11), for this tree and the baseline.

``python -m bench.plugin_startup`` prints the figures; ``python -m bench 10``
writes them to RESULTS.md.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import baseline
from .suite import Figure

REPO = Path(__file__).resolve().parent.parent
TARGET_MS = 20.0

_IMPORT_PROBE = """
import sys, time
import pytest
before = set(sys.modules)
start = time.process_time()
import kontext_widget.pytest_plugin
elapsed = time.process_time() - start
print(elapsed, len(set(sys.modules) - before))
"""


def _env(tree: Path = REPO) -> dict[str, str]:
    env = dict(os.environ)
    # This checkout's plugin, whatever is installed; the empty plugin from the project dir.
    env["PYTHONPATH"] = os.pathsep.join((str(tree), "."))
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env.pop("PYTEST_ADDOPTS", None)
    return env


def _cost(command: list[str], cwd: Path, tree: Path = REPO) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run of ``command`` with ``tree``'s package."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=cwd, env=_env(tree), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _pid, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{command} exited with {process.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


def _median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def measure(runs: int = 31) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="kontext-plugin-bench-") as folder:
        project = Path(folder)
        (project / "test_one.py").write_text("def test_one():\n    pass\n", encoding="utf-8")
        pytest = [sys.executable, "-m", "pytest", "--co", "-q", "-p", "no:cacheprovider"]
        (project / "empty_plugin.py").write_text("import pytest\n", encoding="utf-8")
        commands = {
            "without": pytest,
            "empty": [*pytest, "-p", "empty_plugin"],
            "with": [*pytest, "-p", "kontext_widget.pytest_plugin"],
            "eager": [sys.executable, "-c", "import kontext_widget as kw; kw.Session"],
            "bare": [sys.executable, "-c", "pass"],
        }
        old = baseline.snapshot()
        runs_of = [(name, command, REPO) for name, command in commands.items()]
        runs_of += [("with_old", commands["with"], old), ("eager_old", commands["eager"], old)]
        for _name, command, tree in runs_of:  # warm the file cache
            _cost(command, project, tree)
        wall: dict[str, list[float]] = {name: [] for name, _, _ in runs_of}
        cpu: dict[str, list[float]] = {name: [] for name, _, _ in runs_of}
        for _ in range(runs):
            for name, command, tree in runs_of:
                seconds, cpu_seconds = _cost(command, project, tree)
                wall[name].append(seconds)
                cpu[name].append(cpu_seconds)
        probes = [
            subprocess.run(
                [sys.executable, "-c", _IMPORT_PROBE],
                env=_env(tree),
                cwd=project,  # not this checkout: `python -c` puts the cwd first on sys.path
                check=True,
                capture_output=True,
                text=True,
            ).stdout.split()
            for tree in (REPO, old)
        ]
    same = "(the same: no package code runs)"
    return [
        Figure(
            f"pytest --co, plugin not loaded (best / median of {runs})",
            f"{min(cpu['without']) * 1000:.0f} / {_median_ms(cpu['without']):.0f} ms CPU "
            f"(median {_median_ms(wall['without']):.0f} ms wall)",
            before=same,
        ),
        Figure(
            f"pytest --co, plugin loaded (best / median of {runs})",
            f"{min(cpu['with']) * 1000:.0f} / {_median_ms(cpu['with']):.0f} ms CPU "
            f"(median {_median_ms(wall['with']):.0f} ms wall)",
            before=f"{min(cpu['with_old']) * 1000:.0f} / {_median_ms(cpu['with_old']):.0f} ms CPU "
            f"(median {_median_ms(wall['with_old']):.0f} ms wall)",
        ),
        Figure(
            f"pytest --co, an empty plugin loaded (best / median of {runs})",
            f"{min(cpu['empty']) * 1000:.0f} / {_median_ms(cpu['empty']):.0f} ms CPU",
            before=same,
        ),
        Figure(
            "cost of the plugin per test run (medians)",
            f"{_median_ms(cpu['with']) - _median_ms(cpu['without']):+.0f} ms CPU",
            before=f"{_median_ms(cpu['with_old']) - _median_ms(cpu['without']):+.0f} ms CPU",
        ),
        _beyond_empty(_median_ms(cpu["with"]) - _median_ms(cpu["empty"]), cpu, "with_old"),
        Figure(
            "importing the plugin module (pytest already imported)",
            f"{float(probes[0][0]) * 1000:.1f} ms CPU, {probes[0][1]} new modules",
            before=f"{float(probes[1][0]) * 1000:.1f} ms CPU, {probes[1][1]} new modules",
        ),
        Figure(
            "for scale: importing the public API eagerly",
            f"{_median_ms(cpu['eager']) - _median_ms(cpu['bare']):.0f} ms CPU",
            before=f"{_median_ms(cpu['eager_old']) - _median_ms(cpu['bare']):.0f} ms CPU",
        ),
    ]


def _beyond_empty(over_empty: float, cpu: dict[str, list[float]], old: str) -> Figure:
    before = _median_ms(cpu[old]) - _median_ms(cpu["empty"])
    return Figure(
        "cost beyond an empty plugin (medians)",
        f"{over_empty:+.0f} ms CPU",
        f"< {TARGET_MS:.0f} ms CPU",
        over_empty < TARGET_MS,
        before=f"{before:+.0f} ms CPU",
    )


_IMPORT_ALONE = """
import time
start = time.perf_counter()
import kontext_widget
print(time.perf_counter() - start)
"""


def import_cost(runs: int = 21, target_ms: float = 150.0) -> list[Figure]:
    """``import kontext_widget`` alone, in ``runs`` fresh interpreters per tree, interleaved."""
    trees = {"after": REPO, "before": baseline.snapshot()}
    seconds: dict[str, list[float]] = {label: [] for label in trees}
    for index in range(runs + 1):
        for label, tree in trees.items():
            done = subprocess.run(
                [sys.executable, "-c", _IMPORT_ALONE],
                env=_env(tree),
                cwd=tempfile.gettempdir(),
                check=True,
                capture_output=True,
                text=True,
            )
            if index:  # the first round only warms the file cache
                seconds[label].append(float(done.stdout.split()[-1]))

    def best_median(label: str) -> str:
        values = seconds[label]
        return f"{min(values) * 1000:.0f} / {_median_ms(values):.0f} ms"

    median_ms = _median_ms(seconds["after"])
    return [
        Figure(
            f"import kontext_widget in a fresh interpreter (best / median of {runs})",
            best_median("after"),
            f"< {target_ms:.0f} ms",
            median_ms < target_ms,
            before=best_median("before"),
        )
    ]


if __name__ == "__main__":
    for figure in [*import_cost(), *measure()]:
        print(f"{figure.name}: {figure.value} {figure.target}")
