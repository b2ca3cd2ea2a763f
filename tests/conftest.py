"""Fixtures shared by the whole suite."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from kontext_widget import Ad, LocalAdServer, Session, _device, _install_id, create_session
from kontext_widget._constants import TIMING


@pytest.fixture(autouse=True)
def _isolated_state(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """No test writes to the real config dir, leaks browser facts, or keeps patched timings."""
    monkeypatch.setenv(_install_id.CONFIG_DIR_ENV, str(tmp_path_factory.mktemp("config")))
    monkeypatch.delenv("KONTEXT_AD_SERVER_URL", raising=False)
    monkeypatch.setattr(_install_id, "_cached", None)
    saved = dataclasses.replace(TIMING)
    yield
    for field in dataclasses.fields(TIMING):
        setattr(TIMING, field.name, getattr(saved, field.name))
    _device.browser_facts.clear()


@pytest.fixture
def server() -> Iterator[LocalAdServer]:
    """A running LocalAdServer on loopback, stopped after the test."""
    with LocalAdServer() as running:
        yield running


def _session_on(server: LocalAdServer, **options: Any) -> Session:
    return create_session(
        publisher_token="p", user_id="u", conversation_id="c", ad_server_url=server.url, **options
    )


@pytest.fixture
def session(server: LocalAdServer) -> Iterator[Session]:
    """A session on ``server`` with two placements, ``inlineAd`` and ``videoAd``."""
    with _session_on(server, enabled_placement_codes=["inlineAd", "videoAd"]) as created:
        yield created


@pytest.fixture
def filled(server: LocalAdServer) -> Iterator[tuple[Session, Ad]]:
    """A session on ``server`` after one turn, and the filled ad of its reply ``a1``."""
    session = _session_on(server)
    session.add_message({"id": "u1", "role": "user", "content": "boots"})
    session.add_message({"id": "a1", "role": "assistant", "content": "Boots!"})
    assert session.wait_idle(10)
    ad = session.create_ad("a1")
    assert ad.bid_id is not None
    yield session, ad
    session.destroy()


@pytest.fixture
def fast_retries() -> None:
    """Retry waits of milliseconds instead of 1 s, 2 s, 4 s."""
    TIMING.retry_waits = (0.01, 0.02, 0.04)
