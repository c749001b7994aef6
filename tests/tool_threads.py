"""A local server with hosted tools (its own small web corpus and small sandbox limits) for thread-level tests of
both backends, and an Assistant on it (real SDK, strict validation) whose Chat fallback searches the same corpus
(ASSISTANT_WEB_CORPUS) when it runs the tools on the client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant import Assistant
from assistant.server import LocalServer

from .conftest import TEST_KEY
from .server.tools_server import DOCUMENTS, tool_settings, write_corpus

__all__ = ["DOCUMENTS", "ToolServer", "tool_assistant", "tool_server_with_corpus"]


class ToolServer:
    def __init__(self, server: LocalServer, corpus: Path) -> None:
        self.server = server
        self.corpus = corpus


@pytest.fixture(scope="module")
def tool_server_with_corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ToolServer]:
    root = tmp_path_factory.mktemp("tool-threads")
    corpus = write_corpus(root / "corpus")
    with LocalServer(db_path=root / "server.db", tool_settings=tool_settings(corpus)) as server:
        yield ToolServer(server, corpus)


@pytest.fixture
def tool_assistant(
    tool_server_with_corpus: ToolServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Assistant]:
    monkeypatch.setenv("ASSISTANT_WEB_CORPUS", str(tool_server_with_corpus.corpus))
    with Assistant(
        base_url=tool_server_with_corpus.server.base_url,
        api_key=TEST_KEY,
        db_path=tmp_path / "index.db",
        max_retries=0,
        strict_validation=True,
    ) as instance:
        yield instance


def add_documents(assistant: Assistant, thread_id: str, folder: Path) -> dict[str, str]:
    """Upload DOCUMENTS to the thread's vector store; returns file name -> file id."""
    paths = []
    for name, data in DOCUMENTS.items():
        (folder / name).write_bytes(data)
        paths.append(folder / name)
    outcomes = assistant.files.add(thread_id, paths)
    assert [outcome.status for outcome in outcomes] == ["completed"] * len(paths)
    return {Path(outcome.path).name: outcome.file_id for outcome in outcomes}
