"""What thread-level tests of hosted tools share: the tool server the `tool_server_with_corpus` fixture
(tests/support/fixtures.py) yields, and the documents they upload to a thread."""

from __future__ import annotations

from pathlib import Path

from assistant import Assistant
from assistant.server import LocalServer
from tests.server.tools_server import DOCUMENTS


class ToolServer:
    def __init__(self, server: LocalServer, corpus: Path) -> None:
        self.server = server
        self.corpus = corpus


def add_documents(assistant: Assistant, thread_id: str, folder: Path) -> dict[str, str]:
    """Upload DOCUMENTS to the thread's vector store; returns file name -> file id."""
    paths = []
    for name, data in DOCUMENTS.items():
        (folder / name).write_bytes(data)
        paths.append(folder / name)
    outcomes = assistant.files.add(thread_id, paths)
    assert [outcome.status for outcome in outcomes] == ["completed"] * len(paths)
    return {Path(outcome.path).name: outcome.file_id for outcome in outcomes}
