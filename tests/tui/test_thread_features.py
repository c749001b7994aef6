"""Deleting threads, tools per thread, the files panel, mode switches, forks made by edit-and-resend, notices
about rebuilt state, and citations of files: driven with Pilot against the test LocalServer over real HTTP."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest
from openai import OpenAI
from textual.widgets import Checkbox, DataTable, Markdown, OptionList

from assistant import Assistant
from tests.support.fixtures import TEST_KEY
from tests.tui.conftest import SIZE, click_when_settled, send, started, until
from tui.app import AssistantApp
from tui.screens.delete import DeleteThreadScreen
from tui.screens.edit_message import EditMessageScreen, MessagePickerScreen
from tui.screens.files import FilesScreen, split_paths
from tui.screens.mode_picker import ModePickerScreen
from tui.screens.tools import ToolsScreen
from tui.widgets.answer import AssistantAnswer
from tui.widgets.conversation import TurnView
from tui.widgets.thread_list import arrange


@pytest.fixture
def sdk(server):
    with OpenAI(base_url=server.base_url, api_key=TEST_KEY, _strict_response_validation=True) as client:
        yield client


def notices(app: AssistantApp) -> list[tuple[str, str]]:
    return [(notification.title, notification.message) for notification in app._notifications]


def row_text(screen, index: int) -> str:
    return str(screen.sidebar.options.get_option_at_index(index).prompt)


# deleting


async def test_delete_asks_first_then_deletes_the_thread_and_its_server_conversation(
    app: AssistantApp, assistant: Assistant, sdk: OpenAI
):
    kept = assistant.thread(title="kept")
    kept.ask("one")
    doomed = assistant.thread(title="doomed")
    doomed.ask("two")
    conversation_id = doomed.conversation_id
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        screen.open_thread(doomed.id)
        await until(pilot, lambda: screen.thread is not None and screen.thread.id == doomed.id)
        screen.sidebar.options.focus()
        await pilot.press("delete")
        await until(pilot, lambda: isinstance(app.screen, DeleteThreadScreen))
        assert app.screen.focused.id == "cancel"  # Enter alone never deletes
        await pilot.press("enter")
        await until(pilot, lambda: app.screen is screen)
        assert [thread.title for thread in assistant.threads()] == ["doomed", "kept"]

        # From the command palette, on the open thread; this time confirmed.
        [command] = [c for c in app.get_system_commands(screen) if c.title == "Delete thread"]
        screen.prompt.focus()
        command.callback()
        await until(pilot, lambda: isinstance(app.screen, DeleteThreadScreen))
        assert "“doomed” and its 1 turn" in str(app.screen.query_one("#delete-what").content)
        await pilot.click("#delete")
        await until(pilot, lambda: [t.title for t in screen.sidebar.threads] == ["kept"])
        assert [thread.title for thread in assistant.threads()] == ["kept"]
        assert screen.thread is None and str(screen.thread_title.content) == "New thread"  # back to a draft
        assert ("", "Deleted “doomed” and its server conversation.") in notices(app)
    with pytest.raises(openai.NotFoundError):
        sdk.conversations.retrieve(conversation_id)
    sdk.conversations.retrieve(kept.conversation_id)  # the other thread's is untouched


async def test_a_failed_server_delete_deletes_nothing_and_says_how_to_delete_locally(
    app: AssistantApp, assistant: Assistant, server
):
    thread = assistant.thread(title="stays")
    thread.ask("hello")
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        server.inject_fault(status=500, count=5)
        screen.sidebar.options.focus()
        await pilot.press("delete")
        await until(pilot, lambda: isinstance(app.screen, DeleteThreadScreen))
        await pilot.click("#delete")
        await until(pilot, lambda: any(title == "Cannot delete the thread" for title, _ in notices(app)))
        [message] = [message for title, message in notices(app) if title == "Cannot delete the thread"]
        assert "Nothing was deleted" in message and "untick" in message
        assert [t.id for t in assistant.threads()] == [thread.id]

        # Unticked: the index rows go, the server is not asked.
        await pilot.press("delete")
        await until(pilot, lambda: isinstance(app.screen, DeleteThreadScreen))
        app.screen.query_one("#delete-server", Checkbox).value = False
        await pilot.click("#delete")
        await until(pilot, lambda: screen.sidebar.threads == [])
        assert assistant.threads() == []


# tools


async def test_tool_toggles_are_saved_on_the_thread_and_shown(app: AssistantApp, assistant: Assistant):
    thread = assistant.thread(title="tools")
    thread.ask("hello")
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        screen.open_thread(thread.id)
        await until(pilot, lambda: screen.thread is not None)
        assert str(screen.status.tools.content) == "no tools"

        await pilot.press("ctrl+t")
        await until(pilot, lambda: isinstance(app.screen, ToolsScreen))
        await pilot.press("space")  # web search (focused first)
        await pilot.press("down", "down", "space")  # code interpreter
        await until(
            pilot,
            lambda: (
                assistant.store.thread(thread.id).tools is not None
                and '"code_interpreter"' in assistant.store.thread(thread.id).tools
            ),
        )
        assert assistant.thread(thread.id).tools.enabled == ["web_search", "code_interpreter"]
        await pilot.press("escape")
        assert str(screen.status.tools.content) == "web code"
        await until(pilot, lambda: "WC" in row_text(screen, 0))

        # The palette turns one off again; the next turn sends the tools that are on.
        [command] = [c for c in app.get_system_commands(screen) if c.title == "Turn web search off"]
        command.callback()
        await until(pilot, lambda: assistant.thread(thread.id).tools.enabled == ["code_interpreter"])
        await until(pilot, lambda: str(screen.status.tools.content) == "code")
        await send(pilot, "What is 6*7?")
        [call] = assistant.store.tool_calls(thread.id)
        assert call.type == "code_interpreter_call"


async def test_tools_chosen_for_a_draft_go_to_the_new_thread(app: AssistantApp, assistant: Assistant):
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await pilot.press("ctrl+t")
        await until(pilot, lambda: isinstance(app.screen, ToolsScreen))
        await pilot.press("down", "space", "escape")  # file search
        assert str(screen.status.tools.content) == "files"
        await send(pilot, "hello")
        [info] = assistant.threads()
        assert assistant.thread(info.id).tools.enabled == ["file_search"]


# files


async def test_files_panel_adds_files_reports_a_bad_one_and_removes_one(
    app: AssistantApp, assistant: Assistant, tmp_path: Path
):
    (tmp_path / "notes.md").write_text("# Notes\n\nThe launch is on Tuesday.\n")
    (tmp_path / "program.exe").write_bytes(b"MZ\x00\x01")
    thread = assistant.thread(title="with files")
    thread.ask("hello")
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        screen.open_thread(thread.id)
        await until(pilot, lambda: screen.thread is not None)
        await pilot.press("ctrl+l")
        await until(pilot, lambda: isinstance(app.screen, FilesScreen))
        panel = app.screen
        await pilot.press(*"notes.md program.exe", "enter")
        await until(pilot, lambda: panel.outcomes and panel.records)
        # The bad file says why; the good one went ahead and is indexed.
        errors = str(panel.query_one("#file-errors").content)
        assert "program.exe: file search cannot index .exe files" in errors
        assert "1 of 2 added, 1 with a problem" in str(panel.query_one("#upload-step").content)
        table = panel.query_one("#files", DataTable)
        assert table.row_count == 1
        assert [str(cell) for cell in table.get_row_at(0)][0::2] == ["notes.md", "indexed"]
        assert [record.filename for record in assistant.files.list(thread.id)] == ["notes.md"]
        # Adding files turns file search on, so the next answer can use them.
        assert assistant.thread(thread.id).tools.enabled == ["file_search"]
        assert str(screen.status.tools.content) == "files"

        table.focus()
        await pilot.press("delete")
        await until(pilot, lambda: not panel.records)
        assert assistant.files.list(thread.id) == []
        assert not table.display
        await pilot.press("escape")
        assert app.screen is screen


async def test_files_added_to_a_draft_make_the_thread_and_its_first_message_titles_it(
    app: AssistantApp, assistant: Assistant, tmp_path: Path
):
    (tmp_path / "paris.txt").write_text("Paris is the capital of France.")
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("ctrl+l")
        await until(pilot, lambda: isinstance(app.screen, FilesScreen))
        panel = app.screen
        await pilot.press(*"paris.txt", "enter")
        await until(pilot, lambda: panel.records)
        await pilot.press("escape")
        answer = await send(pilot, "What is the capital of France?")
        assert "Paris is the capital of France" in answer.text
        [info] = assistant.threads()
        assert info.title == "What is the capital of France?"
        # The file citation names the file and links the index's copy of it.
        assert "[paris.txt](" in answer._sources.source
        path = assistant.files.list(info.id)[0].path
        assert Path(path).as_posix() in answer._sources.source


def test_paths_typed_in_the_files_panel():
    assert split_paths('a.txt "my notes.md" b\\ c.txt') == ["a.txt", "my notes.md", "b c.txt"]
    assert split_paths('"unclosed.md') == ['"unclosed.md']


# modes


async def test_mode_switch_from_the_key_and_the_palette(app: AssistantApp, assistant: Assistant):
    thread = assistant.thread(title="modes")
    thread.ask("my name is Ada")
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        screen.open_thread(thread.id)
        await until(pilot, lambda: screen.thread is not None)
        await pilot.press("ctrl+g")
        await until(pilot, lambda: isinstance(app.screen, ModePickerScreen))
        options = app.screen.query_one("#modes", OptionList)
        assert options.highlighted == 0  # the current mode
        options.highlighted = list(assistant_modes()).index("local")
        await pilot.press("enter")
        await until(pilot, lambda: assistant.store.thread(thread.id).mode == "local")
        await until(pilot, lambda: str(screen.status.mode.content) == "local")
        assert str(screen.status.conversation_id.content) == "no conversation"
        assert any(title == "Mode switched" for title, _ in notices(app))
        await until(pilot, lambda: " local " in row_text(screen, 0))
        # Nothing was lost: the local-mode turn carries the history from the index.
        answer = await send(pilot, "what did I say first?")
        assert answer.text == 'You first said: "my name is Ada"'

        [command] = [c for c in app.get_system_commands(screen) if c.title == "Switch to chain mode"]
        command.callback()
        await until(pilot, lambda: assistant.store.thread(thread.id).mode == "chain")
        assert [change.kind for change in assistant.thread(thread.id).changes()] == ["mode_changed", "mode_changed"]


def assistant_modes():
    from assistant import MODES

    return MODES


# forks


async def test_edit_and_resend_forks_the_thread_and_shows_the_fork_under_its_parent(
    app: AssistantApp, assistant: Assistant
):
    parent = assistant.thread(title="trip")
    for text in ("first words", "second words", "third words"):
        parent.ask(text)
    assistant.thread(title="newer").ask("unrelated")
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        screen.open_thread(parent.id)
        await until(pilot, lambda: screen.thread is not None and len(screen.query(TurnView)) == 3)
        await click_when_settled(pilot, "#turn-2 .user-message")
        await until(pilot, lambda: isinstance(app.screen, EditMessageScreen))
        editor = app.screen.query_one("#edited")
        assert editor.text == "second words"
        editor.text = "other words"
        editor.focus()
        await pilot.press("enter")
        await until(pilot, lambda: screen.thread is not None and screen.thread.id != parent.id)
        await until(pilot, lambda: screen.answer_worker is not None and screen.answer_worker.is_finished)
        fork = screen.thread

        # The fork holds turn 1 and the edited message; the parent is untouched.
        assert [turn.input for turn in fork.history()] == ["first words", "other words"]
        assert [turn.input for turn in parent.history()] == ["first words", "second words", "third words"]
        assert [view.user_message.text for view in screen.query(TurnView)] == ["first words", "other words"]
        assert screen.query(AssistantAnswer).last().text == "Reference reply to: other words"
        info = assistant.store.thread(fork.id)
        assert (info.parent_id, info.forked_at_seq) == (parent.id, 1)

        # Listed under its parent, indented, though it is the newest thread.
        await until(pilot, lambda: [t.title for t in screen.sidebar.rows] == ["newer", "trip", "trip (edit of #2)"])
        assert row_text(screen, 2).startswith("↳ trip (edit of #2)")
        assert screen.sidebar.options.highlighted == 2  # the fork is the open thread

        # ctrl+up edits the last message; a fork of the first message shares no turns.
        screen.open_thread(parent.id)
        await until(pilot, lambda: screen.thread.id == parent.id and len(screen.query(TurnView)) == 3)
        [command] = [c for c in app.get_system_commands(screen) if c.title == "Edit and resend a message"]
        command.callback()
        await until(pilot, lambda: isinstance(app.screen, MessagePickerScreen))
        app.screen.query_one("#messages", OptionList).highlighted = 0
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, EditMessageScreen))
        app.screen.query_one("#edited").text = "a new start"
        await pilot.press("enter")
        await until(pilot, lambda: screen.thread.id not in (parent.id, fork.id))
        await until(pilot, lambda: screen.answer_worker.is_finished)
        assert [turn.input for turn in screen.thread.history()] == ["a new start"]
        assert assistant.store.thread(screen.thread.id).parent_id == parent.id
        await until(pilot, lambda: len(screen.sidebar.rows) == 4)
        assert [t.title for t in screen.sidebar.rows][1] == "trip"
        assert all(row_text(screen, index).startswith("↳") for index in (2, 3))


def test_forks_are_arranged_under_their_parents(assistant: Assistant):
    root = assistant.thread(title="root")
    root.ask("one")
    fork = root.fork(1, title="fork")
    fork.ask("two")
    fork_of_fork = fork.fork(1, title="fork of fork")
    other = assistant.thread(title="other")
    threads = assistant.threads()  # newest first: other, fork of fork, fork, root
    rows = arrange(threads)
    assert [(thread.title, depth) for thread, depth in rows] == [
        ("other", 0),
        ("root", 0),
        ("fork", 1),
        ("fork of fork", 2),
    ]
    # A fork whose parent is not listed (another page, archived, deleted) keeps its own place.
    assert [(t.title, d) for t, d in arrange([t for t in threads if t.id != root.id])] == [
        ("other", 0),
        ("fork", 0),
        ("fork of fork", 1),
    ]
    assert other and fork_of_fork


# notices


async def test_a_rebuilt_conversation_is_announced_once(app: AssistantApp, assistant: Assistant, sdk: OpenAI):
    thread = assistant.thread(title="lost")
    thread.ask("my favourite colour is teal")
    old_conversation = thread.conversation_id
    sdk.conversations.delete(old_conversation)  # as if deleted from the dashboard
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        screen.open_thread(thread.id)
        await until(pilot, lambda: screen.thread is not None)
        answer = await send(pilot, "what did I say first?")
        assert answer.text == 'You first said: "my favourite colour is teal"'
        rebuilt = [message for title, message in notices(app) if title == "Thread state rebuilt"]
        assert len(rebuilt) == 1
        assert rebuilt[0].startswith("The server no longer has this thread's conversation")
        # The status bar shows the new conversation.
        new_conversation = assistant.store.thread(thread.id).conversation_id
        assert new_conversation != old_conversation
        assert str(screen.status.conversation_id.content) == new_conversation
        # The next turn is quiet.
        await send(pilot, "and now?")
        assert len([title for title, _ in notices(app) if title == "Thread state rebuilt"]) == 1


# citations of files


@pytest.mark.parametrize("opener", [None, ["true"]], ids=["no-opener", "opener"])
async def test_a_cited_container_file_opens_its_downloaded_copy(
    app: AssistantApp, assistant: Assistant, monkeypatch, opener
):
    monkeypatch.setattr("tui.opener.system_opener", lambda: opener)
    thread = assistant.thread(title="plots", tools=["code_interpreter"])
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        screen.open_thread(thread.id)
        await until(pilot, lambda: screen.thread is not None)
        answer = await send(pilot, "Plot y = x^2 as a PNG chart")
        [made] = assistant.store.container_files(thread.id)
        assert made.filename == "plot.png" and Path(made.path).exists()
        # The source shows the local path and links to it.
        await until(pilot, lambda: made.path in answer._sources.source)
        sources = answer._sources
        sources.post_message(Markdown.LinkClicked(sources, Path(made.path).as_posix()))
        if opener is None:
            await until(pilot, lambda: any(title == "Path copied" for title, _ in notices(app)))
            assert app.clipboard == made.path
        else:
            await until(pilot, lambda: ("Opened", made.path) in notices(app))

        # Reopened from the index, the link is there too.
        screen.open_thread(thread.id)
        await until(
            pilot,
            lambda: (
                screen.query(".answer-footer") and made.path in screen.query(AssistantAnswer).last()._sources.source
            ),
        )
