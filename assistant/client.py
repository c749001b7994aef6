"""`Assistant`: the library's entry point. It owns the settings, the index, the SDK clients and, when there is
no API key and no base URL, the embedded local server that the SDK then talks to over loopback HTTP (the same
code path as the real API).

What only a turn or a call to the server needs (the SDK, the backends, the tool runtimes, files and containers)
is imported when first used, not here: a command that only reads the index (`assistant threads`) then starts
in a fraction of the time the SDK's import alone takes."""

from __future__ import annotations

import logging
import secrets
import sqlite3
import threading
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.compare import BACKENDS, MODE_OF_BACKEND
from assistant.config import Settings, load_settings
from assistant.errors import AssistantError, ThreadNotFound, retry_after_seconds
from assistant.index.records import ComparisonRecord, SearchHit, ThreadInfo
from assistant.index.store import IndexStore
from assistant.modes import check_mode
from assistant.private_files import make_private_folder
from assistant.thread import Thread
from assistant.tool_settings import parse_tools
from assistant.turn import Turn
from assistant.urls import without_credentials

if TYPE_CHECKING:
    import httpx2
    import openai

    from assistant.backends.backend import Backend
    from assistant.backends.chat import ChatBackend
    from assistant.backends.responses import ResponsesBackend
    from assistant.containers import ContainerTracker
    from assistant.files import FileLibrary
    from assistant.server.server import LocalServer

log = logging.getLogger("assistant")

# The SDK insists on a key; most self-hosted servers accept any. (The embedded server makes its own: see base_url.)
PLACEHOLDER_KEY = "no-key"


