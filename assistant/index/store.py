"""Reads and writes of the index: threads, turns, items, thread changes and full-text search.

Every write is one short BEGIN IMMEDIATE transaction of plain SQL (database.py); a turn costs a handful of
them, on the hot path of every answer. Reads return plain frozen dataclasses, never live rows or ORM objects,
so callers cannot write by accident. The SQL names columns from the SQLModel tables (tables.py), which a test
holds equal to what the migrations build.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from assistant.errors import ThreadNotFound
from assistant.events import Usage
from assistant.index.database import Statement, open_index
from assistant.index.item_records import citation_rows, tool_call_rows
from assistant.index.search import search_query, snippet
from assistant.index.tables import (
    CitationRow,
    ComparisonRow,
    ContainerFileRow,
    ContainerRow,
    FileRow,
    ItemRow,
    ThreadChangeRow,
    ThreadRow,
    ToolCallRow,
    TurnRow,
    VectorStoreFileRow,
    VectorStoreRow,
    utcnow,
)
from assistant.index.turn_owner import current_owner, owner_is_gone
from assistant.turn import Item, Turn

COLUMNS = {
    "threads": tuple(ThreadRow.__table__.c.keys()),
    "turns": tuple(TurnRow.__table__.c.keys()),
    "items": tuple(ItemRow.__table__.c.keys()),
    "thread_changes": tuple(ThreadChangeRow.__table__.c.keys()),
    "tool_calls": tuple(ToolCallRow.__table__.c.keys()),
    "citations": tuple(CitationRow.__table__.c.keys()),
    "files": tuple(FileRow.__table__.c.keys()),
    "vector_stores": tuple(VectorStoreRow.__table__.c.keys()),
    "vector_store_files": tuple(VectorStoreFileRow.__table__.c.keys()),
    "containers": tuple(ContainerRow.__table__.c.keys()),
    "container_files": tuple(ContainerFileRow.__table__.c.keys()),
    "comparisons": tuple(ComparisonRow.__table__.c.keys()),
}


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


def new_thread_id() -> str:
    return "thr_" + secrets.token_hex(8)


# SQL, with named parameters. Column names come from the tables, never from input.


@cache
def insert_sql(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(f':{column}' for column in columns)})"


@cache
def update_sql(table: str, columns: tuple[str, ...]) -> str:
    return f"UPDATE {table} SET {', '.join(f'{column} = :{column}' for column in columns)} WHERE id = :id"


def _select(table: str, rest: str) -> str:
    return f"SELECT {', '.join(f'{table}.{column}' for column in COLUMNS[table])} FROM {table} {rest}"


THREAD_BY_ID = _select("threads", "WHERE id = :key")
THREADS_PAGE = _select("threads", "WHERE archived = :archived ORDER BY updated_at DESC, id LIMIT :limit OFFSET :offset")
TURN_BY_ID = _select("turns", "WHERE id = :key")
TURNS_OF_THREAD = _select("turns", "WHERE thread_id = :key ORDER BY seq")
ITEMS_OF_TURN = _select("items", "WHERE turn_id = :key ORDER BY position")
ITEMS_OF_THREAD = _select(
    "items", "JOIN turns ON turns.id = items.turn_id WHERE turns.thread_id = :key ORDER BY turns.seq, items.position"
)
CHANGES_OF_THREAD = _select("thread_changes", "WHERE thread_id = :key ORDER BY id")
# Failed and cancelled turns never reached the model's context on the server either.
REPLAY_ITEMS = """SELECT items.payload FROM items JOIN turns ON turns.id = items.turn_id
                  WHERE turns.thread_id = :key AND turns.status IN ('completed', 'incomplete')
                  ORDER BY turns.seq, items.position"""
# Newest matching turns first. Ranking by bm25 instead costs a pass over every match of every word (FTS5
# counts document frequencies per query): 0.5 s for common words at 1M turns, against 1-2 ms this way
# (bench/index_scale.py). For a memory of one's own conversations, recent is the better default anyway.
# A hit's text and time come from its preview when the turn has a long side (migrations.m009), so that a hit
# never reads a 10 MB paste; the snippet is made from them (search.py). CASE reads only the branch it takes.
_HIT_TEXT = """CASE WHEN turn_previews.turn_id IS NULL THEN {turns}.input_text ELSE turn_previews.input_text END AS input,
               CASE WHEN turn_previews.turn_id IS NULL THEN {turns}.output_text ELSE turn_previews.output_text END
                   AS output,
               CASE WHEN turn_previews.turn_id IS NULL THEN {turns}.created_at ELSE turn_previews.created_at END
                   AS created_at"""
SEARCH = f"""SELECT turns.thread_id, threads.title AS thread_title, turns.id AS turn_id, turns.seq,
                    {_HIT_TEXT.format(turns="turns")}
             FROM turns_fts
             JOIN turns ON turns.id = turns_fts.rowid
             JOIN threads ON threads.id = turns.thread_id
             LEFT JOIN turn_previews ON turn_previews.turn_id = turns.id
             WHERE turns_fts MATCH :match
             ORDER BY turns_fts.rowid DESC
             LIMIT :limit"""
# The same on PostgreSQL, through its own text search (migrations.m002): every word, stemmed, newest first.
SEARCH_POSTGRES = f"""SELECT hits.thread_id, threads.title AS thread_title, hits.id AS turn_id, hits.seq,
                             {_HIT_TEXT.format(turns="hits")}
                      FROM (SELECT id, thread_id, seq, input_text, output_text, created_at FROM turns
                            WHERE search_vector @@ plainto_tsquery('assistant_fts', :match)
                            ORDER BY id DESC
                            LIMIT :limit) AS hits
                      JOIN threads ON threads.id = hits.thread_id
                      LEFT JOIN turn_previews ON turn_previews.turn_id = hits.id
                      ORDER BY hits.id DESC"""
# seq is computed inside the INSERT, so two writers on one thread cannot take the same number.
BEGIN_TURN = """INSERT INTO turns (thread_id, seq, backend, mode, status, model, input_text, conversation_id,
                                   previous_response_id, created_at, owner)
                VALUES (:thread_id, (SELECT coalesce(max(seq), 0) + 1 FROM turns WHERE thread_id = :thread_id),
                        :backend, :mode, 'in_progress', :model, :input_text, :conversation_id,
                        :previous_response_id, :created_at, :owner)
                RETURNING id, seq"""
IN_PROGRESS_TURNS = "SELECT id, owner FROM turns WHERE status = 'in_progress'"
# Only a turn still in progress is closed: its process may have been seen gone just as another closed it.
CLOSE_INTERRUPTED_TURN = """UPDATE turns SET status = 'incomplete', incomplete_reason = 'interrupted',
                                             error = :error, completed_at = :completed_at
                            WHERE id = :id AND status = 'in_progress'"""
INTERRUPTED = (
    "The process running this turn ended (killed or crashed) before the answer finished; "
    "the text kept is what had arrived."
)
# The new turn's items: the thread's newest turn is the one just inserted (the write lock is held: on SQLite the
# file's, on PostgreSQL the thread row's, taken by updating it first).
INSERT_ITEMS_OF_NEW_TURN = """INSERT INTO items (turn_id, position, direction, type, item_id, status, payload)
                              VALUES ((SELECT max(id) FROM turns WHERE thread_id = :thread_id), :position,
                                      :direction, :type, :item_id, :status, :payload)"""
DELETE_OUTPUT_ITEMS = "DELETE FROM items WHERE turn_id = :turn_id AND direction = 'output'"
# The lease is taken when nobody holds it, its holder's time is up, or its holder is `stale` (a process seen gone).
TAKE_LEASE = """UPDATE threads SET lease_owner = :owner, lease_token = :token, lease_expires_at = :expires_at
                WHERE id = :id AND (lease_token IS NULL OR lease_token = :token OR lease_token = :stale
                                    OR lease_expires_at < :now)"""
LEASE_OF_THREAD = "SELECT lease_owner, lease_token FROM threads WHERE id = :id"
RENEW_LEASE = "UPDATE threads SET lease_expires_at = :expires_at WHERE id = :id AND lease_token = :token"
RELEASE_LEASE = """UPDATE threads SET lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
                   WHERE id = :id AND lease_token = :token"""
DELETE_TOOL_CALLS = "DELETE FROM tool_calls WHERE turn_id = :turn_id"
DELETE_CITATIONS = "DELETE FROM citations WHERE turn_id = :turn_id"
TOOL_CALLS_OF_THREAD = _select(
    "tool_calls", "JOIN turns ON turns.id = tool_calls.turn_id WHERE turns.thread_id = :key ORDER BY tool_calls.id"
)
CITATIONS_OF_THREAD = _select(
    "citations", "JOIN turns ON turns.id = citations.turn_id WHERE turns.thread_id = :key ORDER BY citations.id"
)
_COPIED_TURN_COLUMNS = ", ".join(column for column in COLUMNS["turns"] if column not in ("id", "thread_id"))
COPY_TURNS = f"""INSERT INTO turns (thread_id, {_COPIED_TURN_COLUMNS})
                 SELECT :child, {_COPIED_TURN_COLUMNS} FROM turns
                 WHERE thread_id = :parent AND seq <= :at_seq ORDER BY seq"""
# Items follow their turn by seq: the child's copy of a turn has the parent turn's seq.
COPY_ITEMS = """INSERT INTO items (turn_id, position, direction, type, item_id, status, payload)
                SELECT child.id, items.position, items.direction, items.type, items.item_id, items.status,
                       items.payload
                FROM items
                JOIN turns AS parent ON parent.id = items.turn_id AND parent.thread_id = :parent
                                        AND parent.seq <= :at_seq
                JOIN turns AS child ON child.thread_id = :child AND child.seq = parent.seq
                ORDER BY child.id, items.position"""


class IndexStore:
    def __init__(self, path: Path | str) -> None:
        """`path`: the index file, or a `postgresql://` URL (postgres.py)."""
        self.path = path
        self.connection = open_index(path)
        if not self.connection.read_only:  # a backup on a read-only disk is read as it is
            self.close_interrupted_turns()

    def close(self) -> None:
        self.connection.close()

    def _write(self, statements: Sequence[Statement]) -> list[list[tuple[Any, ...]]]:
        return self.connection.run(statements)

    # threads

    def create_thread(
        self,
        *,
        model: str,
        title: str = "",
        mode: str = "conversation",
        instructions: str | None = None,
        base_url: str | None = None,
        tools: str | None = None,
    ) -> ThreadInfo:
        now = utcnow()
        values = dict(
            id=new_thread_id(),
            title=title,
            mode=mode,
            model=model,
            instructions=instructions,
            base_url=base_url,
            tools=tools,
            archived=False,
            created_at=now,
            updated_at=now,
        )
        self._write([(insert_sql("threads", tuple(values)), values)])
        return ThreadInfo(conversation_id=None, last_response_id=None, **values)

    def thread(self, thread_id: str) -> ThreadInfo:
        rows = self.connection.rows(THREAD_BY_ID, {"key": thread_id})
        if not rows:
            raise ThreadNotFound(
                f"No thread {thread_id!r} in the index {self.connection.where}. List threads with `assistant threads`."
            )
        return _thread_of(rows[0])

    def threads(self, *, limit: int = 50, offset: int = 0, archived: bool = False) -> list[ThreadInfo]:
        rows = self.connection.rows(THREADS_PAGE, {"archived": archived, "limit": limit, "offset": offset})
        return [_thread_of(row) for row in rows]

    def update_thread(self, thread_id: str, *, touch: bool = True, **values: Any) -> None:
        """Change thread columns. `touch` marks it as active now (it moves to the top of the list); renaming
        or archiving is not activity."""
        if touch:
            values.setdefault("updated_at", utcnow())
        self._write([(update_sql("threads", tuple(values)), {**values, "id": thread_id})])

    def delete_thread(self, thread_id: str) -> None:
        """Delete a thread and everything recorded under it; its forks keep their copies and lose the link."""
        params = {"key": thread_id}
        turns = "SELECT id FROM turns WHERE thread_id = :key"
        self._write(
            [
                (f"DELETE FROM items WHERE turn_id IN ({turns})", params),
                (f"DELETE FROM tool_calls WHERE turn_id IN ({turns})", params),
                (f"DELETE FROM citations WHERE turn_id IN ({turns})", params),
                (f"DELETE FROM container_files WHERE turn_id IN ({turns})", params),
                ("DELETE FROM turns WHERE thread_id = :key", params),
                ("DELETE FROM thread_changes WHERE thread_id = :key", params),
                ("UPDATE containers SET thread_id = NULL WHERE thread_id = :key", params),
                (
                    "DELETE FROM vector_store_files WHERE vector_store_id IN "
                    "(SELECT id FROM vector_stores WHERE thread_id = :key)",
                    params,
                ),
                ("DELETE FROM vector_stores WHERE thread_id = :key", params),
                ("UPDATE threads SET parent_id = NULL WHERE parent_id = :key", params),
                ("DELETE FROM threads WHERE id = :key", params),
            ]
        )

    def claim_conversation(self, thread_id: str, turn_id: int, conversation_id: str) -> str:
        """Make `conversation_id` the thread's conversation unless it already has one (another process's, made
        at the same moment), and the turn's the one the thread has after that, which is returned; in one
        transaction."""
        [_, [(winner,)], _] = self._write(
            [
                (
                    "UPDATE threads SET conversation_id = :conversation_id WHERE id = :id AND conversation_id IS NULL",
                    {"conversation_id": conversation_id, "id": thread_id},
                ),
                ("SELECT conversation_id FROM threads WHERE id = :id", {"id": thread_id}),
                (
                    "UPDATE turns SET conversation_id = (SELECT conversation_id FROM threads WHERE id = :thread_id) "
                    "WHERE id = :turn_id",
                    {"thread_id": thread_id, "turn_id": turn_id},
                ),
            ]
        )
        return winner

    def take_lease(self, lease: Lease) -> LeaseHolder | None:
        """Take the thread's lease for a chain-mode turn (or hold it longer), in one transaction, unless another
        turn holds it: then that holder is returned. A holder whose process is gone (turn_owner.py) loses it,
        as does one that showed no progress for its hold."""
        stale = None
        while True:
            now = utcnow()
            values = {
                "id": lease.thread_id,
                "owner": current_owner(),
                "token": lease.token,
                "stale": stale,
                "expires_at": now + lease.hold,
                "now": now,
            }
            [_, rows] = self._write([(TAKE_LEASE, values), (LEASE_OF_THREAD, {"id": lease.thread_id})])
            if not rows:
                raise ThreadNotFound(f"No thread {lease.thread_id!r} in the index {self.connection.where}.")
            [(owner, token)] = rows
            if token == lease.token:
                return None
            if stale == token or not owner_is_gone(owner):
                return LeaseHolder(owner=owner or "", token=token)
            stale = token  # its process ended without letting go: take it over, unless another did first

    def release_lease(self, lease: Lease) -> None:
        self._write([(RELEASE_LEASE, {"id": lease.thread_id, "token": lease.token})])

    def record_change(self, thread_id: str, kind: str, detail: str, **thread_values: Any) -> None:
        """Log a change of the thread's state and apply `thread_values` to the thread, in one transaction."""
        now = utcnow()
        change = {"thread_id": thread_id, "kind": kind, "detail": detail, "created_at": now}
        thread_values = {**thread_values, "updated_at": now}
        self._write(
            [
                (insert_sql("thread_changes", tuple(change)), change),
                (update_sql("threads", tuple(thread_values)), {**thread_values, "id": thread_id}),
            ]
        )

    def changes(self, thread_id: str) -> list[ThreadChange]:
        rows = self.connection.rows(CHANGES_OF_THREAD, {"key": thread_id})
        return [ThreadChange(kind=row["kind"], detail=row["detail"], created_at=row["created_at"]) for row in rows]

    def fork_thread(self, parent: ThreadInfo, at_seq: int, *, title: str, last_response_id: str | None) -> ThreadInfo:
        """A new thread whose index history is a copy of the parent's turns 1..at_seq (items included). It has
        no server state yet: the next turn rebuilds it from these turns."""
        now = utcnow()
        values = dict(
            id=new_thread_id(),
            title=title,
            mode=parent.mode,
            model=parent.model,
            instructions=parent.instructions,
            base_url=parent.base_url,
            tools=parent.tools,
            parent_id=parent.id,
            forked_at_seq=at_seq,
            last_response_id=last_response_id,
            archived=False,
            created_at=now,
            updated_at=now,
        )
        change = {
            "thread_id": values["id"],
            "kind": "forked",
            "created_at": now,
            "detail": f"forked from {parent.id} at turn {at_seq}",
        }
        params = {"child": values["id"], "parent": parent.id, "at_seq": at_seq}
        self._write(
            [
                (insert_sql("threads", tuple(values)), values),
                (COPY_TURNS, params),
                (COPY_ITEMS, params),
                (
                    "UPDATE threads SET turn_count = (SELECT count(*) FROM turns WHERE thread_id = :child) WHERE id = :child",
                    params,
                ),
                (insert_sql("thread_changes", tuple(change)), change),
            ]
        )
        return self.thread(values["id"])

    # turns

    def begin_turn(
        self,
        *,
        thread_id: str,
        input_text: str,
        input_items: list[dict[str, Any]],
        model: str,
        backend: str,
        mode: str,
        conversation_id: str | None,
        previous_response_id: str | None,
    ) -> tuple[int, int]:
        """Record the user's message before the request goes out. Returns (turn id, seq)."""
        now = utcnow()
        values = dict(
            thread_id=thread_id,
            backend=backend,
            mode=mode,
            model=model,
            input_text=input_text,
            conversation_id=conversation_id,
            previous_response_id=previous_response_id,
            created_at=now,
            owner=current_owner(),
        )
        # The thread's row is updated first: on PostgreSQL that locks it, so writers on one thread take turns
        # (SQLite's BEGIN IMMEDIATE has already locked the whole file).
        statements: list[Statement] = [
            (
                "UPDATE threads SET updated_at = :updated_at, turn_count = turn_count + 1 WHERE id = :id",
                {"updated_at": now, "id": thread_id},
            ),
            (BEGIN_TURN, values),
        ]
        rows = [
            {**_item_values(None, position, "input", item), "thread_id": thread_id}
            for position, item in enumerate(input_items)
        ]
        if rows:
            statements.append((INSERT_ITEMS_OF_NEW_TURN, rows))
        [(turn_id, seq)] = self._write(statements)[1]
        return turn_id, seq

    def close_interrupted_turns(self) -> list[int]:
        """Close, as incomplete ("interrupted"), the in-progress turns whose process has ended without closing
        them, keeping the user's message and the partial text recorded while the answer streamed. Returns their
        ids."""
        gone = [row["id"] for row in self.connection.rows(IN_PROGRESS_TURNS, {}) if owner_is_gone(row["owner"])]
        if gone:
            now = utcnow()
            self._write(
                [(CLOSE_INTERRUPTED_TURN, [{"id": id, "error": INTERRUPTED, "completed_at": now} for id in gone])]
            )
        return gone

    def update_turn(self, turn_id: int, **values: Any) -> None:
        self._write([(update_sql("turns", tuple(values)), {**values, "id": turn_id})])

    def save_progress(
        self, turn_id: int, items: list[tuple[int, dict[str, Any]]], *, lease: Lease | None = None, **turn_values: Any
    ) -> None:
        """Record what a turn's stream has delivered so far: finished output items (position, item), and
        `turn_values` (the text so far, the response id), in one transaction; the progress renews the turn's
        `lease`, if it holds one."""
        statements = self._item_inserts(turn_id, "output", items)
        if turn_values:
            statements.append((update_sql("turns", tuple(turn_values)), {**turn_values, "id": turn_id}))
        if lease is not None and statements:
            statements.append(
                (RENEW_LEASE, {"id": lease.thread_id, "token": lease.token, "expires_at": utcnow() + lease.hold})
            )
        if statements:
            self._write(statements)

    @staticmethod
    def _item_inserts(turn_id: int, direction: str, items: list[tuple[int, dict[str, Any]]]) -> list[Statement]:
        rows = [_item_values(turn_id, position, direction, item) for position, item in items]
        return [(insert_sql("items", tuple(rows[0])), rows)] if rows else []

    def close_turn(
        self,
        turn_id: int,
        *,
        thread_id: str,
        thread_values: dict[str, Any],
        final_items: list[tuple[int, dict[str, Any]]],
        function_results: dict[str, dict[str, Any]] | None = None,
        lease: Lease | None = None,
        **values: Any,
    ) -> None:
        """Close a turn with its final status and numbers and move the thread's state (conversation id, chain
        head) forward, in one transaction. `final_items`, (position, item) for every output item of the turn,
        replace those saved while it streamed: when the response finished its final list is authoritative (the
        API re-encrypts reasoning items at completion, and may list items whose `output_item.done` never came);
        when it broke off, they are the items that finished before it did. Tool calls and citations are read
        out of them. The turn's `lease` on the thread, if it holds one, is released with the new head."""
        now = utcnow()
        values = {**values, "completed_at": now}
        thread_values = {**thread_values, "updated_at": now}
        items = [item for _, item in final_items]
        statements: list[Statement] = [
            (update_sql("turns", tuple(values)), {**values, "id": turn_id}),
            (update_sql("threads", tuple(thread_values)), {**thread_values, "id": thread_id}),
            (DELETE_OUTPUT_ITEMS, {"turn_id": turn_id}),
            *self._item_inserts(turn_id, "output", final_items),
        ]
        for table, delete_sql, records in (
            ("tool_calls", DELETE_TOOL_CALLS, tool_call_rows(turn_id, items, function_results)),
            ("citations", DELETE_CITATIONS, citation_rows(turn_id, items)),
        ):
            statements.append((delete_sql, {"turn_id": turn_id}))
            if records:
                statements.append((insert_sql(table, tuple(records[0])), records))
        if lease is not None:
            statements.append((RELEASE_LEASE, {"id": lease.thread_id, "token": lease.token}))
        self._write(statements)

    def settle_round(
        self,
        turn_id: int,
        *,
        from_position: int,
        outputs: list[tuple[int, dict[str, Any]]],
        inputs: list[tuple[int, dict[str, Any]]],
        **turn_values: Any,
    ) -> None:
        """A model round of a turn ended in function calls: its final output list replaces the items streamed
        from `from_position` on, and the function outputs that answer them follow, as input items (they are
        the next round's input), in one transaction."""
        statements: list[Statement] = [
            (
                "DELETE FROM items WHERE turn_id = :turn_id AND position >= :position",
                {"turn_id": turn_id, "position": from_position},
            ),
            *self._item_inserts(turn_id, "output", outputs),
            *self._item_inserts(turn_id, "input", inputs),
        ]
        if turn_values:
            statements.append((update_sql("turns", tuple(turn_values)), {**turn_values, "id": turn_id}))
        self._write(statements)

    def turn(self, turn_id: int) -> Turn:
        return self._turns(TURN_BY_ID, ITEMS_OF_TURN, turn_id)[0]

    def turns(self, thread_id: str) -> list[Turn]:
        return self._turns(TURNS_OF_THREAD, ITEMS_OF_THREAD, thread_id)

    def _turns(self, turns_query: str, items_query: str, key: Any) -> list[Turn]:
        rows = self.connection.rows(turns_query, {"key": key})
        items: dict[int, list[Item]] = {row["id"]: [] for row in rows}
        for row in self.connection.rows(items_query, {"key": key}):
            items[row["turn_id"]].append(
                Item(
                    direction=row["direction"],
                    type=row["type"],
                    item_id=row["item_id"],
                    status=row["status"],
                    data=json.loads(row["payload"]),
                )
            )
        return [_turn_of(row, items[row["id"]]) for row in rows]

    def replay_items(self, thread_id: str) -> list[dict[str, Any]]:
        """The items a model saw in this thread so far, oldest first: every input and output item of the turns
        that produced an answer (completed or incomplete)."""
        return [json.loads(row["payload"]) for row in self.connection.rows(REPLAY_ITEMS, {"key": thread_id})]

    def tool_calls(self, thread_id: str) -> list[ToolCall]:
        rows = self.connection.rows(TOOL_CALLS_OF_THREAD, {"key": thread_id})
        return [
            ToolCall(
                turn_id=row["turn_id"],
                item_id=row["item_id"],
                type=row["type"],
                status=row["status"],
                queries=json.loads(row["queries"]) if row["queries"] else [],
                code=row["code"],
                logs=row["logs"],
                container_id=row["container_id"],
                results=json.loads(row["results"]) if row["results"] else None,
                call_id=row["call_id"],
                output=row["output"],
                error=row["error"],
                duration_ms=row["duration_ms"],
            )
            for row in rows
        ]

    def citations(self, thread_id: str) -> list[Citation]:
        rows = self.connection.rows(CITATIONS_OF_THREAD, {"key": thread_id})
        return [Citation(**{key: row[key] for key in Citation.__slots__}) for row in rows]  # type: ignore[attr-defined]

    # files, vector stores, containers

    def file_by_content(self, server: str, sha256: str) -> FileRecord | None:
        rows = self.connection.rows(
            _select("files", "WHERE server = :server AND sha256 = :sha256 ORDER BY created_at DESC LIMIT 1"),
            {"server": server, "sha256": sha256},
        )
        return FileRecord(**rows[0]) if rows else None

    def add_file(
        self, *, id: str, server: str, filename: str, bytes: int, sha256: str, purpose: str, path: str | None = None
    ) -> None:
        values = dict(
            id=id,
            server=server,
            filename=filename,
            bytes=bytes,
            sha256=sha256,
            purpose=purpose,
            created_at=utcnow(),
            path=path,
        )
        self._write([(insert_sql("files", tuple(values)), values)])

    def forget_file(self, file_id: str) -> None:
        self._write(
            [
                ("DELETE FROM vector_store_files WHERE file_id = :id", {"id": file_id}),
                ("DELETE FROM files WHERE id = :id", {"id": file_id}),
            ]
        )

    def thread_vector_store(self, thread_id: str) -> str | None:
        rows = self.connection.rows(
            "SELECT id FROM vector_stores WHERE thread_id = :key ORDER BY created_at LIMIT 1", {"key": thread_id}
        )
        return rows[0]["id"] if rows else None

    def add_vector_store(self, *, id: str, server: str, thread_id: str | None, name: str) -> None:
        values = dict(id=id, server=server, thread_id=thread_id, name=name, created_at=utcnow())
        self._write([(insert_sql("vector_stores", tuple(values)), values)])

    def set_vector_store_file(
        self, vector_store_id: str, file_id: str, status: str, last_error: str | None = None
    ) -> None:
        values = dict(vector_store_id=vector_store_id, file_id=file_id, status=status, last_error=last_error)
        self._write(
            [
                (
                    insert_sql("vector_store_files", tuple(values))
                    + " ON CONFLICT (vector_store_id, file_id) DO UPDATE SET status = excluded.status, "
                    "last_error = excluded.last_error",
                    values,
                )
            ]
        )

    def remove_vector_store_file(self, vector_store_id: str, file_id: str) -> None:
        self._write(
            [
                (
                    "DELETE FROM vector_store_files WHERE vector_store_id = :store AND file_id = :file",
                    {"store": vector_store_id, "file": file_id},
                )
            ]
        )

    def thread_files(self, thread_id: str) -> list[FileRecord]:
        rows = self.connection.rows(
            _select(
                "files",
                """JOIN vector_store_files ON vector_store_files.file_id = files.id
                                JOIN vector_stores ON vector_stores.id = vector_store_files.vector_store_id
                                WHERE vector_stores.thread_id = :key ORDER BY files.created_at""",
            ).replace(
                " FROM files",
                ", vector_store_files.vector_store_id, vector_store_files.status, "
                "vector_store_files.last_error FROM files",
                1,
            ),
            {"key": thread_id},
        )
        return [FileRecord(**row) for row in rows]

    def record_container(self, container_id: str, thread_id: str | None) -> None:
        values = dict(id=container_id, thread_id=thread_id, status="active", created_at=utcnow())
        self._write([(insert_sql("containers", tuple(values)) + " ON CONFLICT (id) DO NOTHING", values)])

    def replace_container(self, old_id: str, new_id: str) -> None:
        self._write(
            [
                (
                    "UPDATE containers SET status = 'expired', replaced_by = :new WHERE id = :old",
                    {"old": old_id, "new": new_id},
                )
            ]
        )

    def thread_container(self, thread_id: str) -> str | None:
        """The container the thread's code last ran in, if it has not been replaced."""
        rows = self.connection.rows(
            "SELECT id FROM containers WHERE thread_id = :key AND status = 'active' ORDER BY created_at DESC LIMIT 1",
            {"key": thread_id},
        )
        return rows[0]["id"] if rows else None

    def add_container_file(
        self,
        *,
        container_id: str,
        file_id: str,
        turn_id: int | None,
        filename: str,
        path: str | None,
        bytes: int | None,
    ) -> None:
        values = dict(
            container_id=container_id,
            file_id=file_id,
            turn_id=turn_id,
            filename=filename,
            path=path,
            bytes=bytes,
            created_at=utcnow(),
        )
        self._write([(insert_sql("container_files", tuple(values)), values)])

    def container_files(self, thread_id: str) -> list[ContainerFile]:
        rows = self.connection.rows(
            _select(
                "container_files",
                "JOIN turns ON turns.id = container_files.turn_id "
                "WHERE turns.thread_id = :key ORDER BY container_files.id",
            ),
            {"key": thread_id},
        )
        return [ContainerFile(**{key: row[key] for key in ContainerFile.__slots__}) for row in rows]  # type: ignore[attr-defined]

    # search

    def search(self, text_query: str, *, limit: int = 20) -> list[SearchHit]:
        """The newest turns holding every word of the query (search.py says how a query is read: at most 16
        distinct words, for one)."""
        query = search_query(text_query)
        if self.connection.dialect == "postgresql":
            sql, match = SEARCH_POSTGRES, query.plain()
        else:
            sql, match = SEARCH, query.fts5()
        if match is None:
            return []
        return [
            SearchHit(
                thread_id=row["thread_id"],
                thread_title=row["thread_title"],
                turn_id=row["turn_id"],
                seq=row["seq"],
                snippet=snippet((row["input"], row["output"]), query.terms),
                input=row["input"],
                created_at=row["created_at"],
            )
            for row in self.connection.rows(sql, {"match": match, "limit": limit})
        ]

    # comparisons (`assistant compare`)

    def add_comparison(
        self,
        *,
        run_id: str,
        name: str,
        source: str | None,
        responses_thread_id: str,
        chat_thread_id: str,
        summary: dict[str, Any],
    ) -> str:
        values = dict(
            id="cmp_" + secrets.token_hex(8),
            run_id=run_id,
            name=name,
            source=source,
            responses_thread_id=responses_thread_id,
            chat_thread_id=chat_thread_id,
            summary=json.dumps(summary),
            created_at=utcnow(),
        )
        self._write([(insert_sql("comparisons", tuple(values)), values)])
        return values["id"]

    def set_comparison_summary(self, comparison_id: str, summary: dict[str, Any]) -> None:
        """The totals of a comparison whose row was recorded before its turns ran (so its threads were known
        as a comparison's from the start)."""
        self._write([(update_sql("comparisons", ("summary",)), {"summary": json.dumps(summary), "id": comparison_id})])

    def comparisons(
        self, *, run_id: str | None = None, thread_id: str | None = None, limit: int = 50
    ) -> list[ComparisonRecord]:
        """Recorded comparisons, newest first: all, one run's, or the one a thread belongs to."""
        where, params = "WHERE 1 = 1", {"limit": limit}
        if run_id:
            where += " AND run_id = :run_id"
            params["run_id"] = run_id
        if thread_id:
            where += " AND (responses_thread_id = :thread_id OR chat_thread_id = :thread_id)"
            params["thread_id"] = thread_id
        # Insertion order breaks ties: SQLite's rowid; PostgreSQL has none, and a tie of microsecond times there
        # falls back to the id.
        tie = "id" if self.connection.dialect == "postgresql" else "rowid"
        query = _select("comparisons", f"{where} ORDER BY created_at DESC, {tie} DESC LIMIT :limit")
        rows = self.connection.rows(query, params)
        return [
            ComparisonRecord(**{**row, "summary": json.loads(row["summary"]) if row["summary"] else {}}) for row in rows
        ]


