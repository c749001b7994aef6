"""The compare screen against the test local server (reference engine): one prompt to both APIs at once, the
panes, the table and the bytes chart, Esc cancelling both, failures, and reopening a past comparison."""

from __future__ import annotations

from textual.pilot import Pilot

from assistant import Assistant
from assistant.compare import compare
from assistant.compare_input import Conversation
from tests.tui.conftest import SIZE, started, until
from tui.app import AssistantApp
from tui.screens.compare import CompareScreen, PastComparisonsScreen
from tui.widgets.answer import AnswerText, AssistantAnswer
from tui.widgets.compare_panes import BytesSparkline


async def open_compare(pilot: Pilot) -> CompareScreen:
    await started(pilot)
    await pilot.press("f2")
    await until(pilot, lambda: isinstance(pilot.app.screen, CompareScreen))
    return pilot.app.screen  # type: ignore[return-value]


async def send(pilot: Pilot, screen: CompareScreen, text: str) -> None:
    screen.prompt.focus()
    screen.prompt.text = text
    await pilot.press("enter")
    await until(pilot, lambda: screen.answer_worker is not None and screen.answer_worker.is_finished)


def answer_texts(screen: CompareScreen) -> dict[str, list[str]]:
    return {backend: [answer.text for answer in pane.query(AssistantAnswer)] for backend, pane in screen.panes.items()}


def bytes_sent(cell: str) -> int:
    number, unit = cell.split()
    return round(float(number.replace(",", "")) * (1000 if unit == "kB" else 1))


async def test_one_prompt_fills_both_panes_the_table_and_the_chart(app: AssistantApp, assistant: Assistant):
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_compare(pilot)
        await send(pilot, screen, "hello there")
        assert answer_texts(screen) == {
            "responses": ["Reference reply to: hello there"],
            "chat": ["Reference reply to: hello there"],
        }
        await send(pilot, screen, "and once more")
        await send(pilot, screen, "a third time")
        assert answer_texts(screen)["chat"][-1] == "Reference reply to: a third time"
        assert answer_texts(screen)["responses"][-1] == "Reference reply to: a third time"

        metrics = screen.metrics
        for backend in ("responses", "chat"):
            _label, tokens_in, cached, out, sent, ttft, latency, cost = metrics.row(f"{backend}-last")
            assert int(tokens_in) > 0 and int(out) > 0 and cached == "0"
            assert sent.endswith(" B") and ttft.endswith(("ms", " s")) and latency.endswith(("ms", " s"))
            assert cost.startswith("$")
            assert metrics.row(f"{backend}-last")[0].endswith(" #3")
            # one point per turn, on the scale both share
            sparkline = screen.query_one(f"#bytes-{backend}", BytesSparkline)
            assert len(sparkline.data) == 3
        # Chat resends the history, so from the second prompt on it sends more than Responses, and more each turn.
        responses, chat = metrics.bytes_per_turn["responses"], metrics.bytes_per_turn["chat"]
        assert all(c > r for c, r in zip(chat[1:], responses[1:], strict=False))
        assert chat[0] < chat[1] < chat[2]
        assert bytes_sent(metrics.row("chat-last")[4]) == chat[-1]
        assert bytes_sent(metrics.row("chat-total")[4]) == sum(chat)

    # Recorded as `assistant compare` records its own: the pair of threads and a comparison linking them.
    [record] = assistant.store.comparisons()
    assert record.name == "hello there" and record.source == "app"
    threads = {
        backend: assistant.thread(record_id)
        for backend, record_id in (("responses", record.responses_thread_id), ("chat", record.chat_thread_id))
    }
    assert threads["responses"].mode == "conversation" and threads["chat"].mode == "chat"
    assert threads["responses"].title == "compare: hello there (responses)"
    assert threads["chat"].title == "compare: hello there (chat)"
    assert [turn.input for turn in threads["chat"].history()] == ["hello there", "and once more", "a third time"]


async def test_threads_made_here_are_listed_on_the_main_screen_at_once(app: AssistantApp, assistant: Assistant):
    async with app.run_test(size=SIZE) as pilot:
        main = await started(pilot)
        screen = await open_compare(pilot)
        await send(pilot, screen, "hello there")
        await pilot.press("escape")
        await until(pilot, lambda: pilot.app.screen is main)
        await until(
            pilot,
            lambda: (
                {thread.title for thread in main.sidebar.rows}
                == {"compare: hello there (responses)", "compare: hello there (chat)"}
            ),
        )
        assert pilot.app.focused is main.prompt


