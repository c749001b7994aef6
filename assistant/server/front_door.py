"""The local server's front door: who may send it requests, and how much they may send.

Any web page the user opens can send requests to a loopback port: a `text/plain` or form POST needs no CORS
preflight, a port scan finds the port, and DNS rebinding makes the page's own name resolve to 127.0.0.1 so the
browser treats the server as the page's origin. A browser always says where a request comes from, though: the
`Host` it was addressed to and, for anything but a plain navigation, the page's `Origin`. So the server answers
only requests addressed to a loopback name (or to the address it was explicitly bound to) and refuses any request
carrying an `Origin` that was not allowed (`assistant serve --allow-origin`). The SDK and other programs send no
`Origin`, and address the server as they reach it: 127.0.0.1, localhost, [::1].

Bodies are bounded while they are read, never after: a request announcing more than the limit is refused before a
byte of it is read, and a chunked one as soon as it passes the limit. Which parser a route uses (JSON or
multipart) is checked where the body is parsed (`request_parsing.py`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection

from starlette.types import Message, Receive, Scope

from .error_responses import ApiError

# A JSON request body can be this large. Nothing the real API would answer comes near it: its largest context
# window (about a million tokens) is a few MB of text, it drops image inputs over 8 MB, and files of up to
# 512 MB go through uploads (`POST /v1/files`) instead. Parsed, a body this size costs at most a few hundred MB.
MAX_JSON_BODY_BYTES = 32 << 20
# A multipart upload can be this much larger than the file limit: room for the form's other fields and headers.
MULTIPART_OVERHEAD_BYTES = 1 << 20

_LOOPBACK_NAMES = frozenset({"localhost", "localhost."})
_WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})
_ORIGIN = re.compile(r"^[a-z][a-z0-9+.-]*://[^/?#\s]+$")


class FrontDoor:
    """The checks made before a request reaches a route. `bound_host` is the address the server listens on;
    `allowed_origins` are the web origins (`https://app.example`) whose pages may use it."""

    def __init__(
        self,
        *,
        bound_host: str = "127.0.0.1",
        allowed_origins: Collection[str] = (),
        max_json_bytes: int = MAX_JSON_BODY_BYTES,
        max_upload_bytes: int = 512 << 20,
    ) -> None:
        self.bound_host = bound_host
        self.allowed_origins = frozenset(normalized_origin(origin) for origin in allowed_origins)
        self.max_json_bytes = max_json_bytes
        self.max_upload_bytes = max_upload_bytes

    def check(self, scope: Scope) -> None:
        """Raise the ApiError that refuses this request, if any: a foreign Host, a browser Origin not allowed,
        or a body announced larger than the limit."""
        headers = _headers(scope)
        host = headers.get("host")
        if host is not None and not self.host_allowed(host):
            raise ApiError(
                421,
                f"This server answers only requests addressed to {self._addresses()}; this one was addressed to "
                f"{host!r}. Use http://127.0.0.1:<port>/v1 as the base URL (a web page that reaches this port "
                "through another name is refused on purpose).",
                code="host_not_allowed",
            )
        origin = headers.get("origin")
        if origin is not None and origin.lower() not in self.allowed_origins:
            raise ApiError(
                403,
                f"Requests from web pages are refused, and this one came from {origin!r}: any page you open could "
                "otherwise use this server. To let a page you trust use it, start the server with "
                f"--allow-origin {origin}.",
                code="origin_not_allowed",
            )
        announced = headers.get("content-length", "")
        if announced.isdigit() and int(announced) > self._limit(headers):
            raise self._too_large(headers)

    def is_preflight(self, scope: Scope) -> bool:
        """A browser's CORS preflight (it carries no key) from an allowed origin: CORS middleware answers it."""
        headers = _headers(scope)
        return (
            scope["method"] == "OPTIONS"
            and "access-control-request-method" in headers
            and headers.get("origin", "").lower() in self.allowed_origins
        )

    def host_allowed(self, host: str) -> bool:
        name = _host_name(host)
        if name in _LOOPBACK_NAMES or _is_loopback_address(name):
            return True
        if self.bound_host in _WILDCARD_HOSTS:
            # Bound to every interface (with a key, which check_exposure requires): the server may be reached by
            # any name the machine has, and the key is what keeps others out.
            return True
        return name == self.bound_host.lower().strip("[]") or _same_address(name, self.bound_host)

    def limited(self, scope: Scope, receive: Receive) -> Receive:
        """`receive`, raising the 413 as soon as the body read so far passes the limit (a chunked body says
        nothing of its size up front)."""
        headers = _headers(scope)
        limit = self._limit(headers)
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise self._too_large(headers)
            return message

        return receive_within_limit

    def _limit(self, headers: dict[str, str]) -> int:
        return self.max_upload_bytes + MULTIPART_OVERHEAD_BYTES if _is_multipart(headers) else self.max_json_bytes

    def _too_large(self, headers: dict[str, str]) -> ApiError:
        if _is_multipart(headers):
            message = (
                f"The upload is larger than the {_size(self._limit(headers))} this server accepts (files "
                f"up to {_size(self.max_upload_bytes)}). Send a smaller file."
            )
        else:
            message = (
                f"The request body is larger than the {_size(self.max_json_bytes)} this server accepts for "
                "a JSON request. Send less: files go through uploads (POST /v1/files), which take up to "
                f"{_size(self.max_upload_bytes)}."
            )
        return ApiError(413, message, code="request_too_large")

    def _addresses(self) -> str:
        loopback = "a loopback name (localhost, 127.0.0.1, [::1])"
        if self.bound_host in _WILDCARD_HOSTS or self.host_allowed(self.bound_host):
            return loopback
        return f"{loopback} or {self.bound_host}"


def normalized_origin(origin: str) -> str:
    """An origin as a browser sends it (`scheme://host[:port]`, lower case); ValueError for anything else."""
    cleaned = origin.strip().rstrip("/").lower()
    if not _ORIGIN.match(cleaned):
        raise ValueError(
            f"--allow-origin {origin!r} is not a web origin: give the scheme, host and port a "
            "browser shows, with no path, e.g. http://localhost:3000"
        )
    return cleaned


def _headers(scope: Scope) -> dict[str, str]:
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}


def _is_multipart(headers: dict[str, str]) -> bool:
    return headers.get("content-type", "").lower().startswith("multipart/form-data")


def _host_name(host: str) -> str:
    """`Host` without its port: `[::1]:8080` -> `::1`, `localhost:8080` -> `localhost`."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def _is_loopback_address(name: str) -> bool:
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _same_address(name: str, bound_host: str) -> bool:
    try:
        return ipaddress.ip_address(name) == ipaddress.ip_address(bound_host.strip("[]"))
    except ValueError:
        return False


def _size(limit: int) -> str:
    return f"{limit / (1 << 20):g} MiB ({limit:,} bytes)"
