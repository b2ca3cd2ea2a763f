"""``kw.playground()``: try placements by clicking instead of editing and re-running cells.

A widget composed of ipywidgets controls and this package's own widgets (the
``Ad`` and the ``EventLog``), no framework: pick a placement code, a creative
format and a theme, script what the ad server answers next (fill, no-fill with
a skip code, error with a code, an HTTP status, a delay), edit a sample chat
turn and press "Run turn". The turn runs in the playground's own session
exactly as ``chat_turn`` runs it, and the resulting ad appears under the sample
reply, with the session's events and per-placement metrics underneath.

Offline (the default) it drives a ``LocalAdServer`` through its scripting API,
so every answer can be provoked. Given a publisher token it talks to the
production ad server instead, shows real ads, and the answer controls are
disabled (the answers are Kontext's).

Nothing here blocks the kernel: a turn returns at once and the ad, the status
line and the event log fill in as the session's events arrive (on the kernel's
main thread, where the session's callbacks run).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import ipywidgets as widgets

from kontext_widget._ad import Ad
from kontext_widget._constants import TIMING
from kontext_widget._events import AdError, AdEvent, Filled, NoFill
from kontext_widget._local_server import FORMATS, LocalAdServer, default_format
from kontext_widget._session import Session, create_session, session_link

from .chat import ChatTurn, chat_bubble_html
from .event_log import EventLog

__all__ = ["ANSWERS", "DEFAULT_CODES", "Playground", "playground"]

DEFAULT_CODES: Final = ("inlineAd", "videoAd", "rewardedAd", "interstitialAd")
# The next-answer choices, as shown -> the LocalAdServer script they select.
ANSWERS: Final = ("fill", "no-fill", "error", "HTTP status")
THEMES: Final = (("notebook", ""), ("light", "light"), ("dark", "dark"))
RETRIED_STATUS: Final = 429
MAX_DELAY_SECONDS: Final = 20.0  # above the 16 s preload timeout: timeouts can be tried too

_PRODUCTION_NOTE: Final = "Production ads: the answers are Kontext's."
_LOCAL_NOTE: Final = "Offline: a local ad server answers as scripted below."


def _label(text: str) -> widgets.Label:
    return widgets.Label(text, layout=widgets.Layout(width="auto"))


class Playground(widgets.VBox):  # type: ignore[misc]  # ipywidgets ships no types
    """The placement playground; create it with ``kw.playground()``.

    ``run()`` does what the "Run turn" button does and returns the ``ChatTurn``.
    ``session`` is the playground's own session (its ``metrics()`` and
    ``to_records()`` work as usual); ``server`` is the ``LocalAdServer`` it
    scripts, or ``None`` with production ads. ``close()`` destroys the session
    and stops a server the playground started.

    Its parts are attributes, so a script or a test can set them as a reader
    would click them:

    - ``code``, ``format``, ``theme``: the placement code, the creative format
      (offline only) and the theme of the next turn's ad;
    - ``answer``: what the local server answers next (``"fill"``, ``"no-fill"``,
      ``"error"``, ``"HTTP status"``), with ``skip_code``, ``err_code``,
      ``http_status`` and ``delay`` (seconds) as its details;
    - ``user_text``, ``reply_text``: the sample turn; ``run_button`` runs it;
    - ``status``: one line saying what the last turn got; ``chat``: the turn as
      chat bubbles; ``stage``: where its ad (``ad``, the last ``Ad``) appears;
    - ``event_log``: the session's live ``EventLog``.
    """

    def __init__(
        self,
        *,
        publisher_token: str | None,
        codes: Sequence[str],
        server: LocalAdServer | None,
        user_text: str,
        reply_text: str,
    ) -> None:
        production = publisher_token is not None
        self._owns_server = not production and server is None
        self.server: LocalAdServer | None = None
        if not production:
            self.server = server if server is not None else LocalAdServer().start()
        self.session: Session = create_session(
            publisher_token=publisher_token or "playground-publisher",
            user_id="playground-user",
            conversation_id="playground",
            enabled_placement_codes=list(codes),
            ad_server_url=self.server.url if self.server is not None else None,
        )
        self.ad: Ad | None = None
        self._code_of_turn = ""

        wide = widgets.Layout(width="auto", flex="1 1 auto")
        self.code = widgets.Dropdown(options=list(codes), value=codes[0], description="Placement")
        self.format = widgets.Dropdown(
            options=list(FORMATS), value=default_format(codes[0]), description="Format"
        )
        self.theme = widgets.Dropdown(options=list(THEMES), value="", description="Theme")
        self.answer = widgets.ToggleButtons(options=list(ANSWERS), value="fill")
        self.answer.style.button_width = "auto"
        self.skip_code = widgets.Text(value="no_fill", description="Skip code")
        self.err_code = widgets.Text(value="unknown", description="Error code")
        self.http_status = widgets.BoundedIntText(
            value=500, min=100, max=599, description="HTTP status"
        )
        self.delay = widgets.BoundedFloatText(
            value=0.0, min=0.0, max=MAX_DELAY_SECONDS, step=0.5, description="Delay (s)"
        )
        self.user_text = widgets.Text(value=user_text, description="User", layout=wide)
        self.reply_text = widgets.Textarea(value=reply_text, description="Assistant", layout=wide)
        self.run_button = widgets.Button(
            description="Run turn", button_style="primary", icon="play", tooltip="Run turn"
        )
        self.status = widgets.Label("Press “Run turn” to fetch an ad.")
        self.chat = widgets.HTML()
        self.stage = widgets.VBox()
        self._no_ad = widgets.Label("")
        self.event_log: EventLog = self.session.event_log()
        # Class names: for styling hooks and for tests that click through the page.
        for widget, name in (
            (self.code, "kw-playground-code"),
            (self.format, "kw-playground-format"),
            (self.theme, "kw-playground-theme"),
            (self.answer, "kw-playground-answer"),
            (self.skip_code, "kw-playground-skip-code"),
            (self.err_code, "kw-playground-err-code"),
            (self.http_status, "kw-playground-http-status"),
            (self.delay, "kw-playground-delay"),
            (self.user_text, "kw-playground-user"),
            (self.reply_text, "kw-playground-reply"),
            (self.run_button, "kw-playground-run"),
            (self.status, "kw-playground-status"),
            (self.chat, "kw-playground-chat"),
            (self.stage, "kw-playground-stage"),
            (self._no_ad, "kw-playground-no-ad"),
        ):
            widget.add_class(name)

        answer_details = widgets.HBox([self.delay])
        self._answer_details = answer_details
        note = _label(_PRODUCTION_NOTE if production else _LOCAL_NOTE)
        answer_rows: list[widgets.Widget] = [note]
        if production:
            self.format.disabled = True
            self.format.tooltip = "The format is the placement's, set at Kontext"
        else:
            answer_rows += [widgets.HBox([_label("Next answer"), self.answer]), answer_details]
        super().__init__(
            [
                widgets.HBox([self.code, self.format, self.theme]),
                *answer_rows,
                widgets.HBox([self.user_text]),
                widgets.HBox([self.reply_text]),
                widgets.HBox([self.run_button, self.status]),
                self.chat,
                self.stage,
                self.event_log,
            ]
        )
        self.add_class("kw-playground")
        self.code.observe(self._on_code, names="value")
        self.answer.observe(self._on_answer, names="value")
        self.run_button.on_click(lambda _button: self.run())
        session_link(self.session).add_listener(self._on_event)

    def __repr__(self) -> str:
        # Stable across runs (nbval): no ports, ids or counts.
        mode = "local" if self.server is not None else "production"
        return f"Playground(mode={mode!r}, codes={list(self.session.enabled_placement_codes)!r})"

    # -- controls ------------------------------------------------------------------------
    def _on_code(self, change: dict[str, Any]) -> None:
        self.format.value = default_format(change["new"])

    def _on_answer(self, change: dict[str, Any]) -> None:
        details: dict[str, list[widgets.Widget]] = {
            "fill": [self.delay],
            "no-fill": [self.skip_code, self.delay],
            "error": [self.err_code, self.delay],
            "HTTP status": [self.http_status, self.delay],
        }
        self._answer_details.children = details[change["new"]]

    def _script_answer(self, code: str) -> None:
        """Queue the chosen answer for the next ``/preload`` only (``times=1``)."""
        server = self.server
        if server is None:
            return
        delay = float(self.delay.value)
        answer = self.answer.value
        if answer == "fill":
            server.fill(codes=[code], formats={code: self.format.value}, delay=delay, times=1)
        elif answer == "no-fill":
            server.no_fill(self.skip_code.value or "no_fill", delay=delay, times=1)
        elif answer == "error":
            server.error(self.err_code.value or "unknown", delay=delay, times=1)
        else:
            status = int(self.http_status.value)
            # 429 is retried (docs/protocol.md §2): answer every attempt, so the turn
            # shows what a 429 that lasts does rather than the retry's fill.
            attempts = 1 + len(TIMING.retry_waits) if status == RETRIED_STATUS else 1
            server.http_status(status, delay=delay, times=attempts)

    # -- a turn --------------------------------------------------------------------------
    def run(self) -> ChatTurn | None:
        """Run the sample turn with the current settings; the ad fills in as it arrives.

        Returns ``None`` (and says why in the status line) when a text is empty.
        """
        user, reply = self.user_text.value, self.reply_text.value
        if not user.strip() or not reply.strip():
            self.status.value = "Type a user message and an assistant reply first."
            return None
        code = self.code.value
        theme = self.theme.value or None
        self._script_answer(code)
        if self.ad is not None:
            self.ad.destroy()
        self._code_of_turn = code
        self.status.value = "Waiting for the ad server…"
        turn = self.session.chat_turn(user, reply, code=code, theme=theme, display=False, wait=None)
        self.ad = turn.ad
        self.chat.value = chat_bubble_html("user", user) + chat_bubble_html("assistant", reply)
        self.stage.children = (turn.ad,)
        return turn

    def _on_event(self, event: AdEvent) -> None:
        """The status line: what the ad server answered for the latest turn."""
        if isinstance(event, Filled) and event.code == self._code_of_turn:
            self.status.value = f"Filled: bid {event.bid_id[:8]} for {event.code}"
            return
        if isinstance(event, NoFill):
            text = f"No fill (skip code: {event.skip_code})"
        elif isinstance(event, AdError):
            text = f"Error {event.err_code}: {event.message}"
        else:
            return
        # Labels show text, never markup. The empty slot says why there is no ad.
        self.status.value = text[:300]
        if self.ad is not None and self.ad.bid_id is None:
            self.ad.destroy()
            self.ad = None
            self.stage.children = (self._no_ad,)
        self._no_ad.value = f"No ad for this turn: {text[:300]}"

    def close(self) -> None:
        """Destroy the session, stop a server the playground started, close the widgets."""
        self.session.destroy()
        if self._owns_server and self.server is not None:
            self.server.stop()
        # Every control, including those not on screen (the answer details swap),
        # so no comm of the playground outlives it.
        controls = [getattr(self, name) for name in _CONTROLS]
        for widget in [*_descendants(self), *controls]:
            widget.close()
        super().close()


_CONTROLS: Final = (
    "code",
    "format",
    "theme",
    "answer",
    "skip_code",
    "err_code",
    "http_status",
    "delay",
    "user_text",
    "reply_text",
    "run_button",
    "status",
    "chat",
    "stage",
    "_no_ad",
)


def _descendants(widget: widgets.Widget) -> list[widgets.Widget]:
    found: list[widgets.Widget] = []
    for child in getattr(widget, "children", ()):
        found.append(child)
        found.extend(_descendants(child))
    return found


def playground(
    *,
    publisher_token: str | None = None,
    codes: Sequence[str] | None = None,
    server: LocalAdServer | None = None,
    user_text: str = "Which running shoes should I buy for my first marathon?",
    reply_text: str = (
        "Pick neutral shoes with good cushioning, half a size up, and run in them "
        "for a few weeks before race day."
    ),
) -> Playground:
    """A placement playground widget: display it (last in a cell) and click.

    Without ``publisher_token`` it runs offline against ``server`` (a
    ``LocalAdServer``; one is started, and stopped by ``close()``, when not
    given), whose next answer the controls script. With a token it shows
    production ads for ``codes`` (your placement codes; default the four
    demo codes), from ``$KONTEXT_AD_SERVER_URL`` or the production server.
    """
    if publisher_token is not None and (
        not isinstance(publisher_token, str) or not publisher_token.strip()
    ):
        raise ValueError("publisher_token must be a non-empty str or None")
    if publisher_token is not None and server is not None:
        raise ValueError("pass either publisher_token (production ads) or server (offline)")
    if server is not None and not isinstance(server, LocalAdServer):
        raise TypeError(
            f"server must be a kontext_widget.LocalAdServer, got {type(server).__name__}"
        )
    if isinstance(codes, str):
        raise TypeError("codes must be a list of placement codes, not a single str")
    chosen = tuple(dict.fromkeys(codes)) if codes is not None else DEFAULT_CODES
    if not chosen or not all(isinstance(code, str) and code.strip() for code in chosen):
        raise ValueError(f"codes must be non-empty placement code strings, got {codes!r}")
    for name, value in (("user_text", user_text), ("reply_text", reply_text)):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    return Playground(
        publisher_token=publisher_token,
        codes=chosen,
        server=server,
        user_text=user_text,
        reply_text=reply_text,
    )
