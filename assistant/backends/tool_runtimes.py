"""The runtimes the Chat fallback runs hosted tools on, on the client: the same ones the local server uses.

- file search: BM25 over chunks of the index's local copies of the thread's files (`TurnRequest.local_files`);
- code interpreter: one persistent sandboxed Python process per thread, working in `<folder>/<thread id>`
  (seen by the code as /mnt/data), so variables and files survive between turns as in an auto container;
- web search: the configured provider (`ASSISTANT_WEB_CORPUS`, else python3-doc, else Python's own pydoc
  documentation), or one given explicitly.

One `LocalToolRuntimes` lives as long as the Assistant: the sandboxes and the file index must outlast a turn.
Nothing here knows about HTTP, the index or events.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

from assistant.backends.backend import LocalFile
from assistant.private_files import make_private_folder
from assistant.tools import (
    ExecutionResult,
    FileSearchIndex,
    FileSearchResult,
    PythonSandbox,
    SandboxLimits,
    ToolError,
    WebResult,
    WebSearchProvider,
    chunk_document,
    default_web_search_provider,
    extract_text,
)

logger = logging.getLogger(__name__)

LOCAL_CONTAINER_PREFIX = "local_"  # container ids of local sandboxes, so nobody mistakes them for a server's


class LocalToolRuntimes:
    def __init__(
        self,
        containers_folder: Path,
        *,
        web_search: WebSearchProvider | None = None,
        sandbox_limits: SandboxLimits = SandboxLimits(),  # noqa: B008 (a frozen dataclass: one shared default is safe)
    ) -> None:
        self.containers_folder = Path(containers_folder)
        self.sandbox_limits = sandbox_limits
        self._web_search = web_search
        self._sandboxes: dict[str, PythonSandbox] = {}
        self._file_index: tuple[tuple[tuple[str, str], ...], FileSearchIndex] | None = None
        self._lock = threading.Lock()

    # web search

    @property
    def web_search_provider(self) -> WebSearchProvider:
        with self._lock:
            if self._web_search is None:
                self._web_search = default_web_search_provider()
            return self._web_search

    def web_search(self, query: str, *, max_results: int, allowed_domains: Sequence[str] = ()) -> list[WebResult]:
        """Raises ToolError when no provider is configured or the search cannot be done."""
        return self.web_search_provider.search(query, max_results=max_results, allowed_domains=allowed_domains)

    # file search

    def file_search(
        self, files: Sequence[LocalFile], queries: Sequence[str], *, max_results: int
    ) -> list[FileSearchResult]:
        """Best chunks over every query, one entry per (file, chunk) with its best score, best first."""
        index = self._index_of(files)
        best: dict[tuple[str, str], FileSearchResult] = {}
        for query in queries:
            for hit in index.search(query, max_results):
                key = (hit.file_id, hit.text)
                if key not in best or best[key].score < hit.score:
                    best[key] = hit
        return sorted(best.values(), key=lambda hit: -hit.score)[:max_results]

    def _index_of(self, files: Sequence[LocalFile]) -> FileSearchIndex:
        # The same files turn after turn: build the index once and keep it until the file set changes.
        key = tuple(sorted((file.file_id, file.path) for file in files))
        with self._lock:
            if self._file_index is not None and self._file_index[0] == key:
                return self._file_index[1]
        chunks = []
        for file in files:
            try:
                text = extract_text(Path(file.path).read_bytes(), file.filename)
            except (OSError, ToolError) as error:
                logger.warning("file search: skipping %s (%s): %s", file.filename, file.file_id, error)
                continue
            chunks += chunk_document(file.file_id, file.filename, text)
        index = FileSearchIndex(chunks)
        with self._lock:
            self._file_index = (key, index)
        return index

    # code interpreter

    def container_id(self, thread_id: str) -> str:
        return f"{LOCAL_CONTAINER_PREFIX}{thread_id}"

    def run_code(self, thread_id: str, code: str) -> ExecutionResult:
        return self._sandbox(thread_id).run(code)

    def _sandbox(self, thread_id: str) -> PythonSandbox:
        with self._lock:
            sandbox = self._sandboxes.get(thread_id)
            if sandbox is None:
                make_private_folder(self.containers_folder)
                sandbox = PythonSandbox(self.containers_folder / thread_id, self.sandbox_limits)
                self._sandboxes[thread_id] = sandbox
            return sandbox

    def close(self) -> None:
        with self._lock:
            sandboxes, self._sandboxes = list(self._sandboxes.values()), {}
        for sandbox in sandboxes:
            sandbox.close()
