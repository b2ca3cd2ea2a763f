"""Fixtures shared by the whole suite."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from kontext_widget import LocalAdServer, _device, _install_id
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


@pytest.fixture
def fast_retries() -> None:
    """Retry waits of milliseconds instead of 1 s, 2 s, 4 s."""
    TIMING.retry_waits = (0.01, 0.02, 0.04)
