"""A local server for the hosted-tool tests: a small web corpus of its own, small sandbox limits, a small upload
limit, and helpers to upload files and ask questions through the real SDK (strict validation). Its fixtures,
`tool_server` and `tools_client`, are in tests/server/conftest.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openai import OpenAI

from assistant.server.hosted_tools import HostedToolSettings
from assistant.tools import PageCorpus, SandboxLimits

MAX_UPLOAD = 64 * 1024
SANDBOX_LIMITS = SandboxLimits(
    wall_seconds=3, cpu_seconds=1, memory_bytes=512 << 20, file_bytes=4 << 20, output_bytes=10_000, processes=16
)
PAGES = {
    "pathlib.html": "<html><head><title>pathlib — Object-oriented filesystem paths</title>"
    '<link rel="canonical" href="https://docs.python.org/3/library/pathlib.html"></head>'
    "<body><p>Path.glob yields all matching files. Path.rglob searches recursively.</p></body></html>",
    "asyncio.md": "---\nurl: https://docs.python.org/3/library/asyncio-task.html\n---\n# Coroutines and Tasks\n"
    "asyncio.TaskGroup is the latest way to run tasks concurrently and wait for them.\n",
    "zoo.md": "---\nurl: https://zoo.example.org/penguins\n---\n# Penguins\nPenguins cannot fly but swim fast.\n",
}


def write_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in PAGES.items():
        (folder / name).write_text(text)
    return folder


def tool_settings(corpus: Path, **overrides: Any) -> HostedToolSettings:
    settings: dict[str, Any] = {
        "web_search": PageCorpus(corpus),
        "sandbox_limits": SANDBOX_LIMITS,
        "max_upload_bytes": MAX_UPLOAD,
    }
    settings.update(overrides)
    return HostedToolSettings(**settings)


def upload(client: OpenAI, name: str, data: bytes) -> str:
    return client.files.create(file=(name, data), purpose="assistants").id


def vector_store_with(client: OpenAI, files: dict[str, bytes]) -> tuple[str, dict[str, str]]:
    """A vector store holding `files` (name -> bytes), processed; returns its id and name -> file id."""
    ids = {name: upload(client, name, data) for name, data in files.items()}
    store = client.vector_stores.create(name="test", file_ids=list(ids.values()))
    for file_id in ids.values():
        client.vector_stores.files.poll(file_id, vector_store_id=store.id, poll_interval_ms=10)
    return store.id, ids


DOCUMENTS = {
    "paris.txt": b"Paris is the capital of France. It is known for the Eiffel Tower.",
    "berlin.md": b"# Berlin\n\nBerlin is the capital of Germany. The Brandenburg Gate stands there.",
}
