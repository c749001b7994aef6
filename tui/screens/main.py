"""The main screen: threads on the left, the open thread on the right, the prompt below it, the status bar at
the bottom.

A turn runs in one worker (`_answer`): it iterates `Thread.astream()` and dispatches each event on its
`type` to the answer widget and the status bar. Esc cancels that worker; the library then records the turn
as cancelled with what had arrived. Until a first message is sent, a new thread is only a draft (mode and
model), so empty threads never reach the index.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import aclosing
from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Label
from textual.worker import Worker

from assistant import Thread, Turn
from assistant.events import Event
from tui.library import Library
from tui.notices import error_title, send_failed_message
from tui.screens.model_picker import ModelPickerScreen
from tui.screens.rename import RenameScreen
from tui.widgets.conversation import Conversation, TurnView
from tui.widgets.prompt import PromptInput
from tui.widgets.status_bar import StatusBar
from tui.widgets.thread_list import ThreadList

TITLE_LENGTH = 60  # a new thread is titled with the start of its first message
BUSY = "An answer is streaming: wait for it, or press Esc to cancel it."


@dataclass(frozen=True)
class Command:
    """An action of this screen, as the command palette lists it."""

    title: str
    help: str
    run: Callable[[], object]


class MainScreen(Screen[None]):
    BINDINGS = [
        # Priority so that Esc cancels from anywhere; when no answer runs, check_action lets Esc through to
        # the focused widget (the search box clears itself with it).
        Binding("escape", "cancel_answer", "Cancel answer", priority=True),
        Binding("ctrl+n", "new_thread", "New"),
        Binding("ctrl+f", "search", "Search"),
        Binding("ctrl+o", "pick_model", "Model"),
        Binding("ctrl+r", "rename_thread", "Rename", show=False),
        Binding("ctrl+b", "toggle_sidebar", "Sidebar", show=False),
    ]

    def __init__(self, library: Library) -> None:
        super().__init__(id="main-screen")
        self.library = library
        self.thread: Thread | None = None  # None: a new thread, created by its first message
        self.draft_mode = "conversation"
        self.draft_model = library.default_model
        self.answer_worker: Worker[None] | None = None
        self.sidebar = ThreadList(library)
        self.thread_title = Label("New thread", id="thread-title")
        self.conversation = Conversation(id="conversation")
        self.prompt = PromptInput(id="prompt")
        self.status = StatusBar()

    def compose(self) -> ComposeResult:
        with Horizontal(id="panes"):
            yield self.sidebar
            with Vertical(id="chat"):
                yield self.thread_title
                yield self.conversation
                yield self.prompt
        yield self.status
        yield Footer()

    async def on_mount(self) -> None:
        self.prompt.focus()
        await self.conversation.show_welcome()
        self._show_thread_status([])
        self.connect()

    @work(group="connect")
    async def connect(self) -> None:
        # After the first page of threads: starting the embedded server (imports, a server thread) holds the
        # GIL for a few hundred milliseconds, which would otherwise delay the first paint of the sidebar.
        await self.sidebar.first_page.wait()
        try:
            self.status.show_provider(await self.library.connect())
        except Exception as error:  # the app stays usable: the first send reports the problem in full
            self.status.show_provider("not connected")
            self.notify(str(error), title="Cannot start the local server", severity="error", timeout=10)

    @property
    def answering(self) -> bool:
        return self.answer_worker is not None and self.answer_worker.is_running

    # sending

    @on(PromptInput.Submitted)
    def _submit(self, event: PromptInput.Submitted) -> None:
        if self.answering:
            self.notify(BUSY, severity="warning")
            return
        text = event.text
        self.prompt.clear()
        self.prompt.recall.add(text)
        self.answer_worker = self._answer(text)

    @work(group="answer", exclusive=True)
    async def _answer(self, text: str) -> None:
        view = await self.conversation.start_turn(text)
        turn_id: int | None = None
        ended: Turn | None = None
        try:
            await self.library.connect()
            thread = self.thread or await self._create_thread(text)
            # aclosing: if Esc cancels this task while it awaits a widget rather than the stream, the stream is
            # still closed now (the library then records the turn as cancelled), not whenever it is collected.
            async with aclosing(thread.astream(text)) as events:
                async for event in events:
                    match event.type:
                        case "turn.started":
                            turn_id = event.turn_id
                        case "turn.completed" | "turn.incomplete" | "turn.failed" | "turn.cancelled":
                            ended = event.turn
                            await self._turn_ended(view, ended)
                        case _:
                            await self._show_event(view, event)
        except asyncio.CancelledError:
            # The library has closed the turn as cancelled, keeping what arrived; show what it kept.
            if turn_id is not None and ended is None:
                await self._turn_ended(view, await self.library.recorded_turn(turn_id))
            raise
        except Exception as error:  # AssistantError, or a bug: either way the user's text must survive
            turn = ended or getattr(error, "turn", None)
            if ended is None:
                await view.answer.finish(turn, note="not sent" if turn is None else "")
            view.mark_failed()
            self._restore_prompt(text)
            self.notify(send_failed_message(error), title=error_title(error), severity="error", timeout=15)
        finally:
            self.sidebar.refresh_threads()

    async def _show_event(self, view: TurnView, event: Event) -> None:
        answer = view.answer
        match event.type:
            case "conversation.created":
                self.status.conversation_id.show(event.conversation_id)
            case "thread.state_rebuilt":
                self.notify(f"The server had lost this thread's state ({event.reason}); it was rebuilt from "
                            "the index.", title="Thread state rebuilt")
            case "item.added":
                await answer.item_added(event.item, event.output_index)
            case "text.delta":
                await answer.text_delta(event.text, event.output_index)
            case "tool_call.progress":
                await answer.tool_progress(event.tool, event.item_id, event.output_index, event.status, event.delta)
            case "citation":
                await answer.citation(event.annotation, event.output_index)
            case "item.done":
                await answer.item_done(event.item, event.output_index)
            # response.started and usage: the terminal event carries the turn with both

    async def _create_thread(self, text: str) -> Thread:
        title = " ".join(text.split())[:TITLE_LENGTH]
        self.thread = await self.library.new_thread(title=title, mode=self.draft_mode, model=self.draft_model)
        self.sidebar.show_current(self.thread.id)
        self.thread_title.update(self.thread.title)
        self._show_thread_status([])
        return self.thread

    async def _turn_ended(self, view: TurnView, turn: Turn) -> None:
        await view.answer.finish(turn)
        self.status.add_turn(turn)
        if self.thread is not None:
            self.status.conversation_id.show(self.thread.conversation_id, self.thread.mode)

    def _restore_prompt(self, text: str) -> None:
        if not self.prompt.text.strip():
            self.prompt.text = text
            self.prompt.move_cursor(self.prompt.document.end)
        # Otherwise the user has typed something new: keep it; Up recalls the failed message.

    def action_cancel_answer(self) -> None:
        if self.answer_worker is not None:
            self.answer_worker.cancel()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_answer":
            return self.answering
        return True

    # threads

    @on(ThreadList.ThreadChosen)
    def _thread_chosen(self, event: ThreadList.ThreadChosen) -> None:
        self.open_thread(event.thread_id)

    @on(ThreadList.HitChosen)
    def _hit_chosen(self, event: ThreadList.HitChosen) -> None:
        self.open_thread(event.hit.thread_id, focus_seq=event.hit.seq)

    @work(group="open", exclusive=True)
    async def open_thread(self, thread_id: str, *, focus_seq: int | None = None) -> None:
        if self.answering:
            self.notify(BUSY, severity="warning")
            return
        try:
            thread = await self.library.open_thread(thread_id)
            turns = await self.library.history(thread)
        except Exception as error:
            self.notify(str(error), title=error_title(error), severity="error", timeout=10)
            return
        self.thread = thread
        self.sidebar.show_current(thread.id)
        self.thread_title.update(thread.title or "(untitled)")
        await self.conversation.show_history(turns, focus_seq=focus_seq)
        self._show_thread_status(turns)
        self.prompt.recall.reset([turn.input for turn in turns])
        if focus_seq is None:
            self.prompt.focus()

    def action_new_thread(self, mode: str = "conversation") -> None:
        if self.answering:
            self.notify(BUSY, severity="warning")
            return
        self.thread = None
        self.sidebar.show_current(None)
        self.draft_mode = mode
        self.draft_model = self.library.default_model
        self.thread_title.update("New thread" if mode == "conversation" else f"New thread ({mode} mode)")
        self.run_worker(self.conversation.show_welcome(), group="open", exclusive=True)
        self._show_thread_status([])
        self.prompt.recall.reset([])
        self.prompt.focus()

    def _show_thread_status(self, turns: list[Turn]) -> None:
        if self.thread is None:
            self.status.show_thread(model=self.draft_model, mode=self.draft_mode, conversation_id=None, turns=[])
        else:
            self.status.show_thread(model=self.thread.model, mode=self.thread.mode,
                                    conversation_id=self.thread.conversation_id, turns=turns)

    def _target_thread(self) -> tuple[str, str] | None:
        """(id, title) of the thread an action is for: the one highlighted in the sidebar while it has focus,
        else the open one."""
        if self.sidebar.options.has_focus and self.sidebar.highlighted_thread is not None:
            info = self.sidebar.highlighted_thread
            return info.id, info.title
        if self.thread is not None:
            return self.thread.id, self.thread.title
        self.notify("Open a thread first: a new thread exists once its first message is sent.")
        return None

    @work(group="edit")
    async def action_rename_thread(self) -> None:
        target = self._target_thread()
        if target is None:
            return
        thread_id, title = target
        new_title = await self.app.push_screen_wait(RenameScreen(title))
        if not new_title or new_title == title:
            return
        await self.library.rename(thread_id, new_title)
        if self.thread is not None and self.thread.id == thread_id:
            await asyncio.to_thread(self.thread.refresh)
            self.thread_title.update(new_title)
        self.sidebar.refresh_threads()

    @work(group="edit")
    async def action_archive_thread(self) -> None:
        """Archive the thread (restore it when the sidebar lists archived threads)."""
        target = self._target_thread()
        if target is None:
            return
        thread_id, title = target
        archive = not self.sidebar.archived
        await self.library.set_archived(thread_id, archive)
        self.sidebar.refresh_threads()
        if archive:
            self.notify(f"Archived “{title}”. The command “Show archived threads” lists it to restore.")
        else:
            self.notify(f"Restored “{title}”.")

    def action_toggle_archived(self) -> None:
        self.sidebar.show_archived(not self.sidebar.archived)
        self.sidebar.display = True

    def action_search(self) -> None:
        self.sidebar.display = True
        self.sidebar.search.focus()

    def action_toggle_sidebar(self) -> None:
        self.sidebar.display = not self.sidebar.display

    def action_focus_prompt(self) -> None:
        self.prompt.focus()

    def action_copy_conversation_id(self) -> None:
        conversation_id = self.thread.conversation_id if self.thread else None
        if conversation_id is None:
            self.notify("This thread has no server conversation (yet, or in its mode).")
            return
        self.app.copy_to_clipboard(conversation_id)
        self.notify(f"Copied {conversation_id}", timeout=2)

    @work(group="edit")
    async def action_pick_model(self) -> None:
        current = self.thread.model if self.thread else self.draft_model
        model = await self.app.push_screen_wait(ModelPickerScreen(self.library, current))
        if not model or model == current:
            return
        if self.thread is None:
            self.draft_model = model
        else:
            await self.library.set_model(self.thread.id, model)
            await asyncio.to_thread(self.thread.refresh)
        self.status.show_model(model)
        self.notify(f"Next answers come from {model}.", timeout=3)

    # the command palette

    def commands(self) -> Iterator[Command]:
        yield Command("New thread", "Start a new thread (conversation mode)", self.action_new_thread)
        for mode in self.library.modes:
            if mode != "conversation":
                yield Command(f"New thread in {mode} mode", f"Start a new thread whose state is kept in {mode} mode",
                              lambda mode=mode: self.action_new_thread(mode))
        yield Command("Search turns", "Full-text search over every message and answer", self.action_search)
        yield Command("Rename thread", "Give the thread a new title", self.action_rename_thread)
        if self.sidebar.archived:
            yield Command("Restore thread", "Move the thread back to the thread list", self.action_archive_thread)
            yield Command("Show threads", "List the threads that are not archived", self.action_toggle_archived)
        else:
            yield Command("Archive thread", "Hide the thread from the list (it stays in the index)",
                          self.action_archive_thread)
            yield Command("Show archived threads", "List archived threads, to open or restore them",
                          self.action_toggle_archived)
        yield Command("Pick model", "Choose the model for the next answers", self.action_pick_model)
        yield Command("Copy conversation id", "Copy the thread's server conversation id",
                      self.action_copy_conversation_id)
        yield Command("Toggle sidebar", "Show or hide the thread list", self.action_toggle_sidebar)
        yield Command("Focus prompt", "Move the cursor to the message box", self.action_focus_prompt)
        if self.answering:
            yield Command("Cancel answer", "Stop the answer that is streaming", self.action_cancel_answer)
