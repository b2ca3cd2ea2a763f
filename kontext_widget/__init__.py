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
"""

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
from ._playground import Playground, playground
from ._session import Session, create_session
from ._types import Character, Message, Regulatory
from ._version import __version__

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