class Assistant:
    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        db_path: str | Path | None = None,
        model: str | None = None,
        max_retries: int | None = None,
        timeout: float | None = None,
        max_retry_wait: float | None = None,
        settings: Settings | None = None,
        strict_validation: bool = False,
    ) -> None:
        """`timeout` (seconds, ASSISTANT_TIMEOUT) is how long to wait for an answer to start and, in a stream,
        for each next piece of it. `max_retry_wait` (seconds, ASSISTANT_MAX_RETRY_WAIT) is the longest
        `Retry-After` a retry sleeps through; a server asking for longer is reported at once (RateLimited or
        ServerError, saying how long to wait) instead of the client sleeping silently for minutes.

        `strict_validation=True` makes the SDK validate every response body and stream event against its
        types and raise on any mismatch: for tests, and for checking that a provider is faithful."""
        self.settings = (settings or load_settings()).with_overrides(
            api_key=api_key,
            base_url=base_url,
            model=model,
            max_retries=max_retries,
            timeout=timeout,
            max_retry_wait=max_retry_wait,
        )
        if db_path:  # a file, or a postgresql:// URL
            self.settings = self.settings.with_index(db_path)
        self.store = IndexStore(self.settings.index_location)
        self.local_server: LocalServer | None = None
        self._starting = threading.Lock()
        self._strict_validation = strict_validation
        self._client: openai.OpenAI | None = None
        self._async_client: openai.AsyncOpenAI | None = None
        self._backend: ResponsesBackend | None = None
        self._chat_backend: ChatBackend | None = None

    @cached_property
    def containers(self) -> ContainerTracker:
        """The threads' code-interpreter containers and the files their code made."""
        from assistant.containers import ContainerTracker

        return ContainerTracker(self)

    @cached_property
    def files(self) -> FileLibrary:
        """Files for file search: upload, attach to a thread's vector store, list, remove."""
        from assistant.files import FileLibrary

        return FileLibrary(self)

    @property
    def base_url(self) -> str:
        """Where requests go. Without a key or base URL this starts the embedded local server (on first use,
        so that commands which only read the index never start it)."""
        if self.settings.base_url:
            return self.settings.base_url
        if not self.settings.uses_local_server:
            return "https://api.openai.com/v1"
        with self._starting:  # two threads asking at once must not start two servers
            if self.local_server is None:
                from assistant.server.server import (
                    LocalServer,  # the server's stack loads only when it is used
                )

                # Its state goes beside the index: an index that cannot be written has nowhere for it either, and
                # nothing it answered could be recorded.
                self.store.connection.check_writable()
                try:
                    # With a PostgreSQL index nothing has made the data folder yet.
                    make_private_folder(self.settings.local_server_db.parent)
                    # A key of its own, made afresh each start and known only to this process's clients: any
                    # other process or local user can reach a loopback port, but not use it.
                    server = LocalServer(
                        db_path=self.settings.local_server_db,
                        engine="auto",
                        enable_faults=False,
                        api_key=secrets.token_urlsafe(32),
                    )
                    server.start()
                except (OSError, RuntimeError, sqlite3.Error) as exc:
                    raise AssistantError(
                        f"The embedded local server cannot keep its state in {self.settings.local_server_db} "
                        f"({exc}). Set ASSISTANT_DB to a writable path, or OPENAI_API_KEY to use OpenAI."
                    ) from exc
                self.local_server = server
                log.info("No OPENAI_API_KEY set: using the embedded local server at %s", server.base_url)
        return self.local_server.base_url

    @property
    def server_url(self) -> str:
        """`base_url` for messages and records: without any credentials written into it (`https://user:key@…`)."""
        return without_credentials(self.base_url)

    @property
    def state_server(self) -> str:
        """Which server holds a new thread's state, as recorded on the thread: the embedded server's port
        changes every run, so it is named by its state file instead."""
        if self.settings.uses_local_server:
            return f"local:{self.settings.local_server_db}"
        return self.server_url

    # the SDK clients, built on first use (a sync script never builds the async one)

    def _client_options(self) -> dict[str, Any]:
        base_url = self.base_url  # starts the embedded server, if it is the one, which makes its key
        embedded_key = self.local_server.api_key if self.local_server is not None else None
        return {
            "api_key": self.settings.api_key or embedded_key or PLACEHOLDER_KEY,
            "base_url": base_url,
            "max_retries": self.settings.max_retries,
            "timeout": self.settings.timeout,
            "_strict_response_validation": self._strict_validation,
        }

    @property
    def client(self) -> openai.OpenAI:
        if self._client is None:
            import openai

            from assistant.metering import count_request

            checks = AnswerChecks(self.settings.max_retry_wait)
            self._client = openai.OpenAI(
                **self._client_options(),
                http_client=openai.DefaultHttpx2Client(event_hooks={"request": [count_request], "response": [checks]}),
            )
        return self._client

    @property
    def async_client(self) -> openai.AsyncOpenAI:
        if self._async_client is None:
            import openai

            from assistant.metering import count_request_async

            checks = AnswerChecks(self.settings.max_retry_wait)
            self._async_client = openai.AsyncOpenAI(
                **self._client_options(),
                http_client=openai.DefaultAsyncHttpx2Client(
                    event_hooks={"request": [count_request_async], "response": [checks.acall]}
                ),
            )
        return self._async_client

    def backend_for(self, mode: str) -> Backend:
        """The backend that runs turns of a thread in `mode`: Chat Completions for chat mode, else Responses."""
        if mode == "chat":
            if self._chat_backend is None:
                from assistant.backends.chat import ChatBackend
                from assistant.backends.tool_runtimes import LocalToolRuntimes

                # Chat has no hosted tools: they run here, in a folder per thread beside the index.
                runtimes = LocalToolRuntimes(self.settings.data_dir / "containers")
                self._chat_backend = ChatBackend(self, local_tools=runtimes)
            return self._chat_backend
        if self._backend is None:
            from assistant.backends.responses import ResponsesBackend

            self._backend = ResponsesBackend(self)
        return self._backend

    @property
    def provider(self) -> str:
        """A short description of where requests go, for status lines."""
        if self.settings.uses_local_server:
            # Its address is no use to anyone else (its key lives only in this process), and the status line
            # has 80 columns for the model, mode, tools and conversation too.
            return "local server"
        return "OpenAI" if "api.openai.com" in self.base_url else self.server_url

    # threads

    def thread(
        self,
        id: str | None = None,
        *,
        title: str = "",
        mode: str = "conversation",
        model: str | None = None,
        instructions: str | None = None,
        tools: Any = None,
    ) -> Thread:
        """A new thread, or with `id=` the thread of that id from the index (created by any process).

        `tools` enables hosted tools for every turn: names (`["web_search", "file_search", "code_interpreter"]`,
        or `"web,files,code"`) or dicts with options (see assistant/tool_settings.py)."""
        if id is not None:
            return Thread(self, self.store.thread(id))
        check_mode(mode)
        info = self.store.create_thread(
            model=model or self.settings.model,
            title=title,
            mode=mode,
            instructions=instructions,
            base_url=self.state_server,
            tools=parse_tools(tools).to_json(),
        )
        return Thread(self, info)

    def threads(self, *, limit: int = 50, offset: int = 0, archived: bool = False) -> list[ThreadInfo]:
        """Threads from the index, most recently active first."""
        return self.store.threads(limit=limit, offset=offset, archived=archived)

    def search(self, text: str, *, limit: int = 20) -> list[SearchHit]:
        """Turns whose message or answer holds every word of `text`, newest first."""
        return self.store.search(text, limit=limit)

    def turn(self, turn_id: int) -> Turn:
        """A turn as the index recorded it (e.g. what a cancelled turn kept)."""
        return self.store.turn(turn_id)

    def delete_thread(self, thread_id: str, *, server: bool = True) -> None:
        """Delete a thread from the index and, with `server=True`, its conversation and vector store on the
        server (best effort: what the server no longer has is already gone). Irreversible."""
        info = self.store.thread(thread_id)
        if server:
            import openai

            from assistant.provider_errors import PROVIDER_ERRORS, explain

            store_id = self.store.thread_vector_store(thread_id)
            for delete, object_id in (
                (self.client.conversations.delete, info.conversation_id),
                (self.client.vector_stores.delete, store_id),
            ):
                if object_id:
                    try:
                        delete(object_id)
                    except openai.NotFoundError:
                        pass
                    except PROVIDER_ERRORS as exc:
                        raise explain(exc, base_url=self.server_url, model=info.model) from exc
        self.store.delete_thread(thread_id)

    def models(self) -> list[str]:
        """The models the server offers."""
        from assistant.provider_errors import PROVIDER_ERRORS, explain

        try:
            return sorted(model.id for model in self.client.models.list())
        except PROVIDER_ERRORS as exc:
            raise explain(exc, base_url=self.server_url, model="", timeout=self.settings.timeout) from exc

    async def amodels(self) -> list[str]:
        from assistant.provider_errors import PROVIDER_ERRORS, explain

        try:
            return sorted([model.id async for model in self.async_client.models.list()])
        except PROVIDER_ERRORS as exc:
            raise explain(exc, base_url=self.server_url, model="", timeout=self.settings.timeout) from exc

    # comparisons: a conversation run through both backends (`assistant compare`, the app's compare screen)

    def comparisons(self, *, thread_id: str | None = None, limit: int = 50) -> list[ComparisonRecord]:
        """Recorded comparisons, newest first; with `thread_id`, the comparison that thread is one side of (none
        for an ordinary thread)."""
        return self.store.comparisons(thread_id=thread_id, limit=limit)

    def new_comparison(
        self,
        name: str,
        *,
        model: str | None = None,
        instructions: str | None = None,
        tools: Any = None,
        source: str | None = None,
        run_id: str | None = None,
    ) -> ComparisonRecord:
        """A new comparison named `name`: a thread per backend (`BACKENDS`: conversation mode on Responses, chat
        mode on Chat Completions) titled "compare: <name> (<backend>)", both with `model`, `instructions` and
        `tools` (as `thread()` takes them), recorded as a comparison before either runs, as `assistant compare`
        records its own, so both list it and `assistant ask` never takes one of its threads for the latest
        conversation. `source` says where it came from; `run_id` groups the comparisons of one run (a new one
        by default). Its summary stays empty: send each turn to both threads (`comparison_threads`) and read
        the numbers from their recorded turns."""
        threads = {
            backend: self.thread(
                title=f"compare: {name} ({backend})",
                mode=MODE_OF_BACKEND[backend],
                model=model,
                instructions=instructions,
                tools=tools,
            )
            for backend in BACKENDS
        }
        self.store.add_comparison(
            run_id=run_id or "run_" + secrets.token_hex(8),
            name=name,
            source=source,
            responses_thread_id=threads["responses"].id,
            chat_thread_id=threads["chat"].id,
            summary={},
        )
        return self.store.comparisons(thread_id=threads["responses"].id, limit=1)[0]

    def comparison_threads(self, comparison: ComparisonRecord) -> dict[str, Thread]:
        """The comparison's two threads, by backend. ThreadNotFound when one of them was deleted."""
        ids = {"responses": comparison.responses_thread_id, "chat": comparison.chat_thread_id}
        threads: dict[str, Thread] = {}
        for backend, thread_id in ids.items():
            if not thread_id:
                raise ThreadNotFound(f"The {backend} thread of “{comparison.name}” was deleted.")
            threads[backend] = self.thread(thread_id)
        return threads

    # lifetime

    def close(self) -> None:
        if self._chat_backend is not None and self._chat_backend.local_tools is not None:
            self._chat_backend.local_tools.close()  # the sandboxes of chat-mode threads
        if self._client is not None:
            self._client.close()
        if self.local_server is not None:
            self.local_server.stop()
        self.store.close()

    async def aclose(self) -> None:
        if self._async_client is not None:
            await self._async_client.close()
        self.close()

    def __enter__(self) -> Assistant:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    async def __aenter__(self) -> Assistant:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()


