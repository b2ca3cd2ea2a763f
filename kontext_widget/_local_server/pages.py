"""The creative's pages, filled in: ``string.Template`` over the files in ``creative/``,
every value HTML-escaped, plus the static assets and the product catalogue."""

from __future__ import annotations

import functools
import html
import json
import re
import string
from collections.abc import Mapping
from importlib import resources
from typing import Any, Final

from .records import ServedBid

__all__ = ["bid_page", "render", "static_asset"]

_STATIC_TYPES: Final = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
_STATIC_NAME: Final = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")
_THEMES: Final = ("dark", "light")
_CREATIVE: Final = resources.files("kontext_widget._local_server").joinpath("creative")


def bid_page(kind: str, bid: ServedBid, query: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """The template and its values for a bid's ``frame``, ``modal`` or ``click`` page."""
    theme = query.get("theme", "")
    values = {
        "bid_id": bid.bid_id,
        "code": bid.code,
        "format": bid.format,
        "message_id": query.get("messageId", ""),
        "sdk": query.get("sdk", ""),
        "theme": theme if theme in _THEMES else "",
        "catalogue": _catalogue_json(),
    }
    if kind in ("frame", "modal"):
        # One page for both frames; the creative builds the rest for its mode.
        modal = kind == "modal"
        values["mode"] = kind
        values["title"] = "Kontext offer" if modal else "Kontext ad"
        values["context"] = bid.context if modal else ""
        values["component_params"] = query.get("componentParams", "") if modal else ""
        return "ad.html", values
    product = _product(query.get("product", ""))
    values["product_name"] = str(product["name"])
    values["product_tagline"] = str(product["tagline"])
    values["area"] = query.get("area", "")
    return "landing.html", values


def render(name: str, values: Mapping[str, str]) -> bytes:
    """The page ``name`` with ``values`` substituted, each escaped for HTML."""
    template = string.Template(_creative_text(name))
    escaped = {key: html.escape(value, quote=True) for key, value in values.items()}
    return template.substitute(escaped).encode("utf-8")


def static_asset(name: str) -> tuple[bytes, str] | None:
    """A script or style sheet of the creative and its content type; ``None`` for any
    other name (templates, the catalogue, paths, hidden files are not served)."""
    suffix = name[name.rfind(".") :] if "." in name else ""
    if not _STATIC_NAME.match(name) or suffix not in _STATIC_TYPES:
        return None
    try:
        return _CREATIVE.joinpath(name).read_bytes(), _STATIC_TYPES[suffix]
    except (FileNotFoundError, IsADirectoryError):
        return None


def _creative_text(name: str) -> str:
    return _CREATIVE.joinpath(name).read_text("utf-8")


@functools.cache
def _catalogue() -> list[dict[str, Any]]:
    products: list[dict[str, Any]] = json.loads(_creative_text("catalogue.json"))
    return products


@functools.cache
def _catalogue_json() -> str:
    return json.dumps(_catalogue(), separators=(",", ":"))


def _product(product_id: str) -> dict[str, Any]:
    """A catalogue entry by id; unknown ids get the generic entry (the last one)."""
    products = _catalogue()
    return next((p for p in products if p["id"] == product_id), products[-1])
