"""A loopback HTTP server that answers `POST /v1/responses` and `POST /v1/chat/completions` with exactly the bytes
a test sets, then closes.

Unlike tests/support/recorded_server.py (which re-serializes recorded events as well-formed SSE), this one sends any
bytes at all: cut mid-line, invalid UTF-8, garbage between events. The body has no content-length and ends when
the connection closes, as a streaming server's does; with `stall_s` the server holds the connection open that
long after the body, as a provider that goes silent would.
"""

from __future__ import annotations

import json
import time

from tests.support.http_double import DoubleHandler, HttpDouble

STREAMED_PATHS = ("/v1/responses", "/v1/chat/completions")


def sse_frame(event: dict) -> bytes:
    """One recorded event (`{"event", "data"}`) as the API sends it, blank line included. Text data (the Chat
    Completions end marker `[DONE]`) is sent as it is, not as a JSON string."""
    head = f"event: {event['event']}\n" if event.get("event") else ""
    data = event["data"] if isinstance(event["data"], str) else json.dumps(event["data"])
    return f"{head}data: {data}\n\n".encode()


class RawStreamServer(HttpDouble):
    def __init__(self) -> None:
        self.body = b""
        self.stall_s = 0.0
        self.requests = 0
        server = self

        class Handler(DoubleHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.read_body()
                server.requests += 1
                if self.path.split("?")[0] not in STREAMED_PATHS:
                    payload = (
                        b'{"error": {"message": "not here", "type": "invalid_request_error", '
                        b'"param": null, "code": null}}'
                    )
                    self.send_whole(404, {"content-type": "application/json"}, payload)
                    return
                self.send_response(200)
                self.send_header("content-type", "text/event-stream; charset=utf-8")
                self.send_header("connection", "close")
                self.end_headers()
                try:
                    self.wfile.write(server.body)
                    self.wfile.flush()
                    if server.stall_s:
                        time.sleep(server.stall_s)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up first: that is what a stall test wants
                self.close_connection = True

        super().__init__(Handler)
