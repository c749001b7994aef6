"""A fault switch, so tests can make the server misbehave the way the real API sometimes does.

Not an OpenAI route. Driven over real HTTP so tests exercise the client's real error handling:

    POST   /v1/_faults  {"status": 429, "count": 2, "retry_after": 0.01}   -> next 2 requests get a 429
    POST   /v1/_faults  {"status": 500}                                    -> next request gets a 500
    POST   /v1/_faults  {"cut_after_events": 3}                            -> next stream drops after 3 events
    POST   /v1/_faults  {"delay_s": 0.5, "path": "/v1/responses"}           -> next matching request is delayed
    GET    /v1/_faults                                                     -> the pending faults
    DELETE /v1/_faults                                                     -> clear them all

`path` (a path prefix) and `method` scope a fault; `count` (default 1) is how many matching requests it hits.
Status faults carry the real API's error bodies and a `Retry-After` header (plus `retry-after-ms`, which the SDK
reads first, so sub-second waits keep tests fast). A cut stream ends with the connection dropped and no terminal
event, as when a server dies mid-response. The switch is off in `serve()` unless asked for.
"""

from __future__ import annotations

import math
import threading
from dataclasses import asdict, dataclass
from typing import Any

from .error_responses import ApiError


@dataclass
class Fault:
    status: int | None = None
    count: int = 1
    retry_after: float | None = None  # seconds
    cut_after_events: int | None = None
    delay_s: float = 0.0
    path: str | None = None  # path prefix, e.g. "/v1/responses"
    method: str | None = None

    def matches(self, method: str, path: str) -> bool:
        return (self.path is None or path.startswith(self.path)) and (
            self.method is None or self.method.upper() == method.upper()
        )

    @classmethod
    def from_json(cls, body: Any) -> Fault:
        if not isinstance(body, dict):
            raise ApiError(400, "A fault must be a JSON object.", param="body")
        unknown = set(body) - set(cls.__dataclass_fields__)
        if unknown:
            name = sorted(unknown)[0]
            raise ApiError(400, f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter")
        fault = cls(**body)
        if fault.status is None and fault.cut_after_events is None and not fault.delay_s:
            raise ApiError(400, "A fault needs one of 'status', 'cut_after_events' or 'delay_s'.", param="status")
        if fault.count < 1:
            raise ApiError(400, "'count' must be at least 1.", param="count")
        return fault

    def error(self) -> ApiError:
        assert self.status is not None
        headers: dict[str, str] = {}
        if self.retry_after is not None:
            headers["retry-after"] = str(max(1, math.ceil(self.retry_after)))
            headers["retry-after-ms"] = str(int(self.retry_after * 1000))
        if self.status == 429:
            wait = f" Please try again in {self.retry_after}s." if self.retry_after is not None else ""
            return ApiError(
                429,
                f"Rate limit reached for requests (local fault injection).{wait} "
                "Visit https://platform.openai.com/account/rate-limits to learn more.",
                type="requests",
                code="rate_limit_exceeded",
                headers=headers,
            )
        if self.status >= 500:
            return ApiError(
                self.status,
                "The server had an error while processing your request. Sorry about that!",
                type="server_error",
                headers=headers,
            )
        return ApiError(self.status, f"Injected fault: HTTP {self.status}.", headers=headers)


class FaultSwitch:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(fault) for fault in self._faults]

    def take_request_fault(self, method: str, path: str) -> Fault | None:
        """The first pending status/delay fault for this request, counted down by one."""
        return self._take(method, path, lambda fault: fault.cut_after_events is None)

    def take_stream_cut(self, method: str, path: str) -> int | None:
        fault = self._take(method, path, lambda fault: fault.cut_after_events is not None)
        return None if fault is None else fault.cut_after_events

    def _take(self, method: str, path: str, kind: Any) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if kind(fault) and fault.matches(method, path):
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                    return fault
        return None
