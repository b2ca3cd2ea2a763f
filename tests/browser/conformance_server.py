"""A loopback ad server whose creative is the official web SDK's message code.

The LocalAdServer creative is ours, written by the same hands as the host, so a
shared misreading of the protocol would pass every test. This server answers
``/init`` and ``/preload`` with one bid and serves ``/api/frame/{bid}`` and
``/api/modal/{bid}`` pages whose script, ``js/conformance-creative.ts``, is bundled
by esbuild when the server starts, from ``@kontextso/sdk-common``'s own
``makeIframeMessage`` / ``emitAdEvent`` / ``handleIframeMessage``.
"""

from __future__ import annotations

import html
import json
import subprocess
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

from .processes import REPO_ROOT

ESBUILD = REPO_ROOT / "node_modules" / ".bin" / "esbuild"
SDK_COMMON = REPO_ROOT / "node_modules" / "@kontextso" / "sdk-common"
CREATIVE_SOURCE = REPO_ROOT / "js" / "conformance-creative.ts"
MAX_BODY = 1 << 20

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
  html, body {{ margin: 0; font: 15px/1.4 system-ui, sans-serif; color-scheme: light; }}
  #ad {{ padding: 10px 14px; background: #f4f7ff; border: 1px solid #c9d4f2; border-radius: 8px; }}
  #ad .label {{ display: block; font-size: 11px; color: #556; text-transform: uppercase; }}
  #ad .because {{ margin: 4px 0 8px; color: #333; }}
  #interstitial {{ position: fixed; inset: 0; display: flex; flex-direction: column; gap: 16px;
    align-items: center; justify-content: center; background: rgba(20, 30, 60, 0.88); color: #fff;
    font-size: 22px; }}
  a.cta, button {{ font: inherit; font-size: 14px; padding: 4px 10px; }}
  #interstitial a.cta {{ color: #fff; }}
</style></head>
<body><script>{script}</script></body></html>
"""

_LANDING = "<!doctype html><title>Landing</title><h1 class='product'>Conformance landing</h1>"


def bundle_creative() -> str:
    """The creative's script, bundled from sdk-common now (so it cannot go stale)."""
    if not ESBUILD.exists() or not SDK_COMMON.exists():
        pytest.skip("the conformance creative needs the front-end tool chain: run `npm ci`")
    result = subprocess.run(
        [
            str(ESBUILD),
            str(CREATIVE_SOURCE),
            "--bundle",
            "--format=iife",
            "--target=es2020",
            "--log-level=warning",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"esbuild failed on {CREATIVE_SOURCE}:\n{result.stderr}")
    # Inline in a <script>: a literal "</script" in the bundle would end it early.
    return result.stdout.replace("</script", "<\\/script")


@dataclass(frozen=True)
class ConformanceBid:
    bid_id: str
    code: str


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class ConformanceAdServer:
    """Start with :meth:`start`; ``url``, ``bids`` and ``requests`` as LocalAdServer's."""

    script: str
    bids: dict[str, ConformanceBid] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    _httpd: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> ConformanceAdServer:
        owner = self

        class Handler(_Handler):
            server_owner = owner

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def url(self) -> str:
        assert self._httpd is not None, "not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def requests_to(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path.split("?")[0].startswith(path)]

    def _new_bid(self, code: str) -> ConformanceBid:
        bid = ConformanceBid(str(uuid.uuid4()), code)
        with self._lock:
            self.bids[bid.bid_id] = bid
        return bid


class _Handler(BaseHTTPRequestHandler):
    server_owner: ConformanceAdServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read ``requests`` instead."""

    def _record(self) -> None:
        owner = self.server_owner
        with owner._lock:
            owner.requests.append(Request(self.command, self.path, dict(self.headers.items())))

    def do_POST(self) -> None:
        self._record()
        length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
        raw = self.rfile.read(length)
        path = urlsplit(self.path).path
        if path == "/preload":
            try:
                body = json.loads(raw)
                codes = body["enabledPlacementCodes"]
            except (ValueError, KeyError, TypeError):
                self._send(400, b'{"error":"bad request"}', "application/json")
                return
            bid = self.server_owner._new_bid(str(codes[0]))
            answer = {
                "sessionId": str(uuid.uuid4()),
                "bids": [{"bidId": bid.bid_id, "code": bid.code, "revenue": 0.01}],
            }
            self._send(200, json.dumps(answer).encode(), "application/json")
        else:  # /init (defaults), /error, /debug
            self._send(204, b"", None)

    def do_GET(self) -> None:
        self._record()
        parts = urlsplit(self.path).path.strip("/").split("/")
        if len(parts) == 3 and parts[:2] in (["api", "frame"], ["api", "modal"]):
            if parts[2] not in self.server_owner.bids:
                self._send(404, b"unknown bid", "text/plain")
                return
            title = "Conformance interstitial" if parts[1] == "modal" else "Conformance ad"
            page = _PAGE.format(title=html.escape(title), script=self.server_owner.script)
            self._send(200, page.encode(), "text/html; charset=utf-8")
        elif len(parts) == 3 and parts[:2] == ["api", "click"]:
            self._send(200, _LANDING.encode(), "text/html; charset=utf-8")
        else:
            self._send(404, b"not found", "text/plain")

    def _send(self, status: int, body: bytes, content_type: str | None) -> None:
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def start_conformance_server() -> ConformanceAdServer:
    return ConformanceAdServer(bundle_creative()).start()
