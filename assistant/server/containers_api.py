"""`/v1/containers`: containers and their files (https://platform.openai.com/docs/api-reference/containers).
Deletes answer a deleted-object body, which the SDK ignores (it returns None)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import error_responses
from .container_runtime import Containers
from .request_parsing import cursor_page, is_multipart, json_object, multipart_upload


class ContainersApi:
    def __init__(self, containers: Containers, max_upload_bytes: int) -> None:
        self.containers = containers
        self.max_upload_bytes = max_upload_bytes

    def routes(self) -> list[Route]:
        base = "/v1/containers"
        return [
            Route(base, self.create, methods=["POST"]),
            Route(base, self.list_containers, methods=["GET"]),
            Route(base + "/{container_id}", self.retrieve, methods=["GET"]),
            Route(base + "/{container_id}", self.delete, methods=["DELETE"]),
            Route(base + "/{container_id}/files", self.create_file, methods=["POST"]),
            Route(base + "/{container_id}/files", self.list_files, methods=["GET"]),
            Route(base + "/{container_id}/files/{file_id}", self.retrieve_file, methods=["GET"]),
            Route(base + "/{container_id}/files/{file_id}", self.delete_file, methods=["DELETE"]),
            Route(base + "/{container_id}/files/{file_id}/content", self.file_content, methods=["GET"]),
        ]

    async def create(self, request: Request) -> Response:
        body = await json_object(request)
        return JSONResponse(await run_in_threadpool(self.containers.create, body))

    async def list_containers(self, request: Request) -> Response:
        containers = await run_in_threadpool(self.containers.list_all)
        name = request.query_params.get("name")
        if name is not None:
            containers = [c for c in containers if c["name"] == name]
        return JSONResponse(cursor_page(request, containers))

    async def retrieve(self, request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(self.containers.get, request.path_params["container_id"]))

    async def delete(self, request: Request) -> Response:
        container_id = request.path_params["container_id"]
        await run_in_threadpool(self.containers.delete, container_id)
        return JSONResponse({"id": container_id, "object": "container.deleted", "deleted": True})

    async def create_file(self, request: Request) -> Response:
        container_id = request.path_params["container_id"]
        if is_multipart(request):
            _, upload = await multipart_upload(request, self.max_upload_bytes)
            file = await run_in_threadpool(self.containers.add_file, container_id, upload.filename, upload.data)
        else:
            body = await json_object(request)
            file_id = body.get("file_id")
            if not isinstance(file_id, str):
                raise error_responses.missing_parameter("file_id")
            file = await run_in_threadpool(self.containers.add_uploaded_file, container_id, file_id)
        return JSONResponse(file)

    async def list_files(self, request: Request) -> Response:
        files = await run_in_threadpool(self.containers.list_files, request.path_params["container_id"])
        return JSONResponse(cursor_page(request, files))

    async def retrieve_file(self, request: Request) -> Response:
        params = request.path_params
        file, _ = await run_in_threadpool(self.containers.get_file, params["container_id"], params["file_id"])
        return JSONResponse(file)

    async def delete_file(self, request: Request) -> Response:
        params = request.path_params
        await run_in_threadpool(self.containers.delete_file, params["container_id"], params["file_id"])
        return JSONResponse({"id": params["file_id"], "object": "container.file.deleted", "deleted": True})

    async def file_content(self, request: Request) -> Response:
        params = request.path_params
        data = await run_in_threadpool(self.containers.file_content, params["container_id"], params["file_id"])
        return Response(data, media_type="application/octet-stream")
