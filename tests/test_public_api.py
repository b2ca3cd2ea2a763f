"""The public surface is exactly the documented one: an accidental export or a lost name fails."""

from __future__ import annotations

import pytest

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


def test_star_import_gives_exactly_the_api() -> None:
    namespace: dict[str, object] = {}
    exec("from kontext_widget import *", namespace)
    namespace.pop("__builtins__")
    assert set(namespace) == API_NAMES
    for name, value in namespace.items():
        if name != "__version__":  # every other name is defined by this package
            assert getattr(value, "__module__", "").startswith("kontext_widget."), name


def test_py_typed_is_shipped() -> None:
    from importlib.resources import files

    assert files("kontext_widget").joinpath("py.typed").is_file()


def test_using_a_destroyed_session_is_caught_as_the_package_error() -> None:
    session = kw.create_session(
        publisher_token="p", user_id="u", conversation_id="c", ad_server_url="http://127.0.0.1:9"
    )
    session.destroy()
    for catch in (kw.SessionDestroyedError, kw.KontextError, RuntimeError):
        with pytest.raises(catch, match="after destroy"):
            session.add_message({"id": "u1", "role": "user", "content": "hi"})
