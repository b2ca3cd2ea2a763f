"""The stable ``installId`` (docs/protocol.md §11).

A UUID v7, like the native SDKs, persisted per user in the platform's config
directory so the ad server sees one installation across kernels and restarts.
If it cannot be read or written (read-only home, sandbox), a per-process UUID
is used instead: an ad SDK must never fail a notebook over a file.
``KONTEXT_WIDGET_CONFIG_DIR`` overrides the directory (tests, shared machines).
"""

from __future__ import annotations

import os
import secrets
import sys
import threading
import time
import uuid
from pathlib import Path

__all__ = ["config_dir", "install_id", "uuid7"]

CONFIG_DIR_ENV = "KONTEXT_WIDGET_CONFIG_DIR"
_FILE_NAME = "install-id"
_lock = threading.Lock()
_cached: str | None = None


def uuid7() -> str:
    """A time-ordered UUID v7 (RFC 9562) as a lowercase string."""
    millis = time.time_ns() // 1_000_000
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= secrets.randbits(12) << 64
    value |= 0b10 << 62
    value |= secrets.randbits(62)
    return str(uuid.UUID(int=value))


def config_dir() -> Path:
    override = os.environ.get(CONFIG_DIR_ENV)
    if override:
        return Path(override)
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or home / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    return base / "kontext-widget"


def _read(path: Path) -> str | None:
    try:
        return str(uuid.UUID(path.read_text(encoding="utf-8").strip()))
    except (OSError, ValueError):
        return None


def _load_or_create() -> str:
    path = config_dir() / _FILE_NAME
    existing = _read(path)
    if existing:
        return existing
    fresh = uuid7()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{_FILE_NAME}.{os.getpid()}")
        temporary.write_text(fresh + "\n", encoding="utf-8")
        os.replace(temporary, path)
    except OSError:
        return fresh
    # Another process may have won the race: the file is the truth.
    return _read(path) or fresh


def install_id() -> str:
    global _cached
    if _cached is None:
        with _lock:
            if _cached is None:
                _cached = _load_or_create()
    return _cached
