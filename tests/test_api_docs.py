"""docs/api.py, the API reference's checker: it passes on the package and fails on each slip."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pdoc.doc
import pytest

import kontext_widget as kw

API_SCRIPT = Path(__file__).resolve().parent.parent / "docs" / "api.py"


@pytest.fixture(scope="module")
def api() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kontext_widget_docs_api", API_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def problems(api: ModuleType) -> list[str]:
    return [
        *api.check_public_names(pdoc.doc.Module(kw)),
        *api.check_create_session(),
        *api.check_events(),
        *api.check_references(),
    ]


def test_the_package_passes(api: ModuleType) -> None:
    assert problems(api) == []


@pytest.mark.parametrize(
    ("target", "edit", "expected"),
    [
        # A dataclass without a docstring gets its signature as __doc__: not a docstring.
        (kw.NoFill, lambda _doc: "NoFill(skip_code: str)", "NoFill: no docstring"),
        (kw.Filled, lambda doc: doc.replace("``revenue``", "revenue"), "'revenue'"),
        (kw.Viewed, lambda doc: doc.replace("``ad.viewed``", "x"), "wire name"),
        (kw.Message, lambda doc: doc.replace("``role``", "role"), "Message.role"),
        (
            kw.Session.render,
            lambda doc: doc + "\n\nSee ``Session.mount_ad``.",
            "broken reference ``Session.mount_ad``",
        ),
        (
            kw.Ad.destroy,
            lambda doc: doc + " Then ``session.add_mesage`` raises.",
            "broken reference ``session.add_mesage``",
        ),
        (
            kw.create_session,
            lambda doc: doc.replace("``vendor_id``", "vendor_id"),
            "option 'vendor_id' is not explained",
        ),
    ],
)
def test_each_slip_is_a_problem(
    api: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    target: object,
    edit: Callable[[str], str | None],
    expected: str,
) -> None:
    monkeypatch.setattr(target, "__doc__", edit(target.__doc__ or ""))
    found = problems(api)
    assert any(expected in problem for problem in found), found


def _undocumented_method(_self: object, timeout: float = 30.0) -> bool:
    return timeout >= 0


def test_members_without_docstrings_are_problems(
    api: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kw.Session, "wait_idle", _undocumented_method)
    monkeypatch.setattr(kw.Session, "messages", property(lambda _self: ()))
    found = problems(api)
    assert "Session.wait_idle: no docstring" in found
    assert "Session.messages: no docstring" in found
