"""The main screen, driven with Pilot against the test LocalServer (reference engine) over real HTTP."""

from __future__ import annotations

from datetime import timedelta

from textual.widgets import Markdown

from assistant import Assistant
from assistant.index.tables import utcnow
from tests.tui.conftest import SIZE, send, started, until
from tui.app import AssistantApp
from tui.screens.files import FilesScreen
from tui.screens.mode_picker import ModePickerScreen
from tui.screens.model_picker import ModelPickerScreen
from tui.screens.rename import RenameScreen
from tui.screens.tools import ToolsScreen
from tui.widgets.answer import AnswerText, AssistantAnswer
from tui.widgets.conversation import TurnView
from tui.widgets.thread_list import PAGE_SIZE


async def test_send_shows_the_streamed_answer_and_records_the_turn(app: AssistantApp, assistant: Assistant):
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        answer = await send(pilot, "hello there")

        assert answer.text == "Reference reply to: hello there"
        assert "Reference reply to: hello there" in answer.query_one(AnswerText).source
        [thread] = assistant.threads()
        assert thread.title == "hello there" and thread.mode == "conversation"
        [turn] = assistant.thread(thread.id).history()
        assert turn.status == "completed" and turn.text == answer.text
        # The status bar shows where the answer came from and what it cost.
        # The thread asks for gpt-4.1-mini; the local reference engine answered, and the status bar says so
        # (what was asked for is in the tooltip: the line must fit 80 columns).
        assert str(screen.status.model.content) == "reference engine (local)"
        assert screen.status.model.tooltip == f"reference engine (local), asked for {assistant.settings.model}"
        assert f"{turn.usage.input_tokens}/0/{turn.usage.output_tokens} $0" in str(screen.status.spend.content)
        assert str(screen.status.conversation_id.content) == thread.conversation_id
        spend = str(screen.status.spend.content)
        assert f"{turn.usage.input_tokens}/0/{turn.usage.output_tokens}" in spend
        # The new thread is listed and highlighted; the prompt is empty and ready.
        await until(pilot, lambda: [t.id for t in screen.sidebar.threads] == [thread.id])
        assert screen.sidebar.options.highlighted == 0
        assert screen.prompt.text == "" and screen.prompt.has_focus


async def test_the_thread_keeps_its_server_state_across_turns(app: AssistantApp):
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await send(pilot, "my name is Ada")
        answer = await send(pilot, "what did I say first?")
        assert answer.text == 'You first said: "my name is Ada"'


async def test_answers_stream_through_markdown_get_stream(app: AssistantApp, monkeypatch):
    """Deltas are written to a MarkdownStream and the finished text set with one update()."""
    writes: list[str] = []
    updates: list[str] = []
    original_get_stream = Markdown.get_stream

    def spy_get_stream(markdown):
        stream = original_get_stream(markdown)
        original_write = stream.write

        async def write(fragment):
            writes.append(fragment)
            await original_write(fragment)

        stream.write = write
        return stream

    original_finish = AnswerText.finish

    async def spy_finish(self, markdown):
        updates.append(markdown)
        await original_finish(self, markdown)

    monkeypatch.setattr(Markdown, "get_stream", spy_get_stream)
    monkeypatch.setattr(AnswerText, "finish", spy_finish)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await send(pilot, "count to 5")
    assert writes == ["1 ", "2 ", "3 ", "4 ", "5"]
    assert updates == ["1 2 3 4 5"]


async def test_switching_threads_shows_each_threads_turns(app: AssistantApp, assistant: Assistant):
    older = assistant.thread(title="older thread", mode="chain")
    older.ask("alpha")
    newer = assistant.thread(title="newer thread")
    newer.ask("beta")
    newer.ask("gamma")
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        assert [thread.title for thread in screen.sidebar.threads] == ["newer thread", "older thread"]

        screen.sidebar.options.focus()
        await pilot.press("down", "enter")  # from the first thread to the second: the older one
        await until(pilot, lambda: screen.thread is not None and screen.thread.id == older.id)
        await until(pilot, lambda: len(screen.query(TurnView)) == 1)
        assert [view.user_message.text for view in screen.query(TurnView)] == ["alpha"]
        assert str(screen.status.mode.content) == "chain"
        assert str(screen.thread_title.content) == "older thread"

        assert screen.prompt.has_focus  # a chosen thread is ready for the next message
        screen.sidebar.options.focus()
        await pilot.press("up", "enter")
        await until(pilot, lambda: screen.thread.id == newer.id and len(screen.query(TurnView)) == 2)
        assert [view.answer.text for view in screen.query(TurnView)] == [
            "Reference reply to: beta",
            "Reference reply to: gamma",
        ]
        assert str(screen.status.conversation_id.content) == newer.conversation_id
        # The thread's totals are the sum of its turns.
        turns = newer.history()
        assert screen.status.thread_total.input_tokens == sum(turn.usage.input_tokens for turn in turns)

        # Its next turn continues it on the server.
        answer = await send(pilot, "what did I say first?")
        assert answer.text == 'You first said: "beta"'


