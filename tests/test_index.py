"""The SQLite index: schema and migrations, settings, refusal of files it must not touch, concurrency.

Tests marked sqlite_only are about the file; tests/test_postgres.py has their PostgreSQL counterparts."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from assistant import IndexUnavailable
from assistant.index import tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from assistant.index.migrations import MIGRATIONS
from assistant.index.store import IndexStore


@pytest.mark.sqlite_only
def test_sqlite_settings(tmp_path):
    store = IndexStore(tmp_path / "index.db")
    sqlite = store.connection.sqlite
    assert sqlite.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert sqlite.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    assert sqlite.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert sqlite.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    store.close()


@pytest.mark.sqlite_only
def test_an_older_index_is_upgraded_on_open_and_keeps_its_rows(tmp_path):
    path = tmp_path / "index.db"
    store = IndexStore(path)
    thread = store.create_thread(model="gpt-4.1-mini", title="old")
    store.begin_turn(
        thread_id=thread.id,
        input_text="findable words",
        input_items=[],
        model="gpt-4.1-mini",
        backend="responses",
        mode="conversation",
        conversation_id=None,
        previous_response_id=None,
    )
    store.close()
    # Turn the file back into what the first release wrote: no full-text index yet.
    with sqlite3.connect(path) as connection:
        connection.executescript(
            "DROP TRIGGER turns_fts_insert; DROP TRIGGER turns_fts_delete; DROP TRIGGER turns_fts_update;"
            "DROP TABLE turns_fts; DELETE FROM _migrations WHERE name = 'm002_turns_fts';"
        )
    upgraded = IndexStore(path)
    assert [hit.input for hit in upgraded.search("findable")] == ["findable words"]
    assert upgraded.thread(thread.id).title == "old"
    upgraded.close()
    with sqlite3.connect(path) as connection:
        names = [row[0] for row in connection.execute("SELECT name FROM _migrations ORDER BY rowid")]
    assert sorted(names) == sorted(name for name, _ in MIGRATIONS)  # each applied once


@pytest.mark.sqlite_only
def test_a_corrupt_file_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "index.db"
    garbage = b"this is not a database, it is a shopping list\n" * 100
    path.write_bytes(garbage)
    with pytest.raises(IndexUnavailable, match="not a SQLite database"):
        IndexStore(path)
    assert path.read_bytes() == garbage


@pytest.mark.sqlite_only
def test_a_damaged_sqlite_file_is_refused(tmp_path):
    path = tmp_path / "index.db"
    IndexStore(path).close()
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # header intact, schema page destroyed
    path.write_bytes(bytes(data))
    with pytest.raises(IndexUnavailable, match="cannot be used"):
        IndexStore(path)
    assert path.read_bytes() == bytes(data)


@pytest.mark.sqlite_only
def test_an_index_from_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "index.db"
    IndexStore(path).close()
    with sqlite3.connect(path) as connection:
        connection.execute("INSERT INTO _migrations (name, applied_at) VALUES ('m999_from_the_future', 'now')")
    before = path.read_bytes()
    with pytest.raises(IndexUnavailable, match="newer version"):
        IndexStore(path)
    assert path.read_bytes() == before


@pytest.mark.sqlite_only
def test_an_unwritable_location_is_a_clear_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(IndexUnavailable, match="ASSISTANT_DB"):
        IndexStore(blocker / "index.db")


def test_two_writers_at_once_lose_nothing(tmp_path):
    path = tmp_path / "index.db"
    stores = [IndexStore(path), IndexStore(path)]
    thread = stores[0].create_thread(model="gpt-4.1-mini")
    errors: list[BaseException] = []

    def write(store: IndexStore, label: str) -> None:
        try:
            for number in range(150):
                turn_id, _ = store.begin_turn(
                    thread_id=thread.id,
                    input_text=f"{label} {number}",
                    input_items=[{"type": "message"}],
                    model="gpt-4.1-mini",
                    backend="responses",
                    mode="conversation",
                    conversation_id=None,
                    previous_response_id=None,
                )
                store.save_progress(
                    turn_id, [(1, {"type": "message", "id": f"msg_{label}_{number}"})], output_text="partial"
                )
                store.close_turn(
                    turn_id,
                    thread_id=thread.id,
                    thread_values={"last_response_id": f"resp_{label}"},
                    final_items=[(1, {"type": "message", "id": f"msg_{label}_{number}"})],
                    status="completed",
                    output_text=f"done {label} {number}",
                )
        except BaseException as exc:  # surfaced below: the test is that there are none
            errors.append(exc)

    workers = [threading.Thread(target=write, args=(store, label)) for store, label in zip(stores, "ab", strict=False)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    turns = stores[0].turns(thread.id)
    assert len(turns) == 300
    assert [turn.seq for turn in turns] == list(range(1, 301))  # no seq taken twice
    assert all([item.direction for item in turn.items] == ["input", "output"] for turn in turns)
    assert all(turn.text == "done " + turn.input for turn in turns)  # each turn's items and text are its own
    for store in stores:
        store.close()


def test_the_turn_is_recorded_before_the_request_goes_out(assistant):
    thread = assistant.thread()
    for event in thread.stream("hello"):
        if event.type == "turn.started":
            turn = assistant.store.turn(event.turn_id)
            assert turn.status == "in_progress" and turn.input == "hello"
            assert [item.type for item in turn.items] == ["message"]
    assert assistant.store.turn(turn.id).status == "completed"
