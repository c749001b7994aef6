"""The index on PostgreSQL (ASSISTANT_DB=postgresql://…): schema and migrations, full-text search, refusals,
concurrent writers, and the URL's password never shown.

Everything else in tests/test_*.py runs on PostgreSQL too, as its `[postgresql]` run (tests/support/index_backends.py).
"""

from __future__ import annotations

import sys
import threading
from datetime import UTC
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from assistant import Assistant, IndexUnavailable, ThreadNotFound
from assistant.config import Settings, default_data_dir, load_settings
from assistant.index import tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from assistant.index.migrations import MIGRATIONS
from assistant.index.postgres import masked_url, pyformat
from assistant.index.store import IndexStore
from tests.support.cli import environment, run_cli

pytestmark = pytest.mark.postgres_only

PASSWORD = "s3cret-Pa55word"


def begin(store: IndexStore, thread_id: str, text: str) -> int:
    turn_id, _ = store.begin_turn(
        thread_id=thread_id,
        input_text=text,
        input_items=[{"type": "message"}],
        model="gpt-4.1-mini",
        backend="responses",
        mode="conversation",
        conversation_id=None,
        previous_response_id=None,
    )
    return turn_id


def with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.username}:{password}@{parts.hostname}:{parts.port}"))


# no server needed


def test_masked_url_hides_the_password_wherever_it_is():
    assert (
        masked_url(f"postgresql://alice:{PASSWORD}@db.example:5432/index")
        == "postgresql://alice:***@db.example:5432/index"
    )
    assert PASSWORD not in masked_url(f"postgres://db.example/index?user=alice&password={PASSWORD}&sslmode=require")
    assert "sslmode=require" in masked_url(f"postgres://db.example/index?password={PASSWORD}&sslmode=require")
    assert masked_url("postgresql://db.example/index") == "postgresql://db.example/index"


def test_parameters_become_psycopg_style_once_and_literals_stay():
    assert (
        pyformat("SELECT :a, x::text, ':b', '50%' FROM t WHERE y LIKE :c")
        == "SELECT %(a)s, x::text, ':b', '50%%' FROM t WHERE y LIKE %(c)s"
    )
    assert pyformat.cache_info().currsize >= 1


def test_settings_with_a_url_keep_files_in_the_data_folder_and_never_show_the_password():
    url = f"postgresql://alice:{PASSWORD}@db.example/index"
    settings = load_settings({"ASSISTANT_DB": url}, dotenv_path="")
    assert settings.index_location == url
    assert settings.data_dir == default_data_dir()
    assert settings.local_server_db == default_data_dir() / "local-server.db"
    assert settings.describe()["ASSISTANT_DB"] == "postgresql://alice:***@db.example/index"
    assert PASSWORD not in repr(settings)
    # A file given later wins over the URL, and SQLite keeps everything beside its file.
    on_file = settings.with_index("/tmp/elsewhere/index.db")
    assert on_file.index_location == on_file.db_path and on_file.data_dir.as_posix() == "/tmp/elsewhere"
    assert Settings().with_index("/x/index.db").local_server_db.as_posix() == "/x/local-server.db"


def test_an_unreachable_server_is_one_clear_line_without_the_password(unused_tcp_port):
    with pytest.raises(IndexUnavailable) as raised:
        IndexStore(f"postgresql://alice:{PASSWORD}@127.0.0.1:{unused_tcp_port}/index")
    message = str(raised.value)
    assert "Cannot reach the PostgreSQL index at postgresql://alice:***@127.0.0.1" in message
    assert "Connection refused" in message and "\n" not in message and PASSWORD not in message


def test_without_psycopg_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg now raises ImportError
    with pytest.raises(IndexUnavailable, match=r"pip install 'assistant\[postgres\]'"):
        IndexStore("postgresql://alice@127.0.0.1/index")


