"""The app's one door into the `assistant` library.

Every call that reads or writes the index or talks to a server runs in a worker thread (`asyncio.to_thread`),
so widgets await these methods without ever blocking the UI. Streaming a turn is the exception: it goes
through the library's own async API (`Thread.astream`), which the screen iterates directly.

It uses only the library's public API (what `assistant` exports); an import-linter contract keeps it so.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from assistant import (
    MODES,
    Assistant,
    CodeInterpreter,
    ComparisonRecord,
    FileOutcome,
    FileProgress,
    FileRecord,
    FileSearch,
    SearchHit,
    Thread,
    ThreadInfo,
    ToolSettings,
    Turn,
    WebSearch,
)

DEFAULT_TOOLS = {"web_search": WebSearch, "file_search": FileSearch, "code_interpreter": CodeInterpreter}
TOOL_NAMES = tuple(DEFAULT_TOOLS)
COMPARE_SCREEN_SOURCE = "app"  # `source` of the compare screen's comparisons (`assistant compare`: the input file)


class Library:
    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self._connected = asyncio.Lock()
        self._provider: str | None = None

    @property
    def default_model(self) -> str:
        return self.assistant.settings.model

    @property
    def modes(self) -> Sequence[str]:
        return MODES

    async def connect(self) -> str:
        """Where requests go (`Assistant.provider`). The first call starts the embedded local server when
        there is no API key, so the first turn does not pay for it on the UI's event loop."""
        async with self._connected:
            if self._provider is None:
                self._provider = await asyncio.to_thread(lambda: self.assistant.provider)
            return self._provider

    # threads

    async def threads(self, *, offset: int, limit: int, archived: bool = False) -> list[ThreadInfo]:
        return await asyncio.to_thread(self.assistant.threads, limit=limit, offset=offset, archived=archived)

    async def search(self, text: str, *, limit: int = 50) -> list[SearchHit]:
        return await asyncio.to_thread(self.assistant.search, text, limit=limit)

    async def open_thread(self, thread_id: str) -> Thread:
        return await asyncio.to_thread(self.assistant.thread, thread_id)

    async def new_thread(self, *, title: str, mode: str, model: str, tools: Sequence[str] = ()) -> Thread:
        return await asyncio.to_thread(
            self.assistant.thread, title=title, mode=mode, model=model, tools=list(tools) or None
        )

    async def history(self, thread: Thread) -> list[Turn]:
        return await asyncio.to_thread(thread.history)

    async def refresh(self, thread: Thread) -> None:
        await asyncio.to_thread(thread.refresh)

    async def models(self) -> list[str]:
        await self.connect()
        return await self.assistant.amodels()

    async def rename(self, thread_id: str, title: str) -> None:
        await asyncio.to_thread(lambda: self.assistant.thread(thread_id).rename(title))

    async def set_archived(self, thread_id: str, archived: bool) -> None:
        await asyncio.to_thread(lambda: self.assistant.thread(thread_id).set_archived(archived))

    async def set_model(self, thread: Thread, model: str) -> None:
        await asyncio.to_thread(thread.set_model, model)

    async def set_mode(self, thread: Thread, mode: str) -> None:
        await asyncio.to_thread(thread.set_mode, mode)

    async def set_tool(self, thread: Thread, name: str, on: bool) -> ToolSettings:
        """Turn one hosted tool on or off for the thread's next turns, keeping the options of the others (and
        of this one, when it was on)."""
        settings = thread.tools
        current = getattr(settings, name)
        tool = (current or DEFAULT_TOOLS[name]()) if on else None
        await asyncio.to_thread(thread.set_tools, replace(settings, **{name: tool}))
        return thread.tools

    async def delete_thread(self, thread_id: str, *, server: bool = True) -> None:
        """The thread's index rows and, with `server`, its conversation and vector store (network calls)."""
        if server:
            await self.connect()
        await asyncio.to_thread(self.assistant.delete_thread, thread_id, server=server)

    async def fork(self, thread: Thread, at_turn: int, *, title: str) -> Thread:
        """A fork sharing `thread`'s turns 1..at_turn. At turn 0 (editing the first message) it shares none."""
        return await asyncio.to_thread(thread.fork, at_turn, title=title)

    async def recorded_turn(self, turn_id: int) -> Turn:
        """A turn as the index recorded it: how the app learns what a cancelled turn kept, since the library
        raises CancelledError without a terminal event."""
        return await asyncio.to_thread(self.assistant.turn, turn_id)

    # files

    async def add_files(
        self, thread_id: str, paths: Sequence[str | Path], progress: Callable[[FileProgress], None]
    ) -> list[FileOutcome]:
        """Upload and index `paths` for the thread's file search; `progress` is called on the app's event loop
        (the library reports from the worker thread)."""
        await self.connect()
        loop = asyncio.get_running_loop()

        def report(step: FileProgress) -> None:
            loop.call_soon_threadsafe(progress, step)

        return await asyncio.to_thread(self.assistant.files.add, thread_id, list(paths), progress=report)

    async def files(self, thread_id: str) -> list[FileRecord]:
        return await asyncio.to_thread(self.assistant.files.list, thread_id)

    async def remove_file(self, thread_id: str, file_id: str) -> None:
        await self.connect()
        await asyncio.to_thread(self.assistant.files.remove, thread_id, file_id)

    async def file_paths(self, thread: Thread) -> dict[str, str]:
        """file id -> local path, for the files an answer may cite (`Thread.file_paths`)."""
        return await asyncio.to_thread(thread.file_paths)

    # comparisons (the compare screen)

    async def comparisons(self, *, limit: int = 100) -> list[ComparisonRecord]:
        """Recorded comparisons, newest first: those of `assistant compare` runs and of the compare screen."""
        return await asyncio.to_thread(self.assistant.comparisons, limit=limit)

    async def new_comparison(self, name: str, *, model: str) -> tuple[ComparisonRecord, dict[str, Thread]]:
        """A pair of threads for one comparison, recorded as `assistant compare` records its own, so either lists
        it. The screen reads the numbers from the recorded turns."""

        def make() -> tuple[ComparisonRecord, dict[str, Thread]]:
            record = self.assistant.new_comparison(
                name, model=model, source=COMPARE_SCREEN_SOURCE, run_id="app_" + secrets.token_hex(8)
            )
            return record, self.assistant.comparison_threads(record)

        return await asyncio.to_thread(make)

    async def open_comparison(self, record: ComparisonRecord) -> dict[str, Thread]:
        """The comparison's two threads, by backend (ThreadNotFound when one was deleted)."""
        return await asyncio.to_thread(self.assistant.comparison_threads, record)


def enabled_tools(tools_json: str | None) -> list[str]:
    """The hosted tools a thread has on, from `ThreadInfo.tools`."""
    try:
        return ToolSettings.from_json(tools_json).enabled
    except ValueError:
        return []