class AnswerChecks:
    """An httpx2 response hook: two corrections to what the SDK does with an answer before it sees it.

    - Retry-After longer than `max_retry_wait`: the SDK would sleep through up to 2 minutes per retry without a
      word (and retry not at all above that). We mark such an answer not to be retried (`x-should-retry`, the
      SDK's own override), so the error reaches the user at once with the wait in it.
    - A 2xx answer to a JSON call that is not JSON (a proxy's HTML page): the SDK would hand our code the text
      as a `str` in place of the object (without strict validation), failing later somewhere unrelated. We
      let the SDK parse it as the JSON it must be, so it fails right there with a JSONDecodeError that
      `explain()` words clearly.
    """

    def __init__(self, max_retry_wait: float) -> None:
        self.max_retry_wait = max_retry_wait

    def __call__(self, response: httpx2.Response) -> None:
        if response.status_code in (408, 409, 429) or response.status_code >= 500:
            wait = retry_after_seconds(response.headers, prefer_ms=True)
            if wait is not None and wait > self.max_retry_wait:
                response.headers["x-should-retry"] = "false"
        elif 200 <= response.status_code < 300 and response.request.headers.get("accept") == "application/json":
            kind = response.headers.get("content-type", "").split(";")[0].strip()
            if kind != "text/event-stream" and not kind.endswith("json"):
                response.headers["content-type"] = "application/json"

    async def acall(self, response: httpx2.Response) -> None:
        self(response)
