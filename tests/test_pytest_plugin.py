"""The pytest plugin, run the way users run it: inside a pytest run of its own (pytester)."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import nbformat
import pytest

import kontext_widget as kw
from kontext_widget.pytest_plugin import wait_for_events

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parent.parent


def _plugin_args() -> list[str]:
    """``-p`` the plugin unless it is installed (then its entry point loads it already)."""
    installed = any(
        entry.value == "kontext_widget.pytest_plugin"
        for entry in importlib.metadata.entry_points(group="pytest11")
    )
    return [] if installed else ["-p", "kontext_widget.pytest_plugin"]


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    # Subprocess runs and notebook kernels must import this checkout.
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    return pytester


def test_fixtures_script_the_server_and_reset_it_per_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import os
        import kontext_widget as kw
        from kontext_widget.pytest_plugin import wait_for_events

        def test_scripted_no_fill(kontext_ad_server, kontext_session):
            assert os.environ["KONTEXT_AD_SERVER_URL"] == kontext_ad_server.url
            kontext_ad_server.no_fill("ads_disabled")  # persistent: must not leak
            session = kontext_session()
            session.add_message({"id": "u1", "role": "user", "content": "hi"})
            (event,) = wait_for_events(session, kw.NoFill)
            assert event.skip_code == "ads_disabled"

        def test_next_test_gets_the_default_fill(kontext_ad_server, kontext_session):
            assert kontext_ad_server.requests == []
            session = kontext_session(enabled_placement_codes=["inlineAd", "videoAd"])
            session.add_message({"id": "u1", "role": "user", "content": "hi"})
            fills = wait_for_events(session, "ad.filled", "ad.filled")
            assert sorted(event.code for event in fills) == ["inlineAd", "videoAd"]
            assert session.ad_server_url == kontext_ad_server.url
        """
    )
    result = pytester.runpytest(*_plugin_args())
    result.assert_outcomes(passed=2)


def test_sessions_are_destroyed_after_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        made = []

        def test_make(kontext_session):
            made.append(kontext_session())
            assert not made[0].destroyed

        def test_destroyed_afterwards():
            assert made[0].destroyed
        """
    )
    pytester.runpytest(*_plugin_args()).assert_outcomes(passed=2)


def test_option_serves_notebook_kernels_under_nbval(pytester: pytest.Pytester) -> None:
    cell = nbformat.v4.new_code_cell(
        "import os\n"
        "import kontext_widget as kw\n"
        "session = kw.create_session(publisher_token='p', user_id='u', conversation_id='c')\n"
        "print(session.ad_server_url == os.environ['KONTEXT_AD_SERVER_URL'])\n"
        "turn = session.chat_turn('Which running shoes?', 'These ones.', display=False)\n"
        "print(turn.ad, [event.name for event in session.events])"
    )
    cell.execution_count = 1
    cell.outputs = [
        nbformat.v4.new_output(
            "stream",
            name="stdout",
            text="True\nAd(message_id='a1', code='inlineAd', state='filled') ['ad.filled']\n",
        )
    ]
    notebook = nbformat.v4.new_notebook(cells=[cell])
    nbformat.write(notebook, pytester.path / "chat.ipynb")

    result = pytester.runpytest_subprocess(
        *_plugin_args(), "--nbval", "--nbval-current-env", "--kontext-ad-server", "chat.ipynb"
    )
    result.assert_outcomes(passed=1)


def test_without_the_option_nothing_is_exported(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import os

        def test_env():
            assert "KONTEXT_AD_SERVER_URL" not in os.environ
        """
    )
    pytester.runpytest(*_plugin_args()).assert_outcomes(passed=1)


def test_wait_for_events_times_out_naming_what_arrived() -> None:
    with kw.LocalAdServer() as server:
        server.no_fill()
        with kw.create_session(
            publisher_token="p", user_id="u", conversation_id="c", ad_server_url=server.url
        ) as session:
            session.add_message({"id": "u1", "role": "user", "content": "hi"})
            with pytest.raises(TimeoutError, match=r"ad\.filled.*\['ad\.no-fill'\]"):
                wait_for_events(session, "ad.filled", timeout=0.5)


@pytest.mark.parametrize(
    ("names", "error"),
    [
        *(((name,), "is not an ad event") for name in ("ad.unknown", "filled", object, 3)),
        ((), "at least one event name"),
    ],
)
def test_wait_for_events_rejects_bad_names(names: tuple[object, ...], error: str) -> None:
    with (
        kw.create_session(
            publisher_token="p",
            user_id="u",
            conversation_id="c",
            ad_server_url="http://127.0.0.1:9",
        ) as session,
        pytest.raises(ValueError, match=error),
    ):
        wait_for_events(session, *names)  # type: ignore[arg-type]


