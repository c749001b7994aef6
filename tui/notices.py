"""What the app says when something fails: the library's message (it already says what happened and what
to do), a title naming the kind of failure, and what to do in the app rather than on the command line."""

from __future__ import annotations

from assistant import (
    AssistantError,
    AuthenticationFailed,
    IndexUnavailable,
    ModelNotFound,
    RateLimited,
    ServerError,
    ServerUnreachable,
    ThreadNotFound,
    TurnFailed,
)

TITLES: list[tuple[type[AssistantError], str]] = [
    (AuthenticationFailed, "API key rejected"),
    (ModelNotFound, "Model not found"),
    (RateLimited, "Rate limited"),
    (ServerUnreachable, "Server unreachable"),
    (ServerError, "Server error"),
    (TurnFailed, "The answer failed"),
    (ThreadNotFound, "Thread not found"),
    (IndexUnavailable, "Index unavailable"),
]


def error_message(error: BaseException) -> str:
    """An AssistantError's text is the message to show; anything else is a bug, named as such."""
    if isinstance(error, AssistantError):
        return str(error)
    return f"Unexpected error: {type(error).__name__}: {error}"


def error_title(error: BaseException) -> str:
    for kind, title in TITLES:
        if isinstance(error, kind):
            return title
    return "Error" if isinstance(error, AssistantError) else "Unexpected error"


def send_failed_message(error: BaseException) -> str:
    """The notice for a message that was not answered: the error, what to do here, and where the text is."""
    advice = ""
    if isinstance(error, ModelNotFound):
        advice = " Pick another model with ctrl+o."
    return f"{error_message(error)}{advice} Your message is back in the prompt."
