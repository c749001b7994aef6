"""The index on a PostgreSQL server, when ASSISTANT_DB is a `postgresql://` URL: one index a team shares.

The store's SQL and the named migrations are the same as on SQLite (migrations.py translates the few column types
that differ, and builds the full-text index from PostgreSQL's own text search); this module is the connection:

- One psycopg connection per process, in autocommit mode, shared by its threads under a lock, like the SQLite
  connection: a reader never holds a transaction open, and each write is one explicit short transaction.
- The store writes `:name` parameters (sqlite3's style); each SQL text is turned into psycopg's `%(name)s` once.
- Writers on one thread take turns on the thread's row (the store updates it first), where SQLite takes a lock
  on the whole file; deadlocks, serialization failures and lock timeouts are retried a bounded number of times.
- Errors that stop the index from opening are one line (IndexUnavailable) that shows the URL without its password.
- psycopg is optional (`pip install 'assistant[postgres]'`): it is imported only when a URL is opened.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from assistant.errors import IndexUnavailable

if TYPE_CHECKING:
    import psycopg

    from assistant.index.database import Statement

T = TypeVar("T")

URL_SCHEMES = ("postgresql://", "postgres://")
CONFLICT_RETRIES = 5
# Waiting for another writer's row lock is bounded like SQLite's busy_timeout; past it the write is retried.
LOCK_TIMEOUT = "5s"
CONNECT_TIMEOUT_S = 10
# Every migration transaction holds this lock (a transaction-scoped advisory lock, any number unique to this
# application): two processes opening a new index at once apply each migration once, one after the other.
MIGRATION_LOCK = 7_236_018_113_990_012_021
# SQLSTATEs worth running the transaction again for: serialization_failure, deadlock_detected, lock_not_available.
RETRIED = frozenset({"40001", "40P01", "55P03"})


def is_postgres_url(location: object) -> bool:
    return isinstance(location, str) and location.startswith(URL_SCHEMES)


def masked_url(url: str) -> str:
    """The URL for display: the password (in the user part or a `password=` parameter) replaced by ***."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            user, _, host = netloc.rpartition("@")
            if ":" in user:
                user = user.split(":", 1)[0] + ":***"
            netloc = f"{user}@{host}"
        query = urlencode(
            [
                (key, "***" if key == "password" else value)
                for key, value in parse_qsl(parts.query, keep_blank_values=True)
            ],
            safe="*/:=,",
        )
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:  # not parseable as a URL at all: show nothing of it that could be the password
        return url.split("://", 1)[0] + "://***"


@cache
def pyformat(sql: str) -> str:
    """`sql` with sqlite3-style `:name` parameters as psycopg's `%(name)s`. A literal `%` is doubled (psycopg
    reads every `%`); quoted literals and `::` casts are left alone."""

    def part(match: re.Match[str]) -> str:
        text = match.group(0)
        if match.group(1):
            return f"%({match.group(1)})s"
        return text.replace("%", "%%")

    return _SQL_PARTS.sub(part, sql)


_SQL_PARTS = re.compile(r"'(?:[^']|'')*'|::|(?<![\w:]):(\w+)|%")


