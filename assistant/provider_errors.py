"""The openai SDK's exceptions as the library's own errors (errors.py): `explain()` words each one for the user.

Apart from errors.py so that the errors themselves can be imported without the SDK (whose import costs about
half a second): only code that talks to a server needs this module.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING

import openai

from assistant.errors import (
    AssistantError,
    AuthenticationFailed,
    ModelNotFound,
    RateLimited,
    ServerError,
    ServerUnreachable,
    TurnFailed,
    retry_after_seconds,
)
from assistant.urls import without_credentials

if TYPE_CHECKING:
    from assistant.turn import Turn

# What a call to the provider can raise: the SDK's errors, and a 2xx body that is not the JSON it must be
# (the SDK lets json.JSONDecodeError through; see AnswerChecks in client.py).
PROVIDER_ERRORS = (openai.OpenAIError, json.JSONDecodeError)


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
