"""Fixtures for the app's tests: the app on an Assistant that talks to the test LocalServer (tests/support/fixtures.py),
or to a server replaying recorded OpenAI streams, and helpers to wait for the app to settle."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot

from assistant import Assistant
from tests.support.fixtures import TEST_KEY
from tests.support.recorded_server import RecordedServer, load_recording
from tui.app import AssistantApp
from tui.screens.main import MainScreen
from tui.widgets.answer import AssistantAnswer

SIZE = (100, 30)


@pytest.fixture
def app(assistant: Assistant) -> AssistantApp:
    return AssistantApp(assistant)


class SnapshotAssistant(Assistant):
    provider = "local server (test)"  # the real one names the server's port, which changes every run


@pytest.fixture
def snapshot_assistant(server, tmp_path: Path) -> Iterator[Assistant]:
    """An Assistant on the test server for snapshots: named without the server's port."""
    with SnapshotAssistant(
        base_url=server.base_url, api_key=TEST_KEY, db_path=tmp_path / "index.db", max_retries=0
    ) as assistant:
        yield assistant


@pytest.fixture(scope="module")
def recorded_server() -> Iterator[RecordedServer]:
    with RecordedServer() as server:
        yield server


@pytest.fixture
def replay(recorded_server: RecordedServer, tmp_path: Path) -> Iterator[Callable[[str], AssistantApp]]:
    """An app whose server answers every request with the recorded stream `name`. (Start a chain-mode
    thread in it: the recordings are single responses, with no conversation to create first.)"""
    assistants: list[Assistant] = []

    def make(name: str) -> AssistantApp:
        recorded_server.recording = load_recording(name)
        assistant = Assistant(
            base_url=recorded_server.base_url, api_key=TEST_KEY, db_path=tmp_path / "index.db", max_retries=0
        )
        assistants.append(assistant)
        return AssistantApp(assistant)

    yield make
    for assistant in assistants:
        assistant.close()


def main_screen(app: AssistantApp) -> MainScreen:
    screen = app.screen
    assert isinstance(screen, MainScreen)
    return screen


async def until(pilot: Pilot, condition: Callable[[], object], *, timeout: float = 10.0) -> None:
    """Let the app run until `condition()` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {condition}")
        await pilot.pause(0.02)
    await pilot.pause()


async def click_when_settled(pilot: Pilot, selector: str) -> None:
    """Click `selector` once it is laid out and has stopped moving: a transcript that has just loaded still
    scrolls to its end, and a click aimed at where a widget was lands on whatever is there now."""
    widget = pilot.app.screen.query_one(selector)
    seen = [widget.region]

    def settled() -> bool:
        seen.append(widget.region)
        return seen[-1].area > 0 and seen[-1] == seen[-2]

    await until(pilot, settled)
    await pilot.click(selector)


async def started(pilot: Pilot) -> MainScreen:
    """The main screen once its provider is known and the sidebar's first page is in."""
    screen = main_screen(pilot.app)  # type: ignore[arg-type]
    await until(pilot, lambda: screen.sidebar.loaded and screen.library._provider is not None)
    return screen


async def send(pilot: Pilot, text: str, *, timeout: float = 30.0) -> AssistantAnswer:
    """Type `text` in the prompt, press Enter and wait for the answer to finish (a sandbox's cold start can
    take a while on a busy machine)."""
    screen = main_screen(pilot.app)  # type: ignore[arg-type]
    screen.prompt.focus()
    screen.prompt.text = text
    await pilot.press("enter")
    await until(pilot, lambda: screen.answer_worker is not None and screen.answer_worker.is_finished, timeout=timeout)
    return list(screen.query(AssistantAnswer))[-1]
