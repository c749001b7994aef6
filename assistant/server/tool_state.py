"""The local server's state for hosted tools: uploaded files, vector stores (files, chunks, batches) and
containers (files), in SQLite, with file bytes in a folder beside the database.

Layout beside `server.db`: `server.files/uploads/<file id>` holds upload bytes; `server.files/containers/<id>/`
is a container's working folder (what its code sees as /mnt/data; the folder is the truth for container file
bytes). Its folders are 0700 and its files 0600 (private_files.py); the containers root being 0700 is also what
keeps one container's sandbox from reaching another's folder. With no database path (tests, `store=None`)
everything lives in memory and a temporary folder, gone at `close()`.

Objects are stored as the API shows them (JSON) plus the few columns queries need, like `store.py` does.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from assistant.private_files import make_private_folder

from .state import open_state_db

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    id TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    object TEXT NOT NULL,              -- JSON FileObject
    sha256 TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS vector_stores (
    id TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    object TEXT NOT NULL,              -- JSON VectorStore, without the derived file_counts/usage_bytes/status
    deleted INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS vector_store_files (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    vector_store_id TEXT NOT NULL,
    file_id TEXT NOT NULL,
    status TEXT NOT NULL,              -- in_progress | completed | failed | cancelled
    batch_id TEXT,
    object TEXT NOT NULL,              -- JSON VectorStoreFile
    UNIQUE (vector_store_id, file_id)
);
CREATE TABLE IF NOT EXISTS vector_store_chunks (
    vector_store_id TEXT NOT NULL,
    file_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (vector_store_id, file_id, position)
);
CREATE TABLE IF NOT EXISTS file_batches (
    id TEXT PRIMARY KEY,
    vector_store_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    cancelled INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS containers (
    id TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    object TEXT NOT NULL,              -- JSON Container (status and last_active_at kept current)
    deleted INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS container_files (
    id TEXT PRIMARY KEY,
    container_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    path TEXT NOT NULL,                -- relative to the container folder
    object TEXT NOT NULL,              -- JSON ContainerFile
    deleted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS container_files_by_path ON container_files (container_id, path);
"""


