"""Running the local server: `LocalServer` (a background thread, for the embedded default and for tests) and
`serve()` (blocking, for `assistant serve`).

It listens on loopback only unless an API key protects it: the server holds conversations and runs tools, so it
must never be an open service on a network. On loopback it still answers only requests addressed to a loopback
name and refuses web pages' requests (front_door.py), so a page open in a browser cannot drive it either.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Collection
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn

from .engines.registry import EngineRegistry, registry_for
from .faults import Fault, FaultSwitch
from .front_door import normalized_origin
from .hosted_tools import HostedTools, HostedToolSettings
from .routes import StreamCut, create_app
from .state import ServerStore
from .tool_state import ToolStore

logger = logging.getLogger(__name__)

_START_TIMEOUT_S = 10.0


class LocalServer:
    """The OpenAI-compatible server on a daemon thread.

    >>> with LocalServer(db_path="server.db") as server:
    ...     client = OpenAI(base_url=server.base_url, api_key="sk-local")
    """

    def __init__(
        self,
        db_path: str | Path | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        engines: EngineRegistry | None = None,
        engine: str = "reference",
        enable_faults: bool = True,
        tool_settings: HostedToolSettings | None = None,
        allowed_origins: Collection[str] = (),
        strict: bool = True,
    ) -> None:
        """`engine` picks what answers ("reference", "llama", or "auto": see `registry_for`) unless `engines`
        gives a registry. It is "reference" by default so that tests stay deterministic; the embedded default
        asks for "auto". `tool_settings` configures the hosted tools: container idle timeout, sandbox limits,
        upload size and the web search provider (see `HostedToolSettings`). `allowed_origins` are the web
        origins whose pages may use the server (front_door.py). `strict` refuses what the real API refuses
        beyond a request's shape (tool_call_rules.py); False keeps the permissive behaviour."""
        check_exposure(host, api_key)
        self.host = host
        self.port = port  # 0 until started: the OS picks a free port
        self.db_path = db_path
        self._requested_port = port
        self._api_key = api_key
        self._allowed_origins = [normalized_origin(origin) for origin in allowed_origins]  # ValueError now
        self._engines = engines
        self.engine = engine
        self.strict = strict
        self.faults: FaultSwitch | None = FaultSwitch() if enable_faults else None
        self.store: ServerStore | None = None
        self.tool_settings = tool_settings or HostedToolSettings()
        self.hosted_tools: HostedTools | None = None  # files, vector stores and containers, once started
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def api_key(self) -> str | None:
        """The bearer key the server requires, if any."""
        return self._api_key

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("LocalServer is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"

    def start(self) -> LocalServer:
        """Start serving; returns once the server accepts connections."""
        if self._server is not None:
            return self
        self.store = ServerStore(self.db_path)
        self.hosted_tools = HostedTools(ToolStore(self.db_path), self.tool_settings)
        if self._engines is None:
            self._engines = registry_for(self.engine)  # loads the model, if it is llama's (~0.1 s)
        app = create_app(
            self.store,
            self._engines,
            api_key=self._api_key,
            faults=self.faults,
            hosted_tools=self.hosted_tools,
            bound_host=self.host,
            allowed_origins=self._allowed_origins,
            strict=self.strict,
        )
        config = uvicorn.Config(
            app,
            host=self.host,
            port=self._requested_port,  # 0: the OS picks a free port, read back below
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=2,
            access_log=False,
        )
        # uvicorn binds the socket itself: handing it a pre-bound socket loses TCP_NODELAY on accepted
        # connections, which costs ~40 ms per keep-alive request (Nagle + delayed ACK).
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="assistant-local-server", daemon=True)
        self._server, self._thread = server, thread
        _quiet_deliberate_cuts()
        thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"local server failed to start on {self.host}:{self._requested_port}")
            time.sleep(0.005)
        self.port = server.servers[0].sockets[0].getsockname()[1]
        logger.info("local OpenAI-compatible server listening on %s", self.base_url)
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout=10)
            if thread.is_alive():
                logger.warning("local server thread did not stop within 10 s")
        if self.store is not None:
            self.store.close()
        if self.hosted_tools is not None:
            self.hosted_tools.close()
            self.hosted_tools.store.close()
        self._server = self._thread = None
        self.store = None
        self.hosted_tools = None

    # Convenience twins of the HTTP fault switch (see faults.py).
    def inject_fault(self, **fault: Any) -> None:
        if self.faults is None:
            raise RuntimeError("this LocalServer was created with enable_faults=False")
        self.faults.add(Fault.from_json(fault))

    def clear_faults(self) -> None:
        if self.faults is not None:
            self.faults.clear()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve(
    host: str,
    port: int,
    db_path: str | Path | None,
    api_key: str | None = None,
    engine: str = "auto",
    allowed_origins: Collection[str] = (),
    strict: bool = True,
) -> None:
    """Serve in the foreground until interrupted (`assistant serve`). The fault switch is off. `strict=False`
    is `--lenient`: the server accepts what the real API refuses beyond a request's shape."""
    check_exposure(host, api_key)
    engines = registry_for(engine)
    store = ServerStore(db_path)
    hosted_tools = HostedTools(ToolStore(db_path))
    try:
        app = create_app(
            store,
            engines,
            api_key=api_key,
            faults=None,
            hosted_tools=hosted_tools,
            bound_host=host,
            allowed_origins=allowed_origins,
            strict=strict,
        )
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    finally:
        hosted_tools.close()
        hosted_tools.store.close()
        store.close()


def check_exposure(host: str, api_key: str | None) -> None:
    """Raise ValueError unless `host` is loopback or a key protects the server."""
    if api_key:
        return
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(
            f"Refusing to serve on non-loopback host {host!r} without an API key (ASSISTANT_SERVER_API_KEY): "
            "anyone on the network could use this server. Bind 127.0.0.1 or set a key."
        )


class _DeliberateCutFilter(logging.Filter):
    """uvicorn logs an ASGI exception as an error; a cut-stream fault is a requested one, not a bug."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not _is_stream_cut(error)


def _is_stream_cut(error: BaseException | None) -> bool:
    if isinstance(error, StreamCut):
        return True
    if isinstance(error, BaseExceptionGroup):
        return all(_is_stream_cut(inner) for inner in error.exceptions)
    return False


_cut_filter = _DeliberateCutFilter()


def _quiet_deliberate_cuts() -> None:
    uvicorn_logger = logging.getLogger("uvicorn.error")
    if _cut_filter not in uvicorn_logger.filters:
        uvicorn_logger.addFilter(_cut_filter)
