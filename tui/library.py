"""The app's one door into the `assistant` library.

Every call that reads or writes the index or talks to a server runs in a worker thread (`asyncio.to_thread`),
so widgets await these methods without ever blocking the UI. Streaming a turn is the exception: it goes
through the library's own async API (`Thread.astream`), which the screen iterates directly.

The library has no public API yet for a few things the app needs; those methods are marked "Stand-in" and
write through `assistant.store`. When the library grows the real API, only this module changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from assistant import Assistant, SearchHit, Thread, ThreadInfo, Turn
from assistant.thread import MODES


class Library:
    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        # `Assistant.base_url` starts the embedded server on first use and is not safe to race from two
        # threads: every call that may touch it waits until `connect()` has run once.
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

    async def new_thread(self, *, title: str, mode: str, model: str) -> Thread:
        return await asyncio.to_thread(self.assistant.thread, title=title, mode=mode, model=model)

    async def history(self, thread: Thread) -> list[Turn]:
        return await asyncio.to_thread(thread.history)

    async def models(self) -> list[str]:
        await self.connect()
        return await asyncio.to_thread(self.assistant.models)

    # Stand-ins: no public library API yet (see docs/tui.md, "What the app needs from the library").
    # Renaming, archiving or re-modelling a thread is not activity: `updated_at` is kept so the thread keeps
    # its place in the sidebar (the store would otherwise stamp it with the current time).

    async def rename(self, thread_id: str, title: str) -> None:
        await self._update(thread_id, title=title)

    async def set_archived(self, thread_id: str, archived: bool) -> None:
        await self._update(thread_id, archived=archived)

    async def set_model(self, thread_id: str, model: str) -> None:
        await self._update(thread_id, model=model)

    async def recorded_turn(self, turn_id: int) -> Turn:
        """A turn as the index recorded it: how the app learns what a cancelled turn kept, since the library
        raises CancelledError without a terminal event."""
        return await asyncio.to_thread(self.assistant.store.turn, turn_id)

    async def _update(self, thread_id: str, **values: object) -> None:
        def update() -> None:
            store = self.assistant.store
            store.update_thread(thread_id, updated_at=store.thread(thread_id).updated_at, **values)

        await asyncio.to_thread(update)
