"""Testing helpers: ``HeadlessViewer`` plays the ad creative's side of the iframe protocol.

Where no browser renders the widget (nbval, nbclient, papermill, CI) no ad
iframe exists, so render, height, view and click events never happen. A
``HeadlessViewer`` sends the messages a well-behaved creative sends
(``docs/protocol.md §6.2``, §6.5) into ``Ad._on_front_end_message``, the very
handler the browser relays frame messages to, so the ad's traits, the
session's events, ``on_event``, ``stream_events`` and the event log behave as
they do with a real browser, and every check the handler makes applies.

``KONTEXT_HEADLESS_VIEWER=1`` in the environment (set by the pytest plugin's
``--kontext-headless-viewer`` option before nbval starts notebook kernels)
makes every displayed ad render and be viewed as soon as its bid is there.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

from ._ad import Ad, relay_front_end_message, when_filled
from ._constants import HEADLESS_VIEWER_ENV
from ._exceptions import KontextError
from ._frame.inbound import FrameEventName, FrameToHostType
from ._local_server import default_format

__all__ = ["DEFAULT_HEIGHT", "HEADLESS_VIEWER_ENV", "HeadlessViewer"]

DEFAULT_HEIGHT: Final = 120.0
DEFAULT_CONTENT: Final = "Headless ad"


@dataclass
class _Creative:
    """What one ad's (single) creative has done: an ``Ad`` has one iframe, so one of these."""

    rendered: bool = False
    viewed: bool = False


_creatives: weakref.WeakKeyDictionary[Ad, _Creative] = weakref.WeakKeyDictionary()
_creatives_lock = threading.Lock()


class HeadlessViewer:
    """A scripted ad creative for ``ad``, as a browser would run it, for tests.

    ``render(height=120)`` -> ``ad.render-started``, ``ad.height``,
    ``ad.render-completed`` (and ``ad.visible``); ``view()`` -> ``ad.viewed``
    (once per ad, like a real creative); ``click(url=None, fallback_url=None)``
    -> ``ad.clicked``. ``view()`` and ``click()`` render first if needed: a
    real creative is always drawn before it is seen. ``content`` and ``format``
    are what the creative reports (the format defaults to the placement code's,
    as ``LocalAdServer`` chooses it). Raises ``KontextError`` if the ad has no
    bid yet or was destroyed; viewers of one ad share its creative's state.
    """

    def __init__(
        self, ad: Ad, *, content: str = DEFAULT_CONTENT, format: str | None = None
    ) -> None:
        if not isinstance(ad, Ad):
            raise TypeError(f"HeadlessViewer needs a kontext_widget.Ad, got {type(ad).__name__}")
        if not isinstance(content, str):
            raise TypeError(f"content must be a str, got {type(content).__name__}")
        if format is not None and not isinstance(format, str):
            raise TypeError(f"format must be a str or None, got {type(format).__name__}")
        if ad.destroyed:
            raise KontextError(f"{ad!r} was destroyed: there is no creative to play")
        bid_id = ad.bid_id
        if bid_id is None:
            raise KontextError(
                f"{ad!r} has no bid yet, so no creative would load; wait for its ad.filled "
                "(session.wait_idle(), or chat_turn's default wait) before viewing it"
            )
        self._ad = ad
        self._bid_id = bid_id
        self._content = content
        self._format = format or default_format(ad.code)
        with _creatives_lock:
            self._state = _creatives.setdefault(ad, _Creative())

    def __repr__(self) -> str:
        return f"HeadlessViewer({self._ad!r})"

    @property
    def ad(self) -> Ad:
        """The ad whose creative this viewer plays."""
        return self._ad

    # -- what the creative does ----------------------------------------------------------
    def render(self, height: float = DEFAULT_HEIGHT) -> HeadlessViewer:
        """Load and draw the creative: the messages of its first render (js/creative/)."""
        if isinstance(height, bool) or not isinstance(height, int | float):
            raise TypeError(f"height must be a number of CSS pixels, got {type(height).__name__}")
        self._check_alive()
        self._state.rendered = True
        self._post("init-iframe", {})
        self._event("ad.render-started", {"id": self._bid_id})
        self._post("show-iframe", {})
        self._post("resize-iframe", {"height": height})
        self._post("ad-done-iframe", self._identity())
        self._event("ad.render-completed", {"id": self._bid_id})
        return self

    def view(self) -> HeadlessViewer:
        """Be seen: half the ad visible for a second, which a real creative reports once."""
        self._ensure_rendered()
        if self._state.viewed:
            return self
        self._state.viewed = True
        self._post("view-iframe", self._identity())
        self._event("ad.viewed", {**self._identity(), "format": self._format})
        return self

    def click(
        self, url: str | None = None, fallback_url: str | None = None, *, area: str = "body"
    ) -> HeadlessViewer:
        """Be clicked: ``click-iframe`` (what the host opens) and the ``ad.clicked`` event.

        ``url`` defaults to the ad server's click URL for this bid, as the
        local creative builds it. Nothing is opened: there is no browser.
        """
        for name, value in (("url", url), ("fallback_url", fallback_url), ("area", area)):
            if value is not None and not isinstance(value, str):
                raise TypeError(f"{name} must be a str or None, got {type(value).__name__}")
        self._ensure_rendered()
        target = url if url is not None else self._default_click_url(area)
        click: dict[str, Any] = {**self._identity(), "url": target, "target": "browser"}
        if fallback_url is not None:
            click["fallbackUrl"] = fallback_url
        self._post("click-iframe", click)
        self._event(
            "ad.clicked",
            {**self._identity(), "url": target, "format": self._format, "area": area},
        )
        return self

    # -- plumbing --------------------------------------------------------------------------
    def _ensure_rendered(self) -> None:
        self._check_alive()
        if not self._state.rendered:
            self.render()

    def _check_alive(self) -> None:
        if self._ad.destroyed:
            raise KontextError(f"{self._ad!r} was destroyed: its creative is gone")

    def _identity(self) -> dict[str, str]:
        return {"id": self._bid_id, "content": self._content, "messageId": self._ad.message_id}

    def _default_click_url(self, area: str) -> str:
        query = urlencode({"code": self._ad.code, "messageId": self._ad.message_id, "area": area})
        return f"{self._ad.server_origin}/api/click/{self._bid_id}?{query}"

    def _event(self, name: FrameEventName, payload: dict[str, Any]) -> None:
        self._post("event-iframe", {"name": name, "payload": payload})

    def _post(self, kind: FrameToHostType, data: dict[str, Any]) -> None:
        # Exactly what js/view.ts relays for a message from the inline frame: the
        # creative puts its placement code into data (js/creative/channel.ts post()).
        relayed = {
            "kind": "frame-message",
            "source": "inline",
            "message": {"type": kind, "data": {**data, "code": self._ad.code}},
        }
        relay_front_end_message(self._ad, relayed)


# -- automatic viewing (--kontext-headless-viewer) -------------------------------------------


def play_when_filled(ad: Ad) -> None:
    """Render and view ``ad`` now if it has a bid, else as soon as its bid is assigned."""
    when_filled(ad, _render_and_view)


def _render_and_view(ad: Ad) -> None:
    if not ad.destroyed and ad.bid_id is not None:
        HeadlessViewer(ad).view()
