"""Published notebooks: executed headless with widget state, exported to static HTML.

What ``nbconvert --execute``, papermill, Jupyter Book or nbsphinx do to a notebook
that renders an ``Ad``: nbclient runs it and saves every widget's state (the
``Ad``'s ``iframe_url`` for a bid served once, and its front-end code) into the
notebook; nbconvert's HTML export embeds that state, and every visitor's browser
runs the widgets again through ``@jupyter-widgets/html-manager``.

Nothing here comes from a CDN: the export's script URLs point at a loopback
server (``StaticSite``) that serves the page and, from ``node_modules`` (dev
dependencies of this repository), require.js, the html-manager and anywidget's
front end.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import nbformat

from .processes import REPO_ROOT

NODE_MODULES = REPO_ROOT / "node_modules"
WIDGET_STATE_MIMETYPE = "application/vnd.jupyter.widget-state+json"
# The "CDN" base the export and the html-manager use: served from node_modules.
NPM_PREFIX = "/npm/"
PAGE = "/notebook.html"


def execute_with_widget_state(path: Path, *, env: dict[str, str] | None = None) -> Any:
    """Run ``path`` with nbclient as publishing tools do (widget state saved), in place.

    The kernel is this interpreter with the repository on ``PYTHONPATH``; ``env``
    adds variables for it. Returns the executed notebook.
    """
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    saved = dict(os.environ)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])
    )
    os.environ.update(env or {})
    try:
        client = NotebookClient(
            notebook,
            timeout=60,
            kernel_name="python3",
            store_widget_state=True,
            resources={"metadata": {"path": str(path.parent)}},
        )
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    nbformat.write(notebook, path)
    return notebook


def saved_widget_states(notebook: Any) -> dict[str, Any]:
    """The widget models saved in the notebook's metadata, by model id."""
    return dict(notebook.metadata["widgets"][WIDGET_STATE_MIMETYPE]["state"])


def export_html(notebook: Any, base_url: str) -> str:
    """nbconvert's lab HTML with the widget state embedded, every script from ``base_url``."""
    from nbconvert import HTMLExporter

    npm = f"{base_url}{NPM_PREFIX}"
    exporter = HTMLExporter(
        template_name="lab",
        require_js_url=f"{npm}requirejs/require.js",
        jupyter_widgets_base_url=npm,
        mathjax_url=f"{base_url}/no-mathjax.js",
    )
    body, _ = exporter.from_notebook_node(notebook)
    # The html-manager loads widget modules (anywidget) from the CDN named by a
    # script tag's data-jupyter-widgets-cdn attribute: the local copy here.
    marker = f'<script data-jupyter-widgets-cdn="{npm}" data-jupyter-widgets-cdn-only></script>'
    assert "<head>" in body
    return body.replace("<head>", f"<head>\n{marker}", 1)


class _Handler(SimpleHTTPRequestHandler):
    """``/notebook.html`` from memory, ``/npm/<package>@<range>/<file>`` from node_modules."""

    def __init__(self, *args: Any, site: StaticSite, **kwargs: Any) -> None:
        self.site = site
        super().__init__(*args, directory=str(NODE_MODULES), **kwargs)

    def do_GET(self) -> None:
        self.site.requests.append(self.path)
        path = self.path.split("?", 1)[0]
        if path == PAGE:
            self._send(self.site.html.encode(), "text/html; charset=utf-8")
        elif path == "/no-mathjax.js":
            self._send(b"", "text/javascript")
        elif path.startswith(NPM_PREFIX):
            self.path = "/" + _strip_version(path.removeprefix(NPM_PREFIX))
            super().do_GET()
        else:
            self.send_error(HTTPStatus.NOT_FOUND)

    def _send(self, body: bytes, content_type: str) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _strip_version(path: str) -> str:
    """``@scope/name@^1/dist/x.js`` -> ``@scope/name/dist/x.js`` (node_modules has one version)."""
    parts = path.split("/")
    index = 1 if parts[0].startswith("@") else 0
    parts[index] = parts[index].split("@", 1)[0]
    return "/".join(parts)


class StaticSite:
    """A loopback web server publishing one exported notebook page (a docs site, offline)."""

    # What the page loads from node_modules (dev dependencies in package.json).
    REQUIRED = (
        "requirejs/require.js",
        "@jupyter-widgets/html-manager/dist/embed-amd.js",
        "anywidget/dist/index.js",
    )

    def __init__(self) -> None:
        missing = [name for name in self.REQUIRED if not (NODE_MODULES / name).is_file()]
        if missing:
            raise RuntimeError(f"node_modules lacks {missing}: run `npm install` first")
        self.html = ""
        self.requests: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, site=self))
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> StaticSite:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def page_url(self) -> str:
        return f"{self.url}{PAGE}"


def ad_server_requests(ad_server: Any, since: int, prefixes: Sequence[str]) -> list[str]:
    """Paths the ad server was asked for after the first ``since`` requests, by prefix."""
    return [r.path for r in ad_server.requests[since:] if r.path.startswith(tuple(prefixes))]
