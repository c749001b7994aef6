"""The local server's own state: conversations, their items, and stored responses, in one SQLite file.

This is the *server's* memory (what api.openai.com would keep), separate from the client's index, so a restart
of the server keeps threads alive exactly as the real API would.

Every item is stored once, in `items`; conversations and responses refer to it. A response's prompt is not
copied either: it is its *history* plus its own input, and the history is a reference, to the previous response
(whose prompt and output it continues: `previous_response_id`) or to the conversation as it was when the
response was made (a tick of `conversation_clock`: an item counts if it was added at or before that tick and not
removed by then). Conversation items are only hidden when deleted while an earlier response's history still
shows them. A response's SSE event log (for `GET /responses/{id}?stream=true`) is kept as the little it says
beyond the stored response (replay_log.py). So 100 turns of 10 KB take about 1.6x their text on disk, where
copying each prompt and event log into each response took 59x (bench/server_state_size.py).

Deleting a response keeps what later responses need: its row (as a tombstone, for the chains through it), and
its items while another response's history reaches them or a conversation holds them. Items nothing refers to
any more are deleted.

The schema is built by named migrations recorded in `server_migrations` (like the index's `_migrations`):
m002 turns a file of the first layout (each response holding copies of its prompt and its whole event log) into
this one, keeping every conversation, response and replay.

One connection guarded by a lock: requests arrive on many threads, and SQLite serializes writers anyway.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from assistant.private_files import create_private_file

from . import replay_log
from .sse import Event

logger = logging.getLogger(__name__)

Item = dict[str, Any]
Order = Literal["asc", "desc"]

# Parts of a response in `response_items`, in prompt order. HISTORY rows exist only for responses migrated from
# the first layout, whose history could not be expressed as a reference.
HISTORY, INPUT, OUTPUT = 0, 1, 2

# Deleting a response keeps a tombstone row, so that a response still running cannot come back by saving itself.
_LIVE, _DELETED = 0, 1


class StateFileTooNew(RuntimeError):
    """The state file was written by a newer version of the server."""


@dataclass(frozen=True)
class History:
    """What comes before a response's own input in its prompt: nothing, or one of the two references."""

    previous_response_id: str | None = None
    conversation_id: str | None = None
    conversation_tick: int | None = None


@dataclass
class ResponseRecord:
    """A response as the runner saves it."""

    id: str
    body: dict[str, Any]  # the Response object, output included
    input_items: list[Item]  # this request's own input items
    history: History
    events: list[Event]  # the SSE event log, sequence_number 0..n
    obfuscation_seed: str | None  # what the events' padding was derived from (sse.obfuscation)


@dataclass(frozen=True)
class Page:
    data: list[Item]
    has_more: bool


def open_state_db(db_path: str | Path | None, schema: str) -> sqlite3.Connection:
    """A connection to the server's state file (in memory without one), shared by the server's threads under
    the caller's lock, with `schema` created if missing. A new file is 0600 (and so are its -wal and -shm)."""
    if db_path is not None:
        create_private_file(Path(db_path))
    connection = sqlite3.connect(
        ":memory:" if db_path is None else str(db_path), check_same_thread=False, isolation_level=None
    )
    connection.execute("PRAGMA busy_timeout = 5000")
    if db_path is not None:
        connection.execute("PRAGMA journal_mode = WAL")
        # A checkpoint cuts the WAL back to this size: one big transaction (a migration) must not leave it large.
        connection.execute("PRAGMA journal_size_limit = 4194304")
    connection.executescript(schema)
    return connection


