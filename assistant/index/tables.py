"""The index's tables, as SQLModel classes.

These classes are the schema's one source of truth: what the store's SQL names (sql.py) and what a test
(tests/test_schema.py) holds the index equal to. The database itself is created and upgraded by the named
migrations in `migrations.py`, not by `SQLModel.metadata.create_all`, since a released index upgrades itself in
place: a change to the schema is a change here and a new migration, and that test fails until both are made.
Times are UTC.

- threads: one row per conversation thread, whatever its state mode.
- turns: one row per user message and the response to it: one `responses.create` (or Chat completion), or
  several when the model calls your functions (one per round; every item of every round is the turn's).
  Written before the request goes out (status in_progress) and closed when the stream ends.
- thread_changes: what happened to a thread's state outside its turns (mode switched, server state rebuilt,
  forked, repaired).
- turn_previews: the beginning and end of a turn's long text, for search hits (migrations.m009).
- items: every input and output item of a turn, in order, with its full wire JSON. Tool calls, citations,
  files and containers are read out of these payloads into their own tables by later migrations, so the
  turn and item rows never change shape.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

IN_PROGRESS = text("status = 'in_progress'")


def utcnow() -> datetime:
    return datetime.now(UTC)


class ThreadRow(SQLModel, table=True):
    __tablename__ = "threads"

    id: str = Field(primary_key=True)  # "thr_" + 16 hex digits: ours, not the server's
    title: str = ""
    mode: str = "conversation"  # conversation | chain | local | chat
    model: str
    instructions: str | None = None  # re-sent every turn: the server does not carry them over
    conversation_id: str | None = Field(default=None, index=True)  # conv_… in conversation mode
    last_response_id: str | None = None  # head of the previous_response_id chain
    base_url: str | None = None  # the server that holds the thread's state (never credentials)
    parent_id: str | None = Field(default=None, foreign_key="threads.id")  # forks
    forked_at_seq: int | None = None
    archived: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow, index=True)
    tools: str | None = None  # tool settings as JSON (see assistant/tool_settings.py); null: no tools
    turn_count: int = 0  # kept by the store as turns are recorded, so listing threads never counts them
    # A chain-mode turn's hold on the thread (store.take_lease): the process ("host pid start-time"), which of its
    # turns (a token), and until when it holds without showing progress. Null: nobody holds it.
    lease_owner: str | None = None
    lease_token: str | None = None
    lease_expires_at: datetime | None = None


class TurnRow(SQLModel, table=True):
    __tablename__ = "turns"
    __table_args__ = (
        UniqueConstraint("thread_id", "seq"),
        # Finding the in-progress turns (store.close_interrupted_turns) stays cheap however many turns there are.
        Index("ix_turns_in_progress", "status", sqlite_where=IN_PROGRESS, postgresql_where=IN_PROGRESS),
    )

    id: int | None = Field(default=None, primary_key=True)
    thread_id: str = Field(foreign_key="threads.id", index=True)
    seq: int  # 1-based position in the thread
    backend: str = "responses"  # responses | chat
    mode: str = "conversation"  # the thread's mode when this turn ran
    status: str = "in_progress"  # in_progress | completed | incomplete | failed | cancelled
    model: str
    input_text: str = ""
    output_text: str = ""  # the answer, or as much of it as arrived
    error: str | None = None
    incomplete_reason: str | None = None
    response_id: str | None = Field(default=None, index=True)
    previous_response_id: str | None = None
    conversation_id: str | None = None
    request_bytes: int = 0  # bytes of request bodies sent for this turn (retries included)
    ttft_ms: float | None = None  # request sent -> first text delta
    latency_ms: float | None = None  # request sent -> stream ended
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float | None = None  # None when the model's price is unknown
    created_at: datetime = Field(default_factory=utcnow)
    completed_at: datetime | None = None
    output_format: str | None = None  # the structured-answer format asked for (`text.format` JSON); null: text
    rounds: int = 1  # model requests in the turn: 1 + one per round of function calls answered
    owner: str | None = None  # the process running the turn, "host pid start-time" (index/turn_owner.py)


class TurnPreviewRow(SQLModel, table=True):
    """What a search hit shows of a turn with a side over 20,000 characters: each long side's first and last 5,000
    characters, a short side whole (kept by triggers, migrations.m009). Turns without a long side have none."""

    __tablename__ = "turn_previews"

    turn_id: int = Field(foreign_key="turns.id", primary_key=True, ondelete="CASCADE")
    input_text: str
    output_text: str
    created_at: datetime


class ItemRow(SQLModel, table=True):
    __tablename__ = "items"

    id: int | None = Field(default=None, primary_key=True)
    turn_id: int = Field(foreign_key="turns.id", index=True, ondelete="CASCADE")
    position: int  # order within the turn: inputs first, then outputs in output_index order
    direction: str  # input | output
    type: str  # message, reasoning, function_call, web_search_call, …
    item_id: str | None = Field(default=None, index=True)  # the server's id (msg_…, fc_…); None if unknown
    status: str | None = None
    payload: str  # the item's JSON as on the wire


class ThreadChangeRow(SQLModel, table=True):
    __tablename__ = "thread_changes"

    id: int | None = Field(default=None, primary_key=True)
    thread_id: str = Field(foreign_key="threads.id", index=True)
    kind: str  # mode_changed | state_rebuilt | forked | repaired
    detail: str = ""  # one line for people: what changed and why
    created_at: datetime = Field(default_factory=utcnow)


class ToolCallRow(SQLModel, table=True):
    """A hosted tool call, read out of its output item when the turn closes."""

    __tablename__ = "tool_calls"

    id: int | None = Field(default=None, primary_key=True)
    turn_id: int = Field(foreign_key="turns.id", index=True, ondelete="CASCADE")
    item_id: str | None = None
    type: str  # web_search_call | file_search_call | code_interpreter_call | function_call | …
    status: str | None = None
    queries: str | None = None  # JSON list of what was searched for
    code: str | None = None  # code interpreter: the code run
    logs: str | None = None  # code interpreter: its logs output
    container_id: str | None = None
    results: str | None = None  # JSON: web sources, file search results with scores, interpreter outputs
    call_id: str | None = None  # function calls: the call id its output answers
    output: str | None = None  # function calls the library ran: the text the model read back
    error: str | None = None  # ... and why it did not return normally (exception, bad arguments, denied)
    duration_ms: float | None = None


class CitationRow(SQLModel, table=True):
    __tablename__ = "citations"

    id: int | None = Field(default=None, primary_key=True)
    turn_id: int = Field(foreign_key="turns.id", index=True, ondelete="CASCADE")
    item_id: str | None = None  # the message item whose text it annotates
    type: str  # url_citation | file_citation | container_file_citation | file_path
    url: str | None = None
    title: str | None = None
    file_id: str | None = None
    filename: str | None = None
    container_id: str | None = None
    start_index: int | None = None  # span in the answer text (url and container file citations)
    end_index: int | None = None
    text_index: int | None = None  # position in the text (file citations carry only this)


class FileRow(SQLModel, table=True):
    __tablename__ = "files"

    id: str = Field(primary_key=True)  # file-…
    server: str  # which server holds it (as threads.base_url)
    filename: str
    bytes: int
    sha256: str = Field(index=True)  # the same content is uploaded once per server
    purpose: str
    created_at: datetime = Field(default_factory=utcnow)
    path: str | None = None  # the index's own copy of the bytes, for tools that run locally


class VectorStoreRow(SQLModel, table=True):
    __tablename__ = "vector_stores"

    id: str = Field(primary_key=True)  # vs_…
    server: str
    thread_id: str | None = Field(default=None, foreign_key="threads.id", index=True)
    name: str = ""
    created_at: datetime = Field(default_factory=utcnow)


class VectorStoreFileRow(SQLModel, table=True):
    __tablename__ = "vector_store_files"

    vector_store_id: str = Field(foreign_key="vector_stores.id", primary_key=True)
    file_id: str = Field(foreign_key="files.id", primary_key=True)
    status: str  # in_progress | completed | failed | cancelled
    last_error: str | None = None


class ContainerRow(SQLModel, table=True):
    __tablename__ = "containers"

    id: str = Field(primary_key=True)  # cntr_…
    thread_id: str | None = Field(default=None, foreign_key="threads.id")
    status: str = "active"  # active | expired
    replaced_by: str | None = None  # the container that took over when this one expired
    created_at: datetime = Field(default_factory=utcnow)


class ContainerFileRow(SQLModel, table=True):
    """A file code interpreter made, downloaded to the thread's folder."""

    __tablename__ = "container_files"

    id: int | None = Field(default=None, primary_key=True)
    container_id: str
    file_id: str  # cfile_…
    turn_id: int | None = Field(default=None, foreign_key="turns.id", index=True, ondelete="CASCADE")
    filename: str
    path: str | None = None  # where it was saved; None if the download failed
    bytes: int | None = None
    created_at: datetime = Field(default_factory=utcnow)


class ComparisonRow(SQLModel, table=True):
    """One conversation `assistant compare` replayed through both APIs: its two threads and the totals."""

    __tablename__ = "comparisons"

    id: str = Field(primary_key=True)  # "cmp_" + 16 hex digits
    run_id: str = Field(index=True)  # the conversations compared together share it
    name: str  # the conversation's name in the input (or "line N")
    source: str | None = None  # the input file
    responses_thread_id: str | None = Field(default=None, foreign_key="threads.id", ondelete="SET NULL")
    chat_thread_id: str | None = Field(default=None, foreign_key="threads.id", ondelete="SET NULL")
    summary: str | None = None  # JSON: per-backend totals and the mean answer similarity
    created_at: datetime = Field(default_factory=utcnow)
