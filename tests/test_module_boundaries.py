"""No module of the package calls another module's private members (issue 11).

The session, its ads, streams and event log talk through ``_interfaces`` and the
owned modules' public-but-internal functions; this scan keeps it that way. A
private member is an ``_name`` (not a dunder) that some module of the package
defines (a function, class, method or assigned attribute/name). Using one
through anything but ``self``/``cls`` is a reach-in unless the using module
defines that name too (its own objects, e.g. ``ad._lock`` in ``_ad.py``).
Importing a private name from another module (``from ._x import _Name``) is one
as well; importing a private *module* (``from . import _client``) is not: the
package's modules are all private by name.
"""

from __future__ import annotations

import ast
from pathlib import Path

import kontext_widget

PACKAGE = Path(kontext_widget.__file__).parent

# No allow-list: nothing in the package needs one.


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _defined_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            # Only its own attributes: ``other._x = ...`` writes another's member.
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def _within_package(node: ast.ImportFrom) -> bool:
    """A relative import, or an absolute one of the package (how subpackages import the core)."""
    if node.level > 0:
        return node.module is not None
    return node.module is not None and node.module.split(".")[0] == "kontext_widget"


def reach_ins(sources: dict[str, str]) -> list[str]:
    """``"module:line: expression"`` for every reach-in among ``sources`` (path -> code)."""
    trees = {path: ast.parse(code, path) for path, code in sources.items()}
    defined = {path: _defined_names(tree) for path, tree in trees.items()}
    found: list[str] = []
    for path, tree in trees.items():
        elsewhere = set().union(*(names for other, names in defined.items() if other != path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and _private(node.attr):
                if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                    continue
                if node.attr in elsewhere and node.attr not in defined[path]:
                    found.append(f"{path}:{node.lineno}: {ast.unparse(node)}")
            elif isinstance(node, ast.ImportFrom) and _within_package(node):
                for alias in node.names:
                    if _private(alias.name) and alias.name in elsewhere:
                        found.append(f"{path}:{node.lineno}: import {alias.name}")
    return sorted(found, key=lambda text: (text.split(":")[0], int(text.split(":")[1])))


def _package_sources() -> dict[str, str]:
    return {
        str(path.relative_to(PACKAGE)): path.read_text(encoding="utf-8")
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def test_no_module_calls_another_modules_private_members() -> None:
    sources = _package_sources()
    assert len(sources) > 20  # the whole package was scanned, subpackages included
    assert reach_ins(sources) == []


def test_the_scan_finds_reach_ins_both_ways() -> None:
    sources = {
        "_owner.py": (
            "class Owner:\n"
            "    def _emit(self):\n"
            "        self._count = 1\n"
            "def _helper():\n"
            "    pass\n"
        ),
        "_user.py": (
            "from ._owner import _helper, Owner\n"
            "from kontext_widget._owner import _helper as helper\n"
            "from . import _owner\n"
            "class User:\n"
            "    def __init__(self, owner):\n"
            "        self._owner = owner\n"
            "        self._lock = None\n"
            "    def go(self, other):\n"
            "        self._owner._emit()\n"
            "        other._count += 1\n"
            "        other._lock = None\n"
            "        self._go_on()\n"
            "    def _go_on(self):\n"
            "        pass\n"
        ),
    }
    assert reach_ins(sources) == [
        "_user.py:1: import _helper",
        "_user.py:2: import _helper",
        "_user.py:9: self._owner._emit",
        "_user.py:10: other._count",
    ]
