"""The base of the suite's hand-written HTTP test doubles (the misbehaving provider, the recorded server, the raw
stream server, ...): a real loopback HTTP server on a free port, served from a thread for the length of a `with`
block, and a request handler that reads bodies, sends whole answers and keeps the test output clean."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class DoubleHandler(BaseHTTPRequestHandler):
    """A handler of a test double: subclass it with the `do_*` methods the double answers."""

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    def read_body(self) -> bytes:
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def send_whole(self, status: int, headers: dict[str, str], body: bytes) -> None:
        """An answer with a known length: status, `headers`, content-length, then `body`."""
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class HttpDouble:
    """Serves `handler` on 127.0.0.1 at a free port while the `with` block lasts; `base_url` ends in /v1, as the
    SDK's does."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True  # a connection a test left open does not hold up the end of the double
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
