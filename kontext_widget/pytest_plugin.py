"""pytest plugin: an offline Kontext ad server for your tests and for notebooks under nbval.

Installed with the package (entry point ``pytest11``), it adds:

* ``--kontext-ad-server`` (or ``kontext_ad_server = true`` in the ini file):
  start one ``LocalAdServer`` for the whole run and export its URL as
  ``KONTEXT_AD_SERVER_URL`` before any test runs. nbval starts notebook
  kernels as child processes, which inherit the environment, so every
  ``create_session(...)`` without ``ad_server_url`` in those notebooks talks
  to the local server: ``pytest --nbval --kontext-ad-server notebooks/``
  regression-tests chat notebooks offline.
* ``--kontext-headless-viewer`` (or ``kontext_headless_viewer = true``):
  export ``KONTEXT_HEADLESS_VIEWER=1`` the same way, so every ad a notebook
  displays is rendered and viewed by ``kontext_widget.testing.HeadlessViewer``
  once its bid arrives, as a reader's browser would do;
* the ``kontext_ad_server`` fixture: a running ``LocalAdServer`` reset to its
  defaults (fill every code, no delay) for each test, with
  ``KONTEXT_AD_SERVER_URL`` pointing at it during the test;
* the ``kontext_session`` fixture: a factory of sessions bound to that server,
  destroyed after the test;
* the ``kontext_viewer`` fixture: ``kontext_viewer(ad)`` is a ``HeadlessViewer``;
  the ``kontext_headless_viewer`` fixture turns automatic viewing on for one test;
* ``wait_for_events(session, *names)``: block until those events happened.

Nothing is started unless the option or a fixture asks for it, and the package
itself is imported lazily, so the plugin costs nothing to other test suites.
"""

# Imports of the package sit inside the functions on purpose (see above).
# ruff: noqa: PLC0415

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ._events import AdEvent
    from ._local_server import LocalAdServer
    from ._session import Session
    from .testing import HeadlessViewer

__all__ = ["wait_for_events"]

SERVER_URL_ENV = "KONTEXT_AD_SERVER_URL"  # the same name as _constants.SERVER_URL_ENV
HEADLESS_VIEWER_ENV = "KONTEXT_HEADLESS_VIEWER"  # the same name as _constants.HEADLESS_VIEWER_ENV