class PostgresConnection:
    """The index's connection to its PostgreSQL database for one process: the same `run`/`rows`/`close` as the
    SQLite connection (database.IndexConnection), so the store does not know which it has."""

    dialect = "postgresql"
    read_only = False  # a PostgreSQL index is always opened for writing

    def __init__(self, url: str) -> None:
        self.url = url
        self.where = masked_url(url)
        self._connection = connect(url)
        self._lock = threading.Lock()

    def _live(self) -> psycopg.Connection[Any]:
        # A server restart or a dropped network connection costs the statement in flight (it is not retried:
        # a COMMIT may have reached the server), not the rest of the session.
        if self._connection.closed or self._connection.broken:
            self._connection = connect(self.url)
        return self._connection

    def run(self, statements: Sequence[Statement]) -> list[list[tuple[Any, ...]]]:
        """Run (sql, parameters) pairs in one transaction; a list of parameter sets runs the statement once per
        set. Returns each statement's rows (for RETURNING)."""

        def transaction() -> list[list[tuple[Any, ...]]]:
            with self._lock:
                connection = self._live()
                # Pipeline mode: the transaction's statements go to the server together and their results come
                # back together, one network round trip where one per statement would dominate a turn's cost.
                with connection.pipeline(), connection.transaction():
                    cursors = []
                    for sql, parameters in statements:
                        cursor = connection.cursor()
                        if isinstance(parameters, Mapping):
                            cursor.execute(pyformat(sql), parameters)
                        else:
                            cursor.executemany(pyformat(sql), parameters)
                        cursors.append(cursor)
                return [cursor.fetchall() if cursor.description else [] for cursor in cursors]

        return retry_on_conflict(transaction)

    def check_writable(self) -> None:
        """Always writable (the server refuses a write it does not allow, with its own error)."""

    def rows(self, sql: str, parameters: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Rows of one query as dicts (TIMESTAMPTZ and BOOLEAN read back as aware UTC datetimes and bools)."""
        from psycopg.rows import dict_row

        with self._lock, self._live().cursor(row_factory=dict_row) as cursor:
            cursor.execute(pyformat(sql), parameters)
            return cursor.fetchall()

    def close(self) -> None:
        with self._lock:
            self._connection.close()


def retry_on_conflict(write: Callable[[], T], *, attempts: int = CONFLICT_RETRIES) -> T:
    """Run a write transaction, again a bounded number of times when PostgreSQL gives it up for a deadlock, a
    serialization failure or a lock wait that timed out (the transaction was rolled back: running it again is
    safe)."""
    import psycopg

    for attempt in range(attempts):
        try:
            return write()
        except psycopg.Error as exc:
            if exc.sqlstate not in RETRIED or attempt == attempts - 1:
                raise
            time.sleep(0.05 * 2**attempt)
    raise AssertionError("unreachable")


def connect(url: str, *, autocommit: bool = True) -> psycopg.Connection[Any]:
    """A connection with the index's session settings: times in UTC (TIMESTAMPTZ reads back as UTC datetimes,
    as SQLite's do) and bounded lock waits. Raises IndexUnavailable, password never shown."""
    try:
        import psycopg
    except ImportError as exc:
        raise IndexUnavailable(
            "ASSISTANT_DB is a PostgreSQL URL but psycopg is not installed: pip install 'assistant[postgres]'."
        ) from exc
    try:
        options = psycopg.conninfo.conninfo_to_dict(url)
        options.setdefault("connect_timeout", CONNECT_TIMEOUT_S)
        options.setdefault("application_name", "assistant")
        connection = psycopg.connect(**options, autocommit=autocommit)  # type: ignore[arg-type]
    except psycopg.Error as exc:
        raise unavailable(url, exc) from exc
    # Strings go as `text`, not psycopg's default "unknown" type: a parameter used twice in one statement (as
    # the thread id in the new turn's row and in its seq subquery) must have one type in both places.
    connection.adapters.register_dumper(str, psycopg.types.string.StrDumper)
    try:
        connection.execute(f"SET TIME ZONE 'UTC'; SET lock_timeout = '{LOCK_TIMEOUT}'")
        if not autocommit:
            connection.commit()
    except psycopg.Error as exc:
        connection.close()
        raise unavailable(url, exc) from exc
    return connection


def unavailable(url: str, exc: BaseException) -> IndexUnavailable:
    """One line that says what is wrong with the PostgreSQL index and what to do, without the password."""
    reason = _reason(url, exc)
    where = masked_url(url)
    sqlstate = getattr(exc, "sqlstate", None) or ""
    if sqlstate.startswith("28") or "authentication failed" in reason or "no password supplied" in reason:
        return IndexUnavailable(
            f"PostgreSQL refused the login to the index at {where}: {reason}. "
            "Check the user and password in ASSISTANT_DB."
        )
    if type(exc).__name__ == "ProgrammingError" and not sqlstate:
        return IndexUnavailable(f"ASSISTANT_DB is not a valid PostgreSQL URL ({where}): {reason}.")
    if not sqlstate or sqlstate.startswith("08") or sqlstate == "3D000":
        return IndexUnavailable(
            f"Cannot reach the PostgreSQL index at {where}: {reason}. Check that the server "
            "is running and that ASSISTANT_DB names it."
        )
    return IndexUnavailable(f"The PostgreSQL index at {where} cannot be used: {reason}. It was not changed.")


def _reason(url: str, exc: BaseException) -> str:
    text = str(getattr(exc, "orig", exc))
    text = re.sub(r"^connection failed:\s*", "", text.strip())
    text = re.sub(r"\bFATAL:\s+", "", text)
    text = " ".join(text.split()).rstrip(".")
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    for secret in filter(None, [password, *re.findall(r"password=([^&\s]+)", url)]):
        text = text.replace(secret, "***")
    return text


def open_postgres_index(url: str) -> PostgresConnection:
    """Open the PostgreSQL index at `url`, migrated to this version's schema (the same named migrations as a
    SQLite file, in the same `_migrations` table, so an index from a newer version is refused the same way)."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.pool import NullPool

    from assistant.index.migrations import migrate

    connect(url).close()  # the clear error for a wrong URL, an unreachable server or a refused login comes first
    migrator = create_engine(
        "postgresql+psycopg://", creator=lambda: connect(url, autocommit=False), poolclass=NullPool
    )
    event.listen(
        migrator,
        "begin",
        lambda connection: connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"),
    )
    try:
        migrate(migrator, masked_url(url))
    except DBAPIError as exc:
        raise unavailable(url, exc) from exc
    finally:
        migrator.dispose()
    return PostgresConnection(url)
