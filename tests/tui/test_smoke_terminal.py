"""The real `assistant` command in a real pseudo-terminal (tmux, 80x24): it opens the app with no API key, on
the embedded local server, answers a question typed at the keyboard, and the answer is read off the screen."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from assistant import Assistant
from tests.support.cli import CLI
from tests.support.index_backends import index_location

TMUX = shutil.which("tmux")
# .ci/run installs tmux; without it this test fails rather than skips (it is the only end-to-end check of the
# real command in a real terminal).


class Terminal:
    """A tmux session on a private server (its own socket), so neither a user's tmux nor its environment
    plays any part."""

    def __init__(self, command: list[str], *, cwd: Path, env: dict[str, str], size: tuple[int, int]) -> None:
        self.socket = f"assistant-smoke-{os.getpid()}"
        environment = [f"-e{name}={value}" for name, value in env.items()]
        self.tmux(
            "new-session",
            "-d",
            "-s",
            "smoke",
            "-x",
            str(size[0]),
            "-y",
            str(size[1]),
            "-c",
            str(cwd),
            *environment,
            " ".join(command),
        )

    def tmux(self, *args: str) -> str:
        return subprocess.run(
            [TMUX, "-L", self.socket, "-f", os.devnull, *args], capture_output=True, text=True, check=True
        ).stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "smoke")

    def type(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "smoke", *keys)

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared on the screen:\n{self.screen()}")

    def wait_gone(self, text: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text not in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} stayed on the screen:\n{self.screen()}")

    def running(self) -> bool:
        return (
            subprocess.run([TMUX, "-L", self.socket, "has-session", "-t", "smoke"], capture_output=True).returncode == 0
        )

    def close(self) -> None:
        subprocess.run([TMUX, "-L", self.socket, "kill-server"], capture_output=True)


def test_the_assistant_command_answers_a_question_typed_in_a_terminal(tmp_path: Path):
    command = shutil.which("assistant")
    argv = [command] if command else list(CLI)
    db_path = tmp_path / "index.db"
    # No OPENAI_API_KEY or OPENAI_BASE_URL: tmux passes on only what is given here and the server's defaults.
    # The reference engine, so the answer is known whether or not a real local model is installed.
    env = {
        "ASSISTANT_DB": str(index_location(db_path)),
        "OPENAI_API_KEY": "",
        "OPENAI_BASE_URL": "",
        "TERM": "xterm-256color",
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "ASSISTANT_LOCAL_ENGINE": "reference",
    }
    terminal = Terminal(argv, cwd=tmp_path, env=env, size=(80, 24))
    try:
        terminal.wait_for("Ask anything")
        terminal.wait_for("local server")  # the embedded server is up
        terminal.type("hello from a terminal")
        terminal.type("Enter")
        screen = terminal.wait_for("Reference reply to: hello from a terminal")
        assert "conv_" in screen  # the status bar shows the new conversation
        assert "no tools" in screen

        # The tools dialog and the mode picker open from their keys and close with Esc.
        terminal.type("C-t")
        terminal.wait_for("Tools for this thread")
        terminal.type("Space")
        terminal.type("Escape")
        terminal.wait_gone("Tools for this thread")
        assert " web " in terminal.wait_for(" web ")  # web search is on: the status bar says so
        terminal.type("C-g")
        terminal.wait_for("Thread mode")
        terminal.type("Escape")
        terminal.wait_gone("Thread mode")

        terminal.type("C-q")
        deadline = time.monotonic() + 10
        while terminal.running() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not terminal.running(), "ctrl+q quits"
    finally:
        terminal.close()

    with Assistant(db_path=db_path, base_url="http://127.0.0.1:9/v1") as assistant:  # reads the index only
        [thread] = assistant.threads()
        [turn] = assistant.thread(thread.id).history()
        assert assistant.thread(thread.id).tools.enabled == ["web_search"]
    assert (turn.input, turn.text, turn.status) == (
        "hello from a terminal",
        "Reference reply to: hello from a terminal",
        "completed",
    )
