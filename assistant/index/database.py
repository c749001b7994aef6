"""Opening the index file: checks, SQLite settings, migrations, and the one connection a process uses.

- WAL mode, so readers (another process's, or the app's while a script writes) never wait for a writer.
- Writes open with BEGIN IMMEDIATE: the write lock is taken up front and waited for through busy_timeout,
  instead of a read transaction failing with SQLITE_BUSY when it upgrades to a write halfway (the one case
  busy_timeout cannot help). A bounded retry on "database is locked" covers what is left.
- The schema is made by SQLAlchemy-run named migrations (migrations.py). Day-to-day reads and writes go straight
  through sqlite3: a turn's handful of statements is on the hot path of every answer, and through SQLAlchemy each
  cost about three times what SQLite takes to do it (bench/overhead.py).

A `postgresql://` URL in place of the file opens the index on a PostgreSQL server instead (postgres.py), behind
the same small interface (`run`, `rows`, `close`).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, event

from assistant.errors import IndexUnavailable
from assistant.index.migrations import MIGRATIONS, migrate
from assistant.index.postgres import PostgresConnection, is_postgres_url, open_postgres_index
from assistant.index.sql import BOOLEAN_COLUMNS, DATETIME_COLUMNS
from assistant.private_files import create_private_file, make_private_folder

BUSY_TIMEOUT_MS = 5000
LOCK_RETRIES = 5

T = TypeVar("T")
Statement = tuple[str, Mapping[str, Any] | Sequence[Mapping[str, Any]]]


def _configure(connection: sqlite3.Connection, _record: object = None) -> None:
    # The driver's own implicit transactions are off: every transaction here says how it starts.
    connection.isolation_level = None
    connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    connection.execute("PRAGMA foreign_keys = ON")
    # NORMAL is durable in WAL mode except for the last transactions on power loss; FULL costs an fsync
    # per commit, which would dominate the per-turn cost.
    connection.execute("PRAGMA synchronous = NORMAL")


class IndexConnection:
    """The index file's connection for one process, shared by its threads under a lock (each statement takes
    microseconds; the lock only keeps transactions from interleaving)."""

    dialect = "sqlite"

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.where = str(path)  # for messages
        self.read_only = read_only
        self._connection = sqlite3.connect(
            _read_only_uri(path) if read_only else path, uri=read_only, isolation_level=None, check_same_thread=False
        )
        _configure(self._connection)
        self._lock = threading.Lock()

    def run(self, statements: Sequence[Statement]) -> list[list[tuple[Any, ...]]]:
        """Run (sql, parameters) pairs in one BEGIN IMMEDIATE transaction; a list of parameter sets runs the
        statement once per set. Returns each statement's rows (for RETURNING)."""
        self.check_writable()

        def transaction() -> list[list[tuple[Any, ...]]]:
            with self._lock:
                connection = self._connection
                connection.execute("BEGIN IMMEDIATE")
                try:
                    results = []
                    for sql, parameters in statements:
                        if isinstance(parameters, Mapping):
                            results.append(connection.execute(sql, _stored(parameters)).fetchall())
                        else:
                            connection.executemany(sql, [_stored(each) for each in parameters])
                            results.append([])
                    connection.execute("COMMIT")
                    return results
                except BaseException:
                    connection.execute("ROLLBACK")
                    raise

        return retry_on_locked(transaction)

    def check_writable(self) -> None:
        """Raise IndexUnavailable, saying what to do, when nothing can be recorded in this index."""
        if self.read_only:
            raise IndexUnavailable(
                f"The index file {self.where} is on a read-only file system: it can be read "
                "but nothing can be recorded. Set ASSISTANT_DB to a path on a writable disk "
                "(a copy of the file) to go on; nothing was changed."
            )

    def rows(self, sql: str, parameters: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Rows of one query as dicts, datetimes and booleans read back as such."""
        with self._lock:
            cursor = self._connection.execute(sql, parameters)
            names = [description[0] for description in cursor.description]
            return [_loaded(dict(zip(names, row, strict=True))) for row in cursor.fetchall()]

    @property
    def sqlite(self) -> sqlite3.Connection:
        """The raw connection, for checks of its settings."""
        return self._connection

    def close(self) -> None:
        with self._lock:
            self._connection.close()


def _stored(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Values in the form SQLAlchemy stores them in SQLite (migrations and any SQLAlchemy reader agree):
    UTC datetimes as naive ISO text with microseconds."""
    return {
        key: value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, datetime) else value
        for key, value in parameters.items()
    }


def _loaded(row: dict[str, Any]) -> dict[str, Any]:
    for key, value in row.items():
        if key in DATETIME_COLUMNS and isinstance(value, str):
            row[key] = datetime.fromisoformat(value).replace(tzinfo=UTC)
        elif key in BOOLEAN_COLUMNS and value is not None:
            row[key] = bool(value)
    return row


# What the store reads and writes through: a SQLite file's connection or a PostgreSQL database's.
Connection = IndexConnection | PostgresConnection


def open_index(location: Path | str) -> Connection:
    """Open the index: a SQLite file, or a PostgreSQL database when `location` is a `postgresql://` URL."""
    if is_postgres_url(location):
        return open_postgres_index(str(location))
    return open_sqlite_index(Path(location))


