"""Protocol constants (docs/protocol.md §1) and the SDK identity (section 11).

Durations are seconds here (the protocol speaks milliseconds). ``TIMING`` is one
mutable object so that tests can shorten retry waits without patching several
modules; nothing else writes to it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Final

from ._version import __version__

DEFAULT_SERVER_URL: Final = "https://server.megabrain.co"
SERVER_URL_ENV: Final = "KONTEXT_AD_SERVER_URL"
# Set (by the pytest plugin's --kontext-headless-viewer) to have displayed ads viewed headlessly.
HEADLESS_VIEWER_ENV: Final = "KONTEXT_HEADLESS_VIEWER"
DEFAULT_PLACEMENT_CODE: Final = "inlineAd"
MAX_MESSAGES: Final = 30
MAX_EVENT_HISTORY: Final = 1000

# Section 11: the creative runs in a browser iframe exactly as for the web SDK,
# and the server checks sdk name/platform against fixed lists, so we speak as sdk-js.
SDK_NAME: Final = "sdk-js"
SDK_PLATFORM: Final = "web"
SDK_VERSION: Final = __version__

PUBLISHER_TOKEN_HEADER: Final = "Kontextso-Publisher-Token"
IS_DISABLED_HEADER: Final = "Kontextso-Is-Disabled"


@dataclass
class Timing:
    """Every wait of the protocol, in seconds."""

    debounce: float = 0.010
    init_timeout: float = 16.0
    preload_timeout: float = 16.0
    report_timeout: float = 5.0
    retry_waits: tuple[float, ...] = (1.0, 2.0, 4.0)


TIMING: Final = Timing()


def sdk_info() -> dict[str, str]:
    """The ``sdk`` object of every request body."""
    return {"name": SDK_NAME, "platform": SDK_PLATFORM, "version": SDK_VERSION}


def headless_viewing_enabled() -> bool:
    """Whether displayed ads are rendered and viewed by ``testing.HeadlessViewer`` (tests only)."""
    return os.environ.get(HEADLESS_VIEWER_ENV, "").strip().lower() in {"1", "true", "yes", "on"}
