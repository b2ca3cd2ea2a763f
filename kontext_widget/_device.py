"""The ``device`` object of ``/preload`` (docs/protocol.md §2.2 and §11).

The kernel knows the OS, locale and time zone from the first preload on; only a
browser knows the screen, dark mode, user agent and network. A mounted ``Ad``
view reports those once (``browser-facts``), and from then on they are merged
in. The browser's locale and time zone win over the kernel's: they belong to the
person reading the ad, while the kernel may run on a remote server. Browser
facts are process-wide because every session of a notebook is read in the same
browser.
"""

from __future__ import annotations

import contextlib
import locale
import math
import os
import platform
import threading
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["BrowserFacts", "browser_facts", "device", "kernel_device"]

_NETWORK_TYPES = {"wifi": "wifi", "cellular": "cellular", "ethernet": "ethernet"}
_MAX_TEXT = 512


def _bcp47(raw: str | None) -> str | None:
    if not raw:
        return None
    tag = raw.split(".")[0].split("@")[0].replace("_", "-")
    if tag in ("C", "POSIX", ""):
        return None
    return tag


def _kernel_locale() -> str:
    candidates: list[str | None] = []
    with contextlib.suppress(ValueError):
        candidates.append(locale.getlocale()[0])
    candidates += [os.environ.get(name) for name in ("LC_ALL", "LC_MESSAGES", "LANG")]
    for candidate in candidates:
        tag = _bcp47(candidate)
        if tag:
            return tag
    return "en-US"


def _kernel_timezone() -> str:
    tz = os.environ.get("TZ", "").lstrip(":")
    if "/" in tz and not tz.startswith("/"):
        return tz
    try:
        name = Path("/etc/timezone").read_text(encoding="utf-8").strip()
        if name:
            return name
    except OSError:
        pass
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            return target.split("zoneinfo/", 1)[1]
    except OSError:
        pass
    return "UTC"


def _os_name_and_version() -> tuple[str, str]:
    system = platform.system()
    if system == "Darwin":
        return "macos", platform.mac_ver()[0] or platform.release()
    if system == "Windows":
        return "windows", platform.version()
    return (system.lower() or "unknown"), platform.release()


@lru_cache(maxsize=1)
def kernel_device() -> dict[str, Any]:
    """What the kernel can tell by itself; computed once per process."""
    name, version = _os_name_and_version()
    return {
        "hardware": {"type": "desktop"},
        "os": {
            "name": name,
            "version": version,
            "locale": _kernel_locale(),
            "timezone": _kernel_timezone(),
        },
    }


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


def _text(value: object) -> str | None:
    return value[:_MAX_TEXT] if isinstance(value, str) and value else None


class BrowserFacts:
    """What a browser view reported, validated field by field (a bad field is dropped)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._screen: dict[str, Any] = {}
        self._network: dict[str, Any] = {}
        self._locale: str | None = None
        self._timezone: str | None = None

    def update(self, facts: object) -> None:
        if not isinstance(facts, Mapping):
            return
        screen: dict[str, Any] = {}
        raw_screen = facts.get("screen")
        if isinstance(raw_screen, Mapping):
            for key in ("width", "height", "dpr"):
                number = _number(raw_screen.get(key))
                if number is not None:
                    screen[key] = int(number) if key != "dpr" else number
            if isinstance(raw_screen.get("darkMode"), bool):
                screen["darkMode"] = raw_screen["darkMode"]
            if raw_screen.get("orientation") in ("portrait", "landscape"):
                screen["orientation"] = raw_screen["orientation"]
        network: dict[str, Any] = {}
        raw_network = facts.get("network")
        if isinstance(raw_network, Mapping):
            kind = raw_network.get("type")
            if isinstance(kind, str):
                network["type"] = _NETWORK_TYPES.get(kind, "other")
            detail = _text(raw_network.get("detail"))
            if detail:
                network["detail"] = detail
        user_agent = _text(facts.get("userAgent"))
        if user_agent:
            network["userAgent"] = user_agent
        with self._lock:
            self._screen.update(screen)
            self._network.update(network)
            self._locale = _text(facts.get("locale")) or self._locale
            self._timezone = _text(facts.get("timezone")) or self._timezone

    def clear(self) -> None:
        with self._lock:
            self._screen, self._network = {}, {}
            self._locale = self._timezone = None

    def merged_into(self, base: Mapping[str, Any]) -> dict[str, Any]:
        merged = {key: dict(value) for key, value in base.items()}
        with self._lock:
            if self._locale:
                merged["os"]["locale"] = self._locale
            if self._timezone:
                merged["os"]["timezone"] = self._timezone
            if self._screen:
                merged["screen"] = dict(self._screen)
            if self._network:
                merged["network"] = dict(self._network)
        return merged


browser_facts = BrowserFacts()


def device() -> dict[str, Any]:
    """The ``device`` object for the next ``/preload``."""
    return browser_facts.merged_into(kernel_device())
