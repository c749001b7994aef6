"""Server URLs as they may be shown or recorded: a base URL can carry credentials (`https://user:key@host/v1`,
for a proxy that wants them), which must reach neither the index, nor a message, nor `assistant config`."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def without_credentials(url: str) -> str:
    """`url` without the user and password part: `https://user:key@host:8080/v1` -> `https://host:8080/v1`."""
    try:
        parts = urlsplit(url)
    except ValueError:  # not parseable as a URL: show only what cannot be a credential
        return url.split("://", 1)[0] + "://***" if "@" in url else url
    if "@" not in parts.netloc:
        return url
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, parts.query, parts.fragment))
