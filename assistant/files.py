"""Files for file search: upload once, attach to the thread's vector store, wait until they are indexed.

Every path gets its own outcome: a missing path, a folder, a type the store cannot index, an empty or oversized
file is one clear error and the other files go ahead. The index records a file only once the server has it,
and its vector-store status as the server reports it, so nothing half-done is recorded as done. The same
content (by sha256) is uploaded once per server.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import openai

from assistant.errors import AssistantError
from assistant.file_progress import FileOutcome, FileProgress
from assistant.index.records import FileRecord
from assistant.private_files import make_private_folder, write_private_file
from assistant.provider_errors import PROVIDER_ERRORS, explain

if TYPE_CHECKING:
    from assistant.client import Assistant

# What OpenAI file search indexes (by extension); other files are refused before upload.
INDEXABLE = frozenset(
    {
        ".c",
        ".cpp",
        ".cs",
        ".css",
        ".doc",
        ".docx",
        ".go",
        ".html",
        ".htm",
        ".java",
        ".js",
        ".json",
        ".md",
        ".pdf",
        ".php",
        ".pptx",
        ".py",
        ".rb",
        ".sh",
        ".tex",
        ".ts",
        ".txt",
        ".csv",
        ".xml",
        ".yaml",
        ".yml",
        ".rst",
    }
)
MAX_BYTES = 512 * 1024 * 1024  # the API's limit per file
DEFAULT_WAIT_S = 300.0


Progress = Callable[[FileProgress], None]


def check_path(path: Path) -> str | None:
    """Why `path` cannot go to file search, or None when it can."""
    if not path.exists():
        return f"{path}: no such file"
    if path.is_dir():
        return f"{path}: is a folder; name the files in it"
    if path.suffix.lower() not in INDEXABLE:
        kinds = " ".join(sorted(INDEXABLE))
        return f"{path}: file search cannot index {path.suffix or 'extensionless'} files (it takes {kinds})"
    size = path.stat().st_size
    if size == 0:
        return f"{path}: is empty"
    if size > MAX_BYTES:
        return f"{path}: is {size / 2**20:.0f} MiB, over the {MAX_BYTES // 2**20} MiB limit per file"
    return None


class FileLibrary:
    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant

    def add(
        self,
        thread_id: str,
        paths: Sequence[str | Path],
        *,
        progress: Progress | None = None,
        wait_s: float = DEFAULT_WAIT_S,
    ) -> list[FileOutcome]:
        """Upload `paths` (reusing uploads of the same content), attach them to the thread's vector store
        (made on first use) and wait until the server has indexed them or `wait_s` runs out."""
        thread = self.assistant.store.thread(thread_id)
        report = progress or (lambda _: None)
        total = len(paths)
        outcomes: dict[int, FileOutcome] = {}
        attached: dict[int, str] = {}  # position -> file id waiting to be indexed
        store_id: str | None = None
        for position, raw in enumerate(paths):
            path = Path(raw).expanduser()
            report(FileProgress(str(path), "checking", len(outcomes), total))
            problem = check_path(path)
            if problem:
                outcomes[position] = FileOutcome(str(path), error=problem)
                report(FileProgress(str(path), "failed", len(outcomes), total))
                continue
            try:
                report(FileProgress(str(path), "uploading", len(outcomes), total))
                file_id, reused = self._upload(path)
                report(FileProgress(str(path), "attaching", len(outcomes), total))
                store_id = store_id or self._thread_store(thread.id, thread.title)
                self.assistant.client.vector_stores.files.create(store_id, file_id=file_id)
                self.assistant.store.set_vector_store_file(store_id, file_id, "in_progress")
                attached[position] = file_id
                outcomes[position] = FileOutcome(str(path), file_id, "in_progress", reused=reused)
            except (*PROVIDER_ERRORS, OSError) as exc:
                outcomes[position] = FileOutcome(str(path), error=f"{path}: {self._reason(exc)}")
                report(FileProgress(str(path), "failed", len(outcomes), total))
        if attached and store_id:
            self._wait(store_id, attached, outcomes, report, total, wait_s)
        return [outcomes[position] for position in range(total)]

    def list(self, thread_id: str) -> list[FileRecord]:
        return self.assistant.store.thread_files(thread_id)

    def remove(self, thread_id: str, file_id: str) -> None:
        """Detach a file from the thread's vector store (the upload stays for other threads that use it)."""
        store_id = self.assistant.store.thread_vector_store(thread_id)
        if store_id is None or file_id not in {record.id for record in self.list(thread_id)}:
            raise AssistantError(f"Thread {thread_id} has no file {file_id!r}. List them with `assistant files list`.")
        try:
            self.assistant.client.vector_stores.files.delete(file_id, vector_store_id=store_id)
        except openai.NotFoundError:
            pass  # already gone on the server: forgetting it here is all that is left to do
        except PROVIDER_ERRORS as exc:
            raise explain(exc, base_url=self.assistant.server_url, model="") from exc
        self.assistant.store.remove_vector_store_file(store_id, file_id)

    # steps

    def _upload(self, path: Path) -> tuple[str, bool]:
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        server = self.assistant.state_server
        known = self.assistant.store.file_by_content(server, digest)
        if known is not None:
            try:
                self.assistant.client.files.retrieve(known.id)
                return known.id, True
            except openai.NotFoundError:
                self.assistant.store.forget_file(known.id)  # deleted on the server since: upload it again
        uploaded = self.assistant.client.files.create(file=(path.name, data), purpose="assistants")
        self.assistant.store.add_file(
            id=uploaded.id,
            server=server,
            filename=path.name,
            bytes=len(data),
            sha256=digest,
            purpose="assistants",
            path=str(self._keep_copy(data, digest, path)),
        )
        return uploaded.id, False

    def _keep_copy(self, data: bytes, digest: str, path: Path) -> Path:
        """The index's own copy, named by content: tools that run locally read it, whatever happens to the
        original."""
        folder = self.assistant.settings.data_dir / "uploads"
        make_private_folder(folder)
        copy = folder / f"{digest}{path.suffix.lower()}"
        if not copy.exists():
            write_private_file(copy, data)
        return copy

    def _thread_store(self, thread_id: str, title: str) -> str:
        existing = self.assistant.store.thread_vector_store(thread_id)
        if existing:
            return existing
        store = self.assistant.client.vector_stores.create(
            name=f"assistant {title or thread_id}"[:256], metadata={"thread_id": thread_id}
        )
        self.assistant.store.add_vector_store(
            id=store.id, server=self.assistant.state_server, thread_id=thread_id, name=store.name or ""
        )
        return store.id

    def _wait(
        self,
        store_id: str,
        attached: dict[int, str],
        outcomes: dict[int, FileOutcome],
        report: Progress,
        total: int,
        wait_s: float,
    ) -> None:
        deadline = time.monotonic() + wait_s
        pending = dict(attached)
        delay = 0.05
        while pending:
            for position, file_id in list(pending.items()):
                try:
                    attachment = self.assistant.client.vector_stores.files.retrieve(file_id, vector_store_id=store_id)
                except PROVIDER_ERRORS as exc:
                    outcome = outcomes[position]
                    outcomes[position] = FileOutcome(outcome.path, file_id, "failed", self._reason(exc), outcome.reused)
                    del pending[position]
                    continue
                if attachment.status == "in_progress":
                    continue
                error = attachment.last_error.message if attachment.last_error else None
                self.assistant.store.set_vector_store_file(store_id, file_id, attachment.status, error)
                outcome = outcomes[position]
                outcomes[position] = FileOutcome(
                    outcome.path,
                    file_id,
                    attachment.status,
                    f"{outcome.path}: {error or attachment.status}" if attachment.status != "completed" else None,
                    outcome.reused,
                )
                del pending[position]
                finished = sum(1 for each in outcomes.values() if each.status != "in_progress")
                report(
                    FileProgress(
                        outcome.path, "completed" if attachment.status == "completed" else "failed", finished, total
                    )
                )
            if not pending or time.monotonic() > deadline:
                break
            for position in pending:
                report(
                    FileProgress(
                        outcomes[position].path,
                        "indexing",
                        sum(1 for each in outcomes.values() if each.status != "in_progress"),
                        total,
                    )
                )
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
        for position in pending:  # still indexing: say so, and leave the index saying so too
            outcome = outcomes[position]
            outcomes[position] = FileOutcome(
                outcome.path,
                outcome.file_id,
                "in_progress",
                f"{outcome.path}: still being indexed after {wait_s:.0f} s; check again with `assistant files list`",
                outcome.reused,
            )

    def _reason(self, exc: BaseException) -> str:
        if isinstance(exc, OSError):
            return exc.strerror or str(exc)
        return str(explain(exc, base_url=self.assistant.server_url, model=""))
