"""Snapshots of the main screen (pytest-textual-snapshot): 80x24 and a large terminal, dark and light themes.

Deterministic by construction: a fixed terminal size, the reference engine's fixed answers and token counts,
activity times set relative to now (the sidebar shows "2h", not a date), chain-mode threads where a
conversation id would show (ids are random), and the provider named without the test server's port.
Update with `pytest tests/tui/test_snapshots.py --snapshot-update` after checking the report.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from textual.widgets import Collapsible

from assistant import Assistant
from assistant.index.tables import utcnow
from tests.support.fixtures import TEST_KEY
from tests.support.recorded_server import RecordedServer, load_recording
from tests.tui.conftest import SnapshotAssistant, main_screen, until
from tests.tui.test_tool_cards import CODE_INTERPRETER, WEB_SEARCH
from tui.app import AssistantApp
from tui.screens.delete import DeleteThreadScreen
from tui.screens.files import FilesScreen
from tui.screens.tools import ToolsScreen
from tui.widgets.answer import AnswerText, AssistantAnswer
from tui.widgets.tool_card import ToolCard

SMALL = (80, 24)
LARGE = (160, 48)


def age(assistant: Assistant, thread_id: str, ago: timedelta) -> None:
    assistant.store.update_thread(thread_id, updated_at=utcnow() - ago)


def populate(assistant: Assistant) -> str:
    """Four threads, one a fork (listed under its parent), two with tools (badges); returns the id of the one
    to open (chain mode: no random conversation id shows)."""
    trip = assistant.thread(title="Planning a trip to Lisbon", mode="chain")
    trip.ask("Which neighbourhoods should I stay in?")
    trip.ask("**What** did I say first?")
    trip.set_tools(["web_search", "code_interpreter"])
    age(assistant, trip.id, timedelta(hours=2))
    fork = trip.fork(1, title="Lisbon, cheaper")
    age(assistant, fork.id, timedelta(minutes=1))
    notes = assistant.thread(title="Meeting notes", tools=["file_search"])
    notes.ask("Summarise the meeting in three bullet points")
    age(assistant, notes.id, timedelta(days=3))
    local = assistant.thread(title="Private draft", mode="local")
    local.ask("hello")
    age(assistant, local.id, timedelta(minutes=5))
    return trip.id


async def settle(pilot) -> None:
    screen = main_screen(pilot.app)
    await until(pilot, lambda: screen.sidebar.loaded and screen.library._provider is not None)
    screen.prompt.cursor_blink = False


def open_thread(thread_id: str, *, theme: str | None = None):
    async def run_before(pilot) -> None:
        if theme:
            pilot.app.theme = theme
        await settle(pilot)
        screen = main_screen(pilot.app)
        screen.open_thread(thread_id)
        await until(pilot, lambda: screen.thread is not None and screen.query(".answer-footer"))
        screen.prompt.text = "Is it sunny in May?"

    return run_before


def test_new_thread_in_an_empty_index(snap_compare, snapshot_assistant):
    assert snap_compare(AssistantApp(snapshot_assistant), terminal_size=SMALL, run_before=settle)


def test_open_thread_80x24_dark(snap_compare, snapshot_assistant):
    thread_id = populate(snapshot_assistant)
    assert snap_compare(AssistantApp(snapshot_assistant), terminal_size=SMALL, run_before=open_thread(thread_id))


def test_open_thread_80x24_light(snap_compare, snapshot_assistant):
    thread_id = populate(snapshot_assistant)
    assert snap_compare(
        AssistantApp(snapshot_assistant), terminal_size=SMALL, run_before=open_thread(thread_id, theme="textual-light")
    )


def test_open_thread_large_terminal(snap_compare, snapshot_assistant):
    thread_id = populate(snapshot_assistant)
    assert snap_compare(AssistantApp(snapshot_assistant), terminal_size=LARGE, run_before=open_thread(thread_id))


@pytest.mark.sqlite_only  # the snippet's words differ on PostgreSQL (ts_headline, not FTS5's snippet)
def test_search_results(snap_compare, snapshot_assistant):
    populate(snapshot_assistant)

    async def run_before(pilot) -> None:
        await settle(pilot)
        screen = main_screen(pilot.app)
        await pilot.press("ctrl+f", *"first")
        await until(pilot, lambda: screen.sidebar.hits is not None)

    assert snap_compare(AssistantApp(snapshot_assistant), terminal_size=SMALL, run_before=run_before)


@pytest.mark.parametrize("recording", [WEB_SEARCH, CODE_INTERPRETER], ids=["web_search", "code_interpreter"])
def test_tool_cards_large_terminal(snap_compare, tmp_path: Path, recording: str):
    with RecordedServer() as recorded:
        recorded.recording = load_recording(recording)
        with SnapshotAssistant(
            base_url=recorded.base_url, api_key=TEST_KEY, db_path=tmp_path / "index.db", max_retries=0
        ) as assistant:

            async def run_before(pilot) -> None:
                await settle(pilot)
                screen = main_screen(pilot.app)
                screen.action_new_thread("chain")
                screen.prompt.text = "Show me what the tools did"
                await pilot.press("enter")
                await until(pilot, lambda: screen.answer_worker is not None and screen.answer_worker.is_finished)
                await until(pilot, lambda: all(text.finished for text in screen.query(AnswerText)))
                card = screen.query(ToolCard).last()
                card.collapsed = False  # one card open, the others closed
                # The screenshot once the opened card is laid out and nothing moves any more: on a busy machine
                # one pause was not always enough.
                contents = card.query_one(Collapsible.Contents)
                seen = [screen.query(AssistantAnswer).last().region]

                def still() -> bool:
                    seen.append(screen.query(AssistantAnswer).last().region)
                    return contents.region.height > 0 and seen[-1] == seen[-2]

                await pilot.wait_for_scheduled_animations()
                await until(pilot, still)

            assert snap_compare(AssistantApp(assistant), terminal_size=LARGE, run_before=run_before)


def test_tools_dialog_80x24_light(snap_compare, snapshot_assistant):
    thread_id = populate(snapshot_assistant)

    async def run_before(pilot) -> None:
        await open_thread(thread_id, theme="textual-light")(pilot)
        await pilot.press("ctrl+t")
        await until(pilot, lambda: isinstance(pilot.app.screen, ToolsScreen))

    assert snap_compare(AssistantApp(snapshot_assistant), terminal_size=SMALL, run_before=run_before)


def test_delete_dialog_80x24(snap_compare, snapshot_assistant):
    thread_id = populate(snapshot_assistant)

    async def run_before(pilot) -> None:
        await open_thread(thread_id)(pilot)
        await pilot.app.run_action("screen.delete_thread")
        await until(pilot, lambda: isinstance(pilot.app.screen, DeleteThreadScreen))

    assert snap_compare(AssistantApp(snapshot_assistant), terminal_size=SMALL, run_before=run_before)


def test_files_panel_with_a_bad_file_80x24(snap_compare, snapshot_assistant, tmp_path: Path):
    thread_id = populate(snapshot_assistant)
    (tmp_path / "notes.md").write_text("# Notes\n\nThe launch is on Tuesday.\n")
    (tmp_path / "photo.exe").write_bytes(b"MZ")

    async def run_before(pilot) -> None:
        await open_thread(thread_id)(pilot)
        await pilot.press("ctrl+l")
        await until(pilot, lambda: isinstance(pilot.app.screen, FilesScreen))
        panel = pilot.app.screen
        await pilot.press(*"notes.md photo.exe missing.txt", "enter")
        await until(pilot, lambda: panel.outcomes and panel.records)
        panel.query_one("#file-path").cursor_blink = False

    assert snap_compare(AssistantApp(snapshot_assistant), terminal_size=SMALL, run_before=run_before)
