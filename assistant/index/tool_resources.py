"""What the index knows of the hosted tools' resources on a server: the files uploaded (found again by content, so
the same bytes are uploaded once per server), the vector stores that hold them for file search, and the
containers code interpreter ran in, with the files it made.
"""

from __future__ import annotations

from dataclasses import fields

from assistant.index.database import Connection
from assistant.index.records import ContainerFile, FileRecord
from assistant.index.sql import insert_sql, select_sql
from assistant.index.tables import utcnow


class ToolResourceStore:
    connection: Connection  # the facade's (store.py)

    def file_by_content(self, server: str, sha256: str) -> FileRecord | None:
        rows = self.connection.rows(
            select_sql("files", "WHERE server = :server AND sha256 = :sha256 ORDER BY created_at DESC LIMIT 1"),
            {"server": server, "sha256": sha256},
        )
        return FileRecord(**rows[0]) if rows else None

    def add_file(
        self, *, id: str, server: str, filename: str, bytes: int, sha256: str, purpose: str, path: str | None = None
    ) -> None:
        values = {
            "id": id,
            "server": server,
            "filename": filename,
            "bytes": bytes,
            "sha256": sha256,
            "purpose": purpose,
            "created_at": utcnow(),
            "path": path,
        }
        self.connection.run([(insert_sql("files", tuple(values)), values)])

    def forget_file(self, file_id: str) -> None:
        self.connection.run(
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
        values = {"id": id, "server": server, "thread_id": thread_id, "name": name, "created_at": utcnow()}
        self.connection.run([(insert_sql("vector_stores", tuple(values)), values)])

    def set_vector_store_file(
        self, vector_store_id: str, file_id: str, status: str, last_error: str | None = None
    ) -> None:
        values = {"vector_store_id": vector_store_id, "file_id": file_id, "status": status, "last_error": last_error}
        self.connection.run(
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
        self.connection.run(
            [
                (
                    "DELETE FROM vector_store_files WHERE vector_store_id = :store AND file_id = :file",
                    {"store": vector_store_id, "file": file_id},
                )
            ]
        )

    def thread_files(self, thread_id: str) -> list[FileRecord]:
        rows = self.connection.rows(
            select_sql(
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
        values = {"id": container_id, "thread_id": thread_id, "status": "active", "created_at": utcnow()}
        self.connection.run([(insert_sql("containers", tuple(values)) + " ON CONFLICT (id) DO NOTHING", values)])

    def replace_container(self, old_id: str, new_id: str) -> None:
        self.connection.run(
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
        values = {
            "container_id": container_id,
            "file_id": file_id,
            "turn_id": turn_id,
            "filename": filename,
            "path": path,
            "bytes": bytes,
            "created_at": utcnow(),
        }
        self.connection.run([(insert_sql("container_files", tuple(values)), values)])

    def container_files(self, thread_id: str) -> list[ContainerFile]:
        rows = self.connection.rows(
            select_sql(
                "container_files",
                "JOIN turns ON turns.id = container_files.turn_id "
                "WHERE turns.thread_id = :key ORDER BY container_files.id",
            ),
            {"key": thread_id},
        )
        return [ContainerFile(**{field.name: row[field.name] for field in fields(ContainerFile)}) for row in rows]