class ToolStore:
    def __init__(self, db_path: str | Path | None = None) -> None:
        if db_path is None:
            self._temporary: tempfile.TemporaryDirectory[str] | None = tempfile.TemporaryDirectory(prefix="assistant-")
            self.root = Path(self._temporary.name)
        else:
            self._temporary = None
            db = Path(db_path)
            self.root = db.with_name(db.stem + ".files")
        self.uploads = self.root / "uploads"
        self.containers = self.root / "containers"
        make_private_folder(self.uploads)
        make_private_folder(self.containers)
        self.containers.chmod(0o700)  # made 0700 above; a folder an older version made may be 0755
        self._conn = open_state_db(db_path, _SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._conn.close()
        if self._temporary is not None:
            # Sandboxed code may have left files owned by another uid; root can still remove them.
            shutil.rmtree(self.root, ignore_errors=True)
            self._temporary.cleanup()

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def _execute(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        with self._lock:
            return self._conn.execute(sql, params).rowcount

    # -- files ------------------------------------------------------------------------------------------------

    def upload_path(self, file_id: str) -> Path:
        return self.uploads / file_id

    def add_file(self, file: dict[str, Any], sha256: str) -> None:
        self._execute(
            "INSERT INTO files (id, created_at, object, sha256) VALUES (?, ?, ?, ?)",
            (file["id"], file["created_at"], json.dumps(file), sha256),
        )

    def get_file(self, file_id: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT object FROM files WHERE id = ? AND deleted = 0", (file_id,))
        return json.loads(rows[0][0]) if rows else None

    def list_files(self, purpose: str | None = None) -> list[dict[str, Any]]:
        files = [
            json.loads(row[0])
            for row in self._rows("SELECT object FROM files WHERE deleted = 0 ORDER BY created_at, rowid")
        ]
        return [file for file in files if purpose is None or file["purpose"] == purpose]

    def delete_file(self, file_id: str) -> bool:
        deleted = self._execute("UPDATE files SET deleted = 1 WHERE id = ? AND deleted = 0", (file_id,)) > 0
        if deleted:
            self.upload_path(file_id).unlink(missing_ok=True)
        return deleted

    # -- vector stores ----------------------------------------------------------------------------------------

    def add_vector_store(self, store: dict[str, Any]) -> None:
        self._execute(
            "INSERT INTO vector_stores (id, created_at, object) VALUES (?, ?, ?)",
            (store["id"], store["created_at"], json.dumps(store)),
        )

    def get_vector_store(self, store_id: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT object FROM vector_stores WHERE id = ? AND deleted = 0", (store_id,))
        return json.loads(rows[0][0]) if rows else None

    def list_vector_stores(self) -> list[dict[str, Any]]:
        return [
            json.loads(row[0])
            for row in self._rows("SELECT object FROM vector_stores WHERE deleted = 0 ORDER BY created_at, rowid")
        ]

    def save_vector_store(self, store: dict[str, Any]) -> None:
        self._execute("UPDATE vector_stores SET object = ? WHERE id = ?", (json.dumps(store), store["id"]))

    def delete_vector_store(self, store_id: str) -> bool:
        with self._lock, self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            count = self._conn.execute(
                "UPDATE vector_stores SET deleted = 1 WHERE id = ? AND deleted = 0", (store_id,)
            ).rowcount
            self._conn.execute("DELETE FROM vector_store_chunks WHERE vector_store_id = ?", (store_id,))
        return count > 0

    def put_vector_store_file(self, store_file: dict[str, Any], batch_id: str | None = None) -> None:
        """Insert or replace the file's row (re-adding a file starts its processing over)."""
        self._execute(
            "INSERT INTO vector_store_files (vector_store_id, file_id, status, batch_id, object) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (vector_store_id, file_id) DO UPDATE SET status = excluded.status,"
            " batch_id = excluded.batch_id, object = excluded.object",
            (store_file["vector_store_id"], store_file["id"], store_file["status"], batch_id, json.dumps(store_file)),
        )

    def get_vector_store_file(self, store_id: str, file_id: str) -> dict[str, Any] | None:
        rows = self._rows(
            "SELECT object FROM vector_store_files WHERE vector_store_id = ? AND file_id = ?", (store_id, file_id)
        )
        return json.loads(rows[0][0]) if rows else None

    def list_vector_store_files(self, store_id: str, batch_id: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT object FROM vector_store_files WHERE vector_store_id = ?"
        params: tuple[str, ...] = (store_id,)
        if batch_id is not None:
            sql += " AND batch_id = ?"
            params += (batch_id,)
        return [json.loads(row[0]) for row in self._rows(sql + " ORDER BY seq", params)]

    def files_in_progress(self) -> list[dict[str, Any]]:
        return [
            json.loads(row[0])
            for row in self._rows("SELECT object FROM vector_store_files WHERE status = 'in_progress' ORDER BY seq")
        ]

    def delete_vector_store_file(self, store_id: str, file_id: str) -> bool:
        with self._lock, self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            count = self._conn.execute(
                "DELETE FROM vector_store_files WHERE vector_store_id = ? AND file_id = ?", (store_id, file_id)
            ).rowcount
            self._conn.execute(
                "DELETE FROM vector_store_chunks WHERE vector_store_id = ? AND file_id = ?", (store_id, file_id)
            )
        return count > 0

    def finish_vector_store_file(self, store_file: dict[str, Any], chunks: list[str]) -> bool:
        """Record the outcome of processing, with its chunks, unless the file was removed or cancelled meanwhile."""
        with self._lock, self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            row = self._conn.execute(
                "SELECT status FROM vector_store_files WHERE vector_store_id = ? AND file_id = ?",
                (store_file["vector_store_id"], store_file["id"]),
            ).fetchone()
            if row is None or row[0] != "in_progress":
                return False
            self._conn.execute(
                "UPDATE vector_store_files SET status = ?, object = ? WHERE vector_store_id = ? AND file_id = ?",
                (store_file["status"], json.dumps(store_file), store_file["vector_store_id"], store_file["id"]),
            )
            self._conn.execute(
                "DELETE FROM vector_store_chunks WHERE vector_store_id = ? AND file_id = ?",
                (store_file["vector_store_id"], store_file["id"]),
            )
            self._conn.executemany(
                "INSERT INTO vector_store_chunks (vector_store_id, file_id, position, text) VALUES (?, ?, ?, ?)",
                [
                    (store_file["vector_store_id"], store_file["id"], position, text)
                    for position, text in enumerate(chunks)
                ],
            )
        return True

    def chunks(self, store_id: str) -> list[tuple[str, str]]:
        """(file id, chunk text) of every completed file, in file then chunk order."""
        return self._rows(
            "SELECT c.file_id, c.text FROM vector_store_chunks c JOIN vector_store_files f"
            " ON f.vector_store_id = c.vector_store_id AND f.file_id = c.file_id"
            " WHERE c.vector_store_id = ? AND f.status = 'completed' ORDER BY f.seq, c.position",
            (store_id,),
        )

    def add_file_batch(self, batch_id: str, store_id: str, created_at: int) -> None:
        self._execute(
            "INSERT INTO file_batches (id, vector_store_id, created_at) VALUES (?, ?, ?)",
            (batch_id, store_id, created_at),
        )

    def get_file_batch(self, store_id: str, batch_id: str) -> tuple[int, bool] | None:
        """(created_at, cancelled) of the batch."""
        rows = self._rows(
            "SELECT created_at, cancelled FROM file_batches WHERE id = ? AND vector_store_id = ?", (batch_id, store_id)
        )
        return (rows[0][0], bool(rows[0][1])) if rows else None

    def cancel_file_batch(self, store_id: str, batch_id: str) -> None:
        with self._lock, self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute("UPDATE file_batches SET cancelled = 1 WHERE id = ?", (batch_id,))
            rows = self._conn.execute(
                "SELECT file_id, object FROM vector_store_files WHERE vector_store_id = ? AND batch_id = ?"
                " AND status = 'in_progress'",
                (store_id, batch_id),
            ).fetchall()
            for file_id, raw in rows:
                store_file = {**json.loads(raw), "status": "cancelled"}
                self._conn.execute(
                    "UPDATE vector_store_files SET status = 'cancelled', object = ? WHERE vector_store_id = ?"
                    " AND file_id = ?",
                    (json.dumps(store_file), store_id, file_id),
                )

    # -- containers -------------------------------------------------------------------------------------------

    def container_folder(self, container_id: str) -> Path:
        return self.containers / container_id

    def save_container(self, container: dict[str, Any]) -> None:
        self._execute(
            "INSERT INTO containers (id, created_at, object) VALUES (?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET object = excluded.object",
            (container["id"], container["created_at"], json.dumps(container)),
        )

    def get_container(self, container_id: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT object FROM containers WHERE id = ? AND deleted = 0", (container_id,))
        return json.loads(rows[0][0]) if rows else None

    def list_containers(self) -> list[dict[str, Any]]:
        return [
            json.loads(row[0])
            for row in self._rows("SELECT object FROM containers WHERE deleted = 0 ORDER BY created_at, rowid")
        ]

    def delete_container(self, container_id: str) -> bool:
        return self._execute("UPDATE containers SET deleted = 1 WHERE id = ? AND deleted = 0", (container_id,)) > 0

    def add_container_file(self, file: dict[str, Any], relative_path: str) -> None:
        with self._lock, self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            # A path holds one file: writing it again replaces the old record (the bytes were overwritten).
            self._conn.execute(
                "UPDATE container_files SET deleted = 1 WHERE container_id = ? AND path = ?",
                (file["container_id"], relative_path),
            )
            self._conn.execute(
                "INSERT INTO container_files (id, container_id, created_at, path, object) VALUES (?, ?, ?, ?, ?)",
                (file["id"], file["container_id"], file["created_at"], relative_path, json.dumps(file)),
            )

    def get_container_file(self, container_id: str, file_id: str) -> tuple[dict[str, Any], str] | None:
        rows = self._rows(
            "SELECT object, path FROM container_files WHERE id = ? AND container_id = ? AND deleted = 0",
            (file_id, container_id),
        )
        return (json.loads(rows[0][0]), rows[0][1]) if rows else None

    def list_container_files(self, container_id: str) -> list[dict[str, Any]]:
        return [
            json.loads(row[0])
            for row in self._rows(
                "SELECT object FROM container_files WHERE container_id = ? AND deleted = 0 ORDER BY created_at, rowid",
                (container_id,),
            )
        ]

    def delete_container_file(self, container_id: str, file_id: str) -> bool:
        return (
            self._execute(
                "UPDATE container_files SET deleted = 1 WHERE id = ? AND container_id = ? AND deleted = 0",
                (file_id, container_id),
            )
            > 0
        )


def now() -> int:
    return int(time.time())
