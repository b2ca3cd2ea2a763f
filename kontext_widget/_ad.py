"""The ``Ad`` widget: one ad slot under one assistant message.

An ``anywidget.AnyWidget`` whose synced traits carry everything the browser
needs to run the iframe protocol on its own (the kernel may be busy running a
cell), while every frame message is relayed back here, where
``FrameProtocol`` turns it into public events. The browser half is
``js/widget.ts``; the contract between the two is ``js/README.md``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets
from IPython.display import display

from ._constants import headless_viewing_enabled
from ._device import browser_facts
from ._frame.inbound import FrameOutcome, FrameProtocol
from ._frame.urls import frame_url, modal_url, origin_of
from ._network.wire import Bid

if TYPE_CHECKING:
    from ._interfaces import AdHost

__all__ = ["Ad", "assign", "relay_front_end_message", "send_user_event", "when_filled"]

# docs/protocol.md §11: the front end loads an ad frame only after this Ad said
# it is alive, over its own comm. Custom messages are never saved with widget
# state, so a published notebook or one reopened without its kernel never hears it.
_LIVE = {"kind": "live"}
_DROP_REASONS = frozenset({"rate", "size"})  # js/relay.ts

logger = logging.getLogger("kontext_widget")

_BUNDLE = Path(__file__).parent / "static" / "widget.js"


class Ad(anywidget.AnyWidget):
    """The ad for one assistant message and placement code.

    Create it with ``Session.create_ad`` (or ``Session.render``), not directly.
    Displaying it shows nothing until a bid is assigned to its message, then the
    ad iframe; one iframe per ``Ad`` however many times it is displayed.

    Its state lives in read-only traits synced with the browser (``message_id``,
    ``code``, ``theme``, ``iframe_url``, ``modal_url``, ``server_origin``,
    ``frame_context``, ``height``, ``visible``, ``destroyed``; each documented
    where it is declared), so ``ad.observe(callback, "height")`` works on them.
    """

    # The bundle's text, not its Path: anywidget turns a Path into a watched file
    # whose change signal holds every widget strongly, so no Ad (nor its session)
    # could ever be freed. Hot reload is a development nicety we do without.
    _esm = _BUNDLE.read_text(encoding="utf-8")

    iframe_url = traitlets.Unicode("", read_only=True).tag(sync=True)
    """``""`` until a bid is assigned, then the frame's URL (``{server}/api/frame/{bidId}?...``)."""
    server_origin = traitlets.Unicode("", read_only=True).tag(sync=True)
    """The ad server's origin: the only one whose messages the front end accepts."""
    modal_url = traitlets.Unicode("", read_only=True).tag(sync=True)
    """Like ``iframe_url``, for the interstitial modal."""
    frame_context = traitlets.Dict(read_only=True).tag(sync=True)
    """What the creative receives in ``update-iframe``: the conversation up to this ad's message."""
    code = traitlets.Unicode("", read_only=True).tag(sync=True)
    """The placement code, as created."""
    message_id = traitlets.Unicode("", read_only=True).tag(sync=True)
    """The assistant message the ad belongs under, as created."""
    theme = traitlets.Unicode(None, allow_none=True, read_only=True).tag(sync=True)
    """The theme asked for at creation (``"dark"``, ...); ``None`` follows the notebook's."""
    height = traitlets.Float(0.0, read_only=True).tag(sync=True)
    """The last height the iframe reported, in CSS pixels (0 until then, 0 after hide)."""
    visible = traitlets.Bool(False, read_only=True).tag(sync=True)
    """Whether the iframe asked to be shown."""
    destroyed = traitlets.Bool(False, read_only=True).tag(sync=True)
    """``True`` after ``destroy()`` or once its session was destroyed."""

    def __init__(
        self, host: AdHost, message_id: str, code: str, theme: str | None, **kwargs: Any
    ) -> None:
        """Called by ``Session.create_ad``; do not construct an ``Ad`` yourself."""
        if kwargs:
            raise TypeError(
                f"Ad() got unexpected arguments {sorted(kwargs)}; "
                "create ads with session.create_ad(message_id, code=..., theme=...)"
            )
        # Set before the comm opens, so they travel in its comm_open state instead of
        # an update of their own: every comm message is one more the page handles, in
        # order, before the bid's update (bench/RESULTS.md section 6).
        self.set_trait("message_id", message_id)
        self.set_trait("code", code)
        self.set_trait("theme", theme)
        super().__init__()
        self._host = host  # the session's side of the boundary (see _interfaces)
        self._protocol = FrameProtocol(code, message_id)
        self._mounted = False
        self._drops_reported: set[str] = set()
        self._lock = threading.Lock()
        # Run once a bid is assigned (the headless viewer's automatic view).
        self._on_filled: list[Callable[[Ad], None]] = []
        self._headless = False
        self.on_msg(self._on_front_end_message)
        # Pages that see the widget created know at once, even while the cell runs
        # (comm messages from the front end wait for the running cell to end).
        self.send(_LIVE)

    def __repr__(self) -> str:
        # Stable across runs (no ids, no addresses): notebooks are compared by nbval.
        if self.destroyed:
            state = "destroyed"
        elif self._protocol.bid is None:
            state = "waiting for a bid"
        else:
            state = "filled"
        theme = f", theme={self.theme!r}" if self.theme else ""
        return f"Ad(message_id={self.message_id!r}, code={self.code!r}{theme}, state={state!r})"

    @property
    def bid_id(self) -> str | None:
        """The bid this ad renders, once one is assigned to its message."""
        bid = self._protocol.bid
        return bid.bid_id if bid else None

    def mount(self) -> Ad:
        """Display the ad in the current output; an ad is mounted once."""
        with self._lock:
            if self._mounted:
                raise RuntimeError(
                    f"{self!r} is already mounted; display(ad) shows it again in another output"
                )
            self._mounted = True
        display(self)  # type: ignore[no-untyped-call]
        return self

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """IPython's display hook: every way of showing the ad (``mount``, ``display``) ends here.

        Under ``KONTEXT_HEADLESS_VIEWER=1`` (nbval with ``--kontext-headless-viewer``)
        a displayed ad is also rendered and viewed by ``testing.HeadlessViewer``
        once its bid is there, as a reader's browser would.
        """
        bundle = super()._repr_mimebundle_(**kwargs)
        if headless_viewing_enabled():
            with self._lock:
                first = not self._headless
                self._headless = True
            if first:
                from .testing import play_when_filled  # noqa: PLC0415 - only for tests

                play_when_filled(self)
        return bundle

    def destroy(self) -> None:
        """Remove the iframe from every view and release listeners. Idempotent."""
        with self._lock:
            if self.destroyed:
                return
            self.set_trait("destroyed", True)
            self._on_filled.clear()
        self._host.forget_ad(self)
        # A DOMWidget owns a Layout widget that close() leaves registered: close both.
        layout = getattr(self, "layout", None)
        self.close()
        if layout is not None:
            layout.close()

    # -- from the browser --------------------------------------------------------
    def _on_front_end_message(self, _widget: object, content: object, _buffers: object) -> None:
        if self.destroyed or not isinstance(content, dict):
            return
        kind = content.get("kind")
        if kind == "hello":  # a page that did not see the widget created (reload, other tab)
            self.send(_LIVE)
        elif kind == "frame-message":
            source = "modal" if content.get("source") == "modal" else "inline"
            self._apply(self._protocol.handle(content.get("message"), source))
        elif kind == "modal-timeout":
            self._apply(self._protocol.modal_timeout())
        elif kind == "browser-facts":
            browser_facts.update(content.get("facts"))
        elif kind == "frame-message-dropped":
            self._report_relay_drop(content.get("reason"), content.get("type"))
        elif kind == "click-failed" and self._protocol.reports.take():
            url = content.get("url")
            reason = content.get("reason")
            self._host.report_error(
                f"Error opening click URL: {str(url)[:256]} ({str(reason)[:128]})",
                "Ad.click",
                bid_id=self.bid_id,
            )

    def _report_relay_drop(self, reason: object, frame_type: object) -> None:
        """The page relays a creative's messages within a rate and size budget (js/relay.ts,
        docs/protocol.md §13.2) and says so at the first drop of each reason. Reported once
        per reason and ad, apart from the malformed-message budget, which the same flood
        has usually spent by then."""
        if reason not in _DROP_REASONS or reason in self._drops_reported:
            return
        self._drops_reported.add(reason)
        self._host.report_error(
            f"Frame messages not relayed to the kernel: {reason}"
            f" (first dropped: {str(frame_type)[:64]})",
            "Ad.relay",
            bid_id=self.bid_id,
        )

    def _apply(self, outcome: FrameOutcome) -> None:
        if outcome.height is not None:
            self.set_trait("height", outcome.height)
        if outcome.visible is not None:
            self.set_trait("visible", outcome.visible)
        for event in outcome.events:
            self._host.emit(event, code=self.code, message_id=self.message_id, bid_id=self.bid_id)
        # A creative can send malformed messages as fast as it likes: rate-limited per ad.
        if outcome.report is not None and self._protocol.reports.take():
            self._host.report_error(
                f"Malformed frame message: {outcome.report}", "Ad.onMessage", bid_id=self.bid_id
            )


