"""The package's own exceptions.

    Exception
     └── KontextError                  base of everything kontext_widget raises itself
          └── SessionDestroyedError    (also a RuntimeError) a destroyed session was used

Invalid arguments raise the built-in ``ValueError`` / ``TypeError`` at the call,
naming the option; network and server failures never raise at all: they become
``ad.error`` / ``ad.no-fill`` events (docs/protocol.md §2.2).
"""

from __future__ import annotations

__all__ = ["KontextError", "SessionDestroyedError"]


class KontextError(Exception):
    """Base class of the exceptions kontext_widget raises itself."""


class SessionDestroyedError(KontextError, RuntimeError):
    """A session was used after ``destroy()``/``close()``: create a new session instead."""