def test_the_command_line_says_so_in_one_line(tmp_path, unused_tcp_port):
    url = f"postgresql://alice:{PASSWORD}@127.0.0.1:{unused_tcp_port}/index"
    env = {**environment(), "ASSISTANT_DB": url}
    result = run_cli("threads", env=env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("error: Cannot reach the PostgreSQL index at postgresql://alice:***@")
    assert len(result.stderr.strip().splitlines()) == 1 and PASSWORD not in result.stderr
    shown = run_cli("config", env=env)
    assert f"ASSISTANT_DB=postgresql://alice:***@127.0.0.1:{unused_tcp_port}/index" in shown.stdout
    assert PASSWORD not in shown.stdout + shown.stderr


# on a server


def test_rows_read_back_with_their_types(postgres_url):
    store = IndexStore(postgres_url)
    thread = store.create_thread(model="gpt-4.1-mini", title="typed")
    store.update_thread(thread.id, archived=True, touch=False)
    [archived] = store.threads(archived=True)
    assert archived.archived is True and archived.created_at.tzinfo == UTC
    assert archived.created_at == thread.created_at  # microseconds kept
    assert store.threads() == []
    store.close()


def test_search_is_postgres_full_text_search_newest_first(postgres_url):
    store = IndexStore(postgres_url)
    thread = store.create_thread(model="gpt-4.1-mini", title="animals")
    older = begin(store, thread.id, "the quick brown fox")
    store.update_turn(older, status="completed", output_text="Foxes are searching for food at night.")
    newer = begin(store, thread.id, "how to find a lazy dog")
    store.update_turn(newer, status="completed", output_text="Dogs sleep; a fox searched for them.")

    hits = store.search("fox")
    assert [hit.turn_id for hit in hits] == [newer, older]  # newest first, stems match: fox, foxes
    assert "[fox]" in hits[0].snippet and hits[0].thread_title == "animals"
    assert [hit.turn_id for hit in store.search("searching")] == [newer, older]  # search, searched
    assert [hit.turn_id for hit in store.search("how to")] == [newer]  # no stop words dropped, as in FTS5
    assert [hit.turn_id for hit in store.search('lazy "dog" -(')] == [newer]  # operators are plain words
    assert store.search("fox", limit=1)[0].turn_id == newer
    assert store.search("   ") == [] and store.search("zebra") == []
    store.close()


def test_a_huge_paste_is_recorded_whole_and_found_by_its_beginning_and_end(postgres_url):
    store = IndexStore(postgres_url)
    thread = store.create_thread(model="gpt-4.1-mini")
    # 10 MB of distinct words: their tsvector would be far over PostgreSQL's 1 MB limit.
    paste = "needle " + " ".join(f"word{number}" for number in range(1_200_000)) + " haystack"
    turn_id = begin(store, thread.id, paste)
    assert store.turn(turn_id).input == paste
    assert [hit.turn_id for hit in store.search("needle")] == [turn_id]
    assert [hit.turn_id for hit in store.search("haystack")] == [turn_id]
    assert store.search("word600000") == []  # the middle is stored, not indexed
    store.close()


def test_an_older_index_is_upgraded_on_open_and_keeps_its_rows(postgres_url):
    store = IndexStore(postgres_url)
    thread = store.create_thread(model="gpt-4.1-mini", title="old")
    begin(store, thread.id, "findable words")
    store.close()
    with psycopg.connect(postgres_url, autocommit=True) as connection:  # as the first release left it
        connection.execute(
            "ALTER TABLE turns DROP COLUMN search_vector; DROP FUNCTION assistant_fts_text; "
            "DROP TEXT SEARCH CONFIGURATION assistant_fts; DROP TEXT SEARCH DICTIONARY assistant_english; "
            "DELETE FROM _migrations WHERE name = 'm002_turns_fts'"
        )
    upgraded = IndexStore(postgres_url)
    assert [hit.input for hit in upgraded.search("findable")] == ["findable words"]
    assert upgraded.thread(thread.id).title == "old"
    upgraded.close()


def test_an_index_from_a_newer_version_is_refused_and_left_untouched(postgres_url):
    IndexStore(postgres_url).close()
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute("INSERT INTO _migrations (name, applied_at) VALUES ('m999_from_the_future', now())")
        before = connection.execute("SELECT count(*) FROM _migrations").fetchone()
    with pytest.raises(IndexUnavailable, match="newer version") as raised:
        IndexStore(postgres_url)
    assert urlsplit(postgres_url).password not in str(raised.value)
    with psycopg.connect(postgres_url) as connection:
        assert connection.execute("SELECT count(*) FROM _migrations").fetchone() == before


def test_a_wrong_password_is_a_login_error_without_the_password(postgres_url):
    wrong = with_password(postgres_url, PASSWORD)
    with pytest.raises(IndexUnavailable, match="refused the login") as raised:
        IndexStore(wrong)
    assert PASSWORD not in str(raised.value) and "***" in str(raised.value)
    assert urlsplit(postgres_url).password not in str(raised.value)


def test_messages_about_the_index_show_the_url_without_its_password(postgres_url):
    store = IndexStore(postgres_url)
    with pytest.raises(ThreadNotFound) as raised:
        store.thread("thr_missing")
    assert urlsplit(postgres_url).password not in str(raised.value) and ":***@" in str(raised.value)
    store.close()


def test_processes_opening_a_new_index_at_once_migrate_it_once(postgres_url):
    opened: list[IndexStore] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def open_it() -> None:
        start.wait()
        try:
            opened.append(IndexStore(postgres_url))  # a connection and a migrator of its own, as a process has
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=open_it) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    with psycopg.connect(postgres_url) as connection:
        names = [row[0] for row in connection.execute("SELECT name FROM _migrations")]
    assert sorted(names) == sorted(name for name, _ in MIGRATIONS)
    for store in opened:
        store.close()


def test_the_library_runs_on_a_url(postgres_url, server, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))  # the data folder a URL index uses
    with Assistant(base_url=server.base_url, api_key="sk-test", db_path=postgres_url) as assistant:
        assert assistant.store.connection.dialect == "postgresql"
        assert assistant.settings.data_dir == tmp_path / "assistant"
        thread = assistant.thread()
        turn = thread.ask("hello from a shared index")
        assert turn.status == "completed" and turn.text
        assert [hit.turn_id for hit in assistant.search("shared")] == [turn.id]


def test_a_session_leaves_the_key_in_no_row(postgres_url, server):
    key = "sk-proj-" + "Qw8" * 16  # looks like a real project key
    with Assistant(base_url=server.base_url, api_key=key, db_path=postgres_url) as assistant:
        thread = assistant.thread(title="secrets")
        thread.ask("hello")
        with pytest.raises(Exception):  # noqa: B017  (any failure: the test is what the index keeps of it)
            assistant.thread(model="no-such-model").ask("hi")
        assistant.search("hello")
    with psycopg.connect(postgres_url) as connection:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
            )
        ]
        assert "turns" in tables
        for table in tables:
            for (row,) in connection.execute(f"SELECT t::text FROM {table} AS t"):
                assert "Qw8Qw8Qw8" not in row, table
