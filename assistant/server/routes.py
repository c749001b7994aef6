"""HTTP routes of the local OpenAI-compatible server (all under /v1).

Wire rules the SDK depends on (read in the `openai` SDK's source, and seen in the recordings in tests/recordings/):
- streaming is chosen by the body's `stream` flag (or `?stream=true` on GET), never by `Accept`: the SDK sends
  `accept: application/json` for streams too;
- query arrays are bracketed (`include[]=a&include[]=b`);
- every response carries `x-request-id`; every error is `{"error": {"message", "type", "param", "code"}}`;
- Responses streams are `event:`/`data:` pairs closed after the terminal event, with no `[DONE]`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Generator, Iterator
from typing import Any, Literal

import anyio
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import error_responses
from .auth import check_authorization
from .background import BackgroundRuns
from .chat_completions_api import ChatCompletions
from .code_lane import CodeLane
from .engines.registry import EngineRegistry, default_registry
from .error_responses import ApiError
from .faults import Fault, FaultSwitch
from .front_door import MAX_JSON_BODY_BYTES, FrontDoor
from .hosted_tools import HostedTools, hosted_tool_kinds
from .ids import new_id, new_request_id
from .items import Item, normalize_input
from .request_parsing import check_metadata, int_query, json_object
from .runner import ResponseRunner
from .sse import SSE_MEDIA_TYPE, Event, encode_event, without_obfuscation
from .state import ServerStore, paginate
from .tool_state import ToolStore

logger = logging.getLogger(__name__)

Pull = Callable[..., Awaitable[Any]]  # runs a blocking call off the event loop: run_in_threadpool, CodeLane.run
MAX_ITEMS_PER_CALL = 20  # conversations.create and items.create (spec maxItems: 20)
MODEL_CREATED_AT = 1_700_000_000  # fixed, so model listings are stable


class StreamCut(Exception):
    """Raised on purpose by the cut-stream fault: the server drops the connection without a terminal event."""


def create_app(
    store: ServerStore,
    engines: EngineRegistry | None = None,
    *,
    api_key: str | None = None,
    faults: FaultSwitch | None = None,
    hosted_tools: HostedTools | None = None,
    bound_host: str = "127.0.0.1",
    allowed_origins: Collection[str] = (),
    max_json_bytes: int = MAX_JSON_BODY_BYTES,
    strict: bool = True,
) -> Starlette:
    """The ASGI app. `faults=None` disables the fault switch (and its /v1/_faults route). Without
    `hosted_tools`, files, vector stores and containers live in memory and go away with the app.

    `bound_host` is the address the server listens on: requests addressed to another name are refused unless
    it is a loopback one (front_door.py). `allowed_origins` are the web origins whose pages may use the server
    (they get CORS headers); a request from any other page is refused. `strict` refuses what the real API
    refuses beyond a request's shape (tool_call_rules.py); False is `assistant serve --lenient`."""
    engines = engines or default_registry()
    owned_tools = hosted_tools is None
    hosted_tools = hosted_tools or HostedTools(ToolStore())
    runner = ResponseRunner(store, engines, hosted_tools, strict=strict)
    background = BackgroundRuns(runner)
    code_lane = CodeLane(hosted_tools.settings.code_calls_at_once, hosted_tools.settings.code_calls_waiting)
    api = _Api(store, engines, runner, background, faults, code_lane)

    routes = [
        Route("/v1/responses", api.create_response, methods=["POST"]),
        Route("/v1/responses/{response_id}", api.retrieve_response, methods=["GET"]),
        Route("/v1/responses/{response_id}", api.delete_response, methods=["DELETE"]),
        Route("/v1/responses/{response_id}/cancel", api.cancel_response, methods=["POST"]),
        Route("/v1/responses/{response_id}/input_items", api.list_input_items, methods=["GET"]),
        Route("/v1/conversations", api.create_conversation, methods=["POST"]),
        Route("/v1/conversations/{conversation_id}", api.retrieve_conversation, methods=["GET"]),
        Route("/v1/conversations/{conversation_id}", api.update_conversation, methods=["POST"]),
        Route("/v1/conversations/{conversation_id}", api.delete_conversation, methods=["DELETE"]),
        Route("/v1/conversations/{conversation_id}/items", api.create_items, methods=["POST"]),
        Route("/v1/conversations/{conversation_id}/items", api.list_items, methods=["GET"]),
        Route("/v1/conversations/{conversation_id}/items/{item_id}", api.retrieve_item, methods=["GET"]),
        Route("/v1/conversations/{conversation_id}/items/{item_id}", api.delete_item, methods=["DELETE"]),
        Route("/v1/models", api.list_models, methods=["GET"]),
        Route("/v1/models/{model:path}", api.retrieve_model, methods=["GET"]),
        Route("/v1/chat/completions", ChatCompletions(engines, strict=strict).create, methods=["POST"]),
    ]
    routes += hosted_tools.routes()  # /v1/files, /v1/vector_stores, /v1/containers
    if faults is not None:
        routes.append(Route("/v1/_faults", api.faults_route, methods=["GET", "POST", "DELETE"]))

    front_door = FrontDoor(
        bound_host=bound_host,
        allowed_origins=allowed_origins,
        max_json_bytes=max_json_bytes,
        max_upload_bytes=hosted_tools.settings.max_upload_bytes,
    )
    middleware = [Middleware(RequestGate, api_key=api_key, faults=faults, front_door=front_door)]
    if front_door.allowed_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=sorted(front_door.allowed_origins),
                allow_methods=["GET", "POST", "DELETE"],
                allow_headers=["*"],
                expose_headers=["x-request-id"],
            )
        )
    return Starlette(
        routes=routes,
        exception_handlers={ApiError: _api_error_response, HTTPException: _http_error_response},
        lifespan=_lifespan(background, code_lane, hosted_tools if owned_tools else None),
        middleware=middleware,
    )


