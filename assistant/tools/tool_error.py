"""The one error type tool runtimes raise: a message meant for the model and the user, not a stack trace."""

from __future__ import annotations


class ToolError(Exception):
    """A tool could not do what was asked (no provider configured, sandbox limit hit, unreadable file, ...).

    `code` is a short machine-readable reason; `str(error)` says what happened and, where it helps, what to do.
    """

    def __init__(self, message: str, code: str = "tool_error") -> None:
        super().__init__(message)
        self.code = code


class UnsupportedFile(ToolError):
    """A file the retriever cannot index (binary, unknown format, no text). Maps to `last_error` on the API."""

    def __init__(self, message: str, code: str = "unsupported_file") -> None:
        super().__init__(message, code)
