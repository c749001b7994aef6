"""How the index holds up at scale: build an index of many threads and turns (generated, written straight to the
database in large batches), add a few 10 MB pastes through the library, then time what people do through the
library's own store. On SQLite, and on PostgreSQL too with --postgres, side by side.

    python bench/index_scale.py [--threads 100000] [--turns 1000000] [--long-thread 200000] [--pastes 10]
                                [--path /tmp/assistant-index-scale.db] [--postgres postgresql://...|start]

`--postgres URL` builds the PostgreSQL index in a schema `index_scale` of that database (dropped and made again;
the user needs CREATE there); `--postgres start` starts a throwaway server with scripts/start-test-postgres.sh
and stops it at the end. `--backends postgresql` leaves SQLite out.

Prints a table: the thread list's first page (its first thread has --long-thread turns), opening a 1,000-turn
thread, full-text search (two common words, rare words), one-word search over an index holding --pastes 10 MB
pastes (a word on every line of them, and one at the end of each), inserting a turn (begin + item + close, as a
streamed turn does), and the index's size. Targets: list < 20 ms, open < 50 ms, search < 50 ms, search over the
pastes < 100 ms, insert < 1 ms.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as `python bench/index_scale.py`

from assistant.index.store import IndexStore
from bench.vocabulary import WORDS
from tests.support.index_backends import postgres_server, schema_url

PASTE_LINE = "naïve café ✓ — a long pasted log line with some words in it\n"  # "pasted": on every line
PASTE_END = "the needle is zanzibar\n"  # "zanzibar": once, at the end
SCHEMA = "index_scale"
START = datetime(2026, 1, 1, tzinfo=UTC)

TURN_COLUMNS = (
    "id",
    "thread_id",
    "seq",
    "backend",
    "mode",
    "status",
    "model",
    "input_text",
    "output_text",
    "input_tokens",
    "cached_tokens",
    "output_tokens",
    "request_bytes",
    "reasoning_tokens",
    "rounds",
    "created_at",
)
ITEM_COLUMNS = ("turn_id", "position", "direction", "type", "item_id", "status", "payload")
THREAD_COLUMNS = ("id", "title", "mode", "model", "archived", "created_at", "updated_at", "turn_count")


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def made_up_words(count: int) -> list[str]:
    rng = random.Random(3)
    return ["".join(rng.choice("bcdfghjklmnprstvz") + rng.choice("aeiou") for _ in range(4)) for _ in range(count)]


# A long tail of words, the n-th as common as 1/n (Zipf's law, as in real text): each answer has three. Without
# it PostgreSQL's statistics know only the few common words, and its planner takes any word they do not know (a
# paste's) for a common one and reads the whole table newest first to find it (1 s at 400k turns).
TAIL = made_up_words(50_000)
TAIL_WEIGHTS = list(itertools.accumulate(1 / rank for rank in range(1, len(TAIL) + 1)))


def tail_words(rng: random.Random, words: int) -> str:
    return " ".join(rng.choices(TAIL, cum_weights=TAIL_WEIGHTS, k=words))


@dataclass(frozen=True)
class Plan:
    """The generated index: threads, the turns of each (the long thread's first), and two threads to time."""

    thread_ids: list[str]
    turns: list[tuple[str, int]]  # (thread id, seq)
    long_thread: str  # --long-thread turns, the most recently active: first in the thread list
    thousand_thread: str  # 1,000 turns, opened whole

    @staticmethod
    def make(threads: int, turns: int, long_thread_turns: int) -> Plan:
        thread_ids = [f"thr_{number:016x}" for number in range(threads)]
        long_thread, thousand_thread = thread_ids[-1], thread_ids[-2]
        plan = [(long_thread, seq) for seq in range(1, long_thread_turns + 1)]
        plan += [(thousand_thread, seq) for seq in range(1, 1001)]
        rest = thread_ids[:-2]
        per_thread = max((turns - len(plan)) // max(len(rest), 1), 1)
        plan += [(thread_id, seq) for thread_id in rest for seq in range(1, per_thread + 1)]
        return Plan(thread_ids, plan[: max(turns, long_thread_turns + 1000)], long_thread, thousand_thread)

    def thread_rows(self) -> Iterator[tuple[Any, ...]]:
        rng = random.Random(7)
        counts: dict[str, int] = {}
        for thread_id, _ in self.turns:
            counts[thread_id] = counts.get(thread_id, 0) + 1
        for number, thread_id in enumerate(self.thread_ids):
            yield (
                thread_id,
                sentence(rng, 4),
                "conversation",
                "gpt-4.1-mini",
                False,
                START + timedelta(seconds=number),
                START + timedelta(seconds=number * 10),
                counts.get(thread_id, 0),
            )

    def batches(self, size: int = 50_000) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
        """(turn rows, item rows) in batches, in TURN_COLUMNS and ITEM_COLUMNS order."""
        rng = random.Random(11)
        turn_id = 0
        for offset in range(0, len(self.turns), size):
            turn_rows, item_rows = [], []
            for thread_id, seq in self.turns[offset : offset + size]:
                turn_id += 1
                question, answer = sentence(rng, 12), f"{sentence(rng, 40)} {tail_words(rng, 3)}"
                turn_rows.append(
                    (
                        turn_id,
                        thread_id,
                        seq,
                        "responses",
                        "conversation",
                        "completed",
                        "gpt-4.1-mini",
                        question,
                        answer,
                        120,
                        0,
                        60,
                        0,
                        0,
                        1,
                        START + timedelta(seconds=turn_id),
                    )
                )
                item_rows.append(
                    (
                        turn_id,
                        0,
                        "input",
                        "message",
                        None,
                        None,
                        json.dumps(
                            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": question}]}
                        ),
                    )
                )
                item_rows.append(
                    (
                        turn_id,
                        1,
                        "output",
                        "message",
                        f"msg_{turn_id:x}",
                        "completed",
                        json.dumps(
                            {
                                "type": "message",
                                "id": f"msg_{turn_id:x}",
                                "role": "assistant",
                                "status": "completed",
                                "content": [{"type": "output_text", "text": answer, "annotations": []}],
                            }
                        ),
                    )
                )
            yield turn_rows, item_rows
            print(f"\r  {min(offset + size, len(self.turns)):,} of {len(self.turns):,} turns", end="", flush=True)
        print()


def build_sqlite(path: Path, plan: Plan) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    IndexStore(path).close()  # the schema, by the real migrations
    stamp = lambda value: value.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, datetime) else value  # noqa: E731
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA synchronous = OFF")
    connection.execute("BEGIN")
    connection.executemany(
        f"INSERT INTO threads ({', '.join(THREAD_COLUMNS)}) VALUES ({', '.join('?' * 8)})",
        ([stamp(value) for value in row] for row in plan.thread_rows()),
    )
    for turn_rows, item_rows in plan.batches():
        connection.executemany(
            f"INSERT INTO turns ({', '.join(TURN_COLUMNS)}) VALUES ({', '.join('?' * len(TURN_COLUMNS))})",
            ([stamp(value) for value in row] for row in turn_rows),
        )
        connection.executemany(f"INSERT INTO items ({', '.join(ITEM_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?)", item_rows)
    connection.execute("COMMIT")
    connection.execute("PRAGMA optimize")
    connection.close()


def build_postgres(url: str, plan: Plan) -> str:
    """Fill a fresh schema of the database at `url`; returns the URL of that schema."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        admin.execute(f"CREATE SCHEMA {SCHEMA}")
    in_schema = schema_url(url, SCHEMA)
    IndexStore(in_schema).close()  # the schema, by the real migrations
    with psycopg.connect(in_schema) as connection:
        connection.execute("SET synchronous_commit = off")
        with connection.cursor().copy(f"COPY threads ({', '.join(THREAD_COLUMNS)}) FROM STDIN") as copy:
            for row in plan.thread_rows():
                copy.write_row(row)
        for turn_rows, item_rows in plan.batches():
            with connection.cursor().copy(f"COPY turns ({', '.join(TURN_COLUMNS)}) FROM STDIN") as copy:
                for row in turn_rows:
                    copy.write_row(row)
            with connection.cursor().copy(f"COPY items ({', '.join(ITEM_COLUMNS)}) FROM STDIN") as copy:
                for row in item_rows:
                    copy.write_row(row)
            connection.commit()
        # The ids were given: the next turn the store writes takes the one after them.
        connection.execute("SELECT setval(pg_get_serial_sequence('turns', 'id'), (SELECT max(id) FROM turns))")
        connection.commit()
    with psycopg.connect(in_schema, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")
    return in_schema


def add_pastes(store: IndexStore, count: int) -> None:
    """`count` 10 MB pastes, each a turn of its own thread, through the store as `assistant ask -` records them."""
    paste = PASTE_LINE * (10 * 2**20 // len(PASTE_LINE.encode())) + PASTE_END
    for number in range(count):
        thread = store.create_thread(model="gpt-4.1-mini", title=f"paste {number}")
        message = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": paste}]}
        turn_id, _ = store.begin_turn(
            thread_id=thread.id,
            input_text=paste,
            input_items=[message],
            model=thread.model,
            backend="responses",
            mode="conversation",
            conversation_id=None,
            previous_response_id=None,
        )
        answer = {
            "type": "message",
            "id": f"msg_paste{number}",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "That is a long log.", "annotations": []}],
        }
        store.close_turn(
            turn_id,
            thread_id=thread.id,
            thread_values={},
            final_items=[(1, answer)],
            status="completed",
            output_text="That is a long log.",
        )


def timed(action: Callable[[], object], repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]


def measure(store: IndexStore, plan: Plan, pastes: int) -> dict[str, tuple[float, float]]:
    long_thread = store.thread(plan.long_thread)
    rows = {
        f"thread list, first page (50; {long_thread.turn_count:,}-turn thread first)": timed(
            lambda: store.threads(limit=50), 50
        ),
        "open a 1,000-turn thread": timed(lambda: store.turns(plan.thousand_thread), 20),
        "full-text search (2 words)": timed(lambda: store.search("refund latency", limit=20), 50),
        "full-text search (rare words)": timed(lambda: store.search("quarterly zulu budget", limit=20), 50),
    }
    if pastes:
        rows[f"search, {pastes} 10 MB pastes: word on every line"] = timed(lambda: store.search("pasted"), 20)
        rows[f"search, {pastes} 10 MB pastes: word at each end"] = timed(lambda: store.search("zanzibar"), 20)

    def insert_turn() -> None:
        turn_id, _ = store.begin_turn(
            thread_id=long_thread.id,
            input_text="how is the refund going?",
            input_items=[{"type": "message", "role": "user", "content": "x"}],
            model=long_thread.model,
            backend="responses",
            mode="conversation",
            conversation_id=None,
            previous_response_id=None,
        )
        store.save_progress(turn_id, [(1, {"type": "message", "id": "msg_new", "content": []})], response_id="resp_x")
        store.close_turn(
            turn_id,
            thread_id=long_thread.id,
            thread_values={"last_response_id": "resp_x"},
            final_items=[(1, {"type": "message", "id": "msg_new", "content": []})],
            status="completed",
            output_text="It is on its way.",
        )

    rows["insert a turn (3 transactions)"] = timed(insert_turn, 200)
    return rows


TARGETS = {"thread list": "< 20", "open a": "< 50", "full-text": "< 50", "search, ": "< 100", "insert": "< 1"}


def sqlite_size(path: Path) -> float:
    return sum(Path(f"{path}{suffix}").stat().st_size for suffix in ("", "-wal") if Path(f"{path}{suffix}").exists())


def postgres_size(url: str) -> float:
    import psycopg

    with psycopg.connect(url) as connection:
        [(size,)] = connection.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'",
            (SCHEMA,),
        )
        return float(size)


def run(backend: str, location: Path | str, plan: Plan, pastes: int) -> tuple[dict[str, tuple[float, float]], float]:
    print(f"{backend}: building {len(plan.thread_ids):,} threads / {len(plan.turns):,} turns ...")
    started = time.perf_counter()
    if backend == "sqlite":
        assert isinstance(location, Path)
        build_sqlite(location, plan)
    else:
        location = build_postgres(str(location), plan)
    store = IndexStore(location)
    add_pastes(store, pastes)
    print(f"{backend}: built in {time.perf_counter() - started:.0f} s (with {pastes} 10 MB pastes)")
    rows = measure(store, plan, pastes)
    store.close()
    return rows, sqlite_size(location) if backend == "sqlite" else postgres_size(str(location))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=100_000)
    parser.add_argument("--turns", type=int, default=1_000_000)
    parser.add_argument(
        "--long-thread",
        type=int,
        default=200_000,
        metavar="TURNS",
        help="turns of the thread first in the thread list (default 200,000)",
    )
    parser.add_argument("--pastes", type=int, default=10, help="10 MB pastes to add (default 10)")
    parser.add_argument("--path", type=Path, default=Path("/tmp/assistant-index-scale.db"))
    parser.add_argument(
        "--postgres",
        metavar="URL|start",
        help="also on PostgreSQL: a postgresql:// URL, or `start` for a throwaway server",
    )
    parser.add_argument("--backends", default="sqlite,postgresql", help="which of sqlite,postgresql to run")
    args = parser.parse_args()
    plan = Plan.make(args.threads, args.turns, args.long_thread)
    backends = [name for name in args.backends.split(",") if name == "sqlite" or args.postgres]
    results = {}
    with postgres_server() if args.postgres == "start" else nullcontext(args.postgres) as url:
        for backend in backends:
            results[backend] = run(backend, args.path if backend == "sqlite" else url, plan, args.pastes)

    labels = list(next(iter(results.values()))[0])
    width = max(map(len, labels)) + 2
    print(f"\n{'':<{width}}" + "".join(f"{backend:>18}" for backend in results))
    print(f"{'':<{width}}" + "".join(f"{'p50 ms':>9}{'p95 ms':>9}" for _ in results) + "  target")
    for label in labels:
        target = next(value for prefix, value in TARGETS.items() if label.startswith(prefix))
        print(
            f"{label:<{width}}"
            + "".join(f"{rows[label][0]:>9.2f}{rows[label][1]:>9.2f}" for rows, _ in results.values())
            + f"  {target}"
        )
    print(f"{'index size, MiB':<{width}}" + "".join(f"{size / 2**20:>18,.0f}" for _, size in results.values()))
    print(f"({len(plan.thread_ids):,} threads, {len(plan.turns):,} turns, {args.pastes} pastes of 10 MB)")


if __name__ == "__main__":
    main()