async def test_search_finds_a_turn_and_jumps_to_it(app: AssistantApp, assistant: Assistant):
    thread = assistant.thread(title="long thread", mode="chain")
    for number in range(1, 16):
        thread.ask(f"message number {number} " + ("about pelicans" if number == 7 else "about nothing"))
    assistant.thread(title="other").ask("nothing to see")
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await pilot.press("ctrl+f")
        assert screen.sidebar.search.has_focus
        await pilot.press(*"pelicans")
        await until(pilot, lambda: screen.sidebar.hits is not None and len(screen.sidebar.hits) == 1)
        assert "1 matching turn" in str(screen.sidebar.heading.content)

        await pilot.press("enter", "enter")  # to the list, then choose the hit
        await until(pilot, lambda: screen.thread is not None and screen.thread.id == thread.id)
        await until(pilot, lambda: screen.query("#turn-7.-found"))
        found = screen.query_one("#turn-7", TurnView)
        await until(pilot, lambda: screen.conversation.scroll_y > 0)
        assert found.region.y >= screen.conversation.region.y  # scrolled into view
        assert found.region.y < screen.conversation.region.bottom

        # Esc in the search box brings the thread list back.
        screen.sidebar.search.focus()
        await pilot.press("escape")
        await until(pilot, lambda: screen.sidebar.hits is None)
        assert [t.title for t in screen.sidebar.threads] == ["other", "long thread"]


async def test_escape_cancels_the_answer_and_the_turn_is_recorded_as_cancelled(app: AssistantApp, assistant: Assistant):
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        screen.prompt.text = "repeat 100000 words"
        await pilot.press("enter")
        await until(pilot, lambda: screen.query(AnswerText) and "word20 " in screen.query_one(AnswerText).streamed)
        await pilot.press("escape")
        await until(pilot, lambda: screen.answer_worker.is_finished)

        [thread] = assistant.threads()
        [turn] = assistant.thread(thread.id).history()
        assert turn.status == "cancelled"
        assert turn.text.startswith("word1 word2 ") and len(turn.text.split()) < 100_000
        answer = screen.query_one(AssistantAnswer)
        assert "cancelled" in str(answer.query_one(".answer-footer").content)
        assert answer.query_one(AnswerText).source.startswith("word1 word2")
        # The next message works as usual.
        answer = await send(pilot, "hello again")
        assert answer.text == "Reference reply to: hello again"


async def test_escape_does_nothing_when_no_answer_runs(app: AssistantApp):
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        screen.prompt.text = "draft"
        await pilot.press("escape")
        await pilot.pause()
        assert screen.prompt.text == "draft"


async def test_a_failed_send_keeps_the_text_in_the_prompt(app: AssistantApp, assistant: Assistant):
    thread = assistant.thread(title="bad model", model="no-such-model")
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        screen.open_thread(thread.id)
        await until(pilot, lambda: screen.thread is not None)
        await send(pilot, "please answer")

        assert screen.prompt.text == "please answer"
        [notification] = list(app._notifications)
        assert notification.title == "Model not found" and notification.severity == "error"
        assert "'no-such-model' does not exist" in notification.message
        assert "ctrl+o" in notification.message and "back in the prompt" in notification.message
        assert screen.query_one(TurnView).has_class("-failed")
        [turn] = thread.history()
        assert turn.status == "failed"  # recorded honestly all the same


