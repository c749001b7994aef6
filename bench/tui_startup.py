"""How soon the app shows its first screen: with an empty index, and with 10,000 threads in it.

    python bench/tui_startup.py [--threads 10000] [--runs 7]

Each run builds the `Assistant` (which opens the index), starts the app headless with `App.run_test()` and
notes two moments:

- first paint: the first frame the app draws (the layout, the sidebar still reading its first page);
- threads shown: the first frame that shows the sidebar's first page of threads.

Both are measured from just before the `Assistant` is built. Frames are seen by wrapping the app's
`_display` (Textual hands every finished frame to it; headless, it only skips the terminal write), so the
terminal's own drawing is not in the numbers. The budget is 0.5 s. The embedded local server starts in a
worker thread during the run, as it does for a user with no API key.

Python's own start and the imports (openai, textual) come before any of this in a real start: they are
timed separately, in a fresh process, and printed below the table.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant import Assistant
from assistant.config import Settings
from assistant.index.sql import insert_sql
from assistant.index.store import IndexStore
from assistant.index.tables import utcnow
from assistant.index.threads import new_thread_id
from tui.app import AssistantApp
from tui.screens.main import MainScreen

BUDGET_MS = 500.0
SIZE = (120, 40)


def build_index(path: Path, threads: int) -> None:
    """`threads` threads of one turn each, written through the store in one transaction (seconds, not the
    minutes that one `ask()` per thread would take)."""
    store = IndexStore(path)
    now = utcnow()
    thread_rows, turn_rows = [], []
    for number in range(threads):
        moment = now - timedelta(seconds=number)
        thread_id = new_thread_id()
        thread_rows.append(
            {
                "id": thread_id,
                "title": f"Thread {number}: a question about topic {number % 97}",
                "mode": ("conversation", "chain", "local")[number % 3],
                "model": "gpt-4.1-mini",
                "archived": False,
                "created_at": moment,
                "updated_at": moment,
            }
        )
        turn_rows.append(
            {
                "thread_id": thread_id,
                "seq": 1,
                "status": "completed",
                "model": "gpt-4.1-mini",
                "input_text": f"question {number} about topic {number % 97}",
                "output_text": f"Reference reply to: question {number}",
                "input_tokens": 12,
                "output_tokens": 8,
                "created_at": moment,
                "completed_at": moment,
            }
        )
    if threads:
        store.connection.run(
            [
                (insert_sql("threads", tuple(thread_rows[0])), thread_rows),
                (insert_sql("turns", tuple(turn_rows[0])), turn_rows),
            ]
        )
    store.close()


async def one_start(db_path: Path) -> tuple[float, float]:
    """(first paint, threads shown) in milliseconds."""
    marks: dict[str, float] = {}
    started = time.perf_counter()
    assistant = Assistant(settings=Settings(db_path=db_path))  # no key: the embedded local server
    app = AssistantApp(assistant, close_assistant=True)
    display = app._display

    def timed_display(screen, renderable) -> None:  # type: ignore[no-untyped-def]
        if renderable is not None and not app._batch_count:  # a frame Textual would write to the terminal
            now = time.perf_counter()
            marks.setdefault("first_paint", now)
            if isinstance(app.screen, MainScreen) and app.screen.sidebar.loaded:
                marks.setdefault("threads_shown", now)
        display(screen, renderable)

    app._display = timed_display  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        deadline = time.perf_counter() + 10
        while "threads_shown" not in marks and time.perf_counter() < deadline:
            await pilot.pause(0.005)
        screen = app.screen
        assert isinstance(screen, MainScreen)
        await screen.library.connect()  # let the embedded server finish starting before the app closes
    return ((marks["first_paint"] - started) * 1000, (marks["threads_shown"] - started) * 1000)


def import_time() -> float:
    """Seconds for a fresh Python to import what `assistant` (no arguments) imports before the app starts."""
    code = "import time; t = time.perf_counter(); import assistant.cli, tui.app; print(time.perf_counter() - t)"
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, check=True)  # warm .pyc files
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    return float(result.stdout.strip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=10_000, help="threads in the big index (default 10000)")
    parser.add_argument("--runs", type=int, default=7, help="starts per index (default 7)")
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for label, threads in (("empty index", 0), (f"{args.threads:,} threads", args.threads)):
            db_path = Path(folder) / f"{threads}" / "index.db"
            db_path.parent.mkdir()
            built = time.perf_counter()
            build_index(db_path, threads)
            build_s = time.perf_counter() - built
            asyncio.run(one_start(db_path))  # warm-up: caches, first imports of the server stack
            starts = [asyncio.run(one_start(db_path)) for _ in range(args.runs)]
            rows.append((label, build_s, [paint for paint, _ in starts], [shown for _, shown in starts]))

    print(f"App start to first frame, headless {SIZE[0]}x{SIZE[1]}, {args.runs} runs each (budget {BUDGET_MS:.0f} ms)")
    print()
    header = (
        f"{'index':<16} {'built in':>9} {'first paint p50':>16} {'max':>8} {'threads shown p50':>18} "
        f"{'max':>8}  verdict"
    )
    print(header)
    print("-" * len(header))
    for label, build_s, paints, shown in rows:
        verdict = "ok" if max(shown) < BUDGET_MS else "OVER BUDGET"
        print(
            f"{label:<16} {build_s:>8.2f}s {statistics.median(paints):>13.0f} ms {max(paints):>5.0f} ms "
            f"{statistics.median(shown):>15.0f} ms {max(shown):>5.0f} ms  {verdict}"
        )
    print()
    print(
        f"Before any of this, a fresh process imports assistant.cli and tui.app in {import_time() * 1000:.0f} ms "
        "(openai and textual, mostly)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
