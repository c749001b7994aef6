"""`/v1/files`: multipart upload, list, retrieve, content and delete (API reference and recorded shapes)."""

from __future__ import annotations

import hashlib
import os
import secrets
import string
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from assistant.private_files import write_private_file

from . import error_responses
from .container_runtime import safe_filename
from .error_responses import ApiError
from .request_parsing import cursor_page, multipart_upload
from .tool_state import ToolStore, now

PURPOSES = ["assistants", "batch", "fine-tune", "vision", "user_data", "evals"]
_ID_ALPHABET = string.ascii_letters + string.digits


def new_file_id() -> str:
    # Recorded: "file-U6Ke78qu8nkANsrCrjoYBr", a dash and 22 base62 characters (not the underscore-hex of others).
    return "file-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(22))


class FilesApi:
    def __init__(self, store: ToolStore, max_upload_bytes: int) -> None:
        self.store = store
        self.max_upload_bytes = max_upload_bytes

    def routes(self) -> list[Route]:
        return [
            Route("/v1/files", self.create, methods=["POST"]),
            Route("/v1/files", self.list, methods=["GET"]),
            Route("/v1/files/{file_id}", self.retrieve, methods=["GET"]),
            Route("/v1/files/{file_id}", self.delete, methods=["DELETE"]),
            Route("/v1/files/{file_id}/content", self.content, methods=["GET"]),
        ]

    async def create(self, request: Request) -> Response:
        fields, upload = await multipart_upload(request, self.max_upload_bytes)
        purpose = fields.get("purpose")
        if purpose is None:
            raise error_responses.missing_parameter("purpose")
        if purpose not in PURPOSES:
            raise error_responses.invalid_value("purpose", purpose, PURPOSES)
        created = now()
        expires_at = None
        if "expires_after[seconds]" in fields:
            try:
                expires_at = created + int(fields["expires_after[seconds]"])
            except ValueError:
                raise error_responses.invalid_type(
                    "expires_after.seconds", "an integer", fields["expires_after[seconds]"]
                ) from None
        file = {
            "id": new_file_id(),
            "object": "file",
            "bytes": len(upload.data),
            "created_at": created,
            "expires_at": expires_at,
            "filename": safe_filename(upload.filename),
            "purpose": purpose,
            "status": "processed",
            "status_details": None,
        }
        await run_in_threadpool(self._save, file, upload.data)
        return JSONResponse(file)

    def _save(self, file: dict[str, Any], data: bytes) -> None:
        path = self.store.upload_path(file["id"])
        partial = path.with_suffix(".partial")
        write_private_file(partial, data)
        os.replace(partial, path)  # the record below never points at half-written bytes
        self.store.add_file(file, hashlib.sha256(data).hexdigest())

    async def list(self, request: Request) -> Response:
        files = await run_in_threadpool(self.store.list_files, request.query_params.get("purpose"))
        return JSONResponse(cursor_page(request, files, default_limit=10000, max_limit=10000))

    async def retrieve(self, request: Request) -> Response:
        return JSONResponse(await self._file(request))

    async def delete(self, request: Request) -> Response:
        file_id = request.path_params["file_id"]
        if not await run_in_threadpool(self.store.delete_file, file_id):
            raise _no_file(file_id)
        return JSONResponse({"id": file_id, "object": "file", "deleted": True})

    async def content(self, request: Request) -> Response:
        file = await self._file(request)
        data = await run_in_threadpool(self.store.upload_path(file["id"]).read_bytes)
        return Response(data, media_type="application/octet-stream")

    async def _file(self, request: Request) -> dict[str, Any]:
        file_id = request.path_params["file_id"]
        file = await run_in_threadpool(self.store.get_file, file_id)
        if file is None:
            raise _no_file(file_id)
        return file


def _no_file(file_id: str) -> ApiError:
    return ApiError(404, f"No such File object: {file_id}", param="id")
