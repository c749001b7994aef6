"""Search stays bounded whatever is searched for and whatever was pasted: a query is its distinct words under caps
(assistant/index/search.py), and a hit on a 10 MB turn reads its preview (migrations.m009), never the turn's
text. Both on SQLite and PostgreSQL; bounds are checked by size and memory, never by time (bench/index_scale.py
times them)."""

from __future__ import annotations

import json
import sqlite3
import tracemalloc
from pathlib import Path

import psycopg
import pytest

from assistant.index.search import MAX_TERM_CHARS, MAX_TERMS, search_query, snippet
from assistant.index.store import IndexStore
from tests.support.cli import environment, run_cli
from tests.support.fixtures import TEST_KEY
from tests.support.index_backends import index_location

LINE = "naïve café ✓ — a long pasted log line with some words in it\n"
PASTE = LINE * (10 * 2**20 // len(LINE.encode())) + "the needle is zanzibar\n"  # over 10 MB


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


# the query


def test_a_word_repeated_20000_times_is_one_term():
    query = search_query("Word " * 20_000)
    assert query.terms == ("word",)
    assert query.fts5() == '"word"' and query.plain() == "word"


def test_a_query_is_its_distinct_words_in_order_quoted_for_fts5():
    query = search_query('say "hi" OR (bye)* say HI')
    assert query.terms == ("say", "hi", "or", "bye") and query.note is None
    assert query.fts5() == '"say" "hi" "or" "bye"'  # operators and quotes are plain words
    assert search_query("!!!").fts5() is None and search_query("!!!").terms == ()


def test_what_the_caps_leave_out_is_said():
    many = search_query(" ".join(f"w{number}" for number in range(MAX_TERMS + 10)))
    assert many.terms == tuple(f"w{number}" for number in range(MAX_TERMS))
    assert f"first {MAX_TERMS} different words" in many.note
    long = search_query("x" * (MAX_TERM_CHARS + 1) + " fox")
    assert long.terms == ("fox",) and f"over {MAX_TERM_CHARS} characters" in long.note
    huge = search_query("fox " + "y" * 10_000_000)  # one 10 MB word: read no further than the cap
    assert huge.terms == ("fox",) and "first 10,000 characters" in huge.note


# the snippet


def test_a_snippet_is_a_dozen_words_around_the_first_match_marked():
    text = " ".join(f"w{number}" for number in range(100)) + " the fox jumps " + " ".join("z" * 30 for _ in range(100))
    shown = snippet([text], ["fox"])
    assert "[fox]" in shown and shown.startswith("…") and shown.endswith("…")
    assert len(shown.split()) <= 12
    assert snippet(["**What** did I say first?"], ["first"]) == "**What** did I say [first]?"  # whole when short
    assert snippet(["Dogs sleep; a fox searched."], ["searching"]) == "Dogs sleep; a fox [searched]."  # a stem
    # No visible match (a match FTS5's stemmer made, deep inside a long side): the start, unmarked.
    assert (
        snippet(["", "answers about many things " * 10], ["zebra"]) == "answers about many things answers about "
        "many things answers about many things…"
    )


# a 10 MB paste in the index


@pytest.fixture
def paste_index(tmp_path: Path):
    store = IndexStore(tmp_path / "index.db")
    thread = store.create_thread(model="gpt-4.1-mini", title="logs")
    short = begin(store, thread.id, "a short question about the pasted words")
    paste = begin(store, thread.id, PASTE)
    yield store, short, paste
    store.close()


def test_a_hit_on_a_10_mb_paste_is_bounded_in_size_and_memory(paste_index):
    store, short, paste = paste_index
    tracemalloc.start()
    try:
        hits = store.search("pasted")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [hit.turn_id for hit in hits] == [paste, short]
    assert "[pasted]" in hits[0].snippet and len(hits[0].snippet) < 200
    assert hits[0].input.startswith(LINE) and hits[0].input.endswith("the needle is zanzibar\n")
    assert len(hits[0].input) <= 10_010  # its first and last 5,000 characters
    assert peak < 1_000_000  # the paste is 10 MB: no copy of it was made
    assert hits[1].input == "a short question about the pasted words"  # a short turn is shown whole


def test_the_word_at_the_end_of_a_paste_is_found_and_shown(paste_index):
    store, _, paste = paste_index
    [hit] = store.search("zanzibar")
    assert hit.turn_id == paste and hit.snippet.endswith("the needle is [zanzibar]")


def test_a_huge_query_over_a_huge_paste_stays_bounded(paste_index):
    store, short, paste = paste_index
    tracemalloc.start()
    try:
        hits = store.search("pasted " * 20_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [hit.turn_id for hit in hits] == [paste, short] and peak < 1_000_000


def test_a_paste_in_the_answer_is_previewed_and_the_preview_follows_the_text(paste_index):
    store, short, _ = paste_index
    store.update_turn(short, output_text=PASTE.replace("zanzibar", "kilimanjaro"))
    [hit] = store.search("kilimanjaro")
    assert hit.turn_id == short and hit.snippet.endswith("the needle is [kilimanjaro]")
    assert hit.input == "a short question about the pasted words"  # the short side, whole
    store.update_turn(short, output_text="now short again")
    assert store.search("kilimanjaro") == []
    assert store.search("again")[0].snippet == "now short [again]"


def test_a_fork_of_a_paste_is_previewed_too(paste_index):
    store, _, paste = paste_index
    parent = store.thread(store.turn(paste).thread_id)
    fork = store.fork_thread(parent, 2, title="fork", last_response_id=None)
    hits = store.search("zanzibar")
    assert {hit.thread_id for hit in hits} == {parent.id, fork.id}
    assert all(len(hit.input) <= 10_010 for hit in hits)
    store.delete_thread(fork.id)
    assert [hit.thread_id for hit in store.search("zanzibar")] == [parent.id]


# an index from before the previews and the thread turn counts


def test_an_older_index_gets_previews_and_turn_counts_on_open(tmp_path: Path, index_backend: str):
    path = tmp_path / "index.db"
    store = IndexStore(path)
    thread = store.create_thread(model="gpt-4.1-mini", title="old")
    paste = begin(store, thread.id, PASTE)
    begin(store, thread.id, "and a short one")
    store.close()
    # As the previous release left it: no previews, no turn counts.
    undo = [
        "DELETE FROM _migrations WHERE name IN ('m009_turn_previews', 'm010_thread_turn_count', 'm011_thread_lease')",
        "DROP TABLE turn_previews",
        "ALTER TABLE threads DROP COLUMN turn_count",
        "ALTER TABLE threads DROP COLUMN lease_owner",
        "ALTER TABLE threads DROP COLUMN lease_token",
        "ALTER TABLE threads DROP COLUMN lease_expires_at",
    ]
    if index_backend == "postgresql":
        with psycopg.connect(str(index_location(path)), autocommit=True) as connection:
            for statement in [
                *undo,
                "DROP TRIGGER turns_preview ON turns",
                "DROP FUNCTION assistant_turn_preview",
                "DROP FUNCTION assistant_preview",
            ]:
                connection.execute(statement)
    else:
        with sqlite3.connect(path) as connection:
            connection.executescript(
                ";".join(["DROP TRIGGER turns_preview_insert", "DROP TRIGGER turns_preview_update", *undo])
            )
    upgraded = IndexStore(path)
    assert upgraded.thread(thread.id).turn_count == 2
    [hit] = upgraded.search("zanzibar")
    assert hit.turn_id == paste and len(hit.input) <= 10_010 and hit.snippet.endswith("[zanzibar]")
    upgraded.close()


def test_the_command_says_what_the_caps_left_out_and_prints_bounded_hits(paste_index, tmp_path: Path):
    _, _, paste = paste_index
    env = environment(
        ASSISTANT_DB=str(tmp_path / "index.db"), OPENAI_BASE_URL="http://127.0.0.1:9/v1", OPENAI_API_KEY=TEST_KEY
    )  # nothing is asked of a server
    words = " ".join(f"w{number}" for number in range(MAX_TERMS)) + " zanzibar"
    result = run_cli("search", "--json", "zanzibar " + words, env=env)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith(f"note: The search was shortened: only its first {MAX_TERMS} different words")
    assert json.loads(result.stdout) == []  # no turn holds w0 … w14 as well
    result = run_cli("search", "--json", "zanzibar", env=env)
    [hit] = json.loads(result.stdout)
    assert hit["turn_id"] == paste and len(result.stdout) < 25_000 and result.stderr == ""
