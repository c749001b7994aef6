"""What the index's reads return: plain frozen records, never live rows or ORM objects, so callers cannot write
by accident. They live apart from the store so that code that only reads them (the CLI, the app, the backends)
does not import it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True, slots=True)
class ThreadInfo:
    id: str
    title: str
    mode: str
    model: str
    instructions: str | None
    conversation_id: str | None
    last_response_id: str | None
    base_url: str | None
    archived: bool
    created_at: datetime
    updated_at: datetime
    parent_id: str | None = None  # the thread this one was forked from
    forked_at_seq: int | None = None
    tools: str | None = None  # tool settings as JSON (assistant/tool_settings.py)
    turn_count: int = 0


@dataclass(frozen=True, slots=True)
class ThreadChange:
    kind: str  # mode_changed | state_rebuilt | forked | repaired
    detail: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call of a turn as the index lists it (the full item is in the turn's items)."""

    turn_id: int
    item_id: str | None
    type: str
    status: str | None
    queries: list[str]
    code: str | None
    logs: str | None
    container_id: str | None
    results: Any  # web sources, file search results with scores, interpreter outputs, function name/arguments
    call_id: str | None = None
    output: str | None = None  # function calls the library ran: what the model read back
    error: str | None = None
    duration_ms: float | None = None


@dataclass(frozen=True, slots=True)
class Citation:
    turn_id: int
    item_id: str | None
    type: str
    url: str | None
    title: str | None
    file_id: str | None
    filename: str | None
    container_id: str | None
    start_index: int | None
    end_index: int | None
    text_index: int | None


@dataclass(frozen=True, slots=True)
class FileRecord:
    """A file uploaded to a server, and where the index knows it is attached."""

    id: str
    server: str
    filename: str
    bytes: int
    sha256: str
    purpose: str
    created_at: datetime
    path: str | None = None  # the index's own copy of the bytes
    vector_store_id: str | None = None
    status: str | None = None  # in the vector store: in_progress | completed | failed | cancelled
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class ContainerFile:
    container_id: str
    file_id: str
    turn_id: int | None
    filename: str
    path: str | None
    bytes: int | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ComparisonRecord:
    """A conversation `assistant compare` ran through both APIs: its two threads and its summary."""

    id: str
    run_id: str
    name: str
    source: str | None
    responses_thread_id: str | None
    chat_thread_id: str | None
    summary: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SearchHit:
    thread_id: str
    thread_title: str
    turn_id: int
    seq: int
    snippet: str  # about 12 words around the first match, matched words wrapped in [ ]
    input: str  # the user's message; over 20,000 characters, its first and last 5,000 (the turn has it all)
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Lease:
    """A chain-mode turn's hold on its thread: while it is held, no other turn continues the thread's chain head,
    so two processes cannot fork the chain on the server (thread.py)."""

    thread_id: str
    token: str  # this turn's: one process may run several turns at once, through several Assistants
    hold: timedelta  # how long it holds past its last sign of progress (a crashed holder on another host)

    @staticmethod
    def new(thread_id: str, hold: timedelta) -> Lease:
        return Lease(thread_id, secrets.token_hex(8), hold)


@dataclass(frozen=True, slots=True)
class LeaseHolder:
    """Who holds a thread's lease (take_lease), when it is not the caller."""

    owner: str  # "host pid start-time" (turn_owner.py)
    token: str