# -- ini options, the headless viewer, and the README's worked example -------------------------


def _readme_block(marker: str) -> str:
    """The fenced block right after ``<!-- nbval-example: marker -->`` in README.md."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    after = text.split(f"<!-- nbval-example: {marker} -->", 1)[1]
    body = after.split("```", 2)[1]
    return body.split("\n", 1)[1]  # drop the fence's language tag


def _readme_notebook(expected_output: str) -> nbformat.NotebookNode:
    chat = nbformat.v4.new_code_cell(_readme_block("chat"))
    checked = nbformat.v4.new_code_cell(_readme_block("cell").rstrip("\n"))
    checked.execution_count = 2
    checked.outputs = [
        nbformat.v4.new_output(
            "execute_result", data={"text/plain": expected_output}, execution_count=2
        )
    ]
    return nbformat.v4.new_notebook(cells=[chat, checked])


def test_the_readme_nbval_example_pins_fills_views_and_a_click(pytester: pytest.Pytester) -> None:
    pyproject = _readme_block("pyproject")
    code_lines = [
        line
        for block in (pyproject, _readme_block("cell"))
        for line in block.splitlines()
        if line.strip()
    ]
    assert len(code_lines) < 10  # the README promises under ten lines of test code
    pytester.makefile(".toml", pyproject=pyproject)
    expected = _readme_block("output").strip()
    nbformat.write(_readme_notebook(expected), pytester.path / "my_chat.ipynb")
    # No --nbval and no --kontext-* flag: the ini options do it all.
    result = pytester.runpytest_subprocess(*_plugin_args(), "--nbval-current-env", "my_chat.ipynb")
    result.assert_outcomes(passed=2)

    # The pin bites: without the headless viewer there is no view and the cell fails.
    pytester.makefile(".toml", pyproject=pyproject.replace("kontext_headless_viewer = true", ""))
    result = pytester.runpytest_subprocess(*_plugin_args(), "--nbval-current-env", "my_chat.ipynb")
    result.assert_outcomes(passed=1, failed=1)


def test_the_headless_viewer_flag_views_every_displayed_ad_under_nbval(
    pytester: pytest.Pytester,
) -> None:
    turns = nbformat.v4.new_code_cell(
        "import kontext_widget as kw\n"
        "session = kw.create_session(publisher_token='p', user_id='u', conversation_id='c')\n"
        "first = session.chat_turn('Which running shoes?', 'These ones.', display=False)\n"
        "second = session.chat_turn('And socks?', 'Wool ones.')  # displayed: viewed"
    )
    cell = nbformat.v4.new_code_cell(
        "# NBVAL_CHECK_OUTPUT\n"
        "session.wait_idle()\n"
        "print(first.ad.height, second.ad.height, second.ad.visible)\n"
        "print([event.name for event in session.events])"
    )
    cell.execution_count = 2
    names = (
        "['ad.filled', 'ad.filled', 'ad.render-started', 'ad.height', "
        "'ad.render-completed', 'ad.viewed']"
    )
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text=f"0.0 120.0 True\n{names}\n")
    ]
    notebook = nbformat.v4.new_notebook(cells=[turns, cell])
    nbformat.write(notebook, pytester.path / "views.ipynb")
    result = pytester.runpytest_subprocess(
        *_plugin_args(),
        "--nbval-lax",
        "--nbval-current-env",
        "--kontext-ad-server",
        "--kontext-headless-viewer",
        "views.ipynb",
    )
    result.assert_outcomes(passed=2)


def test_ini_options_equal_the_flags(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        """
        [pytest]
        kontext_ad_server = true
        kontext_headless_viewer = true
        """
    )
    pytester.makepyfile(
        """
        import os

        def test_env(kontext_ad_server):
            assert os.environ["KONTEXT_AD_SERVER_URL"] == kontext_ad_server.url
            assert os.environ["KONTEXT_HEADLESS_VIEWER"] == "1"
        """
    )
    pytester.runpytest_subprocess(*_plugin_args()).assert_outcomes(passed=1)


def test_viewer_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import kontext_widget as kw

        def test_manual(kontext_session, kontext_viewer):
            session = kontext_session()
            turn = session.chat_turn("hi", "hello", display=False)
            kontext_viewer(turn.ad).view().click()
            assert [e.name for e in session.events][-2:] == ["ad.viewed", "ad.clicked"]

        def test_automatic(kontext_session, kontext_headless_viewer):
            session = kontext_session()
            turn = session.chat_turn("hi", "hello", display=False)
            turn.ad._repr_mimebundle_()  # what display(turn.ad) calls
            assert session.events[-1].name == "ad.viewed"
        """
    )
    pytester.runpytest(*_plugin_args()).assert_outcomes(passed=2)
