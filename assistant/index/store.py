"""The index's one entry point: `IndexStore`, what `Assistant.store` is. It opens the index (a SQLite file, or a
PostgreSQL URL: database.py) and reads and writes it through one part per concern, each a small module:

- threads.py: threads, their log of changes, forks, and the lease a chain-mode turn holds on its thread;
- turns.py: turns and their items, tool calls and citations, from the first write to the close;
- tool_resources.py: files uploaded, vector stores, containers and the files code made in them;
- comparisons.py: what `assistant compare` recorded;
- search.py: full-text search of the turns.

Each part is a class that works on `self.connection` alone; IndexStore is all of them at once, so a caller holds
one object and calls `store.create_thread(...)`, `store.begin_turn(...)` and so on. Reads return the frozen
records of records.py; the SQL names its columns from the SQLModel tables (tables.py, sql.py).
"""

from __future__ import annotations

from pathlib import Path

from assistant.index.comparisons import ComparisonStore
from assistant.index.database import open_index
from assistant.index.records import (
    Citation,
    ComparisonRecord,
    ContainerFile,
    FileRecord,
    Lease,
    LeaseHolder,
    SearchHit,
    ThreadChange,
    ThreadInfo,
    ToolCall,
)
from assistant.index.search import SearchStore
from assistant.index.threads import ThreadStore
from assistant.index.tool_resources import ToolResourceStore
from assistant.index.turns import TurnStore

# The records are read from here by modules not yet moved to records.py (the app's among them).
__all__ = [
    "Citation",
    "ComparisonRecord",
    "ContainerFile",
    "FileRecord",
    "IndexStore",
    "Lease",
    "LeaseHolder",
    "SearchHit",
    "ThreadChange",
    "ThreadInfo",
    "ToolCall",
]


class IndexStore(ThreadStore, TurnStore, ToolResourceStore, ComparisonStore, SearchStore):
    def __init__(self, path: Path | str) -> None:
        """`path`: the index file, or a `postgresql://` URL (postgres.py)."""
        self.path = path
        self.connection = open_index(path)
        if not self.connection.read_only:  # a backup on a read-only disk is read as it is
            self.close_interrupted_turns()

    def close(self) -> None:
        self.connection.close()
