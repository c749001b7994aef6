"""A misbehaving provider: a real loopback HTTP server in front of the local server that forwards every request
(and keeps it, for tests of what goes on the wire), except the ones a test tells it to get wrong (an HTML page
or truncated JSON with a 200, a stream that goes silent half-way, a container file listing with hostile paths).

Built on the real local server so that everything a test does not break is a faithful answer, and the library
under test talks to it through the real openai SDK over real HTTP.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx2

from tests.support.http_double import DoubleHandler, HttpDouble

# Headers that describe the upstream connection, not the body we pass on.
HOP_HEADERS = {"connection", "content-length", "transfer-encoding", "keep-alive", "content-encoding"}


@dataclass
class CannedAnswer:
    method: str
    path: re.Pattern[str]
    status: int
    body: bytes
    content_type: str
    count: int
    hold: bool = False  # answer nothing at all until the provider closes


@dataclass
class BodyRewrite:
    method: str
    path: re.Pattern[str]
    rewrite: Callable[[Any], Any]  # the upstream's JSON body -> the JSON body to send instead


class MisbehavingProvider(HttpDouble):
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/").removesuffix("/v1")
        self._canned: list[CannedAnswer] = []
        self._rewrites: list[BodyRewrite] = []
        self._stall_after_events: int | None = None
        self._corrupt: tuple[int, bytes] | None = None
        self.held = 0  # requests held without an answer so far
        self.requests: list[tuple[str, str, Any]] = []  # every request: method, path, JSON body (None if not JSON)
        self.released = threading.Event()  # set at the end: stalled streams then close
        self._lock = threading.Lock()
        self._http = httpx2.Client(timeout=60)
        super().__init__(self._handler())

    # what to get wrong

    def answer(
        self,
        method: str,
        path: str,
        body: bytes,
        *,
        status: int = 200,
        content_type: str = "text/html; charset=utf-8",
        count: int = 1,
    ) -> None:
        """The next `count` requests matching `method` and the `path` regex get this answer, not upstream's."""
        with self._lock:
            self._canned.append(CannedAnswer(method, re.compile(path), status, body, content_type, count))

    def hold(self, method: str, path: str, *, count: int = 1) -> None:
        """The next `count` matching requests get no answer at all (not even headers) until the provider closes:
        a response that never arrives."""
        with self._lock:
            self._canned.append(CannedAnswer(method, re.compile(path), 0, b"", "", count, hold=True))

    def corrupt_next_stream(self, after_events: int, line: bytes) -> None:
        """The next event stream passes on `after_events` events, then sends `line` (e.g. an event whose data
        is not JSON) and ends."""
        with self._lock:
            self._corrupt = (after_events, line)

    def rewrite_json(self, method: str, path: str, rewrite: Callable[[Any], Any]) -> None:
        """Every answer to `method` + `path` regex passes through `rewrite` (upstream JSON in, JSON out)."""
        with self._lock:
            self._rewrites.append(BodyRewrite(method, re.compile(path), rewrite))

    def stall_next_stream(self, after_events: int) -> None:
        """The next event stream passes on `after_events` events, then sends nothing more (the connection stays
        open) until the provider is closed."""
        with self._lock:
            self._stall_after_events = after_events

    # lifetime

    def __exit__(self, *_: object) -> None:
        self.released.set()
        super().__exit__()
        self._http.close()

    # serving

    def _record(self, method: str, path: str, body: bytes) -> None:
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        with self._lock:
            self.requests.append((method, path, parsed))

    def _take_canned(self, method: str, path: str) -> CannedAnswer | None:
        with self._lock:
            for canned in self._canned:
                if canned.method == method and canned.path.search(path):
                    canned.count -= 1
                    if canned.count <= 0:
                        self._canned.remove(canned)
                    return canned
        return None

    def _rewrite_for(self, method: str, path: str) -> BodyRewrite | None:
        with self._lock:
            return next((each for each in self._rewrites if each.method == method and each.path.search(path)), None)

    def _take_stall(self) -> int | None:
        with self._lock:
            after, self._stall_after_events = self._stall_after_events, None
            return after

    def _take_corrupt(self) -> tuple[int, bytes] | None:
        with self._lock:
            corrupt, self._corrupt = self._corrupt, None
            return corrupt

    def _handler(self) -> type[DoubleHandler]:
        provider = self

        class Handler(DoubleHandler):
            # HTTP/1.0: every answer ends when the connection closes, so a body needs no length or chunking.
            protocol_version = "HTTP/1.0"

            def _proxy(self) -> None:
                body = self.read_body()
                provider._record(self.command, self.path, body)
                canned = provider._take_canned(self.command, self.path)
                if canned is not None and canned.hold:
                    with provider._lock:
                        provider.held += 1
                    provider.released.wait(60)
                    return  # the connection closes with no answer
                if canned is not None:
                    self.send_whole(canned.status, {"content-type": canned.content_type}, canned.body)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS | {"host"}}
                request = provider._http.build_request(
                    self.command, provider.upstream + self.path, headers=headers, content=body
                )
                upstream = provider._http.send(request, stream=True)
                try:
                    passed_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_HEADERS}
                    if upstream.headers.get("content-type", "").startswith("text/event-stream"):
                        self._relay_stream(upstream, passed_headers)
                        return
                    data = upstream.read()
                    rewrite = provider._rewrite_for(self.command, self.path)
                    if rewrite is not None and upstream.status_code == 200:
                        data = json.dumps(rewrite.rewrite(json.loads(data))).encode()
                    self.send_whole(upstream.status_code, passed_headers, data)
                finally:
                    upstream.close()

            def _relay_stream(self, upstream: httpx2.Response, headers: dict[str, str]) -> None:
                self.send_response(upstream.status_code)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                stall_after = provider._take_stall()
                corrupt = provider._take_corrupt()
                events = 0
                for line in upstream.iter_lines():
                    self.wfile.write(line.encode() + b"\n")
                    if line == "":  # a blank line ends an event
                        events += 1
                        self.wfile.flush()
                        if stall_after is not None and events >= stall_after:
                            provider.released.wait(60)  # silent, connection open: the client must time out
                            return
                        if corrupt is not None and events >= corrupt[0]:
                            self.wfile.write(corrupt[1])
                            self.wfile.flush()
                            return
                self.wfile.flush()

            do_GET = do_POST = do_DELETE = _proxy

        return Handler