async def test_a_failed_send_never_overwrites_a_newer_draft(app: AssistantApp, server):
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        server.inject_fault(status=500, count=5)
        screen.prompt.text = "first try"
        await pilot.press("enter")
        screen.prompt.text = "something new"
        await until(pilot, lambda: screen.answer_worker.is_finished)
        assert screen.prompt.text == "something new"
        assert [n.title for n in app._notifications] == ["Server error"]
        screen.prompt.move_cursor((0, 0))
        await pilot.press("up")
        assert screen.prompt.text == "first try"


async def test_up_recalls_earlier_prompts_and_down_walks_back(app: AssistantApp):
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await send(pilot, "first")
        await send(pilot, "second")
        await pilot.press(*"draft")
        await pilot.press("up")
        assert screen.prompt.text == "second"
        await pilot.press("up")
        assert screen.prompt.text == "first"
        await pilot.press("up")
        assert screen.prompt.text == "first"
        await pilot.press("down")
        assert screen.prompt.text == "second"
        await pilot.press("down")
        assert screen.prompt.text == "draft"


async def test_newline_keys_insert_a_newline_and_enter_sends(app: AssistantApp):
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await pilot.press("l", "i", "n", "e", "1", "ctrl+j", "l", "i", "n", "e", "2", "shift+enter", "3")
        assert screen.prompt.text == "line1\nline2\n3"
        assert screen.answer_worker is None
        # Up inside a multi-line prompt moves the cursor instead of recalling.
        await pilot.press("up")
        assert screen.prompt.text == "line1\nline2\n3" and screen.prompt.cursor_location[0] == 1
        await pilot.press("enter")
        await until(pilot, lambda: screen.answer_worker is not None and screen.answer_worker.is_finished)
        assert screen.query_one(TurnView).user_message.text == "line1\nline2\n3"


async def test_rename_and_archive_and_restore(app: AssistantApp, assistant: Assistant):
    kept = assistant.thread(title="kept")
    kept.ask("one")
    thread = assistant.thread(title="old title")
    thread.ask("two")
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        screen.sidebar.options.focus()
        screen.sidebar.options.highlighted = 0
        await pilot.press("ctrl+r")
        await until(pilot, lambda: isinstance(app.screen, RenameScreen))
        await pilot.press("ctrl+u", *"new title", "enter")
        await until(pilot, lambda: [t.title for t in screen.sidebar.threads] == ["new title", "kept"])
        assert assistant.store.thread(thread.id).title == "new title"

        # Archiving hides it from the list (it stays in the index); the archived list restores it.
        screen.sidebar.options.focus()
        screen.sidebar.options.highlighted = 0
        await app.run_action("screen.archive_thread")
        await until(pilot, lambda: [t.title for t in screen.sidebar.threads] == ["kept"])
        assert assistant.store.thread(thread.id).archived
        await app.run_action("screen.toggle_archived")
        await until(pilot, lambda: [t.title for t in screen.sidebar.threads] == ["new title"])
        screen.sidebar.options.focus()
        await app.run_action("screen.archive_thread")  # in the archived list: restore
        await until(pilot, lambda: screen.sidebar.threads == [])
        await app.run_action("screen.toggle_archived")
        await until(pilot, lambda: [t.title for t in screen.sidebar.threads] == ["new title", "kept"])
        assert not assistant.store.thread(thread.id).archived


async def test_model_picker_lists_the_servers_models_and_sets_the_threads_model(
    app: AssistantApp, assistant: Assistant
):
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await send(pilot, "hello")
        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(app.screen, ModelPickerScreen))
        picker = app.screen
        await until(pilot, lambda: picker.query_one("#models").option_count > 0)
        models = [
            picker.query_one("#models").get_option_at_index(i).id
            for i in range(picker.query_one("#models").option_count)
        ]
        assert models == assistant.models()
        picker.query_one("#models").highlighted = models.index("reference")
        await pilot.press("enter")
        await until(
            pilot, lambda: app.screen is screen and str(screen.status.model.content) == "reference engine (local)"
        )
        assert assistant.store.thread(screen.thread.id).model == "reference"
        await send(pilot, "next")
        assert screen.thread.history()[-1].model == "reference"


