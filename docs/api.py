"""Build the API reference (``docs/_build/api``) from the docstrings, and check them.

One command, run by ``.ci/test`` too::

    python docs/api.py            # writes docs/_build/api/index.html, exits 1 on a problem

The reference is rendered by pdoc from exactly what users import: the names in
``kontext_widget.__all__``, the public ``kontext_widget.pytest_plugin``,
``kontext_widget.testing`` and ``kontext_widget.assistants``.
pdoc has no strict mode, so this script is one. It fails when:

- pdoc warns while rendering (an annotation or a docstring it cannot read);
- a name in ``kontext_widget.__all__`` has no docstring of its own (a dataclass's
  generated ``Filled(bid_id: str, ...)`` signature does not count);
- a public method or property of those classes has no docstring, or a public
  attribute (a dataclass field, a widget trait) is neither documented nor named
  in its class's docstring;
- ``create_session``'s docstring does not explain one of its options, or an event
  class's docstring does not name its wire name and every one of its fields;
- a docstring refers to ``Session.x``, ``session.x``, ``kw.X``, ... and that
  attribute does not exist (a renamed method leaves no dangling reference).
"""

from __future__ import annotations

import argparse
import builtins
import dataclasses
import inspect
import re
import shutil
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # document this checkout, not an installed copy

import pdoc  # noqa: E402
import pdoc.doc  # noqa: E402
import pdoc.render  # noqa: E402

import kontext_widget as kw  # noqa: E402
from kontext_widget import assistants, pytest_plugin, testing  # noqa: E402

OUTPUT = ROOT / "docs" / "_build" / "api"
MODULES = (
    "kontext_widget",
    "kontext_widget.pytest_plugin",
    "kontext_widget.testing",
    "kontext_widget.assistants",
)

# ``session.add_message``, ``ad.bid_id``, ``event.name`` in prose mean these classes.
INSTANCE_NAMES: dict[str, object] = {
    "session": kw.Session,
    "ad": kw.Ad,
    "server": kw.LocalAdServer,
    "event": kw.AdEvent,
    "kw": kw,
    "kontext_widget": kw,
    "pytest_plugin": pytest_plugin,
    "viewer": testing.HeadlessViewer,
}
# ``ad.filled`` is an event's wire name, not the attribute ``filled`` of an ``Ad``.
WIRE_NAMES = {
    event.name
    for event in (getattr(kw, name) for name in kw.__all__)  # loaded on first use: not vars(kw)
    if isinstance(event, type) and issubclass(event, kw.AdEvent) and event is not kw.AdEvent
}
_REFERENCE = re.compile(r"``([^`]+)``")
_DOTTED = re.compile(r"^([A-Za-z_]\w*)((?:\.[A-Za-z_]\w*)+)(?:\(.*\))?$")


def _own_docstring(obj: object) -> str:
    """The docstring ``obj`` itself declares (not one inherited or generated)."""
    doc = obj.__dict__.get("__doc__") if isinstance(obj, type) else getattr(obj, "__doc__", None)
    doc = inspect.cleandoc(doc or "")
    generated = isinstance(obj, type) and dataclasses.is_dataclass(obj)
    if generated and doc.startswith(getattr(obj, "__name__", "") + "("):
        return ""  # the signature dataclasses write when there is no docstring
    return doc


def _names_in(doc: str) -> set[str]:
    return set(_REFERENCE.findall(doc))


def check_public_names(module: pdoc.doc.Module) -> Iterator[str]:
    for name in kw.__all__:
        if name == "__version__":
            continue
        obj = getattr(kw, name)
        class_doc = _own_docstring(obj)
        if not class_doc:
            yield f"kontext_widget.{name}: no docstring"
        if not isinstance(obj, type):
            continue
        documented = module.get(name)
        assert isinstance(documented, pdoc.doc.Class)
        named = _names_in(class_doc)
        for member in documented.own_members:
            if member.name.startswith("_") or _has_own_doc(obj, member):
                continue
            if member.name == "name" and issubclass(obj, kw.AdEvent) and obj is not kw.AdEvent:
                continue  # the wire name: check_events wants it in the class docstring
            if isinstance(member, pdoc.doc.Variable) and not _is_property(obj, member.name):
                if member.name in named:
                    continue  # a field or trait the class docstring explains
                yield f"{name}.{member.name}: neither documented nor named in {name}'s docstring"
            else:
                yield f"{name}.{member.name}: no docstring"


