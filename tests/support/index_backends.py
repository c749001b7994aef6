"""The index's tests on PostgreSQL. Every test in tests/test_*.py and tests/tui/ (but the snapshots) runs twice,
`[sqlite]` and `[postgresql]` (tests/support/fixtures.py); on the second run every index it opens by file path is
opened on a PostgreSQL server instead, each file in a fresh schema of its own. Only the location is mapped: the
store, its SQL and the migrations run for real on PostgreSQL. Tests about the SQLite file itself are marked
`sqlite_only`, those about PostgreSQL alone `postgres_only`.

The server: ASSISTANT_TEST_POSTGRES, a URL, when set; otherwise a throwaway one that
scripts/start-test-postgres.sh starts from the machine's PostgreSQL binaries (Debian's `postgresql` package,
which .ci/run installs when missing) on a free loopback port, stopped and removed when the tests end.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

TEST_POSTGRES = os.environ.get("ASSISTANT_TEST_POSTGRES", "").strip() or None
START_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "start-test-postgres.sh"


@contextmanager
def postgres_server() -> Iterator[str]:
    """The URL of a PostgreSQL server for the tests, for as long as the context lasts."""
    if TEST_POSTGRES:
        yield TEST_POSTGRES
        return
    folder = tempfile.mkdtemp(prefix="assistant-test-postgres-")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "TEST_POSTGRES_DIR": folder, "TEST_POSTGRES_PORT": str(port)}
    try:
        started = subprocess.run(["bash", str(START_SCRIPT)], env=env, capture_output=True, text=True, timeout=120)
        if started.returncode != 0:
            raise RuntimeError(
                f"Could not start a PostgreSQL server for the index's tests ({started.stderr.strip()[-500:]}). "
                "Install Debian's `postgresql` package, or set ASSISTANT_TEST_POSTGRES to a server's URL."
            )
        yield started.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run(["bash", str(START_SCRIPT), "stop"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


def schema_url(url: str, schema: str) -> str:
    """`url` with `schema` first on the search path: the index's tables are made and found there."""
    return f"{url}{'&' if '?' in url else '?'}options={quote(f'-c search_path={schema}')}"


class PostgresSchemas:
    """One fresh schema per index file path, made on first use and dropped at the end."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.url = url
        self._admin = psycopg.connect(url, autocommit=True)
        self._urls: dict[Path, str] = {}
        self._prefix = f"test_{os.getpid()}_{secrets.token_hex(3)}"

    def url_for(self, location: Path | str) -> Path | str:
        """The URL standing in for the index file `location` (a URL given as such is left alone)."""
        if isinstance(location, str) and "://" in location:
            return location
        path = Path(location).resolve()
        if path not in self._urls:
            schema = f"{self._prefix}_{len(self._urls)}"
            self._admin.execute(f"CREATE SCHEMA {schema}")
            self._urls[path] = schema_url(self.url, schema)
        return self._urls[path]

    def new_url(self) -> str:
        """A URL of an empty schema of its own, for tests that want a PostgreSQL index by URL."""
        url = self.url_for(Path(f"/nonexistent/{secrets.token_hex(8)}.db"))
        assert isinstance(url, str)
        return url

    def drop(self) -> None:
        for number in range(len(self._urls)):
            self._admin.execute(f"DROP SCHEMA IF EXISTS {self._prefix}_{number} CASCADE")
        self._admin.close()


# The schemas of the PostgreSQL server while a test runs on PostgreSQL (set by the index_backend fixture).
active_schemas: PostgresSchemas | None = None


def index_location(path: Path) -> Path | str:
    """Where the index a test keeps at `path` really is, for handing to a subprocess: the file, or on the
    PostgreSQL pass the URL of its schema."""
    return path if active_schemas is None else active_schemas.url_for(path)


def beside_index(path: Path) -> Path:
    """The folder a subprocess given `environment(ASSISTANT_DB=path)` keeps the embedded server's state and
    downloads in: beside the index file, or on the PostgreSQL pass the data folder of that environment."""
    return path.parent if active_schemas is None else path.parent / "assistant"
