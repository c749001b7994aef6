"""The comparisons `assistant compare` ran: each conversation replayed through both APIs, its two recorded threads
and the report's summary, so the app can find and show one later.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from assistant.index.database import Connection
from assistant.index.records import ComparisonRecord
from assistant.index.sql import insert_sql, select_sql, update_sql
from assistant.index.tables import utcnow


class ComparisonStore:
    connection: Connection  # the facade's (store.py)

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
        comparison_id = "cmp_" + secrets.token_hex(8)
        values = {
            "id": comparison_id,
            "run_id": run_id,
            "name": name,
            "source": source,
            "responses_thread_id": responses_thread_id,
            "chat_thread_id": chat_thread_id,
            "summary": json.dumps(summary),
            "created_at": utcnow(),
        }
        self.connection.run([(insert_sql("comparisons", tuple(values)), values)])
        return comparison_id

    def set_comparison_summary(self, comparison_id: str, summary: dict[str, Any]) -> None:
        """The totals of a comparison whose row was recorded before its turns ran (so its threads were known
        as a comparison's from the start)."""
        self.connection.run(
            [(update_sql("comparisons", ("summary",)), {"summary": json.dumps(summary), "id": comparison_id})]
        )

    def comparisons(
        self, *, run_id: str | None = None, thread_id: str | None = None, limit: int = 50
    ) -> list[ComparisonRecord]:
        """Recorded comparisons, newest first: all, one run's, or the one a thread belongs to."""
        where = "WHERE 1 = 1"
        params: dict[str, Any] = {"limit": limit}
        if run_id:
            where += " AND run_id = :run_id"
            params["run_id"] = run_id
        if thread_id:
            where += " AND (responses_thread_id = :thread_id OR chat_thread_id = :thread_id)"
            params["thread_id"] = thread_id
        # Insertion order breaks ties: SQLite's rowid; PostgreSQL has none, and a tie of microsecond times there
        # falls back to the id.
        tie = "id" if self.connection.dialect == "postgresql" else "rowid"
        query = select_sql("comparisons", f"{where} ORDER BY created_at DESC, {tie} DESC LIMIT :limit")
        rows = self.connection.rows(query, params)
        return [
            ComparisonRecord(**{**row, "summary": json.loads(row["summary"]) if row["summary"] else {}}) for row in rows
        ]
