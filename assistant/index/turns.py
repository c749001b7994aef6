"""The index's turns: a turn is recorded before its request goes out, saved as its stream delivers, and closed
with its final items, numbers and the thread's new state; its items, tool calls and citations are read back
with it. A turn whose process died is closed as interrupted when the index is next opened.

Every write is one short transaction of plain SQL (database.py), on the hot path of every answer.
"""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

from assistant.events import Usage
from assistant.index.database import Connection, Statement
from assistant.index.item_records import citation_rows, tool_call_rows
from assistant.index.records import Citation, Lease, ToolCall
from assistant.index.sql import COLUMNS, insert_sql, select_sql, update_sql
from assistant.index.tables import utcnow
from assistant.index.threads import RELEASE_LEASE, RENEW_LEASE
from assistant.index.turn_owner import current_owner, owner_is_gone
from assistant.turn import Item, Turn

TURN_BY_ID = select_sql("turns", "WHERE id = :key")
TURNS_OF_THREAD = select_sql("turns", "WHERE thread_id = :key ORDER BY seq")
ITEMS_OF_TURN = select_sql("items", "WHERE turn_id = :key ORDER BY position")
ITEMS_OF_THREAD = select_sql(
    "items", "JOIN turns ON turns.id = items.turn_id WHERE turns.thread_id = :key ORDER BY turns.seq, items.position"
)
# Failed and cancelled turns never reached the model's context on the server either.
REPLAY_ITEMS = """SELECT items.payload FROM items JOIN turns ON turns.id = items.turn_id
                  WHERE turns.thread_id = :key AND turns.status IN ('completed', 'incomplete')
                  ORDER BY turns.seq, items.position"""
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
_ITEM_COLUMNS = [column for column in COLUMNS["items"] if column not in ("id", "turn_id")]
INSERT_ITEMS_OF_NEW_TURN = f"""INSERT INTO items (turn_id, {", ".join(_ITEM_COLUMNS)})
                               VALUES ((SELECT max(id) FROM turns WHERE thread_id = :thread_id),
                                       {", ".join(f":{column}" for column in _ITEM_COLUMNS)})"""
DELETE_OUTPUT_ITEMS = "DELETE FROM items WHERE turn_id = :turn_id AND direction = 'output'"
DELETE_TOOL_CALLS = "DELETE FROM tool_calls WHERE turn_id = :turn_id"
DELETE_CITATIONS = "DELETE FROM citations WHERE turn_id = :turn_id"
TOOL_CALLS_OF_THREAD = select_sql(
    "tool_calls", "JOIN turns ON turns.id = tool_calls.turn_id WHERE turns.thread_id = :key ORDER BY tool_calls.id"
)
CITATIONS_OF_THREAD = select_sql(
    "citations", "JOIN turns ON turns.id = citations.turn_id WHERE turns.thread_id = :key ORDER BY citations.id"
)


class TurnStore:
    connection: Connection  # the facade's (store.py)

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
        values = {
            "thread_id": thread_id,
            "backend": backend,
            "mode": mode,
            "model": model,
            "input_text": input_text,
            "conversation_id": conversation_id,
            "previous_response_id": previous_response_id,
            "created_at": now,
            "owner": current_owner(),
        }
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
        [(turn_id, seq)] = self.connection.run(statements)[1]
        return turn_id, seq

    def close_interrupted_turns(self) -> list[int]:
        """Close, as incomplete ("interrupted"), the in-progress turns whose process has ended without closing
        them, keeping the user's message and the partial text recorded while the answer streamed. Returns their
        ids."""
        gone = [row["id"] for row in self.connection.rows(IN_PROGRESS_TURNS, {}) if owner_is_gone(row["owner"])]
        if gone:
            now = utcnow()
            self.connection.run(
                [(CLOSE_INTERRUPTED_TURN, [{"id": id, "error": INTERRUPTED, "completed_at": now} for id in gone])]
            )
        return gone

    def update_turn(self, turn_id: int, **values: Any) -> None:
        self.connection.run([(update_sql("turns", tuple(values)), {**values, "id": turn_id})])

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
            self.connection.run(statements)

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
        self.connection.run(statements)

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
        self.connection.run(statements)

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
        return [Citation(**{field.name: row[field.name] for field in fields(Citation)}) for row in rows]


def _item_values(turn_id: int | None, position: int, direction: str, item: dict[str, Any]) -> dict[str, Any]:
    return {
        "turn_id": turn_id,
        "position": position,
        "direction": direction,
        "type": item.get("type") or "message",
        "item_id": item.get("id"),
        "status": item.get("status"),
        "payload": json.dumps(item, ensure_ascii=False),
    }


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
