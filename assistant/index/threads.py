"""The index's threads: create, read, list, change, fork and delete them, their log of changes, and the lease a
chain-mode turn holds on its thread.

Every write is one short transaction of plain SQL (database.py); reads return frozen records (records.py).
"""

from __future__ import annotations

import secrets
from dataclasses import fields
from typing import Any

from assistant.errors import ThreadNotFound
from assistant.index.database import Connection
from assistant.index.records import Lease, LeaseHolder, ThreadChange, ThreadInfo
from assistant.index.sql import COLUMNS, insert_sql, select_sql, update_sql
from assistant.index.tables import utcnow
from assistant.index.turn_owner import current_owner, owner_is_gone

THREAD_BY_ID = select_sql("threads", "WHERE id = :key")
THREADS_PAGE = select_sql(
    "threads", "WHERE archived = :archived ORDER BY updated_at DESC, id LIMIT :limit OFFSET :offset"
)
CHANGES_OF_THREAD = select_sql("thread_changes", "WHERE thread_id = :key ORDER BY id")
# The lease is taken when nobody holds it, its holder's time is up, or its holder is `stale` (a process seen gone).
TAKE_LEASE = """UPDATE threads SET lease_owner = :owner, lease_token = :token, lease_expires_at = :expires_at
                WHERE id = :id AND (lease_token IS NULL OR lease_token = :token OR lease_token = :stale
                                    OR lease_expires_at < :now)"""
LEASE_OF_THREAD = "SELECT lease_owner, lease_token FROM threads WHERE id = :id"
RENEW_LEASE = "UPDATE threads SET lease_expires_at = :expires_at WHERE id = :id AND lease_token = :token"
RELEASE_LEASE = """UPDATE threads SET lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
                   WHERE id = :id AND lease_token = :token"""
# A fork copies the parent's turns up to a seq, then their items: the child's copy of a turn has the parent
# turn's seq, which is how the items find it.
_COPIED_TURN_COLUMNS = ", ".join(column for column in COLUMNS["turns"] if column not in ("id", "thread_id"))
COPY_TURNS = f"""INSERT INTO turns (thread_id, {_COPIED_TURN_COLUMNS})
                 SELECT :child, {_COPIED_TURN_COLUMNS} FROM turns
                 WHERE thread_id = :parent AND seq <= :at_seq ORDER BY seq"""
_COPIED_ITEM_COLUMNS = [column for column in COLUMNS["items"] if column not in ("id", "turn_id")]
COPY_ITEMS = f"""INSERT INTO items (turn_id, {", ".join(_COPIED_ITEM_COLUMNS)})
                 SELECT child.id, {", ".join(f"items.{column}" for column in _COPIED_ITEM_COLUMNS)}
                 FROM items
                 JOIN turns AS parent ON parent.id = items.turn_id AND parent.thread_id = :parent
                                         AND parent.seq <= :at_seq
                 JOIN turns AS child ON child.thread_id = :child AND child.seq = parent.seq
                 ORDER BY child.id, items.position"""
COUNT_TURNS_OF_CHILD = (
    "UPDATE threads SET turn_count = (SELECT count(*) FROM turns WHERE thread_id = :child) WHERE id = :child"
)


def new_thread_id() -> str:
    return "thr_" + secrets.token_hex(8)


class ThreadStore:
    connection: Connection  # the facade's (store.py)

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
        values: dict[str, Any] = {
            "id": new_thread_id(),
            "title": title,
            "mode": mode,
            "model": model,
            "instructions": instructions,
            "base_url": base_url,
            "tools": tools,
            "archived": False,
            "created_at": now,
            "updated_at": now,
        }
        self.connection.run([(insert_sql("threads", tuple(values)), values)])
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
        self.connection.run([(update_sql("threads", tuple(values)), {**values, "id": thread_id})])

    def delete_thread(self, thread_id: str) -> None:
        """Delete a thread and everything recorded under it; its forks keep their copies and lose the link."""
        params = {"key": thread_id}
        turns = "SELECT id FROM turns WHERE thread_id = :key"
        self.connection.run(
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
        [_, [(winner,)], _] = self.connection.run(
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
        return str(winner)

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
            [_, rows] = self.connection.run([(TAKE_LEASE, values), (LEASE_OF_THREAD, {"id": lease.thread_id})])
            if not rows:
                raise ThreadNotFound(f"No thread {lease.thread_id!r} in the index {self.connection.where}.")
            [(owner, token)] = rows
            if token == lease.token:
                return None
            if stale == token or not owner_is_gone(owner):
                return LeaseHolder(owner=owner or "", token=token)
            stale = token  # its process ended without letting go: take it over, unless another did first

    def release_lease(self, lease: Lease) -> None:
        self.connection.run([(RELEASE_LEASE, {"id": lease.thread_id, "token": lease.token})])

    def record_change(self, thread_id: str, kind: str, detail: str, **thread_values: Any) -> None:
        """Log a change of the thread's state and apply `thread_values` to the thread, in one transaction."""
        now = utcnow()
        change = {"thread_id": thread_id, "kind": kind, "detail": detail, "created_at": now}
        thread_values = {**thread_values, "updated_at": now}
        self.connection.run(
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
        values: dict[str, Any] = {
            "id": new_thread_id(),
            "title": title,
            "mode": parent.mode,
            "model": parent.model,
            "instructions": parent.instructions,
            "base_url": parent.base_url,
            "tools": parent.tools,
            "parent_id": parent.id,
            "forked_at_seq": at_seq,
            "last_response_id": last_response_id,
            "archived": False,
            "created_at": now,
            "updated_at": now,
        }
        change = {
            "thread_id": values["id"],
            "kind": "forked",
            "created_at": now,
            "detail": f"forked from {parent.id} at turn {at_seq}",
        }
        params = {"child": values["id"], "parent": parent.id, "at_seq": at_seq}
        self.connection.run(
            [
                (insert_sql("threads", tuple(values)), values),
                (COPY_TURNS, params),
                (COPY_ITEMS, params),
                (COUNT_TURNS_OF_CHILD, params),
                (insert_sql("thread_changes", tuple(change)), change),
            ]
        )
        return self.thread(values["id"])


def _thread_of(row: dict[str, Any]) -> ThreadInfo:
    return ThreadInfo(**{field.name: row[field.name] for field in fields(ThreadInfo)})
