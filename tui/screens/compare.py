"""The compare screen: one prompt sent to the Responses API and to the Chat Completions fallback at once.

A comparison is a pair of threads recorded as `assistant compare` records its own (`Library.new_comparison`):
one in conversation mode (only the new message goes out each turn), one in chat mode (the whole history goes
out each turn). Each prompt continues both, so the bytes-per-turn chart shows Responses flat and Chat growing.
Both answers stream at once, each in its own task iterating `Thread.astream()`; Esc cancels both, and the
library records each turn as cancelled with what had arrived. The numbers below the panes are read back from
the recorded turns after every prompt, so a live comparison and a reopened one (from `assistant compare` or an
earlier visit here) show the same thing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import aclosing
from functools import partial
from typing import ClassVar

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Label, OptionList
from textual.widgets.option_list import Option
from textual.worker import Worker

from assistant import (
    BACKENDS,
    ComparisonRecord,
    Thread,
    Turn,
    answered_label,
    estimate_label,
    estimate_model,
    local_estimate,
)
from tui.library import Library
from tui.notices import error_message, error_title, send_failed_message
from tui.screens.main import Command, MainScreen
from tui.widgets.answer import AssistantAnswer
from tui.widgets.compare_panes import BACKEND_TITLES, BackendPane, CompareMetrics
from tui.widgets.conversation import TurnView
from tui.widgets.prompt import PromptInput

NAME_LENGTH = 50  # a comparison is named with the start of its first prompt
BUSY = "Both answers are streaming: wait for them, or press Esc to cancel them."
HINT = (
    "Type a message below: it goes to both APIs at once. Each message continues both threads, so the chart "
    "shows how the bytes sent grow."
)


class CompareScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        # Esc cancels both answers while they stream, else goes back to the threads.
        Binding("escape", "cancel_or_close", "Cancel / back", priority=True),
        Binding("ctrl+n", "new_comparison", "New"),
        Binding("ctrl+o", "open_past", "Past comparisons"),
    ]

    DEFAULT_CSS = """
    CompareScreen #compare-title {
        width: 1fr;
        padding: 0 1;
        text-style: bold;
        background: $panel;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    CompareScreen #compare-panes {
        height: 1fr;
    }
    CompareScreen .compare-pane {
        width: 1fr;
        height: 1fr;
    }
    CompareScreen #compare-responses {
        border-right: vkey $panel-lighten-2;
    }
    CompareScreen .compare-heading {
        width: 1fr;
        padding: 0 1;
        color: $text-muted;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    CompareScreen .compare-conversation {
        height: 1fr;
        padding: 0 1;
        scrollbar-size-vertical: 1;
    }
    CompareScreen #compare-metrics {
        height: auto;
        border-top: hkey $panel-lighten-2;
    }
    CompareScreen #compare-table {
        height: auto;
        max-height: 6;  /* a row for the horizontal scrollbar in a narrow terminal */
        scrollbar-size-horizontal: 1;
    }
    CompareScreen .compare-chart {
        height: 1;
        padding: 0 1;
    }
    CompareScreen .compare-chart-label {
        width: 22;
        color: $text-muted;
    }
    CompareScreen .compare-sparkline {
        width: 1fr;
        max-width: 60;
    }
    CompareScreen .compare-caption {
        width: auto;
        padding: 0 0 0 2;
        color: $text-muted;
    }
    CompareScreen #compare-prompt {
        height: auto;
        min-height: 3;
        max-height: 6;
        border: tall $panel-lighten-2;
    }
    CompareScreen #compare-prompt:focus {
        border: tall $accent;
    }
    """

    def __init__(self, library: Library, comparison: ComparisonRecord | None = None) -> None:
        super().__init__(id="compare-screen")
        self.library = library
        self.comparison = comparison  # None: a new comparison, made by its first prompt
        self.threads: dict[str, Thread] | None = None
        self.model = library.default_model  # of the next new comparison; a reopened one keeps its threads' model
        self.turns: dict[str, list[Turn]] = {backend: [] for backend in BACKENDS}
        self.answer_worker: Worker[None] | None = None
        self.title_label = Label("Compare Responses and Chat", id="compare-title")
        self.panes = {backend: BackendPane(backend) for backend in BACKENDS}
        self.metrics = CompareMetrics()
        self.prompt = PromptInput(id="compare-prompt")

    def compose(self) -> ComposeResult:
        yield self.title_label
        with Horizontal(id="compare-panes"):
            yield from self.panes.values()
        yield self.metrics
        yield self.prompt
        yield Footer(compact=True)

    async def on_mount(self) -> None:
        self.prompt.focus()
        if self.comparison is None:
            await self._show_new()
        else:
            self.open_comparison(self.comparison)

    @property
    def answering(self) -> bool:
        return self.answer_worker is not None and self.answer_worker.is_running

    # a comparison

    async def _show_new(self) -> None:
        self.comparison, self.threads = None, None
        self.turns = {backend: [] for backend in BACKENDS}
        self.title_label.update("Compare Responses and Chat · new comparison")
        for pane in self.panes.values():
            await pane.clear(HINT)
        self.metrics.show(self.turns)

    @work(group="open-comparison", exclusive=True)
    async def open_comparison(self, record: ComparisonRecord) -> None:
        """Show a recorded comparison; the next prompt continues both of its threads."""
        try:
            threads = await self.library.open_comparison(record)
            histories = await asyncio.gather(*(self.library.history(thread) for thread in threads.values()))
        except Exception as error:
            self.notify(error_message(error), title=error_title(error), severity="error", timeout=10)
            return
        self.comparison, self.threads = record, threads
        self.turns = dict(zip(threads, histories, strict=True))
        self._show_title()
        for backend, pane in self.panes.items():
            await pane.show_turns(self.turns[backend])
        self.metrics.show(self.turns)

    def _show_title(self) -> None:
        if self.comparison is None:
            return
        record = self.comparison
        origin = "this screen" if record.source == "app" else (record.source or "assistant compare")
        model = self.threads["responses"].model if self.threads else ""
        turns = [turn for backend in BACKENDS for turn in self.turns[backend]]
        shown = answered_label(model, turns[-1].model if turns else None) if model else ""
        # Local turns cost $0: what they would have cost is an estimate, labelled as one.
        estimates = [
            estimate
            for turn in turns
            if (
                estimate := local_estimate(
                    turn.model, turn.usage.input_tokens, turn.usage.cached_tokens, turn.usage.output_tokens, model
                )
            )
            is not None
        ]
        cost = f" · $0, {estimate_label(sum(estimates), estimate_model(model))}" if estimates else ""
        self.title_label.update(
            Content.assemble("Compare: ", (record.name, "bold"), (f" · {shown}{cost} · from {origin}", "dim"))
        )

    # sending

    @on(PromptInput.Submitted, "#compare-prompt")
    def _submit(self, event: PromptInput.Submitted) -> None:
        event.stop()
        if self.answering:
            self.notify(BUSY, severity="warning")
            return
        text = event.text
        self.prompt.clear()
        self.prompt.recall.add(text)
        self.answer_worker = self._answer(text)

    @work(group="compare-answer", exclusive=True)
    async def _answer(self, text: str) -> None:
        views: dict[str, TurnView] = {}
        for backend, pane in self.panes.items():
            if not self.turns[backend]:
                await pane.clear()
            views[backend] = await pane.start_turn(text)
        try:
            await self.library.connect()
            if self.threads is None:
                name = " ".join(text.split())[:NAME_LENGTH]
                self.comparison, self.threads = await self.library.new_comparison(name, model=self.model)
                self._show_title()
        except asyncio.CancelledError:  # Esc before anything was sent
            for view in views.values():
                await view.answer.finish(None, note="cancelled before it was sent")
            self._restore_prompt(text)
            raise
        except Exception as error:
            for view in views.values():
                await view.answer.finish(None, note="not sent")
                view.mark_failed()
            self._restore_prompt(text)
            self.notify(send_failed_message(error), title=error_title(error), severity="error", timeout=15)
            return
        threads = self.threads
        try:
            # Both at once; gather waits for each side to record its cancelled turn before Esc's cancel ends here.
            failed = await asyncio.gather(
                *(self._stream(backend, threads[backend], text, views[backend]) for backend in BACKENDS)
            )
            if any(failed):
                self._restore_prompt(text)
        finally:
            await self._reload_numbers()

    async def _stream(self, backend: str, thread: Thread, text: str, view: TurnView) -> bool:
        """One backend's answer into its pane; True when it failed (the notice says why)."""
        answer = view.answer
        turn_id: int | None = None
        ended: Turn | None = None
        try:
            async with aclosing(thread.astream(text)) as events:
                async for event in events:
                    match event.type:
                        case "turn.started":
                            turn_id = event.turn_id
                        case "turn.completed" | "turn.incomplete" | "turn.failed" | "turn.cancelled":
                            ended = event.turn
                            await answer.finish(ended)
                        case _:
                            await answer.show_event(event)
        except asyncio.CancelledError:
            if turn_id is not None and ended is None:
                await answer.finish(await self.library.recorded_turn(turn_id))
            raise
        except Exception as error:
            turn = ended or getattr(error, "turn", None)
            if ended is None:
                await answer.finish(turn, note="not sent" if turn is None else "")
            view.mark_failed()
            self.notify(
                send_failed_message(error),
                title=f"{BACKEND_TITLES[backend]}: {error_title(error)}",
                severity="error",
                timeout=15,
            )
            return True
        return False

    async def _reload_numbers(self) -> None:
        if self.threads is None:
            return
        histories = await asyncio.gather(*(self.library.history(thread) for thread in self.threads.values()))
        self.turns = dict(zip(self.threads, histories, strict=True))
        self.metrics.show(self.turns)

    def _restore_prompt(self, text: str) -> None:
        if not self.prompt.text.strip():
            self.prompt.text = text
            self.prompt.move_cursor(self.prompt.document.end)

    # actions

    def action_cancel_or_close(self) -> None:
        if self.answering:
            assert self.answer_worker is not None
            self.answer_worker.cancel()
        else:
            self.dismiss()

    def action_new_comparison(self) -> None:
        if self.answering:
            self.notify(BUSY, severity="warning")
            return
        self.run_worker(self._show_new(), group="open-comparison", exclusive=True)
        self.prompt.focus()

    def action_open_past(self) -> None:
        if self.answering:
            self.notify(BUSY, severity="warning")
            return
        self.pick_past()

    @work(group="pick-comparison", exclusive=True)
    async def pick_past(self) -> None:
        try:
            records = await self.library.comparisons()
        except Exception as error:
            self.notify(error_message(error), title=error_title(error), severity="error", timeout=10)
            return
        if not records:
            self.notify("No comparisons yet: send a message here, or run `assistant compare FILE`.", timeout=5)
            return
        record = await self.app.push_screen_wait(PastComparisonsScreen(records))
        if record is not None:
            self.open_comparison(record)

    def commands(self) -> Iterator[Command]:
        yield Command(
            "New comparison", "Start a new pair of threads, Responses and Chat (ctrl+n)", self.action_new_comparison
        )
        if self.answering:
            yield Command(
                "Cancel both answers", "Stop the two answers that are streaming (Esc)", self.action_cancel_or_close
            )
        else:
            yield Command("Back to threads", "Leave the compare screen (Esc)", self.action_cancel_or_close)

    @property
    def answers(self) -> dict[str, AssistantAnswer]:
        """The last answer of each pane (for tests)."""
        return {backend: list(pane.query(AssistantAnswer))[-1] for backend, pane in self.panes.items()}