def _thread_of(row: dict[str, Any]) -> ThreadInfo:
    return ThreadInfo(**{key: row[key] for key in ThreadInfo.__slots__})  # type: ignore[attr-defined]


def _item_values(turn_id: int | None, position: int, direction: str, item: dict[str, Any]) -> dict[str, Any]:
    return dict(
        turn_id=turn_id,
        position=position,
        direction=direction,
        type=item.get("type") or "message",
        item_id=item.get("id"),
        status=item.get("status"),
        payload=json.dumps(item, ensure_ascii=False),
    )


def _turn_of(row: dict[str, Any], items: list[Item]) -> Turn:
    return Turn(
        id=row["id"],
        thread_id=row["thread_id"],
        seq=row["seq"],
        status=row["status"],
        input=row["input_text"],
        text=row["output_text"],
        model=row["model"],
        backend=row["backend"],
        response_id=row["response_id"],
        previous_response_id=row["previous_response_id"],
        conversation_id=row["conversation_id"],
        usage=Usage(
            input_tokens=row["input_tokens"],
            cached_tokens=row["cached_tokens"],
            output_tokens=row["output_tokens"],
            reasoning_tokens=row["reasoning_tokens"],
        ),
        items=items,
        error=row["error"],
        incomplete_reason=row["incomplete_reason"],
        request_bytes=row["request_bytes"],
        ttft_ms=row["ttft_ms"],
        latency_ms=row["latency_ms"],
        cost_usd=row["cost_usd"],
        created_at=row["created_at"],
        completed_at=row["completed_at"],
        output_format=json.loads(row["output_format"]) if row["output_format"] else None,
        rounds=row["rounds"],
        parsed=_parsed_answer(row),
    )


def _parsed_answer(row: dict[str, Any]) -> Any:
    """A structured answer read back as JSON (the pydantic instance exists only in the process that asked)."""
    if not row["output_format"] or row["status"] not in ("completed", "incomplete"):
        return None
    try:
        return json.loads(row["output_text"])
    except ValueError:
        return None
