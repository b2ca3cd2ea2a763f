"""``kw.playground()``: controls script the LocalAdServer, a turn shows its ad, events and metrics.

The button's handler is ``Playground.run``; clicking is tested in JupyterLab
(tests/browser/test_playground_lab.py). Here the controls are set as a user
would set them and the results are read from the same widgets the page shows.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import kontext_widget as kw


@pytest.fixture
def play(server: kw.LocalAdServer) -> Iterator[kw.Playground]:
    created = kw.playground(server=server)
    yield created
    created.close()


def test_fill_with_the_chosen_code_format_and_theme(
    play: kw.Playground, server: kw.LocalAdServer
) -> None:
    play.code.value = "videoAd"
    assert play.format.value == "video"  # follows the code until changed
    play.format.value = "interstitial"
    play.theme.value = "dark"
    turn = play.run()
    assert turn is not None
    assert play.session.wait_idle(10)
    assert play.stage.children == (turn.ad,)
    assert (turn.ad.code, turn.ad.theme) == ("videoAd", "dark")
    assert turn.ad.bid_id is not None
    assert server.bids[turn.ad.bid_id].format == "interstitial"
    assert sorted(bid.code for bid in server.bids.values()) == ["videoAd"]  # only that code
    assert play.status.value.startswith(f"Filled: bid {turn.ad.bid_id[:8]} for videoAd")
    assert "kw-chat-user" in play.chat.value and "kw-chat-assistant" in play.chat.value
    assert [row["name"] for row in play.event_log.rows] == ["ad.filled"]
    assert play.session.metrics()["videoAd"].fills == 1


@pytest.mark.parametrize(
    ("answer", "settings", "status", "event"),
    [
        (
            "no-fill",
            {"skip_code": "ads_disabled"},
            "No fill (skip code: ads_disabled)",
            "ad.no-fill",
        ),
        (
            "error",
            {"err_code": "geo_disabled"},
            "Error geo_disabled: Ad generation skipped",
            "ad.error",
        ),
        ("HTTP status", {"http_status": 503}, "Error request_failed: HTTP 503", "ad.error"),
        ("HTTP status", {"http_status": 429}, "Error request_failed: rate limited", "ad.error"),
    ],
)
@pytest.mark.usefixtures("fast_retries")
def test_scripted_answers_show_their_state(
    play: kw.Playground,
    answer: str,
    settings: dict[str, object],
    status: str,
    event: str,
) -> None:
    play.answer.value = answer
    shown = {child.description for child in play._answer_details.children}
    for name, value in settings.items():
        control = getattr(play, name)
        assert control.description in shown  # the control for this answer is on screen
        control.value = value
    turn = play.run()
    assert turn is not None
    assert play.session.wait_idle(15)
    assert turn.ad.bid_id is None
    assert play.status.value == status
    # The slot says why there is no ad instead of staying blank.
    assert play.stage.children == (play._no_ad,)
    assert play._no_ad.value == f"No ad for this turn: {status}"
    assert turn.ad.destroyed
    assert play.event_log.rows[-1]["name"] == event
    # The next turn is back on the persistent answer: a fill.
    play.answer.value = "fill"
    again = play.run()
    assert again is not None and play.session.wait_idle(10)
    assert again.ad.bid_id is not None
    assert play.stage.children == (again.ad,)


def test_delay_is_applied_to_the_next_answer(play: kw.Playground, server: kw.LocalAdServer) -> None:
    play.delay.value = 0.3
    turn = play.run()
    assert turn is not None
    assert play.status.value == "Waiting for the ad server…"
    assert play.session.wait_idle(10)
    assert turn.ad.bid_id is not None


def test_a_new_turn_replaces_the_ad(play: kw.Playground) -> None:
    first = play.run()
    assert first is not None and play.session.wait_idle(10)
    second = play.run()
    assert second is not None and play.session.wait_idle(10)
    assert first.ad.destroyed and not second.ad.destroyed
    assert play.stage.children == (second.ad,)


def test_empty_text_says_so(play: kw.Playground) -> None:
    play.user_text.value = "  "
    assert play.run() is None
    assert play.status.value.startswith("Type a user message")
    assert play.session.messages == ()


def test_conversation_text_is_escaped(play: kw.Playground) -> None:
    play.user_text.value = "<img src=x onerror=alert(1)>"
    play.run()
    assert "<img" not in play.chat.value
    assert "&lt;img src=x onerror=alert(1)&gt;" in play.chat.value


def test_own_server_is_started_and_stopped() -> None:
    play = kw.playground(codes=["inlineAd"])
    server = play.server
    assert server is not None and server.running
    assert repr(play) == "Playground(mode='local', codes=['inlineAd'])"
    play.close()
    assert not server.running
    assert play.session.destroyed
    assert play.comm is None and play.skip_code.comm is None and play.event_log.comm is None


def test_production_mode_disables_the_answer_controls(monkeypatch: pytest.MonkeyPatch) -> None:
    with kw.LocalAdServer() as stand_in:  # stands in for production via the env variable
        monkeypatch.setenv("KONTEXT_AD_SERVER_URL", stand_in.url)
        play = kw.playground(publisher_token="pub-token", codes=["inlineAd"])
        try:
            assert play.server is None
            assert play.format.disabled
            assert play.answer not in _descendants(play)
            turn = play.run()
            assert turn is not None and play.session.wait_idle(10)
            assert turn.ad.bid_id is not None
            assert stand_in.requests_to("/preload")[0].headers["kontextso-publisher-token"] == (
                "pub-token"
            )
        finally:
            play.close()


def _descendants(widget: object) -> list[object]:
    found = []
    for child in getattr(widget, "children", ()):
        found.append(child)
        found.extend(_descendants(child))
    return found


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"publisher_token": ""}, ValueError, "publisher_token must be a non-empty str"),
        ({"codes": "inlineAd"}, TypeError, "not a single str"),
        ({"codes": []}, ValueError, "codes must be non-empty placement code strings"),
        ({"server": "http://x"}, TypeError, "server must be a kontext_widget.LocalAdServer"),
        ({"user_text": 3}, TypeError, "user_text must be a str"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        kw.playground(**kwargs)  # type: ignore[arg-type]
