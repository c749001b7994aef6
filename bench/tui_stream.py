"""How the app keeps up with a long streamed answer: time to show it whole against the raw stream, frames, CPU
and how long a key press waits while it streams.

    python bench/tui_stream.py [--tokens 1000,5000,20000] [--shapes paragraph,list,code,table] [--timeout 120]

For each shape and length, the reference engine of the embedded local server answers a prompt that gives a long
answer of that shape ("count to N" is one long paragraph; "a list of N items", "a code block of N lines" and "a
table of N rows" are the others; see assistant/server/engines/reference.py). Two runs, in this process:

- raw: the same prompt streamed with the library (`Thread.astream`) and nothing drawn: the stream's own time
  and CPU (the embedded server runs in this process, so its CPU is in both columns);
- app: the app headless (`App.run_test()`) sends the prompt; the time from Enter until the answer is finished
  and the frame after it is drawn, frames drawn meanwhile (seen by wrapping the app's `_display`, as
  bench/tui_startup.py does), the process's CPU seconds, and the worst and median key latency: every 50 ms a
  key press is posted to the app and timed until the prompt shows its character.

Ratios are against the raw stream of the same run. The targets (issue 21): shown within 1.2x the raw stream,
key latency <= 50 ms, CPU <= 2x the raw stream's.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from textual import events

from assistant import Assistant
from assistant.config import Settings
from assistant.model_names import REFERENCE_MODEL
from tui.app import AssistantApp
from tui.screens.main import MainScreen

SIZE = (120, 40)
PROBE_EVERY_S = 0.05
# Tokens per unit of each shape, as the reference engine's tokenizer counts them.
SHAPES = {
    "paragraph": ("count to {n}", 1),
    "list": ("a list of {n} items", 3),
    "code": ("a code block of {n} lines", 6),
    "table": ("a table of {n} rows", 7),
}


def prompt_for(shape: str, tokens: int) -> str:
    template, per_unit = SHAPES[shape]
    return template.format(n=max(1, tokens // per_unit))


@dataclass
class Run:
    seconds: float
    cpu: float
    tokens: int = 0
    frames: int = 0
    latencies: list[float] = field(default_factory=list)
    timed_out: bool = False


async def raw_stream(assistant: Assistant, prompt: str) -> Run:
    thread = assistant.thread(title="raw stream")
    started, cpu = time.perf_counter(), time.process_time()
    tokens = 0
    async for event in thread.astream(prompt):
        if event.type == "turn.completed":
            tokens = event.turn.usage.output_tokens
    return Run(time.perf_counter() - started, time.process_time() - cpu, tokens)


async def app_stream(assistant: Assistant, prompt: str, timeout: float) -> Run:
    app = AssistantApp(assistant)
    frames = 0
    display = app._display

    def counted_display(screen, renderable) -> None:  # type: ignore[no-untyped-def]
        nonlocal frames
        if renderable is not None and not app._batch_count:  # a frame Textual would write to the terminal
            frames += 1
        display(screen, renderable)

    app._display = counted_display  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, MainScreen)
        await screen.library.connect()
        screen.prompt.text = prompt
        await pilot.pause()
        frames = 0
        started, cpu = time.perf_counter(), time.process_time()
        await pilot.press("enter")
        latencies: list[float] = []
        deadline = started + timeout
        while not screen.answering and time.perf_counter() < deadline:
            await asyncio.sleep(0.001)
        while screen.answering and time.perf_counter() < deadline:
            latencies.append(await key_latency(app, screen))
            await asyncio.sleep(PROBE_EVERY_S)
        timed_out = screen.answering
        if timed_out:
            screen.action_cancel_answer()
        await pilot.pause()  # the frame that shows the finished answer
        run = Run(time.perf_counter() - started, time.process_time() - cpu, frames=frames, latencies=latencies)
        run.timed_out = timed_out
        while screen.answering:
            await pilot.pause(0.05)
    return run


async def key_latency(app: AssistantApp, screen: MainScreen) -> float:
    """Seconds from posting a key press until the prompt shows the character (the prompt is cleared after)."""
    before = len(screen.prompt.text)
    posted = time.perf_counter()
    app.post_message(events.Key("x", "x"))
    while len(screen.prompt.text) == before:
        await asyncio.sleep(0.001)
    latency = time.perf_counter() - posted
    screen.prompt.text = ""
    return latency


async def measure(shapes: list[str], lengths: list[int], timeout: float) -> None:
    """Every run in one event loop: the library's async client belongs to the loop it started in."""
    with tempfile.TemporaryDirectory() as folder:
        # The embedded local server, answered by its reference engine whatever else is installed.
        settings = Settings(db_path=Path(folder) / "index.db", chosen_model=REFERENCE_MODEL)
        assistant = Assistant(settings=settings)
        try:
            await raw_stream(assistant, "count to 10")  # warm-up: the server starts, first imports
            for shape in shapes:
                for length in lengths:
                    prompt = prompt_for(shape, length)
                    raw = await raw_stream(assistant, prompt)
                    shown = await app_stream(assistant, prompt, timeout)
                    app_s = f">{shown.seconds:.0f}" if shown.timed_out else f"{shown.seconds:.2f}"
                    p50 = statistics.median(shown.latencies) * 1000 if shown.latencies else 0.0
                    worst = max(shown.latencies) * 1000 if shown.latencies else 0.0
                    print(
                        f"{shape:<10} {raw.tokens:>7,} {raw.seconds:>7.2f} {app_s:>8} "
                        f"{shown.seconds / raw.seconds:>5.1f}x {shown.frames:>7} {shown.frames / shown.seconds:>5.0f} "
                        f"{raw.cpu:>8.2f} {shown.cpu:>8.2f} {shown.cpu / raw.cpu:>5.1f}x "
                        f"{p50:>5.0f} ms {worst:>5.0f} ms",
                        flush=True,
                    )
        finally:
            await assistant.aclose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", default="1000,5000,20000", help="answer lengths in tokens (comma-separated)")
    parser.add_argument("--shapes", default=",".join(SHAPES), help="shapes (comma-separated): " + ", ".join(SHAPES))
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds before an app run is cut short")
    args = parser.parse_args()
    lengths = [int(each) for each in args.tokens.split(",")]
    shapes = args.shapes.split(",")

    print(f"A streamed answer in the app (headless {SIZE[0]}x{SIZE[1]}) against the raw stream, same process")
    print()
    header = (
        f"{'shape':<10} {'tokens':>7} {'raw s':>7} {'app s':>8} {'ratio':>6} {'frames':>7} {'fps':>5} "
        f"{'raw cpu':>8} {'app cpu':>8} {'cpu x':>6} {'key p50':>8} {'key max':>8}"
    )
    print(header)
    print("-" * len(header))
    asyncio.run(measure(shapes, lengths, args.timeout))
    print()
    print("Targets: app within 1.2x the raw stream, key latency <= 50 ms, app CPU <= 2x the raw stream's.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
