"""Fixtures shared by the library, index and CLI tests: a real local server on a loopback port and an
Assistant that talks to it through the real openai SDK with strict validation."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant import Assistant
from assistant.local import LocalServer

TEST_KEY = "sk-test-0123456789abcdef0123456789abcdef"


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never read the developer's real key, base URL, index or .env."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ASSISTANT_MODEL", "ASSISTANT_DB"):
        monkeypatch.delenv(name, raising=False)
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
def assistant(server: LocalServer, tmp_path: Path) -> Iterator[Assistant]:
    with Assistant(base_url=server.base_url, api_key=TEST_KEY, db_path=tmp_path / "index.db", max_retries=0,
                   strict_validation=True) as instance:
        yield instance


def environment(**values: str) -> dict[str, str]:
    """os.environ without ambient OpenAI settings, with the reference engine, plus `values` (for subprocesses)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ASSISTANT_"))}
    env["ASSISTANT_LOCAL_ENGINE"] = "reference"  # deterministic answers from the embedded server
    env.update(values)
    return env
