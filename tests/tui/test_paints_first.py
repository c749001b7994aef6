"""The app paints first, then loads (issue #17): its first frame is drawn before the openai SDK is imported and
before the embedded server's stack (starlette, uvicorn, llama.cpp) is, so the screen appears at once and the
rest arrives behind it.

A fresh process, because this one has imported everything long ago: it opens the app headless on an empty
index with no API key (the embedded server, as a new user has it) and notes which of those modules are loaded
when Textual hands over the first finished frame (`App._display`, as bench/tui_startup.py watches it)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support.cli import environment

FIRST_FRAME = """
import asyncio, json, sys
from pathlib import Path

from assistant import Assistant
from assistant.config import Settings
from tui.app import AssistantApp

HEAVY = ("openai", "starlette", "uvicorn", "llama_cpp")


async def main() -> None:
    app = AssistantApp(Assistant(settings=Settings(db_path=Path(sys.argv[1]))), close_assistant=True)
    loaded: dict[str, list[str]] = {}
    display = app._display

    def first_frame(screen, renderable):
        if renderable is not None and not app._batch_count:
            loaded.setdefault("first frame", [name for name in HEAVY if name in sys.modules])
        display(screen, renderable)

    app._display = first_frame
    async with app.run_test(size=(120, 40)):
        for _ in range(1000):
            if loaded:
                break
            await asyncio.sleep(0.01)
    print(json.dumps(loaded))


asyncio.run(main())
"""


# What the process imports does not depend on what holds the index.
@pytest.mark.sqlite_only
def test_the_first_frame_comes_before_the_sdk_and_the_server(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", FIRST_FRAME, str(tmp_path / "index.db")],
        capture_output=True,
        text=True,
        env=environment(),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded["first frame"] == [], f"loaded before the first frame: {loaded['first frame']}"
