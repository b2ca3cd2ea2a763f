"""The offline Kontext ad server: a private subpackage with its creative.

It depends on nothing of the SDK core but two header names (``_constants``), so
it lives apart: ``server`` holds ``LocalAdServer`` (lifecycle and the scripting
API), ``answers`` the scriptable ``/preload`` and ``/init`` answers, ``limits``
the bounds on everything taken from the wire, and ``creative/`` the pages and
assets a real browser loads.
"""

from __future__ import annotations

from .server import FORMATS, Headers, LocalAdServer, RecordedRequest, ServedBid, default_format

__all__ = ["FORMATS", "Headers", "LocalAdServer", "RecordedRequest", "ServedBid", "default_format"]