async def test_escape_cancels_both_answers(app: AssistantApp, assistant: Assistant):
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_compare(pilot)
        screen.prompt.text = "repeat 100000 words"
        await pilot.press("enter")

        def both_streaming() -> bool:
            texts = [pane.query(AnswerText) for pane in screen.panes.values()]
            return all(text and "word20 " in text.first().streamed for text in texts)

        await until(pilot, both_streaming)
        await pilot.press("escape")
        await until(pilot, lambda: screen.answer_worker.is_finished)
        assert isinstance(app.screen, CompareScreen)  # Esc cancelled; it did not leave the screen

        [record] = assistant.store.comparisons()
        for thread_id in (record.responses_thread_id, record.chat_thread_id):
            [turn] = assistant.thread(thread_id).history()
            assert turn.status == "cancelled"
            assert turn.text.startswith("word1 word2 ") and len(turn.text.split()) < 100_000
        for answer in screen.answers.values():
            assert "cancelled" in str(answer.query_one(".answer-footer").content)
        assert [row[0] for row in (screen.metrics.row("responses-last"), screen.metrics.row("chat-last"))] == [
            "Responses #1",
            "Chat #1",
        ]

        # The next prompt works as usual; with nothing streaming, Esc goes back to the threads.
        await send(pilot, screen, "hello again")
        assert {texts[-1] for texts in answer_texts(screen).values()} == {"Reference reply to: hello again"}
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, CompareScreen))


async def test_a_failed_send_keeps_the_prompt_and_says_which_side(app: AssistantApp, assistant: Assistant):
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_compare(pilot)
        screen.model = "no-such-model"  # the model of the next comparison
        await send(pilot, screen, "please answer")
        assert screen.prompt.text == "please answer"
        titles = sorted(notification.title for notification in app._notifications)
        assert titles == ["Chat: Model not found", "Responses: Model not found"]


async def test_opening_a_past_comparison_shows_its_turns_and_numbers(app: AssistantApp, assistant: Assistant):
    report = compare(assistant, [Conversation(name="greetings", turns=["hello", "what did I say first?"])])
    [result] = report.conversations
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        [command] = [
            command for command in app.get_system_commands(app.screen) if command.title == "Open a past comparison"
        ]
        command.callback()
        await until(pilot, lambda: isinstance(app.screen, PastComparisonsScreen))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.threads is not None)
        screen: CompareScreen = app.screen  # type: ignore[assignment]
        await until(pilot, lambda: len(screen.query(AssistantAnswer)) == 4)

        assert screen.comparison is not None and screen.comparison.id == result.comparison_id
        # Both backends kept the history: the reference engine quotes the first message back.
        assert answer_texts(screen) == {
            "responses": ["Reference reply to: hello", 'You first said: "hello"'],
            "chat": ["Reference reply to: hello", 'You first said: "hello"'],
        }
        for backend in ("responses", "chat"):
            run = result.runs[backend]
            assert screen.metrics.bytes_per_turn[backend] == [turn.request_bytes for turn in run.turns]
            assert screen.metrics.row(f"{backend}-total")[1:4] == [
                f"{run.totals.input_tokens:,}",
                f"{run.totals.cached_tokens:,}",
                f"{run.totals.output_tokens:,}",
            ]
            assert len(screen.query_one(f"#bytes-{backend}", BytesSparkline).data) == 2
        assert "greetings" in str(screen.title_label.content)

        # A prompt continues both threads of the comparison.
        await send(pilot, screen, "and a third")
        assert [len(turns) for turns in screen.turns.values()] == [3, 3]
        assert len(assistant.store.comparisons()) == 1


async def test_palette_lists_the_compare_commands(app: AssistantApp):
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Compare Responses and Chat" in titles and "Open a past comparison" in titles
        [command] = [
            command for command in app.get_system_commands(app.screen) if command.title == "Compare Responses and Chat"
        ]
        command.callback()
        await until(pilot, lambda: isinstance(app.screen, CompareScreen))
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "New comparison" in titles and "Open a past comparison" in titles


async def test_no_past_comparisons_says_how_to_make_one(app: AssistantApp):
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_compare(pilot)
        await pilot.press("ctrl+o")
        await until(pilot, lambda: list(app._notifications))
        [notification] = list(app._notifications)
        assert "assistant compare" in notification.message
        assert screen is app.screen
