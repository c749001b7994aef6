"""What adding files for file search reports: a step of the progress (`FileProgress`) and each file's outcome.

Apart from files.py, which talks to the server through the SDK, so that the app and the command line can show
progress without importing the SDK before they need it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FileOutcome:
    path: str
    file_id: str | None = None
    status: str = "failed"  # completed | failed | in_progress (still indexing when the wait ran out)
    error: str | None = None
    reused: bool = False  # the same content was already on the server


@dataclass(frozen=True)
class FileProgress:
    """One step of `add`, for progress bars: `done` of `total` files finished so far."""

    path: str
    step: str  # checking | uploading | attaching | indexing | completed | failed
    done: int
    total: int