class PastComparisonsScreen(ModalScreen[ComparisonRecord | None]):
    """Recorded comparisons, newest first; dismisses with the chosen one, or None."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, records: list[ComparisonRecord]) -> None:
        super().__init__(classes="dialog")
        self.records = {record.id: record for record in records}

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box -wide"):
            yield Label("Open a past comparison", classes="dialog-title")
            yield OptionList(
                *[Option(describe(record), id=record.id) for record in self.records.values()], id="comparisons"
            )
            yield Label("Enter opens · Esc cancels", classes="dialog-hint")

    def on_mount(self) -> None:
        options = self.query_one("#comparisons", OptionList)
        options.highlighted = 0
        options.focus()

    @on(OptionList.OptionSelected, "#comparisons")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.records.get(event.option.id or ""))


def describe(record: ComparisonRecord) -> Content:
    origin = "compare screen" if record.source == "app" else (record.source or "assistant compare")
    when = record.created_at.strftime("%Y-%m-%d %H:%M")
    return Content.assemble(record.name, (f"  {origin} · {when}", "dim"))


def compare_commands(screen: Screen) -> Iterator[Command]:
    """The palette's compare entries on any screen (the app lists them), plus the compare screen's own."""
    if isinstance(screen, CompareScreen):
        yield from screen.commands()
        yield Command(
            "Open a past comparison",
            "A comparison from `assistant compare` or this screen (ctrl+o)",
            screen.action_open_past,
        )
        return
    if not isinstance(screen, MainScreen):
        return  # a dialog is open: finish it first
    yield Command(
        "Compare Responses and Chat",
        "Send one message to both APIs at once and compare the numbers (f2)",
        partial(open_compare, screen.app, screen.library),
    )
    yield Command(
        "Open a past comparison",
        "A comparison from `assistant compare` or the compare screen",
        partial(open_compare, screen.app, screen.library, past=True),
    )


def open_compare(app: App, library: Library, *, past: bool = False) -> None:
    """Push the compare screen (the app's key binding, the palette); with `past`, pick a comparison first."""
    if isinstance(app.screen, CompareScreen):
        if past:
            app.screen.pick_past()
        return
    if isinstance(app.screen, ModalScreen):
        return  # a dialog is open: finish it first
    compare = CompareScreen(library)
    app.push_screen(compare)
    if past:
        compare.call_after_refresh(compare.pick_past)
