"""After a turn that ran code: keep track of the thread's code-interpreter container and bring home the files
the code made.

Containers expire after 20 idle minutes and cannot be revived; the server then starts a new one, and the
variables and files of the old one are gone. The thread remembers the container its code last ran in, so when
a turn's code runs somewhere else and the old one has expired, the user is told once and both are on record.
Files the code wrote (container files with source "assistant") are downloaded to the thread's folder beside the
index, and recorded with their local path.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import openai

from assistant.backends.tool_runtimes import LOCAL_CONTAINER_PREFIX
from assistant.events import ContainerReplaced
from assistant.private_files import make_private_folder
from assistant.provider_errors import PROVIDER_ERRORS
from assistant.tools.untrusted_folder import UntrustedFolder
from assistant.turn import Turn

if TYPE_CHECKING:
    from assistant.client import Assistant

log = logging.getLogger(__name__)
_UNSAFE = re.compile(r"[^\w.\- ]+")
# File systems allow 255 bytes per name; room is left for the "-2" that `_save_new` may add.
MAX_NAME_BYTES = 200


def containers_used(items: list[dict[str, Any]]) -> list[str]:
    """Container ids a turn's output used, in order."""
    used: list[str] = []
    for item in items:
        ids = [item.get("container_id")] if item.get("type") == "code_interpreter_call" else []
        for part in item.get("content") or [] if item.get("type") == "message" else []:
            ids += [
                note.get("container_id")
                for note in part.get("annotations") or []
                if note.get("type") == "container_file_citation"
            ]
        used += [container_id for container_id in ids if container_id and container_id not in used]
    # "local_…" containers are the Chat fallback's own sandboxes on this machine: no server holds them.
    return [container_id for container_id in used if not container_id.startswith(LOCAL_CONTAINER_PREFIX)]


def safe_filename(name: str) -> str:
    """A container path's last part, made safe to create in the thread's folder (no separators, no dot-files,
    short enough for any file system: a server can send any path, and the download must still land)."""
    base = _UNSAFE.sub("_", Path(name.replace("\\", "/")).name).strip(" .") or "file"
    if len(base.encode()) > MAX_NAME_BYTES:
        suffix = Path(base).suffix if len(Path(base).suffix) <= 16 else ""
        stem = base[: len(base) - len(suffix)]
        while len((stem + suffix).encode()) > MAX_NAME_BYTES:
            stem = stem[:-1]
        base = stem + suffix
    return base


class ContainerTracker:
    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant

    def after_turn(self, turn: Turn) -> list[ContainerReplaced]:
        """Record the containers a finished turn used and download the files its code made. Never raises:
        the turn is already recorded, and what could not be fetched is logged."""
        used = containers_used([item.data for item in turn.output_items])
        if not used:
            return []
        try:
            return self._track(turn, used)
        except Exception:  # a broken follow-up must not turn a finished answer into an error
            log.warning("could not record the containers of turn %s", turn.id, exc_info=True)
            return []

    def _track(self, turn: Turn, used: list[str]) -> list[ContainerReplaced]:
        store = self.assistant.store
        notices = []
        previous = store.thread_container(turn.thread_id)
        for container_id in used:
            if previous and container_id != previous and self._expired(previous):
                store.replace_container(previous, container_id)
                notices.append(
                    ContainerReplaced(
                        old_container_id=previous,
                        new_container_id=container_id,
                        message=f"The code interpreter's container {previous} expired (containers stop after 20 idle "
                        f"minutes); the code ran in a new one, {container_id}: variables and files from "
                        "before are gone.",
                    )
                )
            store.record_container(container_id, turn.thread_id)
            previous = container_id
            self._download_new_files(container_id, turn)
        return notices

    def _expired(self, container_id: str) -> bool:
        try:
            return self.assistant.client.containers.retrieve(container_id).status in ("expired", "deleted")
        except openai.NotFoundError:
            return True

    def _download_new_files(self, container_id: str, turn: Turn) -> None:
        store = self.assistant.store
        known = {record.file_id for record in store.container_files(turn.thread_id)}
        folder = self.assistant.settings.data_dir / "files" / turn.thread_id
        try:
            files = list(self.assistant.client.containers.files.list(container_id))
        except PROVIDER_ERRORS:
            return  # the container is gone already: nothing to fetch, and the answer itself is recorded
        for file in files:
            if file.source != "assistant" or file.id in known:
                continue
            path: str | None = None
            size: int | None = None
            try:
                content = self.assistant.client.containers.files.content.retrieve(file.id, container_id=container_id)
                data = content.read()
                make_private_folder(folder)
                name = _save_new(UntrustedFolder(folder.resolve()), safe_filename(file.path), data)
                path, size = str(folder / name), len(data)
            except (*PROVIDER_ERRORS, OSError):
                pass  # recorded without a path: the file exists on the server, the download did not work
            store.add_container_file(
                container_id=container_id,
                file_id=file.id,
                turn_id=turn.id,
                filename=safe_filename(file.path),
                path=path,
                bytes=size,
            )


def _save_new(folder: UntrustedFolder, name: str, data: bytes) -> str:
    """Save `data` as a new file `name`, or `name-2.ext`, `name-3.ext`… when that name is taken; returns the
    name used. Created exclusively, never through a symlink someone planted under that name."""
    stem, suffix = Path(name).stem, Path(name).suffix
    candidate, number = name, 1
    while True:
        try:
            folder.create(candidate, data)
            return candidate
        except FileExistsError:
            number += 1
            candidate = f"{stem}-{number}{suffix}"
