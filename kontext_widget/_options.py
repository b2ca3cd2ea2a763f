"""A session's options: the checks of what users pass, each error naming the option.

``Session.__init__`` is the one place its options are declared; ``create_session``
takes the same signature with ``same_options_as`` instead of writing it again, so
``help()`` and the API reference show every option for both. What the options
mean is written once, in ``create_session``'s docstring. Checked, they travel
as one ``SessionOptions``.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast

from kontext_widget._constants import DEFAULT_PLACEMENT_CODE, DEFAULT_SERVER_URL, SERVER_URL_ENV

if TYPE_CHECKING:
    from kontext_widget._events import AdEvent
    from kontext_widget._types import Character, Regulatory

__all__ = [
    "DebugCallback",
    "EventCallback",
    "SessionOptions",
    "check_timeout",
    "optional_callable",
    "optional_instance",
    "optional_text",
    "placement_codes",
    "require_text",
    "same_options_as",
    "server_url",
    "warn_caller",
]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep

EventCallback = Callable[["AdEvent"], None]
DebugCallback = Callable[[str, "object | None"], None]

Options = ParamSpec("Options")
Made = TypeVar("Made")


@dataclass(frozen=True)
class SessionOptions:
    """A session's checked options; the targeting ones change with ``update_options``."""

    publisher_token: str
    user_id: str
    conversation_id: str
    enabled_placement_codes: tuple[str, ...]
    character: Character | None
    regulatory: Regulatory | None
    user_email: str | None
    variant_id: str | None
    advertising_id: str | None
    vendor_id: str | None
    ad_server_url: str
    on_event: EventCallback | None
    on_debug_event: DebugCallback | None


def same_options_as(
    cls: Callable[Options, Made],
) -> Callable[[Callable[..., Made]], Callable[Options, Made]]:
    """Give the decorated ``**options`` factory ``cls``'s signature (type checkers, ``help``).

    A call is checked against that signature first, so a missing or unknown
    option names the factory the user called, not ``cls``.
    """
    signature = inspect.signature(cls)

    def adopt(factory: Callable[..., Made]) -> Callable[Options, Made]:
        @functools.wraps(factory)
        def checked(**options: Any) -> Made:
            try:
                signature.bind(**options)
            except TypeError as exc:
                raise TypeError(f"{factory.__name__}() {exc}") from None
            return factory(**options)

        name = getattr(cls, "__name__", "")
        checked.__signature__ = signature.replace(return_annotation=name)  # type: ignore[attr-defined]
        return cast("Callable[Options, Made]", checked)

    return adopt


def warn_caller(text: str) -> None:
    """A ``UserWarning`` attributed to the first caller outside this package."""
    level = 2  # 1 is this function, 2 its caller
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    warnings.warn(text, UserWarning, stacklevel=level)


def require_text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{name} must be a non-empty str")
    return value


def optional_text(name: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str or None, got {type(value).__name__}")
    return value


def optional_instance(name: str, value: object, kind: type[Any]) -> Any:
    if value is not None and not isinstance(value, kind):
        raise TypeError(
            f"{name} must be a kontext_widget.{kind.__name__} or None, got {type(value).__name__}"
        )
    return value


def optional_callable(name: str, value: object) -> Any:
    if value is not None and not callable(value):
        raise TypeError(f"{name} must be callable or None, got {type(value).__name__}")
    return value


def check_timeout(timeout: object) -> float:
    """A number of seconds >= 0 (``wait_idle`` and ``wait_idle_async``)."""
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0:
        raise ValueError(f"timeout must be a number of seconds >= 0, got {timeout!r}")
    return float(timeout)


def placement_codes(value: object) -> tuple[str, ...]:
    if value is None:
        return (DEFAULT_PLACEMENT_CODE,)
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise TypeError(
            f"enabled_placement_codes must be a list of str, got {type(value).__name__}"
        )
    codes: list[str] = []
    for code in value:
        text = require_text("enabled_placement_codes[]", code)
        if text not in codes:
            codes.append(text)
    return tuple(codes) or (DEFAULT_PLACEMENT_CODE,)


def server_url(value: object) -> str:
    url = optional_text("ad_server_url", value) or os.environ.get(SERVER_URL_ENV) or ""
    url = url.strip() or DEFAULT_SERVER_URL
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"ad_server_url must be an http(s) URL, got {url!r}")
    return url.rstrip("/")