class ServerStore:
    def __init__(self, db_path: str | Path | None = None) -> None:
        self._conn = open_state_db(db_path, "")
        self._lock = threading.Lock()
        try:
            _migrate(self._conn, str(db_path or ":memory:"))
        except BaseException:
            self._conn.close()
            raise

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- conversations ----------------------------------------------------------------------------------------

    def create_conversation(
        self, conversation_id: str, metadata: dict[str, str], items: Sequence[Item]
    ) -> dict[str, Any]:
        created_at = int(time.time())
        with self._lock, self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute(
                "INSERT INTO conversations (id, created_at, metadata) VALUES (?, ?, ?)",
                (conversation_id, created_at, json.dumps(metadata)),
            )
            _add_members(self._conn, conversation_id, items)
        return _conversation(conversation_id, created_at, metadata)

    def get_conversation(self, conversation_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT id, created_at, metadata FROM conversations WHERE id = ? AND deleted = 0", (conversation_id,)
            ).fetchone()
        return None if row is None else _conversation(row[0], row[1], json.loads(row[2]))

    def update_conversation(self, conversation_id: str, metadata: dict[str, str]) -> dict[str, Any] | None:
        with self._lock:
            self._conn.execute(
                "UPDATE conversations SET metadata = ? WHERE id = ? AND deleted = 0",
                (json.dumps(metadata), conversation_id),
            )
        return self.get_conversation(conversation_id)

    def delete_conversation(self, conversation_id: str) -> bool:
        with self._lock:
            cursor = self._conn.execute(
                "UPDATE conversations SET deleted = 1 WHERE id = ? AND deleted = 0", (conversation_id,)
            )
        return cursor.rowcount > 0

    def add_conversation_items(self, conversation_id: str, items: Sequence[Item]) -> None:
        with self._lock, self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            _add_members(self._conn, conversation_id, items)

    def conversation_items(self, conversation_id: str) -> list[Item]:
        return self.conversation_snapshot(conversation_id)[0]

    def conversation_snapshot(self, conversation_id: str) -> tuple[list[Item], int]:
        """The conversation's items now, and the tick that names this moment in a response's `History`."""
        with self._lock, self._conn:
            self._conn.execute("BEGIN")
            tick = _tick(self._conn)
            return _members_at(self._conn, conversation_id, tick), tick

    def conversation_item(self, conversation_id: str, item_id: str) -> Item | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT items.body FROM conversation_items AS m JOIN items ON items.id = m.item"
                " WHERE m.conversation_id = ? AND m.item_id = ? AND m.removed_at IS NULL",
                (conversation_id, item_id),
            ).fetchone()
        return None if row is None else json.loads(row[0])

    def delete_conversation_item(self, conversation_id: str, item_id: str) -> bool:
        with self._lock, self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            cursor = self._conn.execute(
                "UPDATE conversation_items SET removed_at = ? WHERE conversation_id = ? AND item_id = ?"
                " AND removed_at IS NULL",
                (_next_tick(self._conn), conversation_id, item_id),
            )
            _forget_removed_members(self._conn, conversation_id)
        return cursor.rowcount > 0

    # -- responses --------------------------------------------------------------------------------------------

    def save_response(self, record: ResponseRecord) -> None:
        """Insert or update the response (a deleted one stays deleted)."""
        events = replay_log.encode(record.events, record.body, record.obfuscation_seed)
        history = record.history
        with self._lock, self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            row = self._conn.execute("SELECT deleted FROM responses WHERE id = ?", (record.id,)).fetchone()
            if row is not None and row[0] != _LIVE:
                return
            self._conn.execute(
                "INSERT INTO responses (id, created_at, status, body, history_response, history_conversation,"
                " history_tick, events) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET status = excluded.status, body = excluded.body,"
                " events = excluded.events",
                (
                    record.id,
                    int(record.body.get("created_at") or time.time()),
                    str(record.body.get("status")),
                    _body_without_output(record.body),
                    history.previous_response_id,
                    history.conversation_id,
                    history.conversation_tick,
                    events,
                ),
            )
            self._conn.execute(
                "DELETE FROM response_items WHERE response_id = ? AND part IN (?, ?)", (record.id, INPUT, OUTPUT)
            )
            _add_response_items(self._conn, record.id, INPUT, record.input_items)
            _add_response_items(self._conn, record.id, OUTPUT, record.body.get("output") or [])

    def response(self, response_id: str) -> dict[str, Any] | None:
        """The Response object, or None when it was never stored or is deleted."""
        with self._lock, self._conn:
            self._conn.execute("BEGIN")
            return _response_body(self._conn, response_id)

    def response_input_items(self, response_id: str) -> list[Item] | None:
        with self._lock, self._conn:
            self._conn.execute("BEGIN")
            if not _is_live(self._conn, response_id):
                return None
            return _response_part(self._conn, response_id, INPUT)

    def response_events(self, response_id: str) -> list[Event] | None:
        """The response's SSE event log as it was sent, from sequence 0."""
        with self._lock, self._conn:
            self._conn.execute("BEGIN")
            body = _response_body(self._conn, response_id)
            if body is None:
                return None
            (events,) = self._conn.execute("SELECT events FROM responses WHERE id = ?", (response_id,)).fetchone()
        return replay_log.decode(events, body)

    def response_transcript(self, response_id: str) -> list[Item] | None:
        """What a response chained to this one continues from: this response's whole prompt, then its output.
        None when the response was never stored or is deleted."""
        with self._lock, self._conn:
            self._conn.execute("BEGIN")
            if not _is_live(self._conn, response_id):
                return None
            return _transcript(self._conn, response_id)

    def update_response_body(self, response_id: str, body: dict[str, Any]) -> None:
        """Replace a stored response's body (its output unchanged), keeping its event log as it was sent."""
        with self._lock, self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            old_body = _response_body(self._conn, response_id)
            if old_body is None:
                return
            (stored,) = self._conn.execute("SELECT events FROM responses WHERE id = ?", (response_id,)).fetchone()
            events = replay_log.rebased(stored, old_body, body)
            self._conn.execute(
                "UPDATE responses SET status = ?, body = ?, events = ? WHERE id = ?",
                (str(body.get("status")), _body_without_output(body), events, response_id),
            )

    def delete_response(self, response_id: str) -> bool:
        with self._lock, self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            cursor = self._conn.execute(
                "UPDATE responses SET deleted = ?, body = '{}', events = NULL WHERE id = ? AND deleted = ?",
                (_DELETED, response_id, _LIVE),
            )
            if cursor.rowcount:
                _forget_deleted_response(self._conn, response_id)
        return cursor.rowcount > 0

    def unfinished_response_ids(self) -> list[str]:
        """Background responses that were queued or running when the server last stopped."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id FROM responses WHERE deleted = ? AND status IN ('queued', 'in_progress')", (_LIVE,)
            ).fetchall()
        return [row[0] for row in rows]


def paginate(items: Sequence[Item], *, after: str | None, limit: int, order: Order) -> Page:
    """Cursor pagination over an ordered item list, the way the API pages: `after` is an item id."""
    ordered = list(items) if order == "asc" else list(reversed(items))
    start = 0
    if after is not None:
        ids = [item.get("id") for item in ordered]
        start = ids.index(after) + 1 if after in ids else len(ordered)
    data = ordered[start : start + limit]
    return Page(data=data, has_more=start + limit < len(ordered))


def _conversation(conversation_id: str, created_at: int, metadata: dict[str, str]) -> dict[str, Any]:
    return {"id": conversation_id, "object": "conversation", "created_at": created_at, "metadata": metadata}


# -- items, stored once -------------------------------------------------------------------------------------------


def _item_row(connection: sqlite3.Connection, item: Item) -> int:
    """The `items` row holding exactly this item, added if there is none. An id alone is not enough: a client
    may send one id with other content (both are kept, as each was sent)."""
    api_id = item.get("id") if isinstance(item.get("id"), str) else ""
    body = json.dumps(item)
    row = connection.execute("SELECT id FROM items WHERE api_id = ? AND body = ?", (api_id, body)).fetchone()
    if row is not None:
        return int(row[0])
    cursor = connection.execute("INSERT INTO items (api_id, body) VALUES (?, ?)", (api_id, body))
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def _forget_items(connection: sqlite3.Connection, rows: Iterable[int]) -> None:
    """Delete those of these items that nothing refers to any more."""
    connection.executemany(
        "DELETE FROM items WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM conversation_items WHERE item = ?1)"
        " AND NOT EXISTS (SELECT 1 FROM response_items WHERE item = ?1)",
        [(row,) for row in set(rows)],
    )


# -- conversations: members and the clock their responses' histories are read at ----------------------------


def _tick(connection: sqlite3.Connection) -> int:
    return int(connection.execute("SELECT tick FROM conversation_clock").fetchone()[0])


def _next_tick(connection: sqlite3.Connection) -> int:
    return int(connection.execute("UPDATE conversation_clock SET tick = tick + 1 RETURNING tick").fetchone()[0])


def _add_members(connection: sqlite3.Connection, conversation_id: str, items: Sequence[Item]) -> None:
    tick = _next_tick(connection)
    for item in items:
        # An item id already in the conversation (a client re-sending output items as input) is not duplicated.
        listed = connection.execute(
            "SELECT 1 FROM conversation_items WHERE conversation_id = ? AND item_id = ? AND removed_at IS NULL",
            (conversation_id, item["id"]),
        ).fetchone()
        if listed is None:
            connection.execute(
                "INSERT INTO conversation_items (conversation_id, item_id, item, added_at) VALUES (?, ?, ?, ?)",
                (conversation_id, item["id"], _item_row(connection, item), tick),
            )


def _members_at(connection: sqlite3.Connection, conversation_id: str, tick: int) -> list[Item]:
    rows = connection.execute(
        "SELECT items.body FROM conversation_items AS m JOIN items ON items.id = m.item"
        " WHERE m.conversation_id = ?1 AND m.added_at <= ?2 AND (m.removed_at IS NULL OR m.removed_at > ?2)"
        " ORDER BY m.seq",
        (conversation_id, tick),
    ).fetchall()
    return [json.loads(row[0]) for row in rows]


def _forget_removed_members(connection: sqlite3.Connection, conversation_id: str) -> None:
    """Drop the removed items of a conversation that no response's history shows any more."""
    rows = connection.execute(
        "DELETE FROM conversation_items AS m WHERE m.conversation_id = ? AND m.removed_at IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM responses AS r WHERE r.history_conversation = m.conversation_id"
        " AND r.history_tick >= m.added_at AND r.history_tick < m.removed_at) RETURNING item",
        (conversation_id,),
    ).fetchall()
    _forget_items(connection, (row[0] for row in rows))


