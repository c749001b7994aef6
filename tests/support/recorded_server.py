"""A loopback HTTP server that answers with recorded OpenAI traffic from tests/recordings/.

Tests point the real SDK (through the library) at it, so the client's stream consumer is checked against what
the real API sent, byte for byte, rather than against what our own local server thinks the API sends.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.support.http_double import DoubleHandler, HttpDouble

RECORDINGS = Path(__file__).resolve().parents[1] / "recordings"  # provenance and licences: PROVENANCE.md there


def load_recording(name: str) -> dict[str, Any]:
    return json.loads((RECORDINGS / f"{name}.json").read_text())


def recording_names(*, path: str, sse: bool, status: int = 200) -> list[str]:
    index = json.loads((RECORDINGS / "index.json").read_text())["interactions"]
    return sorted(
        entry["name"]
        for entry in index
        if entry["path_template"] == path and entry["sse"] == sse and entry["status"] == status
    )


def sse_body(events: list[dict[str, Any]]) -> bytes:
    chunks = []
    for event in events:
        data = event["data"] if isinstance(event["data"], str) else json.dumps(event["data"])
        if event.get("event"):
            chunks.append(f"event: {event['event']}\n")
        chunks.append(f"data: {data}\n\n")
    return "".join(chunks).encode()


class RecordedServer(HttpDouble):
    """Serves `recording` (set it before each request) for any request; remembers the request bodies."""

    def __init__(self) -> None:
        self.recording: dict[str, Any] | None = None
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(DoubleHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                body = self.read_body()
                server.requests.append(
                    {"method": self.command, "path": self.path, "json": json.loads(body) if body else None}
                )
                recorded = server.recording or {}
                if urlsplit(self.path).path != recorded.get("request", {}).get("path"):
                    # Not what was recorded (e.g. a follow-up the library makes): the real API's not-found body.
                    self._send(
                        404,
                        json.dumps(
                            {
                                "error": {
                                    "message": f"Invalid URL ({self.command} {self.path})",
                                    "type": "invalid_request_error",
                                    "param": None,
                                    "code": None,
                                }
                            }
                        ).encode(),
                        "application/json",
                    )
                    return
                response = recorded.get("response", {})
                if "sse_events" in response:
                    payload, content_type = sse_body(response["sse_events"]), "text/event-stream; charset=utf-8"
                else:
                    payload, content_type = json.dumps(response.get("json")).encode(), "application/json"
                self._send(response.get("status") or 200, payload, content_type)

            def _send(self, status: int, payload: bytes, content_type: str) -> None:
                self.send_whole(status, {"content-type": content_type, "x-request-id": "req_recorded"}, payload)

            do_GET = do_POST = do_DELETE = _answer

        super().__init__(Handler)
