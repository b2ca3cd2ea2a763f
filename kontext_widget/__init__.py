"""kontext-widget: Kontext.so ads for LLM chat notebooks."""

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