# -- the session's interface to its ads (and the headless viewer's) -------------------------
# Module functions, not Ad methods: the public Ad stays what a notebook uses, and
# no other module reaches into an Ad's private state.


def assign(ad: Ad, bid: Bid, server: str, context: dict[str, Any]) -> None:
    """Attach the bid once; later calls are no-ops (docs/protocol.md §3.4: bids never change)."""
    with ad._lock:  # the callback thread and create_ad's caller may race here
        if ad.destroyed or ad._protocol.bid is not None:
            return
        ad._protocol.bid = bid
    theme = ad.theme
    # One update message for the four (hold_sync), not one each: the page handles comm
    # messages one after another, and the frame mounts on the last (bench/RESULTS.md
    # section 6); Python observers still see the four set together.
    with ad.hold_sync(), ad.hold_trait_notifications():
        ad.set_trait("frame_context", context)
        ad.set_trait("server_origin", origin_of(server))
        ad.set_trait("modal_url", modal_url(server, bid.bid_id, ad.code, ad.message_id, theme))
        ad.set_trait("iframe_url", frame_url(server, bid.bid_id, ad.code, ad.message_id, theme))
    with ad._lock:
        waiting, ad._on_filled = ad._on_filled, []
    for callback in waiting:
        callback(ad)


def send_user_event(ad: Ad, name: str, payload: object) -> None:
    """Post a publisher event to the ad's creative (through the front end)."""
    message: dict[str, Any] = {"kind": "user-event", "name": name}
    if payload is not None:
        message["payload"] = payload
    ad.send(message)


def when_filled(ad: Ad, callback: Callable[[Ad], None]) -> None:
    """Call ``callback(ad)`` now if the ad has a bid, else right after one is assigned."""
    with ad._lock:
        if ad._protocol.bid is None and not ad.destroyed:
            ad._on_filled.append(callback)
            return
    callback(ad)


def relay_front_end_message(ad: Ad, content: object) -> None:
    """Handle ``content`` as if the ad's front end had sent it (``testing.HeadlessViewer``)."""
    ad._on_front_end_message(ad, content, [])
