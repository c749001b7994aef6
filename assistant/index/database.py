"""Opening the index file: SQLite settings, the reader and writer engines, and the retry on "database is locked".

Two engines share one file. Readers use plain deferred transactions, so in WAL mode they never wait for a
writer. Writers open with BEGIN IMMEDIATE: the write lock is taken up front and waited for through
busy_timeout, instead of a read transaction failing with SQLITE_BUSY when it upgrades to a write halfway
(the case busy_timeout cannot help). A bounded retry covers what is left, e.g. a lock held past the timeout.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError

from assistant.errors import IndexUnavailable

BUSY_TIMEOUT_MS = 5000
LOCK_RETRIES = 5

T = TypeVar("T")


def _configure(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    # The driver's own implicit transactions are switched off so that SQLAlchemy's "begin" hook below
    # decides how each transaction starts.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys = ON")
    # NORMAL is durable in WAL mode except for the last transactions on power loss; FULL costs an fsync
    # per commit, which would dominate the per-turn overhead.
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


def _engine(path: Path, begin: str) -> Engine:
    engine = create_engine(
        f"sqlite:///{path}",
        connect_args={"check_same_thread": False},
    )
    event.listen(engine, "connect", _configure)

    @event.listens_for(engine, "begin")
    def _begin(connection):  # type: ignore[no-untyped-def]
        connection.exec_driver_sql(begin)

    return engine


def open_engines(path: Path) -> tuple[Engine, Engine]:
    """(reader, writer) engines on the index file at `path`, created with its folder if missing.

    Raises IndexUnavailable with a clear message when the folder or file cannot be written or the file is
    not a SQLite database; the file is never overwritten.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise IndexUnavailable(f"Cannot create the index folder {path.parent}: {exc.strerror}. "
                               "Set ASSISTANT_DB to a writable path.") from exc
    if path.exists() and not _is_sqlite_file(path):
        raise IndexUnavailable(f"The index file {path} is not a SQLite database (corrupt or another kind of "
                               "file). Move it aside or set ASSISTANT_DB to another path; it was not changed.")
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
        raise IndexUnavailable(f"The index file {path} cannot be opened for writing (journal mode {mode}). "
                               "Check its permissions, or set ASSISTANT_DB to a writable path.")
    reader = _engine(path, "BEGIN")
    writer = _engine(path, "BEGIN IMMEDIATE")
    return reader, writer


def _is_sqlite_file(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            header = handle.read(16)
    except OSError as exc:
        raise IndexUnavailable(f"Cannot read the index file {path}: {exc.strerror}.") from exc
    return header in (b"", b"SQLite format 3\x00")


def _unavailable(path: Path, exc: Exception) -> IndexUnavailable:
    text = str(getattr(exc, "orig", exc))
    if "readonly" in text or "unable to open" in text or "read-only" in text:
        return IndexUnavailable(f"The index file {path} is not writable ({text}). Check its permissions, "
                                "or set ASSISTANT_DB to a writable path.")
    return IndexUnavailable(f"The index file {path} cannot be used: {text}. It was not changed; move it aside "
                            "or set ASSISTANT_DB to another path.")


def is_locked(exc: BaseException) -> bool:
    text = str(getattr(exc, "orig", exc)).lower()
    return isinstance(exc, OperationalError) and ("database is locked" in text or "database is busy" in text)


def retry_on_locked(write: Callable[[], T], *, attempts: int = LOCK_RETRIES) -> T:
    """Run a write transaction, retrying a bounded number of times when SQLite reports the file locked."""
    for attempt in range(attempts):
        try:
            return write()
        except OperationalError as exc:
            if not is_locked(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05 * 2**attempt)
    raise AssertionError("unreachable")

