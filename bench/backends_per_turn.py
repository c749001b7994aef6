"""Responses against Chat Completions over a long conversation: what each sends per turn, and how long it takes.

    python bench/backends_per_turn.py [--turns 30]

One conversation of N user turns goes through both backends at once with `assistant.compare.compare` (a
conversation-mode thread and a chat-mode thread), against the local server with its deterministic reference
engine, in its own process (in-process, its thread would compete with the client for the GIL). Printed per turn
and backend: request bytes sent, input tokens billed, and wall time of the turn. Expected: flat for Responses
(only the new message is sent), growing linearly for Chat (the whole history is sent every turn).
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from assistant import Assistant
from assistant.compare import compare
from assistant.compare_input import Conversation

SENTENCE = "Here is one more thing to remember about the project, number {n}: it ships on a Tuesday."


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "assistant.cli",
                "serve",
                "--engine",
                "reference",
                "--port",
                str(port),
                "--db",
                str(Path(folder) / "server.db"),
            ],
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise SystemExit("the local server did not start") from None
                    time.sleep(0.05)
            conversation = Conversation("bench", [SENTENCE.format(n=n) for n in range(1, args.turns + 1)])
            with Assistant(
                base_url=f"http://127.0.0.1:{port}/v1",
                api_key="bench",
                db_path=Path(folder) / "i.db",
                model="gpt-4.1-mini",
            ) as assistant:
                started = time.perf_counter()
                report = compare(assistant, [conversation])
                elapsed = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(10)

    [result] = report.conversations
    responses, chat = result.runs["responses"].turns, result.runs["chat"].turns
    print(
        f"{args.turns} turns, model gpt-4.1-mini on the local reference engine; both backends ran at once "
        f"({elapsed:.1f} s in all)\n"
    )
    print(f"{'turn':>4}  {'bytes R':>8} {'bytes C':>8}  {'input R':>8} {'input C':>8}  {'ms R':>7} {'ms C':>7}")
    for r, c in zip(responses, chat, strict=False):
        print(
            f"{r.turn:>4}  {r.request_bytes:>8,} {c.request_bytes:>8,}  {r.input_tokens:>8,} {c.input_tokens:>8,}  "
            f"{r.latency_ms or 0:>7.1f} {c.latency_ms or 0:>7.1f}"
        )
    for name, turns in (("responses", responses), ("chat", chat)):
        bytes_sent = [turn.request_bytes for turn in turns]
        tokens = [turn.input_tokens for turn in turns]
        slope = (bytes_sent[-1] - bytes_sent[1]) / max(1, len(bytes_sent) - 2)
        print(
            f"\n{name:>9}: {sum(bytes_sent):,} bytes and {sum(tokens):,} input tokens in all; turn 2 -> "
            f"{len(turns)}: {bytes_sent[1]:,} -> {bytes_sent[-1]:,} bytes ({slope:+.0f} bytes per turn), "
            f"{tokens[1]:,} -> {tokens[-1]:,} input tokens"
        )


if __name__ == "__main__":
    main()
