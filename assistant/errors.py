"""Errors the library raises: each says what happened and what to do, in one line, and never holds a key.

`provider_errors.explain()` turns the openai SDK's exceptions into these, so the CLI and the TUI show the same
words. This module does not import the SDK: every command that only reads the index raises these too.
"""

from __future__ import annotations

import email.utils
import math
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assistant.turn import Turn

# Anything shaped like an OpenAI key: a misbehaving server may echo it, and it must not reach the screen,
# the index or a log through us.
_KEY_PATTERN = re.compile(r"sk-[A-Za-z0-9_\-*]{8,}")


def redact(text: str) -> str:
    return _KEY_PATTERN.sub("sk-***", text)


class AssistantError(Exception):
    """Base class. `str(error)` is the one line to show the user."""

    def __init__(self, message: str, *, turn: Turn | None = None) -> None:
        super().__init__(redact(message))
        self.turn = turn  # the recorded turn, when the error ended one


class ThreadNotFound(AssistantError):
    pass


class IndexUnavailable(AssistantError):
    """The index file cannot be opened or written (corrupt, unwritable, or from a newer version)."""


class ServerUnreachable(AssistantError):
    pass


class AuthenticationFailed(AssistantError):
    pass


class ModelNotFound(AssistantError):
    def __init__(self, message: str, *, model: str, available: list[str] | None = None, turn: Turn | None = None):
        super().__init__(message, turn=turn)
        self.model = model
        self.available = available or []


class RateLimited(AssistantError):
    def __init__(self, message: str, *, retry_after: float | None = None, turn: Turn | None = None):
        super().__init__(message, turn=turn)
        self.retry_after = retry_after


class ServerError(AssistantError):
    """The server answered with an error we cannot fix on our side (5xx, or a 4xx we do not special-case)."""


class TurnFailed(AssistantError):
    """The response itself failed, or its stream broke off (the turn is recorded with what arrived)."""


class StructuredAnswerError(AssistantError):
    """A turn asked for a structured answer (`schema=`) and the answer is a refusal (`refusal`), is not JSON,
    or does not validate (`problem`). The turn is recorded as it came (`turn`, whose text is the raw answer)."""

    def __init__(
        self, message: str, *, turn: Turn | None = None, refusal: str | None = None, problem: str | None = None
    ) -> None:
        super().__init__(message, turn=turn)
        self.refusal = refusal
        self.problem = problem or ("refused" if refusal else None)


def retry_after_seconds(headers: Mapping[str, str], *, prefer_ms: bool = False) -> float | None:
    """The wait a server asks for, in seconds: `Retry-After` (seconds or an HTTP date) or `retry-after-ms`.
    The SDK reads `retry-after-ms` first (`prefer_ms`, to agree with its retries); a person is told the
    whole seconds of `Retry-After`, as the server wrote them."""
    names = ("retry-after-ms", "retry-after") if prefer_ms else ("retry-after", "retry-after-ms")
    for name in names:
        value = headers.get(name)
        if not value:
            continue
        try:
            seconds = float(value) / (1000 if name == "retry-after-ms" else 1)
        except ValueError:
            if name == "retry-after-ms":
                continue
            parsed = email.utils.parsedate_tz(value)
            if parsed is None:
                continue
            seconds = email.utils.mktime_tz(parsed) - time.time()
        if math.isnan(seconds):
            continue
        return max(seconds, 0.0)
    return None
