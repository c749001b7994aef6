"""Fixtures shared by the library, index and CLI tests: a real local server on a loopback port and an
Assistant that talks to it through the real openai SDK with strict validation.

Each test of the library, index, CLI and app runs with its index on SQLite and again on PostgreSQL
(tests/postgres_index.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant import Assistant
from assistant.index import store as index_store
from assistant.index.database import open_index
from assistant.server import LocalServer
from tests.misbehaving_provider import MisbehavingProvider
from tests.postgres_index import PostgresSchemas, postgres_server

TEST_KEY = "sk-test-0123456789abcdef0123456789abcdef"


TESTS = Path(__file__).resolve().parent
BACKENDS = ("sqlite", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only: about the SQLite file itself; runs on SQLite alone")
    config.addinivalue_line("markers", "postgres_only: about PostgreSQL alone; runs on PostgreSQL alone")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """The library's, index's, CLI's and app's tests run on both index backends (postgres_index.py). The app's
    snapshots are pictures, the same whatever holds the index (and named by the test), and the server's, tools'
    and fuzz tests have no index of their own to speak of: those keep theirs on SQLite."""
    if "index_backend" not in metafunc.fixturenames or "snap_compare" in metafunc.fixturenames:
        return
    if metafunc.definition.path.parent not in (TESTS, TESTS / "tui"):
        return
    if metafunc.definition.get_closest_marker("sqlite_only"):
        backends: tuple[str, ...] = ("sqlite",)
    elif metafunc.definition.get_closest_marker("postgres_only"):
        backends = ("postgresql",)
    else:
        backends = BACKENDS
    metafunc.parametrize("index_backend", backends, indirect=True)


_postgres_schemas: PostgresSchemas | None = None  # while a test runs on PostgreSQL


@pytest.fixture(scope="session")
def postgres_schemas() -> Iterator[PostgresSchemas]:
    with postgres_server() as url:
        schemas = PostgresSchemas(url)
        yield schemas
        schemas.drop()


@pytest.fixture(autouse=True)
def index_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """On the `[postgresql]` run of a test, every index it opens by file path opens in a fresh schema of the
    test server instead."""
    global _postgres_schemas
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        yield backend
        return
    schemas = request.getfixturevalue("postgres_schemas")
    _postgres_schemas = schemas
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(index_store, "open_index", lambda location: open_index(schemas.url_for(location)))
        try:
            yield backend
        finally:
            _postgres_schemas = None


@pytest.fixture
def postgres_url(index_backend: str) -> str:
    """The URL of an empty PostgreSQL database (a schema of its own), for `postgres_only` tests."""
    assert _postgres_schemas is not None, "postgres_url is for tests marked postgres_only"
    return _postgres_schemas.new_url()


@pytest.fixture(scope="session")
def cache_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cache folder of the whole run: what is cached (the pydoc web search corpus) is built at most once."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cache_home: Path) -> None:
    """Tests never read the developer's real key, base URL, index, web corpus, cache folder or .env."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ASSISTANT_MODEL", "ASSISTANT_DB", "ASSISTANT_WEB_CORPUS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_home))  # passed on to subprocesses by environment()
    # The embedded server answers with the deterministic reference engine, whether or not llama is installed.
    monkeypatch.setenv("ASSISTANT_LOCAL_ENGINE", "reference")
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    with LocalServer(db_path=tmp_path_factory.mktemp("server") / "server.db") as server:
        yield server


@pytest.fixture
def server(local_server: LocalServer) -> Iterator[LocalServer]:
    yield local_server
    local_server.clear_faults()


@pytest.fixture
def provider(server: LocalServer) -> Iterator[MisbehavingProvider]:
    """A misbehaving provider in front of the test server (it forwards until told to misbehave)."""
    with MisbehavingProvider(server.base_url) as provider:
        yield provider


@pytest.fixture
def assistant(server: LocalServer, tmp_path: Path) -> Iterator[Assistant]:
    with Assistant(
        base_url=server.base_url, api_key=TEST_KEY, db_path=tmp_path / "index.db", max_retries=0, strict_validation=True
    ) as instance:
        yield instance


def environment(**values: str) -> dict[str, str]:
    """os.environ without ambient OpenAI settings, with the reference engine, plus `values` (for subprocesses)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ASSISTANT_"))}
    env["ASSISTANT_LOCAL_ENGINE"] = "reference"  # deterministic answers from the embedded server
    env.update(values)
    if _postgres_schemas is not None and "ASSISTANT_DB" in values:
        # The subprocess opens the same PostgreSQL schema the test does; what goes beside the index goes to its
        # data folder, kept inside the test's folder.
        env["ASSISTANT_DB"] = str(index_location(Path(values["ASSISTANT_DB"])))
        env["XDG_DATA_HOME"] = str(Path(values["ASSISTANT_DB"]).parent)
    return env


def index_location(path: Path) -> Path | str:
    """Where the index a test keeps at `path` really is, for handing to a subprocess: the file, or on the
    PostgreSQL pass the URL of its schema."""
    return path if _postgres_schemas is None else _postgres_schemas.url_for(path)


def beside_index(path: Path) -> Path:
    """The folder a subprocess given `environment(ASSISTANT_DB=path)` keeps the embedded server's state and
    downloads in: beside the index file, or on the PostgreSQL pass the data folder of that environment."""
    return path.parent if _postgres_schemas is None else path.parent / "assistant"
