"""Vector stores: attaching uploaded files, processing them (extract, chunk) off the request path, and searching.

Processing is honest about its state: a file is `in_progress` when attached (as recorded), then `completed` with
its chunks stored, or `failed` with `last_error` (`unsupported_file` for binaries and unknown formats,
`invalid_file` for unreadable or empty text). Processing runs on a small thread pool; files still in progress
when the server stopped are picked up again at start. A store's `status`, `file_counts` and `usage_bytes` are
derived from its files whenever it is shown, so they can never disagree.

Search builds a `FileSearchIndex` per store from the stored chunks and caches it until the store's files change.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ..tools import ChunkingStrategy, DocumentChunk, FileSearchIndex, UnsupportedFile, chunk_text, extract_text
from .error_responses import ApiError, integer_out_of_range, invalid_type, invalid_value, missing_parameter, not_found
from .ids import new_id
from .tool_state import ToolStore, now

logger = logging.getLogger(__name__)

MAX_SEARCH_RESULTS = 50
MAX_EXPIRY_DAYS = 365  # spec: VectorStoreExpirationAfter.days


@dataclass(frozen=True)
class StoreSearchResult:
    vector_store_id: str
    file_id: str
    filename: str
    text: str
    score: float
    attributes: Mapping[str, Any]


class VectorStores:
    def __init__(self, store: ToolStore, workers: int = 2) -> None:
        self.store = store
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vector-store-files")
        self._indexes: dict[str, FileSearchIndex] = {}
        self._indexes_lock = threading.Lock()
        for store_file in store.files_in_progress():
            self._schedule(store_file)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    # -- stores -----------------------------------------------------------------------------------------------

    def create(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _check_fields(body)
        file_ids = _string_list(body.get("file_ids"), "file_ids")
        strategy = chunking_strategy(body.get("chunking_strategy"))
        for file_id in file_ids:
            self._require_file(file_id)
        created = now()
        expires_after = _expires_after(body.get("expires_after"))
        vector_store: dict[str, Any] = {
            "id": new_id("vs"),
            "object": "vector_store",
            "created_at": created,
            "name": body.get("name") or "",
            "description": body.get("description"),
            "expires_after": expires_after,
            "expires_at": created + expires_after["days"] * 86400 if expires_after else None,
            "last_active_at": created,
            "metadata": body.get("metadata") or {},
        }
        self.store.add_vector_store(vector_store)
        for file_id in file_ids:
            self.attach(vector_store["id"], file_id, strategy=strategy)
        return self.view(vector_store)

    def get(self, store_id: str) -> dict[str, Any]:
        vector_store = self.store.get_vector_store(store_id)
        if vector_store is None:
            raise not_found("Vector store", store_id)
        return vector_store

    def view(self, vector_store: dict[str, Any]) -> dict[str, Any]:
        files = self.store.list_vector_store_files(vector_store["id"])
        counts = {
            status: sum(1 for f in files if f["status"] == status)
            for status in ("in_progress", "completed", "failed", "cancelled")
        }
        return {
            **vector_store,
            "file_counts": {**counts, "total": len(files)},
            "status": "in_progress" if counts["in_progress"] else "completed",
            "usage_bytes": sum(f["usage_bytes"] for f in files),
        }

    def update(self, store_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        vector_store = self.get(store_id)
        _check_fields(body)
        if body.get("name") is not None:  # null is "no change": the object's name is always a string
            vector_store["name"] = body["name"]
        if "metadata" in body:
            vector_store["metadata"] = body["metadata"] or {}
        if "expires_after" in body:
            vector_store["expires_after"] = _expires_after(body["expires_after"])
        self.store.save_vector_store(vector_store)
        return self.view(vector_store)

    def delete(self, store_id: str) -> bool:
        deleted = self.store.delete_vector_store(store_id)
        self._forget_index(store_id)
        return deleted

    # -- files ------------------------------------------------------------------------------------------------

    def attach(
        self,
        store_id: str,
        file_id: str,
        *,
        attributes: Mapping[str, Any] | None = None,
        strategy: ChunkingStrategy = ChunkingStrategy(),  # noqa: B008 -- frozen dataclass: one shared default is safe
        batch_id: str | None = None,
    ) -> dict[str, Any]:
        self.get(store_id)
        self._require_file(file_id)
        store_file = {
            "id": file_id,  # recorded: a vector store file has its file's id
            "object": "vector_store.file",
            "created_at": now(),
            "status": "in_progress",
            "usage_bytes": 0,
            "vector_store_id": store_id,
            "last_error": None,
            "attributes": dict(attributes or {}),
            "chunking_strategy": strategy.to_api(),
        }
        self.store.put_vector_store_file(store_file, batch_id)
        self._forget_index(store_id)
        self._schedule(store_file)
        return store_file

    def get_file(self, store_id: str, file_id: str) -> dict[str, Any]:
        self.get(store_id)
        store_file = self.store.get_vector_store_file(store_id, file_id)
        if store_file is None:
            raise not_found("Vector store file", file_id)
        return store_file

    def update_file(self, store_id: str, file_id: str, attributes: Mapping[str, Any] | None) -> dict[str, Any]:
        store_file = self.get_file(store_id, file_id)
        store_file["attributes"] = dict(attributes or {})
        self.store.put_vector_store_file(store_file)
        self._forget_index(store_id)
        return store_file

    def detach(self, store_id: str, file_id: str) -> None:
        self.get(store_id)
        if not self.store.delete_vector_store_file(store_id, file_id):
            raise not_found("Vector store file", file_id)
        self._forget_index(store_id)

    def file_text(self, store_id: str, file_id: str) -> list[str]:
        self.get_file(store_id, file_id)
        return [text for chunk_file, text in self.store.chunks(store_id) if chunk_file == file_id]

    # -- search -----------------------------------------------------------------------------------------------

    def search(
        self,
        store_ids: Sequence[str],
        query: str,
        max_results: int = 10,
        *,
        filters: Mapping[str, Any] | None = None,
        score_threshold: float = 0.0,
    ) -> list[StoreSearchResult]:
        results: list[StoreSearchResult] = []
        for store_id in store_ids:
            vector_store = self.get(store_id)
            vector_store["last_active_at"] = now()
            self.store.save_vector_store(vector_store)
            for hit in self._index(store_id).search(
                query, max_results, filters=filters, score_threshold=score_threshold
            ):
                results.append(
                    StoreSearchResult(store_id, hit.file_id, hit.filename, hit.text, hit.score, hit.attributes)
                )
        results.sort(key=lambda result: -result.score)
        return results[:max_results]

    def _index(self, store_id: str) -> FileSearchIndex:
        with self._indexes_lock:
            index = self._indexes.get(store_id)
            if index is None:
                files = {f["id"]: f for f in self.store.list_vector_store_files(store_id)}
                names = {file_id: (self.store.get_file(file_id) or {}).get("filename", file_id) for file_id in files}
                chunks = [
                    DocumentChunk(file_id, names[file_id], text, files[file_id]["attributes"])
                    for file_id, text in self.store.chunks(store_id)
                    if file_id in files
                ]
                index = self._indexes[store_id] = FileSearchIndex(chunks)
            return index

    def _forget_index(self, store_id: str) -> None:
        with self._indexes_lock:
            self._indexes.pop(store_id, None)

    # -- processing -------------------------------------------------------------------------------------------

    def _schedule(self, store_file: dict[str, Any]) -> None:
        # RuntimeError: shutting down; the file stays in_progress and is resumed at the next start.
        with contextlib.suppress(RuntimeError):
            self._executor.submit(self._process, dict(store_file))

    def _process(self, store_file: dict[str, Any]) -> None:
        file_id = store_file["id"]
        chunks: list[str] = []
        try:
            file = self.store.get_file(file_id)
            if file is None:
                raise UnsupportedFile(f"The file {file_id} was deleted before it could be processed.", "invalid_file")
            data = self.store.upload_path(file_id).read_bytes()
            strategy = chunking_strategy(store_file["chunking_strategy"])
            chunks = chunk_text(extract_text(data, file["filename"]), strategy)
            store_file.update(status="completed", usage_bytes=sum(len(chunk.encode()) for chunk in chunks))
        except UnsupportedFile as error:
            store_file.update(status="failed", last_error={"code": error.code, "message": str(error)})
        except Exception as error:  # never leave a file in_progress forever
            logger.exception("processing %s failed", file_id)
            store_file.update(status="failed", last_error={"code": "server_error", "message": str(error)})
        if self.store.finish_vector_store_file(store_file, chunks if store_file["status"] == "completed" else []):
            self._forget_index(store_file["vector_store_id"])

    def _require_file(self, file_id: str) -> None:
        if self.store.get_file(file_id) is None:
            raise ApiError(404, f"No file found with id '{file_id}'.", param="file_id")


def chunking_strategy(value: Any) -> ChunkingStrategy:
    if value is not None and not isinstance(value, Mapping):
        raise invalid_type("chunking_strategy", "an object", value)
    try:
        return ChunkingStrategy.from_api(value)
    except ValueError as error:
        raise ApiError(
            400, f"Invalid 'chunking_strategy': {error}.", param="chunking_strategy", code="invalid_value"
        ) from None


def _check_fields(body: Mapping[str, Any]) -> None:
    """The fields a vector store echoes back: checked here, or the object would not be a VectorStore any more."""
    for key in ("name", "description"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise invalid_type(key, "a string", body[key])
    _expires_after(body.get("expires_after"))


def _expires_after(expires_after: Any) -> dict[str, Any] | None:
    """The expiration policy as stored and shown: exactly `{anchor, days}` (the object allows no other keys)."""
    if expires_after is None:
        return None
    if not isinstance(expires_after, dict):
        raise invalid_type("expires_after", "an object", expires_after)
    if expires_after.get("anchor") != "last_active_at":
        raise invalid_value("expires_after.anchor", expires_after.get("anchor"), ["last_active_at"])
    days = expires_after.get("days")
    if days is None:
        raise missing_parameter("expires_after.days")
    if not isinstance(days, int) or isinstance(days, bool):
        raise invalid_type("expires_after.days", "an integer", days)
    if not 1 <= days <= MAX_EXPIRY_DAYS:
        raise integer_out_of_range("expires_after.days", days, 1, MAX_EXPIRY_DAYS)
    return {"anchor": "last_active_at", "days": days}


def _string_list(value: Any, param: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise invalid_type(param, "an array of strings", value)
    return value