async def test_closing_a_dialog_or_panel_puts_the_focus_back_on_the_prompt(app: AssistantApp):
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await send(pilot, "hello")
        # files, tools, model, mode: opened while the thread list has the focus (Textual would give it back there)
        for key, dialog in (
            ("ctrl+l", FilesScreen),
            ("ctrl+t", ToolsScreen),
            ("ctrl+o", ModelPickerScreen),
            ("ctrl+g", ModePickerScreen),
        ):
            screen.sidebar.options.focus()
            await pilot.press(key)
            await until(pilot, lambda dialog=dialog: isinstance(app.screen, dialog))
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is screen)
            assert app.focused is screen.prompt, f"after {dialog.__name__}: {app.focused}"
        # from the command palette, which leaves the main screen with no focus at all
        await pilot.press("ctrl+p")
        await pilot.press(*"Files")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, FilesScreen))
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen)
        assert app.focused is screen.prompt
        # the search: Esc clears it and leaves the sidebar
        await pilot.press("ctrl+f")
        await pilot.press(*"hello")
        await until(pilot, lambda: screen.sidebar.hits)
        await pilot.press("escape")
        await until(pilot, lambda: screen.sidebar.hits is None)
        assert app.focused is screen.prompt and screen.sidebar.search.value == ""


async def test_the_sidebar_reads_threads_a_page_at_a_time(app: AssistantApp, assistant: Assistant):
    now = utcnow()
    for number in range(PAGE_SIZE + 30):
        info = assistant.store.create_thread(model="gpt-4.1-mini", title=f"thread {number}")
        assistant.store.update_thread(info.id, updated_at=now - timedelta(minutes=number))
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        assert len(screen.sidebar.threads) == PAGE_SIZE
        assert screen.sidebar.threads[0].title == "thread 0"
        screen.sidebar.options.focus()
        await pilot.press("end")
        await until(pilot, lambda: len(screen.sidebar.threads) == PAGE_SIZE + 30)
        assert screen.sidebar.exhausted
        assert screen.sidebar.threads[-1].title == f"thread {PAGE_SIZE + 29}"


async def test_every_action_is_in_the_command_palette(app: AssistantApp):
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        titles = {command.title for command in app.get_system_commands(screen)}
        assert {
            "New thread",
            "New thread in chain mode",
            "New thread in local mode",
            "Search turns",
            "Rename thread",
            "Archive thread",
            "Show archived threads",
            "Pick model",
            "Copy conversation id",
            "Toggle sidebar",
            "Focus prompt",
            "Theme",
            "Quit",
            "Delete thread",
            "Tools",
            "Turn web search on",
            "Turn file search on",
            "Turn code interpreter on",
            "Files",
            "Switch mode",
            "Switch to local mode",
            "Switch to chain mode",
            "Switch to chat mode",
            "Edit and resend a message",
        } <= titles


async def test_new_thread_in_chain_mode_from_the_palette(app: AssistantApp, assistant: Assistant):
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        [command] = [c for c in app.get_system_commands(screen) if c.title == "New thread in chain mode"]
        command.callback()
        await pilot.pause()
        assert str(screen.status.mode.content) == "chain"
        await send(pilot, "hello")
        [thread] = assistant.threads()
        assert thread.mode == "chain" and thread.conversation_id is None


async def test_the_view_follows_the_answer_until_the_user_scrolls_up(app: AssistantApp):
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        conversation = screen.conversation
        screen.prompt.text = "repeat 100000 words"
        await pilot.press("enter")
        await until(pilot, lambda: conversation.max_scroll_y > 10)
        assert conversation.max_scroll_y - conversation.scroll_y <= 3  # following the end

        conversation.focus()
        await pilot.press("pageup")
        left_at = conversation.scroll_y
        await until(pilot, lambda: conversation.max_scroll_y > left_at + 40)
        assert conversation.scroll_y == left_at  # stays where the user put it while the answer grows

        await pilot.press("escape")
        await until(pilot, lambda: screen.answer_worker.is_finished)


async def test_an_unreachable_server_is_reported_and_the_text_kept(tmp_path):
    closed_port = Assistant(
        base_url="http://127.0.0.1:9/v1",
        api_key="sk-test-unreachable-key",
        db_path=tmp_path / "index.db",
        max_retries=0,
    )
    app = AssistantApp(closed_port, close_assistant=True)
    async with app.run_test(size=SIZE) as pilot:
        screen = await started(pilot)
        await send(pilot, "are you there?")
        assert screen.prompt.text == "are you there?"
        [notification] = list(app._notifications)
        assert notification.title == "Server unreachable"
        assert "Cannot reach the server at http://127.0.0.1:9/v1" in notification.message
