"""How long the `assistant` command takes to answer, as whole processes, next to Python doing nothing.

    python bench/cli_startup.py [--runs 5] [--threads 1000] [--importtime threads]

Each command runs `--runs` times, interleaved (one round of every command, then the next round), so load on
the machine falls on all of them alike; the table shows medians and the ratio to `python -c pass`. The
commands read an index of `--threads` threads made for the run (no API key: nothing here may start the embedded
server). `llm --help` (simonw/llm, also Python) is a peer when it is installed in the same environment.

The app's first paint is timed from the command to the first screen that shows its sidebar, in a real terminal
(a private tmux server, 120x40), when tmux is installed.

`--importtime COMMAND` also runs `assistant COMMAND` once under `python -X importtime` and prints the
packages our code imports, the costliest first (each with all it imports in turn), and whether the
heavy ones a read-only command has no use for (openai, textual, starlette, uvicorn, llama_cpp) were among them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tui_startup import build_index  # the same seeded index the app's benchmark reads

HEAVY = ("openai", "textual", "starlette", "uvicorn", "llama_cpp")


def script(name: str) -> Path | None:
    """The console script installed beside this Python (not a pyenv shim, whose own start would be timed)."""
    path = Path(sys.executable).parent / name
    return path if path.exists() else None


def commands(thread_id: str) -> dict[str, list[str]]:
    assistant = (
        [sys.executable, str(script("assistant"))] if script("assistant") else [sys.executable, "-m", "assistant.cli"]
    )
    table = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "assistant --help": [*assistant, "--help"],
        "assistant threads": [*assistant, "threads"],
        "assistant show ID": [*assistant, "show", thread_id],
        "assistant search topic": [*assistant, "search", "topic"],
        "assistant config": [*assistant, "config"],
    }
    llm = script("llm")
    if llm:
        table["llm --help"] = [sys.executable, str(llm), "--help"]
    return table


def environment(db_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OPENAI_", "ASSISTANT_"))}
    # This checkout's code, wherever the package is installed from.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH")]))
    env["ASSISTANT_DB"] = str(db_path)
    return env


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.strip()}")
    return elapsed


def first_paint(argv: list[str], env: dict[str, str]) -> float:
    """Seconds from starting the app in a terminal until its first screen shows (the sidebar's "Threads")."""
    tmux = [shutil.which("tmux") or "tmux", "-L", f"cli-startup-{os.getpid()}", "-f", os.devnull]
    variables = [f"-e{name}={value}" for name, value in env.items() if name.startswith(("ASSISTANT_", "PYTHON"))]
    started = time.perf_counter()
    subprocess.run([*tmux, "new-session", "-d", "-s", "app", "-x", "120", "-y", "40", *variables, *argv], check=True)
    try:
        while time.perf_counter() - started < 30:
            screen = subprocess.run([*tmux, "capture-pane", "-p", "-t", "app"], capture_output=True, text=True).stdout
            if "Threads" in screen:
                return time.perf_counter() - started
            time.sleep(0.005)
        raise SystemExit("the app showed no screen within 30 s")
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)


def import_costs(argv: list[str], env: dict[str, str]) -> dict[str, int]:
    """Cumulative import time (µs) of each top-level package `argv` imports, from `python -X importtime`."""
    result = subprocess.run(
        [argv[0], "-X", "importtime", *argv[1:]], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    costs: dict[str, int] = defaultdict(int)
    # Children are printed before their parent: read upwards, so each line's importer is known when it is met.
    importers: list[str] = []  # the package of the import open at each depth
    for line in reversed(result.stderr.splitlines()):
        if not line.startswith("import time:") or line.count("|") != 2:
            continue
        _self, cumulative, name = line.removeprefix("import time:").split("|")
        if not cumulative.strip().isdigit():
            continue  # the header line
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        package = name.strip().split(".")[0]
        del importers[depth:]
        if package not in importers and set(importers) <= {"assistant"}:  # entered from our code (or the top)
            costs[package] += int(cumulative)
        importers.append(package)
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1000, help="threads in the index the commands read")
    parser.add_argument("--importtime", metavar="COMMAND", help="also break down `assistant COMMAND`'s imports")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        db_path = Path(folder) / "index.db"
        build_index(db_path, args.threads)
        env = environment(db_path)
        listing = subprocess.run(
            commands("")["assistant threads"] + ["--limit", "1"], env=env, capture_output=True, text=True
        )
        thread_id = listing.stdout.split()[0] if listing.stdout.strip() else "thr_missing"
        table = commands(thread_id)
        app = table["assistant --help"][:-1]
        times: dict[str, list[float]] = {name: [] for name in table}
        if shutil.which("tmux"):
            times["assistant (app's first paint)"] = []
        for _ in range(args.runs):
            for name, argv in table.items():
                times[name].append(timed(argv, env))
            if shutil.which("tmux"):
                times["assistant (app's first paint)"].append(first_paint(app, env))
        base = statistics.median(times["python -c pass"])
        print(f"{'command':<32}{'median':>10}{'min':>10}{'x python':>10}   ({args.runs} runs, {args.threads} threads)")
        for name, samples in times.items():
            median = statistics.median(samples)
            print(f"{name:<32}{median * 1000:>8.0f}ms{min(samples) * 1000:>8.0f}ms{median / base:>9.1f}x")
        if not script("llm"):
            print("llm --help: not installed here (pip install llm to compare)")

        if args.importtime:
            argv = table.get(f"assistant {args.importtime}") or [*table["assistant --help"][:-1], args.importtime]
            costs = import_costs(argv, env)
            print(f"\nimports of `assistant {args.importtime}` (cumulative, top-level packages):")
            for package, micros in sorted(costs.items(), key=lambda item: -item[1])[:15]:
                print(f"  {package:<24}{micros / 1000:>8.1f} ms")
            loaded = [package for package in HEAVY if package in costs]
            print(f"heavy packages imported: {', '.join(loaded) or 'none'}")


if __name__ == "__main__":
    main()
