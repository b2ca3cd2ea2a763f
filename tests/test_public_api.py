"""The public surface is exactly API.md's: an accidental export or a lost name fails here."""

from __future__ import annotations

import kontext_widget as kw

API_NAMES = {
    "create_session",
    "Session",
    "Ad",
    "Message",
    "Character",
    "Regulatory",
    "AdEvent",
    "Filled",
    "NoFill",
    "AdHeight",
    "Viewed",
    "Clicked",
    "RenderStarted",
    "RenderCompleted",
    "AdError",
    "VideoStarted",
    "VideoCompleted",
    "RewardGranted",
    "KontextError",
    "SessionDestroyedError",
    "LocalAdServer",
    "SessionMetrics",
    "PlacementMetrics",
    "Playground",
    "playground",
    "__version__",
}


def test_all_is_exactly_the_api() -> None:
    assert set(kw.__all__) == API_NAMES
    assert len(kw.__all__) == len(API_NAMES)


def test_every_name_is_importable() -> None:
    for name in kw.__all__:
        assert getattr(kw, name) is not None


def test_py_typed_is_shipped() -> None:
    from importlib.resources import files

    assert files("kontext_widget").joinpath("py.typed").is_file()


def test_session_destroyed_error_is_a_runtime_error() -> None:
    assert issubclass(kw.SessionDestroyedError, kw.KontextError)
    assert issubclass(kw.SessionDestroyedError, RuntimeError)
