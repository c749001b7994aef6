"""`/v1/vector_stores`: stores, their files, file batches and search (API reference and recorded shapes).

Quirks kept from the real API: a file batch's `object` is `vector_store.file_batch` (the SDK's Literal says
`files_batch` and special-cases it); search is a POST returning a `vector_store.search_results.page`. Responses
about processing carry `openai-poll-after-ms`, which the SDK's `*_and_poll` helpers use as their interval.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import error_responses
from .error_responses import ApiError
from .ids import new_id
from .request_parsing import check_metadata, cursor_page, json_object, score_threshold, search_filters
from .tool_state import now
from .vector_stores import MAX_SEARCH_RESULTS, VectorStores, chunking_strategy

POLL_AFTER_MS = "25"  # processing takes milliseconds here; poll accordingly
_FILE_STATUSES = ["in_progress", "completed", "failed", "cancelled"]


class VectorStoresApi:
    def __init__(self, vector_stores: VectorStores) -> None:
        self.stores = vector_stores

    def routes(self) -> list[Route]:
        base = "/v1/vector_stores"
        return [
            Route(base, self.create, methods=["POST"]),
            Route(base, self.list_stores, methods=["GET"]),
            Route(base + "/{vs}", self.retrieve, methods=["GET"]),
            Route(base + "/{vs}", self.update, methods=["POST"]),
            Route(base + "/{vs}", self.delete, methods=["DELETE"]),
            Route(base + "/{vs}/search", self.search, methods=["POST"]),
            Route(base + "/{vs}/files", self.create_file, methods=["POST"]),
            Route(base + "/{vs}/files", self.list_files, methods=["GET"]),
            Route(base + "/{vs}/files/{file_id}", self.retrieve_file, methods=["GET"]),
            Route(base + "/{vs}/files/{file_id}", self.update_file, methods=["POST"]),
            Route(base + "/{vs}/files/{file_id}", self.delete_file, methods=["DELETE"]),
            Route(base + "/{vs}/files/{file_id}/content", self.file_content, methods=["GET"]),
            Route(base + "/{vs}/file_batches", self.create_batch, methods=["POST"]),
            Route(base + "/{vs}/file_batches/{batch_id}", self.retrieve_batch, methods=["GET"]),
            Route(base + "/{vs}/file_batches/{batch_id}/cancel", self.cancel_batch, methods=["POST"]),
            Route(base + "/{vs}/file_batches/{batch_id}/files", self.list_batch_files, methods=["GET"]),
        ]

    # -- stores -----------------------------------------------------------------------------------------------

    async def create(self, request: Request) -> Response:
        body = await json_object(request, empty_ok=True)
        check_metadata(body.get("metadata"))
        return _polled(await run_in_threadpool(self.stores.create, body))

    async def list_stores(self, request: Request) -> Response:
        stores = await run_in_threadpool(lambda: [self.stores.view(s) for s in self.stores.store.list_vector_stores()])
        return JSONResponse(cursor_page(request, stores))

    async def retrieve(self, request: Request) -> Response:
        store_id = request.path_params["vs"]
        return _polled(await run_in_threadpool(lambda: self.stores.view(self.stores.get(store_id))))

    async def update(self, request: Request) -> Response:
        body = await json_object(request)
        check_metadata(body.get("metadata"))
        return JSONResponse(await run_in_threadpool(self.stores.update, request.path_params["vs"], body))

    async def delete(self, request: Request) -> Response:
        store_id = request.path_params["vs"]
        if not await run_in_threadpool(self.stores.delete, store_id):
            raise error_responses.not_found("Vector store", store_id)
        return JSONResponse({"id": store_id, "object": "vector_store.deleted", "deleted": True})

    async def search(self, request: Request) -> Response:
        body = await json_object(request)
        query = body.get("query")
        queries = [query] if isinstance(query, str) else query
        if not isinstance(queries, list) or not queries or not all(isinstance(q, str) for q in queries):
            raise error_responses.invalid_type("query", "a string or an array of strings", query)
        max_results = body.get("max_num_results", 10)
        if not isinstance(max_results, int) or not 1 <= max_results <= MAX_SEARCH_RESULTS:
            raise error_responses.integer_out_of_range(
                "max_num_results", max_results if isinstance(max_results, int) else 0, 1, MAX_SEARCH_RESULTS
            )
        threshold = score_threshold(body.get("ranking_options"))
        results = await run_in_threadpool(
            self.stores.search,
            [request.path_params["vs"]],
            " ".join(queries),
            max_results,
            filters=search_filters(body.get("filters")),
            score_threshold=threshold,
        )
        return JSONResponse(
            {
                "object": "vector_store.search_results.page",
                "search_query": queries,
                "data": [
                    {
                        "file_id": r.file_id,
                        "filename": r.filename,
                        "score": round(r.score, 4),
                        "attributes": dict(r.attributes),
                        "content": [{"type": "text", "text": r.text}],
                    }
                    for r in results
                ],
                "has_more": False,
                "next_page": None,
            }
        )

    # -- files ------------------------------------------------------------------------------------------------

    async def create_file(self, request: Request) -> Response:
        body = await json_object(request)
        file_id = body.get("file_id")
        if not isinstance(file_id, str):
            raise error_responses.missing_parameter("file_id")
        strategy = chunking_strategy(body.get("chunking_strategy"))
        store_file = await run_in_threadpool(
            lambda: self.stores.attach(
                request.path_params["vs"], file_id, attributes=_attributes(body), strategy=strategy
            )
        )
        return _polled(store_file)

    async def list_files(self, request: Request) -> Response:
        status = request.query_params.get("filter")
        if status is not None and status not in _FILE_STATUSES:
            raise error_responses.invalid_value("filter", status, _FILE_STATUSES)
        store_id = request.path_params["vs"]

        def files() -> list[dict[str, Any]]:
            self.stores.get(store_id)
            return [f for f in self.stores.store.list_vector_store_files(store_id) if status in (None, f["status"])]

        return JSONResponse(cursor_page(request, await run_in_threadpool(files)))

    async def retrieve_file(self, request: Request) -> Response:
        params = request.path_params
        return _polled(await run_in_threadpool(self.stores.get_file, params["vs"], params["file_id"]))

    async def update_file(self, request: Request) -> Response:
        body = await json_object(request)
        params = request.path_params
        return JSONResponse(
            await run_in_threadpool(self.stores.update_file, params["vs"], params["file_id"], _attributes(body))
        )

    async def delete_file(self, request: Request) -> Response:
        params = request.path_params
        await run_in_threadpool(self.stores.detach, params["vs"], params["file_id"])
        return JSONResponse({"id": params["file_id"], "object": "vector_store.file.deleted", "deleted": True})

    async def file_content(self, request: Request) -> Response:
        params = request.path_params
        texts = await run_in_threadpool(self.stores.file_text, params["vs"], params["file_id"])
        return JSONResponse(
            {
                "object": "vector_store.file_content.page",
                "data": [{"type": "text", "text": text} for text in texts],
                "has_more": False,
                "next_page": None,
            }
        )

    # -- file batches -----------------------------------------------------------------------------------------

    async def create_batch(self, request: Request) -> Response:
        body = await json_object(request)
        store_id = request.path_params["vs"]
        strategy = chunking_strategy(body.get("chunking_strategy"))
        entries: list[tuple[str, Mapping[str, Any] | None]] = []
        if body.get("files") is not None:
            if not isinstance(body["files"], list):
                raise error_responses.invalid_type("files", "an array of objects", body["files"])
            for entry in body["files"]:
                if not isinstance(entry, dict) or not isinstance(entry.get("file_id"), str):
                    raise error_responses.missing_parameter("files[].file_id")
                entries.append((entry["file_id"], entry.get("attributes", body.get("attributes"))))
        for file_id in body.get("file_ids") or []:
            entries.append((file_id, body.get("attributes")))
        if not entries:
            raise error_responses.missing_parameter("file_ids")

        def create() -> dict[str, Any]:
            self.stores.get(store_id)
            for file_id, _ in entries:
                if self.stores.store.get_file(file_id) is None:
                    raise ApiError(404, f"No file found with id '{file_id}'.", param="file_ids")
            batch_id = new_id("vsfb")
            self.stores.store.add_file_batch(batch_id, store_id, now())
            for file_id, attributes in entries:
                self.stores.attach(store_id, file_id, attributes=attributes, strategy=strategy, batch_id=batch_id)
            return self._batch(store_id, batch_id)

        return _polled(await run_in_threadpool(create))

    async def retrieve_batch(self, request: Request) -> Response:
        params = request.path_params
        return _polled(await run_in_threadpool(self._batch, params["vs"], params["batch_id"]))

    async def cancel_batch(self, request: Request) -> Response:
        params = request.path_params

        def cancel() -> dict[str, Any]:
            self._batch(params["vs"], params["batch_id"])
            self.stores.store.cancel_file_batch(params["vs"], params["batch_id"])
            return self._batch(params["vs"], params["batch_id"])

        return JSONResponse(await run_in_threadpool(cancel))

    async def list_batch_files(self, request: Request) -> Response:
        params = request.path_params

        def files() -> list[dict[str, Any]]:
            self._batch(params["vs"], params["batch_id"])
            return self.stores.store.list_vector_store_files(params["vs"], batch_id=params["batch_id"])

        return JSONResponse(cursor_page(request, await run_in_threadpool(files)))

    def _batch(self, store_id: str, batch_id: str) -> dict[str, Any]:
        self.stores.get(store_id)
        found = self.stores.store.get_file_batch(store_id, batch_id)
        if found is None:
            raise error_responses.not_found("Vector store file batch", batch_id)
        created_at, cancelled = found
        files = self.stores.store.list_vector_store_files(store_id, batch_id=batch_id)
        counts = {status: sum(1 for f in files if f["status"] == status) for status in _FILE_STATUSES}
        if counts["in_progress"]:
            status = "in_progress"
        elif cancelled:
            status = "cancelled"
        elif counts["failed"] == len(files):
            status = "failed"
        else:
            status = "completed"
        return {
            "id": batch_id,
            "object": "vector_store.file_batch",  # sic: what the real API sends (see the module docstring)
            "created_at": created_at,
            "vector_store_id": store_id,
            "status": status,
            "file_counts": {**counts, "total": len(files)},
        }


def _polled(body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, headers={"openai-poll-after-ms": POLL_AFTER_MS})


def _attributes(body: Mapping[str, Any]) -> dict[str, Any] | None:
    attributes = body.get("attributes")
    if attributes is None:
        return None
    if not isinstance(attributes, dict) or len(attributes) > 16:
        raise error_responses.invalid_type("attributes", "an object with at most 16 properties", attributes)
    # Spec (VectorStoreFileAttributes): keys up to 64 characters; values strings up to 512, numbers or booleans.
    for key, value in attributes.items():
        if len(key) > 64:
            raise ApiError(
                400,
                f"Invalid 'attributes': keys must be at most 64 characters, but got a key with "
                f"{len(key)} characters instead.",
                param="attributes",
                code="invalid_value",
            )
        if not isinstance(value, (str, int, float)):
            raise error_responses.invalid_type(f"attributes.{key}", "a string, number or boolean", value)
        if isinstance(value, str) and len(value) > 512:
            raise ApiError(
                400,
                f"Invalid 'attributes.{key}': string too long. Expected a string with maximum "
                f"length 512, but got a string with length {len(value)} instead.",
                param=f"attributes.{key}",
                code="string_above_max_length",
            )
    return attributes
