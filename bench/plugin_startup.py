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
httpx), which the plugin no longer does.

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


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # This checkout's plugin, whatever is installed; the empty plugin from the project dir.
    env["PYTHONPATH"] = os.pathsep.join((str(REPO), "."))
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env.pop("PYTEST_ADDOPTS", None)
    return env


def _cost(command: list[str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run of ``command``."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=cwd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
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
        for command in commands.values():  # warm the file cache
            _cost(command, project)
        wall: dict[str, list[float]] = {name: [] for name in commands}
        cpu: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(runs):
            for name, command in commands.items():
                seconds, cpu_seconds = _cost(command, project)
                wall[name].append(seconds)
                cpu[name].append(cpu_seconds)
        probe = subprocess.run(
            [sys.executable, "-c", _IMPORT_PROBE],
            env=_env(),
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
    over_none = _median_ms(cpu["with"]) - _median_ms(cpu["without"])
    over_empty = _median_ms(cpu["with"]) - _median_ms(cpu["empty"])
    eager = _median_ms(cpu["eager"]) - _median_ms(cpu["bare"])
    return [
        Figure(
            f"pytest --co, plugin not loaded (best / median of {runs})",
            f"{min(cpu['without']) * 1000:.0f} / {_median_ms(cpu['without']):.0f} ms CPU "
            f"(median {_median_ms(wall['without']):.0f} ms wall)",
        ),
        Figure(
            f"pytest --co, plugin loaded (best / median of {runs})",
            f"{min(cpu['with']) * 1000:.0f} / {_median_ms(cpu['with']):.0f} ms CPU "
            f"(median {_median_ms(wall['with']):.0f} ms wall)",
        ),
        Figure(
            f"pytest --co, an empty plugin loaded (best / median of {runs})",
            f"{min(cpu['empty']) * 1000:.0f} / {_median_ms(cpu['empty']):.0f} ms CPU",
        ),
        Figure("cost of the plugin per test run (medians)", f"{over_none:+.0f} ms CPU"),
        Figure(
            "cost beyond an empty plugin (medians)",
            f"{over_empty:+.0f} ms CPU",
            f"< {TARGET_MS:.0f} ms CPU",
            over_empty < TARGET_MS,
        ),
        Figure(
            "importing the plugin module (pytest already imported)",
            f"{float(probe[0]) * 1000:.1f} ms CPU, {probe[1]} new modules",
        ),
        Figure("for scale: importing the public API eagerly", f"{eager:.0f} ms CPU"),
    ]


if __name__ == "__main__":
    for figure in measure():
        print(f"{figure.name}: {figure.value} {figure.target}")