# -- responses ------------------------------------------------------------------------------------------------


def _body_without_output(body: dict[str, Any]) -> str:
    # The output is in `response_items`; an empty list keeps the key's place.
    return json.dumps({**body, "output": []})


def _add_response_items(connection: sqlite3.Connection, response_id: str, part: int, items: Sequence[Item]) -> None:
    connection.executemany(
        "INSERT INTO response_items (response_id, part, position, item) VALUES (?, ?, ?, ?)",
        [(response_id, part, position, _item_row(connection, item)) for position, item in enumerate(items)],
    )


def _response_part(connection: sqlite3.Connection, response_id: str, part: int) -> list[Item]:
    rows = connection.execute(
        "SELECT items.body FROM response_items AS r JOIN items ON items.id = r.item"
        " WHERE r.response_id = ? AND r.part = ? ORDER BY r.position",
        (response_id, part),
    ).fetchall()
    return [json.loads(row[0]) for row in rows]


def _is_live(connection: sqlite3.Connection, response_id: str) -> bool:
    row = connection.execute("SELECT deleted FROM responses WHERE id = ?", (response_id,)).fetchone()
    return row is not None and row[0] == _LIVE


def _response_body(connection: sqlite3.Connection, response_id: str) -> dict[str, Any] | None:
    row = connection.execute("SELECT body FROM responses WHERE id = ? AND deleted = ?", (response_id, _LIVE)).fetchone()
    if row is None:
        return None
    body: dict[str, Any] = json.loads(row[0])
    body["output"] = _response_part(connection, response_id, OUTPUT)
    return body


