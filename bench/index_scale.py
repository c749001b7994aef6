"""How the index holds up at scale: build an index of many threads and turns (generated, written straight to
SQLite in large transactions), then time what people do through the library's own store.

    python bench/index_scale.py [--threads 100000] [--turns 1000000] [--path /tmp/index-scale.db]

Prints a table: thread list first page, opening a 1,000-turn thread, full-text search, inserting a turn
(begin + item + close, as a streamed turn does), and the database size. Targets: list < 20 ms, open < 50 ms,
search < 50 ms, insert < 1 ms.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from assistant.index.store import IndexStore

WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec "
         "romeo sierra tango uniform victor whiskey xray yankee zulu invoice refund shipping latency database "
         "python kernel network migration quarterly budget forecast report customer support").split()


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def build(path: Path, threads: int, turns: int, long_thread_turns: int) -> str:
    """Fill an empty index; returns the id of the long thread."""
    IndexStore(path).close()  # the schema, by the real migrations
    rng = random.Random(7)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    stamp = lambda seconds: (start + timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S.%f")  # noqa: E731
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA synchronous = OFF")
    connection.execute("BEGIN")
    thread_ids = [f"thr_{number:016x}" for number in range(threads)]
    connection.executemany(
        "INSERT INTO threads (id, title, mode, model, archived, created_at, updated_at) "
        "VALUES (?, ?, 'conversation', 'gpt-4.1-mini', 0, ?, ?)",
        ((thread_id, sentence(rng, 4), stamp(number), stamp(number * 10)) for number, thread_id in enumerate(thread_ids)),
    )
    long_thread = thread_ids[-1]
    plan = [(long_thread, seq) for seq in range(1, long_thread_turns + 1)]
    per_thread = max((turns - long_thread_turns) // max(threads - 1, 1), 1)
    plan += [(thread_id, seq) for thread_id in thread_ids[:-1] for seq in range(1, per_thread + 1)]
    plan = plan[:turns]
    batch = 50_000
    turn_id = 0
    for offset in range(0, len(plan), batch):
        turn_rows, item_rows = [], []
        for thread_id, seq in plan[offset:offset + batch]:
            turn_id += 1
            question, answer = sentence(rng, 12), sentence(rng, 40)
            turn_rows.append((turn_id, thread_id, seq, question, answer, 120, 0, 60, stamp(turn_id)))
            item_rows.append((turn_id, 0, "input", "message", None, None,
                              json.dumps({"type": "message", "role": "user",
                                          "content": [{"type": "input_text", "text": question}]})))
            item_rows.append((turn_id, 1, "output", "message", f"msg_{turn_id:x}", "completed",
                              json.dumps({"type": "message", "id": f"msg_{turn_id:x}", "role": "assistant",
                                          "status": "completed",
                                          "content": [{"type": "output_text", "text": answer, "annotations": []}]})))
        connection.executemany(
            "INSERT INTO turns (id, thread_id, seq, backend, mode, status, model, input_text, output_text, "
            "input_tokens, cached_tokens, output_tokens, request_bytes, reasoning_tokens, created_at) "
            "VALUES (?, ?, ?, 'responses', 'conversation', 'completed', 'gpt-4.1-mini', ?, ?, ?, ?, ?, 0, 0, ?)",
            turn_rows,
        )
        connection.executemany(
            "INSERT INTO items (turn_id, position, direction, type, item_id, status, payload) VALUES (?, ?, ?, ?, ?, ?, ?)",
            item_rows,
        )
        print(f"\r  {min(offset + batch, len(plan)):,} of {len(plan):,} turns", end="", flush=True)
    connection.execute("COMMIT")
    connection.execute("PRAGMA optimize")
    connection.close()
    print()
    return long_thread


def timed(action, repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=100_000)
    parser.add_argument("--turns", type=int, default=1_000_000)
    parser.add_argument("--path", type=Path, default=Path("/tmp/assistant-index-scale.db"))
    args = parser.parse_args()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{args.path}{suffix}").unlink(missing_ok=True)
    print(f"building {args.threads:,} threads / {args.turns:,} turns in {args.path} ...")
    started = time.perf_counter()
    long_thread = build(args.path, args.threads, args.turns, long_thread_turns=1000)
    print(f"built in {time.perf_counter() - started:.0f} s")

    store = IndexStore(args.path)
    thread = store.thread(long_thread)
    rows = [
        ("thread list, first page (50)", *timed(lambda: store.threads(limit=50), 50), "< 20"),
        ("open a 1,000-turn thread", *timed(lambda: store.turns(long_thread), 20), "< 50"),
        ("full-text search (2 words)", *timed(lambda: store.search("refund latency", limit=20), 50), "< 50"),
        ("full-text search (rare word)", *timed(lambda: store.search("quarterly zulu budget", limit=20), 50), "< 50"),
    ]

    def insert_turn() -> None:
        turn_id, _ = store.begin_turn(thread_id=thread.id, input_text="how is the refund going?",
                                      input_items=[{"type": "message", "role": "user", "content": "x"}],
                                      model=thread.model, backend="responses", mode="conversation",
                                      conversation_id=None, previous_response_id=None)
        store.save_progress(turn_id, [(1, {"type": "message", "id": "msg_new", "content": []})], response_id="resp_x")
        store.close_turn(turn_id, thread_id=thread.id, thread_values={"last_response_id": "resp_x"},
                         final_items=[(1, {"type": "message", "id": "msg_new", "content": []})], status="completed",
                         output_text="It is on its way.")

    rows.append(("insert a turn (3 transactions)", *timed(insert_turn, 200), "< 1"))
    store.close()
    size = sum(Path(f"{args.path}{suffix}").stat().st_size for suffix in ("", "-wal")
               if Path(f"{args.path}{suffix}").exists())
    print(f"\n{'':<34}{'p50 ms':>9}{'p95 ms':>9}  target")
    for label, p50, p95, target in rows:
        print(f"{label:<34}{p50:>9.2f}{p95:>9.2f}  {target}")
    print(f"database size: {size / 2**20:,.0f} MiB ({args.threads:,} threads, {args.turns:,} turns)")


if __name__ == "__main__":
    main()
