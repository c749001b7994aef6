"""What the library costs per streamed turn: `Thread.stream` (index writes included) against the raw SDK, on the
same local server, in the same process, interleaved turn by turn so both see the same machine noise.

    python bench/overhead.py [--turns 200] [--db postgresql://…]

Both sides run a conversation-mode thread of the same length, so the server's work grows alike on both.
The server runs in its own process (`assistant serve`), as a real API would: in-process, its thread would
compete with the client for the GIL and blur both numbers. Index writes are timed inside the real run by
wrapping the store's write methods.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from openai import OpenAI

from assistant import Assistant
from assistant.index.store import IndexStore

WRITES = ("begin_turn", "update_turn", "save_progress", "close_turn", "update_thread")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


class WriteTimer:
    """Adds up the time spent in the index's write methods."""

    def __init__(self, store: IndexStore) -> None:
        self.total = 0.0
        for name in WRITES:
            setattr(store, name, self._timed(getattr(store, name)))

    def _timed(self, method):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.total += time.perf_counter() - started

        return timed


@contextmanager
def server_process(folder: Path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The reference engine: a model's own speed is not what this measures (bench/local_model.py does that).
    command = [
        sys.executable,
        "-m",
        "assistant.cli",
        "serve",
        "--engine",
        "reference",
        "--port",
        str(port),
        "--db",
        str(folder / "server.db"),
    ]
    with subprocess.Popen(command, stderr=subprocess.DEVNULL) as process:
        base_url = f"http://127.0.0.1:{port}/v1"
        client = OpenAI(base_url=base_url, api_key="sk-bench", max_retries=0)
        deadline = time.monotonic() + 30
        while True:
            try:
                client.models.list()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        try:
            yield base_url
        finally:
            process.terminate()
            process.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument(
        "--db", help="the index: a PostgreSQL URL (an empty database or schema) instead of a new SQLite file"
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="assistant-bench-"))
    with server_process(folder) as base_url:
        raw = OpenAI(base_url=base_url, api_key="sk-bench", max_retries=0)
        assistant = Assistant(
            base_url=base_url, api_key="sk-bench", db_path=args.db or folder / "index.db", max_retries=0
        )
        writes = WriteTimer(assistant.store)
        thread = assistant.thread(title="bench")
        conversation = raw.conversations.create()
        model = thread.model

        def raw_turn(text: str) -> None:
            with raw.responses.create(model=model, input=text, conversation=conversation.id, stream=True) as events:
                for _ in events:
                    pass

        def library_turn(text: str) -> None:
            for _ in thread.stream(text):
                pass

        # Warm both paths (connections, first conversation) before measuring.
        raw_turn("warm up")
        library_turn("warm up")
        raw_times, library_times, write_times = [], [], []
        for number in range(args.turns):
            text = f"turn number {number}: tell me something"
            started = time.perf_counter()
            raw_turn(text)
            raw_times.append((time.perf_counter() - started) * 1000)
            before = writes.total
            started = time.perf_counter()
            library_turn(text)
            library_times.append((time.perf_counter() - started) * 1000)
            write_times.append((writes.total - before) * 1000)
        assistant.close()
        raw.close()

    rows = [
        ("raw SDK stream (ms/turn)", percentile(raw_times, 0.5), percentile(raw_times, 0.95)),
        ("Thread.stream (ms/turn)", percentile(library_times, 0.5), percentile(library_times, 0.95)),
        (
            "ratio library / raw",
            percentile(library_times, 0.5) / percentile(raw_times, 0.5),
            percentile(library_times, 0.95) / percentile(raw_times, 0.95),
        ),
        ("index writes (ms/turn)", percentile(write_times, 0.5), percentile(write_times, 0.95)),
    ]
    print(f"{args.turns} streamed turns per side, conversation mode, local server process (reference engine)")
    print(f"{'':<28}{'p50':>10}{'p95':>10}")
    for label, p50, p95 in rows:
        print(f"{label:<28}{p50:>10.3f}{p95:>10.3f}")
    print(f"mean raw {statistics.fmean(raw_times):.3f} ms, mean library {statistics.fmean(library_times):.3f} ms")


if __name__ == "__main__":
    main()