# The response and the ones before it, each with its distance from the first one named.
_CHAIN = (
    "WITH RECURSIVE chain (id, depth) AS (SELECT ?, 0 UNION ALL SELECT r.history_response, chain.depth + 1"
    " FROM chain JOIN responses AS r ON r.id = chain.id WHERE r.history_response IS NOT NULL) "
)


def _transcript(connection: sqlite3.Connection, response_id: str) -> list[Item]:
    """The response's history, input and output: its chain of previous responses walked back to the first,
    whose history may be a conversation's items at a tick."""
    conversation_id, tick = connection.execute(
        _CHAIN + "SELECT r.history_conversation, r.history_tick FROM chain JOIN responses AS r ON r.id = chain.id"
        " ORDER BY chain.depth DESC LIMIT 1",
        (response_id,),
    ).fetchone()
    items = _members_at(connection, conversation_id, tick) if conversation_id is not None else []
    rows = connection.execute(
        _CHAIN + "SELECT items.body FROM chain JOIN response_items AS r ON r.response_id = chain.id"
        " JOIN items ON items.id = r.item ORDER BY chain.depth DESC, r.part, r.position",
        (response_id,),
    ).fetchall()
    return items + [json.loads(row[0]) for row in rows]


def _forget_deleted_response(connection: sqlite3.Connection, response_id: str | None) -> None:
    """Let go of a deleted response's items and history once no other response's history runs through it,
    then do the same for the response before it."""
    while response_id is not None:
        row = connection.execute(
            "SELECT deleted, history_response, history_conversation FROM responses WHERE id = ?", (response_id,)
        ).fetchone()
        if row is None or row[0] == _LIVE:
            return
        if connection.execute("SELECT 1 FROM responses WHERE history_response = ?", (response_id,)).fetchone():
            return
        rows = connection.execute(
            "DELETE FROM response_items WHERE response_id = ? RETURNING item", (response_id,)
        ).fetchall()
        connection.execute(
            "UPDATE responses SET history_response = NULL, history_conversation = NULL,"
            " history_tick = NULL WHERE id = ?",
            (response_id,),
        )
        _forget_items(connection, (item for (item,) in rows))
        if row[2] is not None:
            _forget_removed_members(connection, row[2])
        response_id = row[1]


