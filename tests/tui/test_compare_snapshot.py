"""A snapshot of the compare screen (pytest-textual-snapshot) at 120x40: a past comparison made by
`assistant.compare.compare()`, reopened.

Deterministic by construction: the reference engine's fixed answers, token counts and request sizes; the
timings (time to first token, latency), which vary from run to run, set to fixed values in the index before
the screen reads them; no ids or ports on this screen. Update with
`pytest tests/tui/test_compare_snapshot.py --snapshot-update` after checking the report.
"""

from __future__ import annotations

from assistant import Assistant
from assistant.compare import compare
from assistant.compare_input import Conversation
from tests.tui.conftest import until
from tests.tui.test_snapshots import settle
from tui.app import AssistantApp
from tui.screens.compare import CompareScreen
from tui.widgets.answer import AssistantAnswer

SIZE = (120, 40)


def fixed_timings(assistant: Assistant, thread_id: str) -> None:
    for turn in assistant.thread(thread_id).history():
        assistant.store.update_turn(turn.id, ttft_ms=100.0 + 10 * turn.seq, latency_ms=250.0 + 25 * turn.seq)


def test_past_comparison_120x40(snap_compare, snapshot_assistant):
    report = compare(
        snapshot_assistant,
        [
            Conversation(
                name="trip questions",
                turns=["Which neighbourhoods of Lisbon should I stay in?", "What did I say first?", "Thanks!"],
            )
        ],
    )
    [result] = report.conversations
    for run in result.runs.values():
        fixed_timings(snapshot_assistant, run.thread_id)
    [record] = snapshot_assistant.store.comparisons()

    async def run_before(pilot) -> None:
        await settle(pilot)
        screen = CompareScreen(pilot.app.library, record)
        await pilot.app.push_screen(screen)
        await until(pilot, lambda: len(screen.query(AssistantAnswer)) == 6 and screen.metrics.bytes_per_turn["chat"])
        screen.prompt.cursor_blink = False
        screen.prompt.text = "And in May?"

    assert snap_compare(AssistantApp(snapshot_assistant), terminal_size=SIZE, run_before=run_before)