def _lifespan(background: BackgroundRuns, code_lane: CodeLane, owned_tools: HostedTools | None) -> Any:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await run_in_threadpool(background.shutdown)
        code_lane.close()
        if owned_tools is not None:
            await run_in_threadpool(owned_tools.close)
            await run_in_threadpool(owned_tools.store.close)

    return lifespan


class RequestGate:
    """Outermost layer: request id on every response, then the front door (Host, Origin, body size), then the
    bearer-key check, then injected faults.

    Pure ASGI (not BaseHTTPMiddleware) so streamed bodies pass through untouched.
    """

    def __init__(self, app: ASGIApp, *, api_key: str | None, faults: FaultSwitch | None, front_door: FrontDoor) -> None:
        self.app = app
        self.api_key = api_key
        self.faults = faults
        self.front_door = front_door

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            self.front_door.check(scope)
            # A browser's preflight never carries the key; the CORS layer answers it (allowed origins only).
            if self.api_key is not None and not self.front_door.is_preflight(scope):
                headers = dict(scope["headers"])
                authorization = headers.get(b"authorization", b"").decode("latin-1")
                check_authorization(authorization, self.api_key)
            if self.faults is not None and not scope["path"].startswith("/v1/_faults"):
                fault = self.faults.take_request_fault(scope["method"], scope["path"])
                if fault is not None:
                    if fault.delay_s:
                        await asyncio.sleep(fault.delay_s)
                    if fault.status is not None:
                        raise fault.error()
        except ApiError as error:
            await _api_error_response(None, error)(scope, receive, send_with_id)
            return
        try:
            await self.app(scope, self.front_door.limited(scope, receive), send_with_id)
        except ClientDisconnect:
            # The client went away before its request was read (a client timeout, a cancelled call): normal
            # traffic with no one left to answer, not a server error for uvicorn to log with a traceback.
            logger.debug("client disconnected before %s %s was read", scope["method"], scope["path"])