def open_sqlite_index(path: Path) -> IndexConnection:
    """Open the index file at `path`, created with its folder if missing, migrated to this version's schema.

    Raises IndexUnavailable with a clear message when the folder or file cannot be written, the file is not a
    SQLite database, or it was written by a newer version; the file is never overwritten.
    """
    try:
        make_private_folder(path.parent)
    except OSError as exc:
        raise IndexUnavailable(
            f"Cannot create the index folder {path.parent}: {exc.strerror}. Set ASSISTANT_DB to a writable path."
        ) from exc
    if path.exists() and not _is_sqlite_file(path):
        raise IndexUnavailable(
            f"The index file {path} is not a SQLite database (corrupt or another kind of "
            "file). Move it aside or set ASSISTANT_DB to another path; it was not changed."
        )
    if path.exists() and _on_read_only_file_system(path):
        return _open_read_only(path)
    with contextlib.suppress(OSError):  # opening it below fails too, and says why
        create_private_file(path)  # 0600, and so its -wal and -shm files
    try:
        connection = sqlite3.connect(path)
        try:
            mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()  # fails if the file is corrupt
        finally:
            connection.close()
    except sqlite3.Error as exc:
        raise _unavailable(path, exc) from exc
    if mode != "wal":
        # A read-only folder cannot hold the -wal file; say so rather than fail later on the first write.
        raise IndexUnavailable(
            f"The index file {path} cannot be opened for writing (journal mode {mode}). "
            "Check its permissions, or set ASSISTANT_DB to a writable path."
        )
    migrator = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False})
    event.listen(migrator, "connect", _configure)
    # Every migration takes the write lock up front, like any other write.
    event.listen(migrator, "begin", lambda connection: connection.exec_driver_sql("BEGIN IMMEDIATE"))
    try:
        migrate(migrator, str(path))
    finally:
        migrator.dispose()
    return IndexConnection(path)


def _open_read_only(path: Path) -> IndexConnection:
    """An existing index on a read-only file system (a mounted backup, a read-only share): opened for reading
    only, without migrations or the sweep of interrupted turns; every write is refused with one clear line."""
    connection: IndexConnection | None = None
    try:
        connection = IndexConnection(path, read_only=True)
        names = [row["name"] for row in connection.rows("SELECT name FROM _migrations ORDER BY rowid", {})]
    except sqlite3.Error as exc:
        if connection is not None:
            connection.close()
        raise IndexUnavailable(
            f"The index file {path} is on a read-only file system and cannot be read there "
            f"({exc}). Copy it to a writable disk and set ASSISTANT_DB to the copy; it was not "
            "changed."
        ) from exc
    known = [name for name, _ in MIGRATIONS]
    unknown = [name for name in names if name not in known]
    missing = [name for name in known if name not in names]
    if unknown or missing:
        connection.close()
        why = (
            f"was written by a newer version of assistant (it has migration {unknown[-1]!r}); upgrade assistant"
            if unknown
            else f"needs upgrading to this version (migration {missing[0]!r}), which cannot be "
            "written there; copy it to a writable disk"
        )
        raise IndexUnavailable(
            f"The index file {path} is on a read-only file system and {why}, or set "
            "ASSISTANT_DB to another path. It was not changed."
        )
    return connection


def _read_only_uri(path: Path) -> str:
    # SQLite reads a WAL-mode file on a read-only disk only as `immutable` (it cannot make the -shm file it
    # would otherwise need), unless a -wal and -shm were left there, by a writer that did not close, in which
    # case the plain read-only mode uses them and sees what the -wal holds.
    left_over = path.with_name(path.name + "-wal").exists() and path.with_name(path.name + "-shm").exists()
    return f"{path.absolute().as_uri()}?{'mode=ro' if left_over else 'immutable=1'}"


def _is_sqlite_file(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            header = handle.read(16)
    except OSError as exc:
        raise IndexUnavailable(f"Cannot read the index file {path}: {exc.strerror}.") from exc
    return header in (b"", b"SQLite format 3\x00")


def _unavailable(path: Path, exc: Exception) -> IndexUnavailable:
    text = str(getattr(exc, "orig", exc))
    if _on_read_only_file_system(path):
        return IndexUnavailable(
            f"The index file {path} is on a read-only file system, where a new index cannot "
            "be made. Set ASSISTANT_DB to a path on a writable disk; nothing was changed."
        )
    if "readonly" in text or "unable to open" in text or "read-only" in text:
        return IndexUnavailable(
            f"The index file {path} is not writable ({text}). Check its permissions, "
            "or set ASSISTANT_DB to a writable path."
        )
    return IndexUnavailable(
        f"The index file {path} cannot be used: {text}. It was not changed; move it aside "
        "or set ASSISTANT_DB to another path."
    )


def _on_read_only_file_system(path: Path) -> bool:
    try:
        return bool(os.statvfs(path.parent).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def is_locked(exc: BaseException) -> bool:
    text = str(getattr(exc, "orig", exc)).lower()
    return "database is locked" in text or "database is busy" in text


def retry_on_locked(write: Callable[[], T], *, attempts: int = LOCK_RETRIES) -> T:
    """Run a write transaction, retrying a bounded number of times when SQLite reports the file locked."""
    for attempt in range(attempts):
        try:
            return write()
        except sqlite3.OperationalError as exc:
            if not is_locked(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05 * 2**attempt)
    raise AssertionError("unreachable")