def _has_own_doc(cls: type, member: pdoc.doc.Doc) -> bool:  # type: ignore[type-arg]
    """A docstring written for ``member``, not the one of its value's type (a trait's).

    Methods and properties are read at run time; attributes (dataclass fields,
    traits) have docstrings only in the source, where pdoc finds them.
    """
    value = inspect.getattr_static(cls, member.name, None)
    if isinstance(value, classmethod | staticmethod):
        value = value.__func__
    if isinstance(value, property) or inspect.isfunction(value):
        return bool((value.__doc__ or "").strip())
    doc = member.docstring.strip()
    return bool(doc) and doc != (inspect.getdoc(type(value)) or "").strip()


def _is_property(cls: type, name: str) -> bool:
    return isinstance(inspect.getattr_static(cls, name, None), property)


def check_create_session() -> Iterator[str]:
    doc = _own_docstring(kw.create_session)
    named = _names_in(doc)
    for option in inspect.signature(kw.create_session).parameters:
        if option not in named:
            yield f"create_session: option {option!r} is not explained in its docstring"


def check_events() -> Iterator[str]:
    events = [getattr(kw, n) for n in kw.__all__ if n != "AdEvent"]
    for event in (e for e in events if isinstance(e, type) and issubclass(e, kw.AdEvent)):
        doc = _own_docstring(event)
        named = _names_in(doc)
        if event.name not in named:
            yield f"{event.__name__}: its docstring does not name its wire name {event.name!r}"
        for field in dataclasses.fields(event):
            if field.name not in named:
                yield f"{event.__name__}: field {field.name!r} is not documented"


def _documented_objects() -> Iterator[tuple[str, object]]:
    for module in (kw, pytest_plugin, testing, assistants):
        names = getattr(module, "__all__", None) or [
            n for n in vars(module) if not n.startswith("_")
        ]
        yield module.__name__, module
        for name in names:
            obj = getattr(module, name)
            if isinstance(obj, type) and not obj.__module__.startswith("kontext_widget"):
                continue  # re-exported from elsewhere: not ours to check
            yield f"{module.__name__}.{name}", obj
            if isinstance(obj, type):
                for member_name, member in vars(obj).items():
                    if not member_name.startswith("_"):
                        yield f"{name}.{member_name}", member


def _resolves(root: str, path: list[str]) -> bool:
    target: object
    if root in INSTANCE_NAMES:
        target = INSTANCE_NAMES[root]
    elif root in kw.__all__:
        target = getattr(kw, root)
    else:
        return True  # not a name this package owns (``logging.getLogger``, ``ad.height=``, ...)
    for part in path:
        if inspect.isclass(target) or inspect.ismodule(target):
            found = inspect.getattr_static(target, part, None)
            if found is None and dataclasses.is_dataclass(target):
                found = {f.name: f for f in dataclasses.fields(target)}.get(part)
            if found is None and hasattr(target, "class_traits"):
                found = target.class_traits().get(part)  # a widget trait
            if found is None:
                return False
            target = found if (inspect.isclass(found) or inspect.ismodule(found)) else object()
        else:
            return True  # beyond a method or value: prose, not a reference
    return True


def check_references() -> Iterator[str]:
    for where, obj in _documented_objects():
        doc = obj.fget.__doc__ if isinstance(obj, property) else getattr(obj, "__doc__", None)
        for reference in _REFERENCE.findall(doc or ""):
            match = _DOTTED.match(reference.strip())
            if match is None or reference.strip() in WIRE_NAMES:
                continue
            root, rest = match.group(1), match.group(2).split(".")[1:]
            if not _resolves(root, rest):
                yield f"{where}: broken reference ``{reference}``"
        for reference in _REFERENCE.findall(doc or ""):
            name = reference.strip()
            if (
                re.fullmatch(r"[A-Z][a-z0-9]+[A-Z]\w*", name)  # a class name, e.g. ``EventLog``
                and not hasattr(builtins, name)
                and not hasattr(kw, name)
                and not _defined_in_package(name)
            ):
                yield f"{where}: ``{name}`` names nothing in kontext_widget"


def _defined_in_package(name: str) -> bool:
    return any(
        module.__name__.startswith("kontext_widget") and hasattr(module, name)
        for module in list(sys.modules.values())
        if module is not None
    )


def build() -> list[str]:
    """Render the site; return pdoc's warnings."""
    pdoc.render.configure(docformat="restructuredtext", show_source=False, search=True)
    if OUTPUT.exists():
        shutil.rmtree(OUTPUT)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pdoc.pdoc(*MODULES, output_directory=OUTPUT)
    return [f"pdoc: {warning.message}" for warning in caught]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.parse_args()
    problems = build()
    module = pdoc.doc.Module(kw)
    problems += [
        *check_public_names(module),
        *check_create_session(),
        *check_events(),
        *check_references(),
    ]
    for problem in problems:
        print(f"docs/api.py: {problem}", file=sys.stderr)
    index = OUTPUT / "index.html"
    print(f"API reference: {index.relative_to(ROOT)} ({len(problems)} problems)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
