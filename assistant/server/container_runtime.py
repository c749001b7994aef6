"""Containers: a folder and a persistent sandboxed Python process per container, with the API's lifecycle.

A container is `active` until it has been idle for its timeout (20 minutes, as on the real API; the server's
`container_idle_timeout_s` shortens it for tests), then `expired`: its process is stopped, its files are removed,
and using it again is a 400 `container_expired`, as the real API refuses an expired container (it cannot be
revived; start a new one). Every operation on a container refreshes `last_active_at`. Expiry is checked lazily
on every container access and by `expire_idle()`, which the server calls as requests come in.

Container files live in the container folder, which the code sees as /mnt/data. Names from uploads are reduced
to a plain file name (no directories, no `..`). The code owns the folder and can swap any name in it for a
symlink at any moment (a link to /etc/shadow, or to a folder of the host), so the server never uses a path
into it: every read, write and removal goes through the folder's descriptors (`UntrustedFolder`), which never
follow a symlink and never leave the folder.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import re
import shutil
import threading
from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath
from typing import Any

from ..tools import ExecutionResult, Isolation, PythonSandbox, SandboxLimits, ToolError
from ..tools.code_sandbox import MEMORY_LIMITS, SANDBOX_PATH
from ..tools.untrusted_folder import FileTooLarge, RefusedEntry, UntrustedFolder
from .error_responses import ApiError, invalid_type, invalid_value, not_found
from .ids import new_id
from .tool_state import ToolStore, now

logger = logging.getLogger(__name__)

DEFAULT_IDLE_TIMEOUT_S = 20 * 60
MAX_FILE_BYTES = 512 << 20  # the real API's limit per file: the most a container file download serves
_UNSAFE_NAME_CHARACTERS = re.compile(r"[\x00-\x1f/\\]")


class Containers:
    def __init__(
        self,
        store: ToolStore,
        *,
        idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
        limits: SandboxLimits = SandboxLimits(),  # noqa: B008 -- frozen dataclass: one shared default is safe
        isolation: Isolation | None = None,
        calls_at_once: int = 4,
        call_wait_s: float = 60.0,
    ) -> None:
        """At most `calls_at_once` sandbox calls run at once, over all containers; one more waits up to
        `call_wait_s` for its turn, then fails as a 429."""
        self.store = store
        self.idle_timeout_s = idle_timeout_s
        self.limits = limits
        self.isolation = isolation
        self.calls_at_once = calls_at_once
        self.call_wait_s = call_wait_s
        self._running = threading.BoundedSemaphore(calls_at_once)
        # Resolved once, before any code runs: the folders beneath are then opened refusing every symlink.
        self._root = store.containers.resolve()
        self._sandboxes: dict[str, PythonSandbox] = {}
        self._busy: dict[str, int] = {}  # containers with a call running: never idle, whatever the clock says
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            sandboxes, self._sandboxes = list(self._sandboxes.values()), {}
        for sandbox in sandboxes:
            sandbox.close()

    # -- lifecycle --------------------------------------------------------------------------------------------

    def create(self, body: Mapping[str, Any]) -> dict[str, Any]:
        name = body.get("name")
        if not isinstance(name, str):
            raise ApiError(400, "Missing required parameter: 'name'.", param="name", code="missing_required_parameter")
        memory_limit = body.get("memory_limit") or "1g"
        if not isinstance(memory_limit, str):  # a list or an object is not hashable: test it before `in`
            raise invalid_type("memory_limit", "a string", memory_limit)
        if memory_limit not in MEMORY_LIMITS:
            raise invalid_value("memory_limit", memory_limit, list(MEMORY_LIMITS))
        file_ids = body.get("file_ids") or []
        if not isinstance(file_ids, list) or not all(isinstance(file_id, str) for file_id in file_ids):
            raise invalid_type("file_ids", "an array of strings", file_ids)
        expires_after = body.get("expires_after")
        minutes = expires_after.get("minutes") if isinstance(expires_after, dict) else None
        if minutes is not None and (not isinstance(minutes, int) or minutes < 1):
            raise ApiError(
                400,
                "Invalid 'expires_after.minutes': expected a positive integer.",
                param="expires_after.minutes",
                code="invalid_value",
            )
        created = now()
        container: dict[str, Any] = {
            "id": new_id("cntr"),
            "object": "container",
            "name": name,
            "created_at": created,
            "status": "active",
            "last_active_at": created,
            "expires_after": {"anchor": "last_active_at", "minutes": minutes or math.ceil(self.idle_timeout_s / 60)},
            "memory_limit": memory_limit,
            "network_policy": {"type": "disabled"},
        }
        self.store.container_folder(container["id"]).mkdir()
        # The timeout in seconds is kept beside the API object (which says minutes): tests go below a minute.
        self.store.save_container({**container, "_idle_timeout_s": minutes * 60 if minutes else self.idle_timeout_s})
        for file_id in file_ids:
            self.add_uploaded_file(container["id"], file_id)
        return container

    def get(self, container_id: str) -> dict[str, Any]:
        """The container as the API shows it, expired if it has been idle too long."""
        container = self.store.get_container(container_id)
        if container is None:
            raise not_found("Container", container_id)
        if (
            container["status"] == "active"
            and now() - container["last_active_at"] >= container["_idle_timeout_s"]
            and container_id not in self._busy
        ):
            container = self._expire(container)
        return _public(container)

    def active(self, container_id: str) -> dict[str, Any]:
        """The container, refreshed; a 400 when it has expired."""
        container = self.get(container_id)
        if container["status"] != "active":
            raise ApiError(
                400,
                f"Container {container_id} has expired: containers expire after "
                f"{container['expires_after']['minutes']} minutes of inactivity and cannot be revived. "
                'Create a new container, or use {"type": "auto"}.',
                param="container",
                code="container_expired",
            )
        stored = self.store.get_container(container_id)
        assert stored is not None
        stored["last_active_at"] = now()
        self.store.save_container(stored)
        return _public(stored)

    def list_all(self) -> list[dict[str, Any]]:
        return [self.get(container["id"]) for container in self.store.list_containers()]

    def delete(self, container_id: str) -> None:
        self.get(container_id)
        self._stop(container_id)
        self.store.delete_container(container_id)
        shutil.rmtree(self.store.container_folder(container_id), ignore_errors=True)

    def expire_idle(self) -> None:
        """Expire every running container that has been idle too long (stops their processes)."""
        with self._lock:
            running = list(self._sandboxes)
        for container_id in running:
            try:
                self.get(container_id)
            except ApiError:
                self._stop(container_id)

    def auto_container(self, config: Mapping[str, Any], history: Iterable[Mapping[str, Any]]) -> str:
        """The container for `{"type": "auto"}`: the one this conversation used last while it is still active
        (so variables carry over between turns), else a new one with the config's files."""
        for item in reversed(list(history)):
            if item.get("type") == "code_interpreter_call" and item.get("container_id"):
                try:
                    active: str = self.active(item["container_id"])["id"]
                    return active
                except ApiError:
                    break  # expired: a new container, as the real API would start
        container = self.create(
            {"name": "auto", "memory_limit": config.get("memory_limit"), "file_ids": config.get("file_ids") or []}
        )
        created: str = container["id"]
        return created

    def _expire(self, container: dict[str, Any]) -> dict[str, Any]:
        self._stop(container["id"])
        container["status"] = "expired"
        self.store.save_container(container)
        shutil.rmtree(self.store.container_folder(container["id"]), ignore_errors=True)
        logger.info("container %s expired after %.0f s idle", container["id"], container["_idle_timeout_s"])
        return container

    def _stop(self, container_id: str) -> None:
        with self._lock:
            sandbox = self._sandboxes.pop(container_id, None)
        if sandbox is not None:
            sandbox.close()

    # -- code -------------------------------------------------------------------------------------------------

    def run_code(self, container_id: str, code: str) -> tuple[ExecutionResult, list[dict[str, Any]]]:
        """Run `code` in the container's process; returns the result and the container files it produced."""
        container = self.active(container_id)
        sandbox = self._sandbox(container)
        if not self._running.acquire(timeout=self.call_wait_s):
            raise ApiError(
                429,
                f"The server is already running {self.calls_at_once} code interpreter calls and "
                f"none ended within {self.call_wait_s:g} s; try again in a moment.",
                type="requests",
                code="rate_limit_exceeded",
            )
        with self._lock:
            self._busy[container_id] = self._busy.get(container_id, 0) + 1
        try:
            result = sandbox.run(code)
            files = [
                self._register(container_id, produced.name, produced.size, "assistant") for produced in result.files
            ]
            self.active(container_id)  # idle time counts from the end of the run, however long it took
        except ToolError as error:
            result, files = ExecutionResult(logs="", error=str(error)), []
        finally:
            self._running.release()
            with self._lock:
                self._busy[container_id] -= 1
                if not self._busy[container_id]:
                    del self._busy[container_id]
        return result, files

    def _sandbox(self, container: dict[str, Any]) -> PythonSandbox:
        with self._lock:
            sandbox = self._sandboxes.get(container["id"])
            if sandbox is None:
                limits = self.limits
                if container.get("memory_limit") not in (None, "1g"):  # asked for more than the default
                    limits = dataclasses.replace(limits, memory_bytes=MEMORY_LIMITS[container["memory_limit"]])
                sandbox = PythonSandbox(self._root / container["id"], limits, self.isolation)
                self._sandboxes[container["id"]] = sandbox
            return sandbox

    # -- files ------------------------------------------------------------------------------------------------

    def add_file(self, container_id: str, filename: str, data: bytes, source: str = "user") -> dict[str, Any]:
        self.active(container_id)
        name = safe_filename(filename)
        try:
            self._folder(container_id).replace(name, data)  # a link the code planted is replaced, not followed
        except RefusedEntry as refused:
            raise ApiError(
                400,
                f"Cannot write {name!r} in container {container_id}: {refused.strerror}. Upload it under another name.",
                param="file",
            ) from None
        return self._register(container_id, name, len(data), source)

    def add_uploaded_file(self, container_id: str, file_id: str) -> dict[str, Any]:
        file = self.store.get_file(file_id)
        if file is None:
            raise ApiError(404, f"No file found with id '{file_id}'.", param="file_id")
        return self.add_file(container_id, file["filename"], self.store.upload_path(file_id).read_bytes())

    def get_file(self, container_id: str, file_id: str) -> tuple[dict[str, Any], str]:
        self.get(container_id)
        found = self.store.get_container_file(container_id, file_id)
        if found is None:
            raise not_found("Container file", file_id)
        return found

    def list_files(self, container_id: str) -> list[dict[str, Any]]:
        self.get(container_id)
        return self.store.list_container_files(container_id)

    def file_content(self, container_id: str, file_id: str) -> bytes:
        self.active(container_id)
        _, relative = self.get_file(container_id, file_id)
        try:
            return self._folder(container_id).read(relative, MAX_FILE_BYTES)
        except FileTooLarge:
            raise ApiError(
                400,
                f"Container file {file_id} is larger than {MAX_FILE_BYTES >> 20} MiB, the most "
                "the local server serves.",
                code="file_too_large",
            ) from None
        except RefusedEntry:  # gone, or the code made it a link, a folder or a FIFO: not the file we listed
            raise ApiError(404, "Container file not found.") from None

    def delete_file(self, container_id: str, file_id: str) -> None:
        self.active(container_id)
        _, relative = self.get_file(container_id, file_id)
        self.store.delete_container_file(container_id, file_id)
        # A folder by that name now, or reached through a link: not the file, so nothing to remove.
        with contextlib.suppress(RefusedEntry):
            self._folder(container_id).remove(relative)

    def _folder(self, container_id: str) -> UntrustedFolder:
        return UntrustedFolder(self._root / container_id)

    def _register(self, container_id: str, relative: str, size: int, source: str) -> dict[str, Any]:
        file = {
            "id": new_id("cfile"),
            "object": "container.file",
            "bytes": size,
            "container_id": container_id,
            "created_at": now(),
            "path": f"{SANDBOX_PATH}/{relative}",
            "source": source,
        }
        self.store.add_container_file(file, relative)
        return file


def safe_filename(filename: str) -> str:
    """A plain file name from whatever a client sent: directories, `..` and control characters dropped."""
    name = PurePosixPath(filename.replace("\\", "/")).name
    name = _UNSAFE_NAME_CHARACTERS.sub("_", name).strip()
    if name in ("", ".", ".."):
        return "file"
    return name.lstrip(".") or "file"


def _public(container: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in container.items() if not key.startswith("_")}
