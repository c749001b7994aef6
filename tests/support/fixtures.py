"""The pytest plugin of the suite (loaded by tests/conftest.py): the shared fixtures, and the hooks that run the
library's, index's, CLI's and app's tests with their index on SQLite and again on PostgreSQL
(tests/support/index_backends.py).

The fixtures: a real local server on a loopback port and an Assistant that talks to it through the real openai
SDK with strict validation; a misbehaving provider in front of that server; a server with hosted tools and an
Assistant on it; and the isolation every test gets from the developer's own settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant import Assistant
from assistant.index import store as index_store
from assistant.index.database import open_index
from assistant.server import LocalServer
from tests.server.tools_server import tool_settings, write_corpus
from tests.support import index_backends
from tests.support.index_backends import PostgresSchemas, postgres_server
from tests.support.misbehaving_provider import MisbehavingProvider
from tests.support.tool_threads import ToolServer

TEST_KEY = "sk-test-0123456789abcdef0123456789abcdef"

TESTS = Path(__file__).resolve().parents[1]
BACKENDS = ("sqlite", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only: about the SQLite file itself; runs on SQLite alone")
    config.addinivalue_line("markers", "postgres_only: about PostgreSQL alone; runs on PostgreSQL alone")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """The library's, index's, CLI's and app's tests run on both index backends (index_backends.py). The app's
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
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        yield backend
        return
    schemas = request.getfixturevalue("postgres_schemas")
    index_backends.active_schemas = schemas
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(index_store, "open_index", lambda location: open_index(schemas.url_for(location)))
        try:
            yield backend
        finally:
            index_backends.active_schemas = None


@pytest.fixture
def postgres_url(index_backend: str) -> str:
    """The URL of an empty PostgreSQL database (a schema of its own), for `postgres_only` tests."""
    assert index_backends.active_schemas is not None, "postgres_url is for tests marked postgres_only"
    return index_backends.active_schemas.new_url()


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
    # One server per test module keeps the suite fast (stopping uvicorn costs ~0.2 s); tests never depend on
    # each other's state because every object gets a fresh id.
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


@pytest.fixture
def reference_assistant(server: LocalServer, tmp_path: Path) -> Iterator[Assistant]:
    """`assistant` with the reference engine's own model id, whose function-calling rules the turn tests use."""
    with Assistant(
        base_url=server.base_url,
        api_key=TEST_KEY,
        db_path=tmp_path / "index.db",
        max_retries=0,
        strict_validation=True,
        model="reference",
    ) as instance:
        yield instance


@pytest.fixture(scope="module")
def tool_server_with_corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ToolServer]:
    """A local server with hosted tools (its own small web corpus and small sandbox limits), for thread-level
    tests of both backends."""
    root = tmp_path_factory.mktemp("tool-threads")
    corpus = write_corpus(root / "corpus")
    with LocalServer(db_path=root / "server.db", tool_settings=tool_settings(corpus)) as server:
        yield ToolServer(server, corpus)


@pytest.fixture
def tool_assistant(
    tool_server_with_corpus: ToolServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Assistant]:
    """An Assistant on the tool server (real SDK, strict validation) whose Chat fallback searches the same corpus
    (ASSISTANT_WEB_CORPUS) when it runs the tools on the client."""
    monkeypatch.setenv("ASSISTANT_WEB_CORPUS", str(tool_server_with_corpus.corpus))
    with Assistant(
        base_url=tool_server_with_corpus.server.base_url,
        api_key=TEST_KEY,
        db_path=tmp_path / "index.db",
        max_retries=0,
        strict_validation=True,
    ) as instance:
        yield instance
