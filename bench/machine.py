"""What the figures were measured on: they mean little without it."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import kontext_widget


def _first(path: str, key: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def describe() -> dict[str, str]:
    mem_kb = _first("/proc/meminfo", "MemTotal")
    ram = f"{int(mem_kb.split()[0]) / 1024 / 1024:.1f} GiB" if mem_kb else "unknown"
    return {
        "Date (UTC)": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "CPU": _first("/proc/cpuinfo", "model name") or platform.processor() or "unknown",
        "Cores": str(os.cpu_count()),
        "RAM": ram,
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "kontext-widget": f"{kontext_widget.__version__} (commit {_commit()})",
    }


def rss_kb(field: str = "VmRSS") -> int:
    """A ``/proc/self/status`` memory field in KiB (``VmRSS`` now, ``VmHWM`` the peak)."""
    value = _first("/proc/self/status", field)
    return int(value.split()[0]) if value else 0


def reset_peak_rss() -> bool:
    """Reset ``VmHWM`` to the current RSS (Linux >= 4.0); False where not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True