class _Api:
    """The route handlers. Store and engine work is blocking, so it runs on worker threads."""

    def __init__(
        self,
        store: ServerStore,
        engines: EngineRegistry,
        runner: ResponseRunner,
        background: BackgroundRuns,
        faults: FaultSwitch | None,
        code_lane: CodeLane,
    ) -> None:
        self.store = store
        self.engines = engines
        self.runner = runner
        self.background = background
        self.faults = faults
        self.code_lane = code_lane

    # -- responses --------------------------------------------------------------------------------------------

    async def create_response(self, request: Request) -> Response:
        body = await json_object(request)
        prepared = await run_in_threadpool(self.runner.prepare, body)
        pull = self._pull_for(body)
        if prepared.background:
            run = self.background.start(prepared)
            if prepared.stream:
                return self._event_stream(request, run.follow(self.background.stopping), pull)
            await pull(run.wait_for_events, 1)
            return JSONResponse(run.events[0]["response"])
        if prepared.stream:
            return self._event_stream(request, self.runner.run(prepared), pull)
        terminal = await pull(_last_event, self.runner.run(prepared))
        if terminal["type"] == "response.failed":
            raise ApiError(
                500, "The server had an error while processing your request. Sorry about that!", type="server_error"
            )
        return JSONResponse(terminal["response"])

    async def retrieve_response(self, request: Request) -> Response:
        response_id = request.path_params["response_id"]
        body = await run_in_threadpool(self.store.response, response_id)
        if body is None:
            raise error_responses.not_found("Response", response_id)
        if not _flag(request.query_params.get("stream")):
            return JSONResponse(body)
        starting_after = int_query(request, "starting_after", minimum=0)
        keep_obfuscation = request.query_params.get("include_obfuscation", "true").lower() != "false"
        live = self.background.get(response_id)
        stored = None if live else await run_in_threadpool(self.store.response_events, response_id)
        if live is None and stored is None:  # deleted meanwhile
            raise error_responses.not_found("Response", response_id)
        events: Iterator[Event] = live.follow(self.background.stopping) if live else iter(stored or [])
        return self._event_stream(request, _replay(events, starting_after, keep_obfuscation))

    async def delete_response(self, request: Request) -> Response:
        response_id = request.path_params["response_id"]
        if not await run_in_threadpool(self.store.delete_response, response_id):
            raise error_responses.not_found("Response", response_id)
        return JSONResponse({"id": response_id, "object": "response", "deleted": True})

    async def cancel_response(self, request: Request) -> Response:
        response_id = request.path_params["response_id"]
        body = await run_in_threadpool(self.store.response, response_id)
        if body is None:
            raise error_responses.not_found("Response", response_id)
        if not body.get("background"):
            # Wording of the real API, as reproduced by vLLM's Responses server.
            raise ApiError(400, "Cannot cancel a synchronous response.")
        await run_in_threadpool(self.background.cancel, response_id)
        body = await run_in_threadpool(self.store.response, response_id)
        if body is None:  # deleted meanwhile
            raise error_responses.not_found("Response", response_id)
        return JSONResponse(body)

    async def list_input_items(self, request: Request) -> Response:
        response_id = request.path_params["response_id"]
        items = await run_in_threadpool(self.store.response_input_items, response_id)
        if items is None:
            raise error_responses.not_found("Response", response_id)
        return JSONResponse(_page(request, items))

    # -- conversations ----------------------------------------------------------------------------------------

    async def create_conversation(self, request: Request) -> Response:
        body = await json_object(request, empty_ok=True)
        metadata = body.get("metadata") or {}
        check_metadata(metadata)
        items = _items_param(body.get("items"), required=False)
        conversation = await run_in_threadpool(self.store.create_conversation, new_id("conv"), metadata, items)
        return JSONResponse(conversation)

    async def retrieve_conversation(self, request: Request) -> Response:
        return JSONResponse(await self._conversation(request))

    async def update_conversation(self, request: Request) -> Response:
        await self._conversation(request)
        body = await json_object(request)
        if "metadata" not in body:
            raise error_responses.missing_parameter("metadata")
        check_metadata(body["metadata"])
        updated = await run_in_threadpool(
            self.store.update_conversation, request.path_params["conversation_id"], body["metadata"] or {}
        )
        return JSONResponse(updated)

    async def delete_conversation(self, request: Request) -> Response:
        conversation_id = request.path_params["conversation_id"]
        if not await run_in_threadpool(self.store.delete_conversation, conversation_id):
            raise error_responses.not_found("Conversation", conversation_id)
        return JSONResponse({"id": conversation_id, "object": "conversation.deleted", "deleted": True})

    async def create_items(self, request: Request) -> Response:
        conversation = await self._conversation(request)
        body = await json_object(request)
        items = _items_param(body.get("items"), required=True)
        await run_in_threadpool(self.store.add_conversation_items, conversation["id"], items)
        return JSONResponse(
            {
                "object": "list",
                "data": items,
                "first_id": items[0]["id"] if items else "",
                "last_id": items[-1]["id"] if items else "",
                "has_more": False,
            }
        )

    async def list_items(self, request: Request) -> Response:
        conversation = await self._conversation(request)
        items = await run_in_threadpool(self.store.conversation_items, conversation["id"])
        return JSONResponse(_page(request, items))

    async def retrieve_item(self, request: Request) -> Response:
        conversation = await self._conversation(request)
        item_id = request.path_params["item_id"]
        item = await run_in_threadpool(self.store.conversation_item, conversation["id"], item_id)
        if item is None:
            raise error_responses.not_found("Item", item_id)
        return JSONResponse(item)

    async def delete_item(self, request: Request) -> Response:
        conversation = await self._conversation(request)
        item_id = request.path_params["item_id"]
        if not await run_in_threadpool(self.store.delete_conversation_item, conversation["id"], item_id):
            raise error_responses.not_found("Item", item_id)
        return JSONResponse(conversation)  # the API returns the Conversation, not a deleted-object

    async def _conversation(self, request: Request) -> dict[str, Any]:
        conversation_id = request.path_params["conversation_id"]
        conversation = await run_in_threadpool(self.store.get_conversation, conversation_id)
        if conversation is None:
            raise error_responses.not_found("Conversation", conversation_id)
        return conversation

    # -- models -----------------------------------------------------------------------------------------------

    async def list_models(self, request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [_model(m.id, m.owned_by) for m in self.engines.models()]})

    async def retrieve_model(self, request: Request) -> Response:
        model = request.path_params["model"]
        served = self.engines.resolve(model)
        if served is None:
            raise ApiError(404, f"The model '{model}' does not exist", param="model", code="model_not_found")
        return JSONResponse(_model(model, served.owned_by))

    # -- fault switch (not an OpenAI route; see faults.py) ----------------------------------------------------

    async def faults_route(self, request: Request) -> Response:
        assert self.faults is not None
        if request.method == "POST":
            self.faults.add(Fault.from_json(await json_object(request)))
        elif request.method == "DELETE":
            self.faults.clear()
        return JSONResponse({"object": "list", "data": self.faults.pending()})

    # -- streaming --------------------------------------------------------------------------------------------

    def _pull_for(self, body: dict[str, Any]) -> Pull:
        """Where a response's blocking work runs: on the code lane when it may run code (code_lane.py), so that
        sleeping code never holds the threads every other request needs; a 429 when that lane is full."""
        if "code_interpreter" not in hosted_tool_kinds(body):
            return run_in_threadpool
        self.code_lane.check_room()
        return self.code_lane.run

    def _event_stream(
        self, request: Request, events: Iterator[Event], pull: Pull = run_in_threadpool
    ) -> StreamingResponse:
        cut_after = None
        if self.faults is not None:
            cut_after = self.faults.take_stream_cut(request.method, request.url.path)
        return StreamingResponse(
            _closing(_encoded(events, cut_after), pull),
            media_type=SSE_MEDIA_TYPE,
            headers={"cache-control": "no-cache"},
        )


