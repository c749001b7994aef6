"""How much disk the local server's state takes for what was said: 100 turns of 10 KB user text through the real
SDK, once in a conversation and once in a `previous_response_id` chain (each against a fresh state file, plus
both on one), then the state file and its folder compared with the text.

    python bench/server_state_size.py [--turns 100] [--kib 10]

Prints a table: the text said, the state on disk while the server runs (database + WAL + folder) and at rest
(after it stops), and the ratio at rest to the text. Target: under 3x (issue 19).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from openai import OpenAI
from vocabulary import WORDS  # bench/vocabulary.py, beside this script

from assistant.server import LocalServer


def user_text(rng: random.Random, size: int) -> str:
    """`size` characters of words (ASCII, so as many bytes)."""
    words: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(WORDS) + str(rng.randrange(1000))
        words.append(word)
        length += len(word) + 1
    return " ".join(words)[:size]


def state_bytes(db: Path) -> int:
    """The database with its WAL and shared-memory files, and the folder of files beside it."""
    total = sum(path.stat().st_size for path in db.parent.glob(db.name + "*") if path.is_file())
    folder = db.parent / (db.stem + ".files")
    if folder.exists():
        total += sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
    return total


def in_conversation(client: OpenAI, texts: list[str]) -> None:
    conversation = client.conversations.create()
    for text in texts:
        client.responses.create(model="reference", input=text, conversation=conversation.id)


def in_chain(client: OpenAI, texts: list[str]) -> None:
    previous = None
    for text in texts:
        previous = client.responses.create(model="reference", input=text, previous_response_id=previous).id


def in_both(client: OpenAI, texts: list[str]) -> None:
    in_conversation(client, texts[: len(texts) // 2])
    in_chain(client, texts[len(texts) // 2 :])


def measure(name: str, run: Callable[[OpenAI, list[str]], None], turns: int, size: int) -> tuple:
    texts = [user_text(random.Random(turn), size) for turn in range(turns)]
    said = sum(len(text.encode()) for text in texts)
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "server.db"
        started = time.perf_counter()
        with LocalServer(db_path=db) as server:
            with OpenAI(base_url=server.base_url, api_key="local", max_retries=0) as client:
                run(client, texts)
            live = state_bytes(db)
        seconds = time.perf_counter() - started
        at_rest = state_bytes(db)
    return name, said, live, at_rest, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=100)
    parser.add_argument("--kib", type=int, default=10, help="user text per turn, KiB")
    args = parser.parse_args()
    size = args.kib * 1024
    rows = [
        measure("conversation", in_conversation, args.turns, size),
        measure("previous_response_id", in_chain, args.turns, size),
        measure("both (half each)", in_both, args.turns, size),
    ]
    mib = 1024 * 1024
    print(f"{'mode':<22} {'text MiB':>9} {'live MiB':>9} {'at rest MiB':>12} {'at rest / text':>15} {'seconds':>8}")
    for name, said, live, at_rest, seconds in rows:
        print(
            f"{name:<22} {said / mib:>9.2f} {live / mib:>9.2f} {at_rest / mib:>12.2f} {at_rest / said:>14.2f}x"
            f" {seconds:>8.1f}"
        )


if __name__ == "__main__":
    main()