_RUN_SERVER = pytest.StashKey["LocalAdServer"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kontext-widget")
    server_help = (
        "start a kontext_widget.LocalAdServer for the run and export its URL as "
        f"{SERVER_URL_ENV} (for notebook kernels under nbval and sessions created "
        "without ad_server_url)"
    )
    viewer_help = (
        f"export {HEADLESS_VIEWER_ENV}=1 for the run: every ad a notebook (or test) displays "
        "is rendered and viewed by kontext_widget.testing.HeadlessViewer once its bid arrives"
    )
    group.addoption("--kontext-ad-server", action="store_true", default=False, help=server_help)
    group.addoption(
        "--kontext-headless-viewer", action="store_true", default=False, help=viewer_help
    )
    parser.addini("kontext_ad_server", server_help, type="bool", default=False)
    parser.addini("kontext_headless_viewer", viewer_help, type="bool", default=False)


def _wanted(config: pytest.Config, name: str) -> bool:
    """The command-line flag or the ini option of the same name."""
    return bool(config.getoption(name, default=False) or config.getini(name))


def _export(config: pytest.Config, name: str, value: str) -> None:
    """Set ``name`` in this process before nbval launches kernels (which inherit it); undo later."""
    previous = os.environ.get(name)
    os.environ[name] = value

    def restore() -> None:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous

    config.add_cleanup(restore)


def pytest_configure(config: pytest.Config) -> None:
    if _wanted(config, "kontext_headless_viewer"):
        _export(config, HEADLESS_VIEWER_ENV, "1")
    if not _wanted(config, "kontext_ad_server"):
        return
    from ._local_server import LocalAdServer

    server = LocalAdServer().start()
    config.stash[_RUN_SERVER] = server
    _export(config, SERVER_URL_ENV, server.url)
    config.add_cleanup(server.stop)  # cleanups run last-added first: stop, then restore the env


@pytest.fixture(scope="session")
def _kontext_ad_server_for_run(pytestconfig: pytest.Config) -> Iterator[LocalAdServer]:
    """The run's server: the ``--kontext-ad-server`` one, else one started on first use."""
    shared = pytestconfig.stash.get(_RUN_SERVER, None)
    if shared is not None:
        yield shared
        return
    from ._local_server import LocalAdServer

    with LocalAdServer() as server:
        yield server


@pytest.fixture
def kontext_ad_server(
    _kontext_ad_server_for_run: LocalAdServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LocalAdServer]:
    """A running ``LocalAdServer`` with default answers and no recorded requests.

    Script it (``fill``, ``no_fill``, ``error``, ``http_status``, ``delay``...)
    inside the test; the script is undone afterwards, so it never leaks into
    another test or into the notebooks of the same run.
    """
    server = _kontext_ad_server_for_run
    server.reset()
    server.clear_requests()
    monkeypatch.setenv(SERVER_URL_ENV, server.url)
    yield server
    server.reset()


@pytest.fixture
def kontext_session(kontext_ad_server: LocalAdServer) -> Iterator[Callable[..., Session]]:
    """A factory: ``kontext_session(**create_session_options) -> Session`` on the local server.

    Identity options default to test values; every session made is destroyed
    after the test.
    """
    from ._session import create_session

    sessions: list[Session] = []

    def make(**options: Any) -> Session:
        options.setdefault("publisher_token", "test-publisher")
        options.setdefault("user_id", "test-user")
        options.setdefault("conversation_id", "test-conversation")
        options.setdefault("ad_server_url", kontext_ad_server.url)
        session = create_session(**options)
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        session.destroy()


@pytest.fixture
def kontext_viewer() -> Callable[..., HeadlessViewer]:
    """A factory: ``kontext_viewer(ad, **options) -> HeadlessViewer`` (``kontext_widget.testing``).

    ``kontext_viewer(turn.ad).render(height=90).view().click()`` makes the ad's
    creative do in Python what a browser would, through the same handler.
    """
    from .testing import HeadlessViewer

    return HeadlessViewer


@pytest.fixture
def kontext_headless_viewer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Automatic headless viewing for this test: every ad displayed is rendered and viewed."""
    monkeypatch.setenv(HEADLESS_VIEWER_ENV, "1")


def _wire_name(name: object) -> str:
    from ._events import AdEvent

    known = {kind.name for kind in AdEvent.__subclasses__()}
    if isinstance(name, type) and issubclass(name, AdEvent) and name.name in known:
        return name.name
    if isinstance(name, str) and name in known:
        return name
    raise ValueError(
        f"{name!r} is not an ad event: pass a wire name ({', '.join(sorted(known))}) "
        "or an event class such as kontext_widget.Filled"
    )


def wait_for_events(
    session: Session, *names: str | type[AdEvent], timeout: float = 10.0
) -> list[AdEvent]:
    """Block until the session emitted the named events; return every event of those kinds.

    Names are wire names (``"ad.filled"``) or event classes (``kw.Filled``); a
    name given twice waits for two such events. Events count from the start of
    the session (its ``events`` history), oldest first. Raises ``TimeoutError``
    listing what did arrive.
    """
    if not names:
        raise ValueError("wait_for_events() needs at least one event name")
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0:
        raise ValueError(f"timeout must be a number of seconds >= 0, got {timeout!r}")
    wanted = Counter(_wire_name(name) for name in names)
    deadline = time.monotonic() + timeout
    while True:
        events = session.events
        seen = Counter(event.name for event in events)
        if all(seen[name] >= needed for name, needed in wanted.items()):
            return [event for event in events if event.name in wanted]
        if time.monotonic() >= deadline:
            raise TimeoutError(
                f"waited {timeout}s for {dict(wanted)} but the session emitted "
                f"{[event.name for event in events]}"
            )
        time.sleep(0.01)