async def _closing(chunks: Generator[bytes, None, None], pull: Pull) -> AsyncIterator[bytes]:
    """Pull a blocking generator on worker threads, and close it the moment the response ends.

    Starlette's own wrapper leaves the generator open when the client goes away; it is then closed whenever
    the garbage collector gets to it (possibly after the server's store is closed), so the runner could not
    record the abandoned response honestly.
    """
    try:
        while True:
            chunk = await pull(next, chunks, None)
            if chunk is None:
                return
            yield chunk
    finally:
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(chunks.close)


def _encoded(events: Iterator[Event], cut_after: int | None) -> Generator[bytes, None, None]:
    sent = 0
    try:
        while True:
            # Cut *before* pulling the next event, so the runner never finishes (or persists) a response whose
            # terminal event the client will not see.
            if cut_after is not None and sent >= cut_after:
                raise StreamCut(f"stream cut after {sent} events by an injected fault")
            event = next(events, None)
            if event is None:
                return
            yield encode_event(event)
            sent += 1
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()


def _replay(events: Iterator[Event], starting_after: int | None, keep_obfuscation: bool) -> Iterator[Event]:
    for event in events:
        if starting_after is not None and event["sequence_number"] <= starting_after:
            continue
        yield event if keep_obfuscation else without_obfuscation(event)


def _last_event(events: Iterator[Event]) -> Event:
    last: Event | None = None
    for event in events:
        last = event
    assert last is not None
    return last


def _items_param(value: Any, *, required: bool) -> list[Item]:
    if value is None:
        if required:
            raise error_responses.missing_parameter("items")
        return []
    if not isinstance(value, list):
        raise error_responses.invalid_type("items", "an array of items", value)
    if len(value) > MAX_ITEMS_PER_CALL:
        raise error_responses.array_too_long("items", MAX_ITEMS_PER_CALL, len(value))
    return normalize_input(value, param="items")


def _page(request: Request, items: list[dict[str, Any]]) -> dict[str, Any]:
    """A cursor page: `after`, `limit` (1-100, default 20), `order` (default desc, as the API does)."""
    limit = int_query(request, "limit", minimum=1, maximum=100)
    asked = request.query_params.get("order", "desc")
    if asked not in ("asc", "desc"):
        raise error_responses.invalid_value("order", asked, ["asc", "desc"])
    order: Literal["asc", "desc"] = "asc" if asked == "asc" else "desc"
    page = paginate(items, after=request.query_params.get("after"), limit=limit or 20, order=order)
    return {
        "object": "list",
        "data": page.data,
        "first_id": page.data[0]["id"] if page.data else "",
        "last_id": page.data[-1]["id"] if page.data else "",
        "has_more": page.has_more,
    }


def _flag(raw: str | None) -> bool:
    return raw is not None and raw.lower() == "true"


def _model(model_id: str, owned_by: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": MODEL_CREATED_AT, "owned_by": owned_by}


def _api_error_response(request: Request | None, error: Exception) -> Response:
    assert isinstance(error, ApiError)
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


def _http_error_response(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    if error.status_code == 404:
        message = f"Invalid URL ({request.method} {request.url.path})"
    elif error.status_code == 405:
        message = f"Invalid method for URL ({request.method} {request.url.path})"
    else:
        message = str(error.detail)
    return JSONResponse(ApiError(error.status_code, message).body(), status_code=error.status_code)
