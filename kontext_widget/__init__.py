"""kontext-widget: Kontext.so ads for LLM chat notebooks.

Start with ``create_session``: it returns a ``Session`` for one conversation.
Register the chat's messages with ``Session.add_message``; ``Session.render``
shows the ``Ad`` widget under an assistant reply. What happens arrives as
events (``Filled``, ``NoFill``, ``Viewed``, ``Clicked``, ``AdError``, ...; all
subclasses of ``AdEvent``) through ``on_event`` and ``Session.events``.
``LocalAdServer`` is an offline ad server with a working creative, for demos
and tests; ``kontext_widget.pytest_plugin`` puts it into pytest and nbval.

The wire protocol and every decision behind it: ``docs/protocol.md`` in the
repository.

The public names are loaded on first use (PEP 562): ``import kontext_widget``
alone costs next to nothing, so the pytest plugin this package installs (a
submodule, whose import runs this file) adds nothing to test runs that do not
use it, while ``kw.create_session`` pulls in the widget, IPython and httpx.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from ._ad import Ad
    from ._events import (
        AdError,
        AdEvent,
        AdHeight,
        Clicked,
        Filled,
        NoFill,
        RenderCompleted,
        RenderStarted,
        RewardGranted,
        VideoCompleted,
        VideoStarted,
        Viewed,
    )
    from ._exceptions import KontextError, SessionDestroyedError
    from ._local_server import LocalAdServer
    from ._metrics import PlacementMetrics, SessionMetrics
    from ._notebook.playground import Playground, playground
    from ._session import Session, create_session
    from ._types import Character, Message, Regulatory

# Public name -> the private module that defines it.
_HOMES = {
    "Ad": "_ad",
    "AdError": "_events",
    "AdEvent": "_events",
    "AdHeight": "_events",
    "Clicked": "_events",
    "Filled": "_events",
    "NoFill": "_events",
    "RenderCompleted": "_events",
    "RenderStarted": "_events",
    "RewardGranted": "_events",
    "VideoCompleted": "_events",
    "VideoStarted": "_events",
    "Viewed": "_events",
    "KontextError": "_exceptions",
    "SessionDestroyedError": "_exceptions",
    "LocalAdServer": "_local_server",
    "PlacementMetrics": "_metrics",
    "SessionMetrics": "_metrics",
    "Playground": "_notebook.playground",
    "playground": "_notebook.playground",
    "Session": "_session",
    "create_session": "_session",
    "Character": "_types",
    "Message": "_types",
    "Regulatory": "_types",
}

__all__ = [
    "Ad",
    "AdError",
    "AdEvent",
    "AdHeight",
    "Character",
    "Clicked",
    "Filled",
    "KontextError",
    "LocalAdServer",
    "Message",
    "NoFill",
    "PlacementMetrics",
    "Playground",
    "Regulatory",
    "RenderCompleted",
    "RenderStarted",
    "RewardGranted",
    "Session",
    "SessionDestroyedError",
    "SessionMetrics",
    "VideoCompleted",
    "VideoStarted",
    "Viewed",
    "__version__",
    "create_session",
    "playground",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
