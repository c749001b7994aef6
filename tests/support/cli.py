"""The one way tests run the `assistant` command: in a subprocess of this Python, with an environment that has no
ambient OpenAI or assistant settings (`environment`)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

from tests.support import index_backends

# The command line of `assistant`, for a test that puts it inside another command (a shell pipe, a terminal).
CLI = (sys.executable, "-m", "assistant.cli")


def environment(**values: str) -> dict[str, str]:
    """os.environ without ambient OpenAI settings, with the reference engine, plus `values` (for subprocesses)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ASSISTANT_"))}
    env["ASSISTANT_LOCAL_ENGINE"] = "reference"  # deterministic answers from the embedded server
    env.update(values)
    if index_backends.active_schemas is not None and "ASSISTANT_DB" in values:
        # The subprocess opens the same PostgreSQL schema the test does; what goes beside the index goes to its
        # data folder, kept inside the test's folder.
        env["ASSISTANT_DB"] = str(index_backends.index_location(Path(values["ASSISTANT_DB"])))
        env["XDG_DATA_HOME"] = str(Path(values["ASSISTANT_DB"]).parent)
    return env


def run_cli(
    *args: str,
    env: dict[str, str],
    input: str | bytes | None = None,
    text: bool = True,
    cwd: Path | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[Any]:
    """`assistant ARGS...` to its end, output captured (as text, or as bytes with `text=False`)."""
    return subprocess.run([*CLI, *args], input=input, capture_output=True, text=text, env=env, cwd=cwd, timeout=timeout)


def start_cli(
    *args: str,
    env: dict[str, str],
    stdout: int | IO[Any] | None = subprocess.DEVNULL,
    stderr: int | IO[Any] | None = subprocess.DEVNULL,
    text: bool = False,
    bufsize: int = -1,
) -> subprocess.Popen[Any]:
    """`assistant ARGS...` started and left running (e.g. `serve`, or an `ask` a test interrupts); output goes
    nowhere unless the test asks for a pipe."""
    return subprocess.Popen([*CLI, *args], stdout=stdout, stderr=stderr, text=text, env=env, bufsize=bufsize)


def free_port() -> int:
    """A loopback port nothing listens on now: for `assistant serve --port`, or an address that refuses."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
