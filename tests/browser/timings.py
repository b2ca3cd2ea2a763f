"""Latencies the browser tests measure but do not assert (printed at the end of the run).

They feed the closing note and the benchmarks: a loaded 2-core CI machine makes
them too noisy to be pass/fail criteria.
"""

from __future__ import annotations

TIMINGS: dict[str, list[float]] = {}


def record_timing(name: str, seconds: float) -> None:
    TIMINGS.setdefault(name, []).append(seconds)