# -- migrations -----------------------------------------------------------------------------------------------


Migration = Callable[[sqlite3.Connection], None]


def _m001_conversations_responses(connection: sqlite3.Connection) -> None:
    """The first layout (a state file written before migrations were recorded already has it)."""
    for statement in (
        """CREATE TABLE IF NOT EXISTS conversations (
            id TEXT PRIMARY KEY,
            created_at INTEGER NOT NULL,
            metadata TEXT NOT NULL,            -- JSON object
            deleted INTEGER NOT NULL DEFAULT 0 -- deleting a conversation hides it; its items stay (API docs)
        )""",
        """CREATE TABLE IF NOT EXISTS conversation_items (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            conversation_id TEXT NOT NULL,
            item_id TEXT NOT NULL,
            item TEXT NOT NULL,
            UNIQUE (conversation_id, item_id)
        )""",
        """CREATE TABLE IF NOT EXISTS responses (
            id TEXT PRIMARY KEY,
            created_at INTEGER NOT NULL,
            body TEXT NOT NULL,
            input_items TEXT NOT NULL,
            context TEXT NOT NULL,
            events TEXT NOT NULL,
            deleted INTEGER NOT NULL DEFAULT 0
        )""",
    ):
        connection.execute(statement)


_ITEMS_STORED_ONCE = (
    """CREATE TABLE items (
        id INTEGER PRIMARY KEY,            -- what conversations and responses refer to
        api_id TEXT NOT NULL,              -- the item's id in the API (a client may reuse one with other content)
        body TEXT NOT NULL                 -- JSON, canonical item shape
    )""",
    "CREATE INDEX items_by_api_id ON items (api_id)",
    "CREATE TABLE conversation_clock (tick INTEGER NOT NULL)",
    "INSERT INTO conversation_clock (tick) VALUES (0)",
    """CREATE TABLE conversation_items (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, -- conversation order
        conversation_id TEXT NOT NULL,
        item_id TEXT NOT NULL,
        item INTEGER NOT NULL REFERENCES items (id),
        added_at INTEGER NOT NULL,             -- conversation_clock ticks
        removed_at INTEGER                     -- set when deleted from the conversation
    )""",
    "CREATE UNIQUE INDEX conversation_items_listed ON conversation_items (conversation_id, item_id)"
    " WHERE removed_at IS NULL",
    "CREATE INDEX conversation_items_by_item ON conversation_items (item)",
    """CREATE TABLE responses (
        id TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL,
        status TEXT NOT NULL,
        body TEXT NOT NULL,                -- JSON Response object, latest state; its output is in response_items
        history_response TEXT,             -- previous_response_id: the prompt continues that response's
        history_conversation TEXT,         -- conversation: the prompt starts with its items at history_tick
        history_tick INTEGER,
        events BLOB,                       -- the SSE event log (replay_log.py)
        deleted INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX responses_by_history_response ON responses (history_response) WHERE history_response IS NOT NULL",
    "CREATE INDEX responses_by_history_conversation ON responses (history_conversation, history_tick)"
    " WHERE history_conversation IS NOT NULL",
    """CREATE TABLE response_items (
        response_id TEXT NOT NULL,
        part INTEGER NOT NULL,             -- 0 history (migrated responses only), 1 input, 2 output
        position INTEGER NOT NULL,
        item INTEGER NOT NULL REFERENCES items (id),
        PRIMARY KEY (response_id, part, position)
    ) WITHOUT ROWID""",
    "CREATE INDEX response_items_by_item ON response_items (item)",
)


def _m002_items_stored_once(connection: sqlite3.Connection) -> None:
    """Items stored once, histories by reference, event logs compacted: the first layout's copies become
    references, and every conversation, response (deleted ones included, for the chains through them) and event
    log is kept."""
    connection.execute("ALTER TABLE conversation_items RENAME TO conversation_items_v1")
    connection.execute("ALTER TABLE responses RENAME TO responses_v1")
    for statement in _ITEMS_STORED_ONCE:
        connection.execute(statement)
    for seq, conversation_id, item_id, item in connection.execute(
        "SELECT seq, conversation_id, item_id, item FROM conversation_items_v1 ORDER BY seq"
    ).fetchall():
        connection.execute(
            "INSERT INTO conversation_items (seq, conversation_id, item_id, item, added_at) VALUES (?, ?, ?, ?, 0)",
            (seq, conversation_id, item_id, _item_row(connection, json.loads(item))),
        )
    # Responses come in the order they were made, so a previous response is always migrated before the next.
    transcripts: dict[str, list[int]] = {}  # a response's prompt and output, as item rows
    deleted: list[str] = []
    for response_id, created_at, body_json, input_json, context_json, events_json, is_deleted in connection.execute(
        "SELECT id, created_at, body, input_items, context, events, deleted FROM responses_v1"
        " ORDER BY created_at, rowid"
    ).fetchall():
        body, input_items, context = json.loads(body_json), json.loads(input_json), json.loads(context_json)
        output = body.get("output") or []
        context_rows = [_item_row(connection, item) for item in context]
        input_rows = [_item_row(connection, item) for item in input_items]
        transcripts[response_id] = context_rows + [_item_row(connection, item) for item in output]
        previous = body.get("previous_response_id")
        if previous in transcripts and transcripts[previous] + input_rows == context_rows:
            history, explicit = History(previous_response_id=previous), []
        else:
            # A conversation's items at the time, or anything else: kept as it was, as references.
            own_input = len(input_rows) and context_rows[-len(input_rows) :] == input_rows
            history, explicit = History(), context_rows[: -len(input_rows)] if own_input else context_rows
        connection.execute(
            "INSERT INTO responses (id, created_at, status, body, history_response, events, deleted)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                response_id,
                created_at,
                str(body.get("status")),
                _body_without_output(body),
                history.previous_response_id,
                replay_log.encode(json.loads(events_json), body, None),
                _DELETED if is_deleted else _LIVE,
            ),
        )
        connection.executemany(
            "INSERT INTO response_items (response_id, part, position, item) VALUES (?, ?, ?, ?)",
            [
                (response_id, part, position, row)
                for part, rows in (
                    (HISTORY, explicit),
                    (INPUT, input_rows),
                    (OUTPUT, transcripts[response_id][len(context_rows) :]),
                )
                for position, row in enumerate(rows)
            ],
        )
        if is_deleted:
            deleted.append(response_id)
    connection.execute("DROP TABLE conversation_items_v1")
    connection.execute("DROP TABLE responses_v1")
    for response_id in reversed(deleted):  # the last of a chain first, so the ones before it can go too
        connection.execute("UPDATE responses SET body = '{}', events = NULL WHERE id = ?", (response_id,))
        _forget_deleted_response(connection, response_id)


MIGRATIONS: list[tuple[str, Migration]] = [
    ("m001_conversations_responses", _m001_conversations_responses),
    ("m002_items_stored_once", _m002_items_stored_once),
]


def _migrate(connection: sqlite3.Connection, where: str) -> None:
    """Apply the migrations the state file lacks, each in its own transaction, checked again under the write
    lock (two servers may open one file at once). A file with migrations this version does not know was written
    by a newer one: it is refused, not damaged."""
    connection.execute(
        "CREATE TABLE IF NOT EXISTS server_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)"
    )
    done = [row[0] for row in connection.execute("SELECT name FROM server_migrations ORDER BY rowid")]
    known = [name for name, _ in MIGRATIONS]
    unknown = [name for name in done if name not in known]
    if unknown:
        raise StateFileTooNew(
            f"The local server's state file {where} was written by a newer version of assistant (it has migration "
            f"{unknown[-1]!r}). Upgrade assistant, or give the server another state file; it was not changed."
        )
    compacted = False
    for name, step in MIGRATIONS:
        if name in done:
            continue
        with connection:
            connection.execute("BEGIN IMMEDIATE")
            if connection.execute("SELECT 1 FROM server_migrations WHERE name = ?", (name,)).fetchone():
                continue  # another server applied it since
            had_rows = (
                name == "m002_items_stored_once"
                and connection.execute(
                    "SELECT 1 FROM responses UNION ALL SELECT 1 FROM conversation_items LIMIT 1"
                ).fetchone()
            )
            step(connection)
            connection.execute(
                "INSERT INTO server_migrations (name, applied_at) VALUES (?, ?)", (name, int(time.time()))
            )
        compacted = compacted or bool(had_rows)
    if compacted:
        # The first layout's copies are gone: give their space back to the file system. Another process using
        # the file keeps VACUUM from running; the free pages are then reused as the state grows again.
        try:
            connection.execute("VACUUM")
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.OperationalError as error:
            logger.info("the state file %s was not compacted after its migration: %s", where, error)
