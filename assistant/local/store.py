"""The local server's own state: conversations, their items, and stored responses, in one SQLite file.

This is the *server's* memory (what api.openai.com would keep), separate from the client's index, so a restart
of the server keeps threads alive exactly as the real API would. A stored response keeps its full SSE event log
(for `GET /responses/{id}?stream=true` replay), its own input items (for `/input_items`) and the whole prompt it
was generated from (so a later `previous_response_id` can continue the chain).

One connection guarded by a lock: requests arrive on many threads, and SQLite serializes writers anyway.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Item = dict[str, Any]
Order = Literal["asc", "desc"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    metadata TEXT NOT NULL,            -- JSON object
    deleted INTEGER NOT NULL DEFAULT 0 -- deleting a conversation hides it; its items stay (API docs)
);
CREATE TABLE IF NOT EXISTS conversation_items (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, -- conversation order
    conversation_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    item TEXT NOT NULL,                    -- JSON, canonical item shape
    UNIQUE (conversation_id, item_id)
);
CREATE TABLE IF NOT EXISTS responses (
    id TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    body TEXT NOT NULL,        -- JSON Response object, latest state
    input_items TEXT NOT NULL, -- JSON list: this request's own input items
    context TEXT NOT NULL,     -- JSON list: the whole prompt (history + input), for previous_response_id chains
    events TEXT NOT NULL,      -- JSON list: the SSE event log, sequence_number 0..n
    deleted INTEGER NOT NULL DEFAULT 0
);
"""


@dataclass
class StoredResponse:
    id: str
    body: dict[str, Any]
    input_items: list[Item]
    context: list[Item]
    events: list[dict[str, Any]]


@dataclass(frozen=True)
class Page:
    data: list[Item]
    has_more: bool


def open_state_db(db_path: str | Path | None, schema: str) -> sqlite3.Connection:
    """A connection to the server's state file (in memory without one), shared by the server's threads under
    the caller's lock, with `schema` created if missing."""
    connection = sqlite3.connect(":memory:" if db_path is None else str(db_path), check_same_thread=False,
                                 isolation_level=None)
    connection.execute("PRAGMA busy_timeout = 5000")
    if db_path is not None:
        connection.execute("PRAGMA journal_mode = WAL")
    connection.executescript(schema)
    return connection


class ServerStore:
    def __init__(self, db_path: str | Path | None = None) -> None:
        self._conn = open_state_db(db_path, _SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- conversations ----------------------------------------------------------------------------------------

    def create_conversation(self, conversation_id: str, metadata: dict[str, str], items: Sequence[Item]) -> dict:
        created_at = int(time.time())
        with self._lock, self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute(
                "INSERT INTO conversations (id, created_at, metadata) VALUES (?, ?, ?)",
                (conversation_id, created_at, json.dumps(metadata)),
            )
            self._insert_items(conversation_id, items)
        return _conversation(conversation_id, created_at, metadata)

    def get_conversation(self, conversation_id: str) -> dict | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT id, created_at, metadata FROM conversations WHERE id = ? AND deleted = 0", (conversation_id,)
            ).fetchone()
        return None if row is None else _conversation(row[0], row[1], json.loads(row[2]))

    def update_conversation(self, conversation_id: str, metadata: dict[str, str]) -> dict | None:
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
            self._insert_items(conversation_id, items)

    def conversation_items(self, conversation_id: str) -> list[Item]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT item FROM conversation_items WHERE conversation_id = ? ORDER BY seq", (conversation_id,)
            ).fetchall()
        return [json.loads(row[0]) for row in rows]

    def conversation_item(self, conversation_id: str, item_id: str) -> Item | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT item FROM conversation_items WHERE conversation_id = ? AND item_id = ?",
                (conversation_id, item_id),
            ).fetchone()
        return None if row is None else json.loads(row[0])

    def delete_conversation_item(self, conversation_id: str, item_id: str) -> bool:
        with self._lock:
            cursor = self._conn.execute(
                "DELETE FROM conversation_items WHERE conversation_id = ? AND item_id = ?",
                (conversation_id, item_id),
            )
        return cursor.rowcount > 0

    def _insert_items(self, conversation_id: str, items: Sequence[Item]) -> None:
        # An item id already in the conversation (a client re-sending output items as input) is not duplicated.
        self._conn.executemany(
            "INSERT OR IGNORE INTO conversation_items (conversation_id, item_id, item) VALUES (?, ?, ?)",
            [(conversation_id, item["id"], json.dumps(item)) for item in items],
        )

    # -- responses --------------------------------------------------------------------------------------------

    def save_response(self, response: StoredResponse) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO responses (id, created_at, body, input_items, context, events) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET body = excluded.body, input_items = excluded.input_items,"
                " context = excluded.context, events = excluded.events",
                (
                    response.id,
                    int(response.body.get("created_at") or time.time()),
                    json.dumps(response.body),
                    json.dumps(response.input_items),
                    json.dumps(response.context),
                    json.dumps(response.events),
                ),
            )

    def get_response(self, response_id: str) -> StoredResponse | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT id, body, input_items, context, events FROM responses WHERE id = ? AND deleted = 0",
                (response_id,),
            ).fetchone()
        if row is None:
            return None
        return StoredResponse(row[0], json.loads(row[1]), json.loads(row[2]), json.loads(row[3]), json.loads(row[4]))

    def delete_response(self, response_id: str) -> bool:
        with self._lock:
            cursor = self._conn.execute("UPDATE responses SET deleted = 1 WHERE id = ? AND deleted = 0", (response_id,))
        return cursor.rowcount > 0

    def unfinished_response_ids(self) -> list[str]:
        """Background responses that were queued or running when the server last stopped."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id FROM responses WHERE deleted = 0"
                " AND json_extract(body, '$.status') IN ('queued', 'in_progress')"
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


def _conversation(conversation_id: str, created_at: int, metadata: dict[str, str]) -> dict:
    return {"id": conversation_id, "object": "conversation", "created_at": created_at, "metadata": metadata}
