"""A plain stdlib ``http.server`` ad server: HTTP/1.0, one thread, one request per connection.

The other server the preload benchmark compares against (bench/latency.py), and
the single-threaded server of tests/test_warm.py, where any idle connection held
open would block everyone else. It answers every POST with the bytes it is given.
A connection that sends nothing is dropped after ``timeout`` seconds.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer

__all__ = ["plain_server"]


@contextmanager
def plain_server(answer: bytes, timeout: float = 5.0) -> Iterator[str]:
    """Serve on a free loopback port while the block runs; yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *_args: object) -> None:
            pass

    Handler.timeout = timeout
    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        thread.join()
        httpd.server_close()
