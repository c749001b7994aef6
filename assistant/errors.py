"""Errors the library raises: each says what happened and what to do, in one line, and never holds a key.

`explain()` turns the openai SDK's exceptions into these, so the CLI and the TUI show the same words.
"""

from __future__ import annotations

import email.utils
import json
import math
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

import openai

from assistant.urls import without_credentials

if TYPE_CHECKING:
    from assistant.turn import Turn

# Anything shaped like an OpenAI key: a misbehaving server may echo it, and it must not reach the screen,
# the index or a log through us.
_KEY_PATTERN = re.compile(r"sk-[A-Za-z0-9_\-*]{8,}")


# What a call to the provider can raise: the SDK's errors, and a 2xx body that is not the JSON it must be
# (the SDK lets json.JSONDecodeError through; see AnswerChecks in client.py).
PROVIDER_ERRORS = (openai.OpenAIError, json.JSONDecodeError)


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


def explain(
    exc: BaseException, *, base_url: str, model: str, turn: Turn | None = None, timeout: float | None = None
) -> AssistantError:
    """One clear AssistantError for an exception raised while talking to the server. `timeout` is the client's
    timeout in seconds, named when the server did not answer within it."""
    if isinstance(exc, AssistantError):
        return exc
    base_url = without_credentials(base_url)  # a message is shown, logged, pasted into bug reports
    if isinstance(exc, openai.APITimeoutError):
        within = f" within {timeout:g} s" if timeout else " in time"
        return ServerUnreachable(
            f"The server at {base_url} did not answer{within}. Check that it is up, or wait longer: set "
            "ASSISTANT_TIMEOUT (seconds) or Assistant(timeout=...).",
            turn=turn,
        )
    if isinstance(exc, openai.APIConnectionError):
        return ServerUnreachable(
            f"Cannot reach the server at {base_url}. Check OPENAI_BASE_URL and your network, "
            "or unset both OPENAI_API_KEY and OPENAI_BASE_URL to use the embedded local server.",
            turn=turn,
        )
    if isinstance(exc, json.JSONDecodeError):
        return ServerError(
            f"The server at {base_url} answered with a body that is not valid JSON (at character {exc.pos}: "
            f"{exc.msg}): it is not an OpenAI-compatible API, or something in between (a proxy) answered for it. "
            "Check OPENAI_BASE_URL.",
            turn=turn,
        )
    if isinstance(exc, openai.APIResponseValidationError):
        return ServerError(
            f"The server at {base_url} answered with a body that is not what the API sends: {_message(exc)} "
            "Check OPENAI_BASE_URL.",
            turn=turn,
        )
    if isinstance(exc, openai.AuthenticationError):
        return AuthenticationFailed(
            f"The API key was rejected by {base_url} (401). Set a valid OPENAI_API_KEY in the environment "
            "or in a .env file (keys: https://platform.openai.com/api-keys).",
            turn=turn,
        )
    if isinstance(exc, openai.APIStatusError) and _code(exc) == "model_not_found":
        return ModelNotFound(
            f"The model {model!r} does not exist on {base_url}. Pick another with --model or ASSISTANT_MODEL.",
            model=model,
            turn=turn,
        )
    if isinstance(exc, openai.RateLimitError):
        retry_after = retry_after_seconds(exc.response.headers)
        when = f"in {_seconds(retry_after)}" if retry_after else "in a minute"
        return RateLimited(
            f"Rate limited by {base_url} (429): {_message(exc)} Try again {when}.",
            retry_after=retry_after,
            turn=turn,
        )
    if isinstance(exc, openai.APIStatusError):
        retry_after = retry_after_seconds(exc.response.headers)
        when = f" Try again in {_seconds(retry_after)}." if retry_after and exc.status_code >= 500 else ""
        return ServerError(f"The server at {base_url} answered {exc.status_code}: {_message(exc)}{when}", turn=turn)
    if isinstance(exc, openai.APIError):
        return TurnFailed(f"The server reported an error mid-answer: {_message(exc)}", turn=turn)
    return TurnFailed(f"The answer stream broke off: {type(exc).__name__}: {exc}", turn=turn)


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


def _seconds(seconds: float) -> str:
    if seconds == math.inf:
        return "a while"
    if seconds >= 120:
        return f"{seconds:.0f} s (about {seconds / 60:.0f} min)"
    return f"{seconds:g} s"


def _code(exc: openai.APIStatusError) -> str | None:
    body = exc.body if isinstance(exc.body, dict) else {}
    return getattr(exc, "code", None) or body.get("code")


def _message(exc: openai.APIError, limit: int = 300) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    message = str(body.get("message") or exc.message)
    message = " ".join(message.removeprefix(f"Error code: {getattr(exc, 'status_code', '')} - ").split())
    # A misbehaving server's error body can be a whole HTML page: the user gets one line of it.
    return message if len(message) <= limit else message[:limit] + "..."
