"""The main screen: threads on the left, the open thread on the right, the prompt below it, the status bar at
the bottom.

A turn runs in one worker (`_answer`): it iterates `Thread.astream()` and dispatches each event on its
`type` to the answer widget and the status bar. Esc cancels that worker; the library then records the turn
as cancelled with what had arrived. Until a first message is sent (or files are added), a new thread is only a
draft (mode, model, tools), so empty threads never reach the index.

Editing an earlier message never overwrites history: the thread is forked at the turn before it and the
edited message is sent in the fork, which the sidebar lists under its parent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import aclosing
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import Footer, Label
from textual.worker import Worker

from assistant import Event, Thread, Turn
from tui.library import Library
from tui.notices import error_message, error_title, send_failed_message
from tui.screens.delete import DeleteThreadScreen
from tui.screens.edit_message import EditMessageScreen, MessagePickerScreen
from tui.screens.files import FilesScreen
from tui.screens.mode_picker import ModePickerScreen
from tui.screens.model_picker import ModelPickerScreen
from tui.screens.rename import RenameScreen
from tui.screens.tools import ToolsScreen
from tui.tool_names import BY_NAME, TOOLS
from tui.widgets.conversation import Conversation, TurnView, UserMessage
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
    AUTO_FOCUS = "#prompt"  # when nothing has the focus (e.g. after the command palette): the prompt, not the sidebar
    BINDINGS: ClassVar[list[BindingType]] = [
        # Priority so that Esc cancels from anywhere; when no answer runs, check_action lets Esc through to
        # the focused widget (the sidebar clears its search and gives the focus back to the prompt).
        Binding("escape", "cancel_answer", "Cancel answer", priority=True),
        Binding("ctrl+n", "new_thread", "New"),
        Binding("ctrl+f", "search", "Search"),
        Binding("ctrl+o", "pick_model", "Model"),
        Binding("ctrl+t", "tools", "Tools"),
        Binding("ctrl+l", "files", "Files"),
        Binding("ctrl+g", "pick_mode", "Mode", show=False),
        Binding("ctrl+up", "edit_last_message", "Edit last", show=False),
        Binding("ctrl+r", "rename_thread", "Rename", show=False),
        Binding("ctrl+b", "toggle_sidebar", "Sidebar", show=False),
    ]

    def __init__(self, library: Library) -> None:
        super().__init__(id="main-screen")
        self.library = library
        self.thread: Thread | None = None  # None: a new thread, created by its first message
        self.draft_mode = "conversation"
        self.draft_model = library.default_model
        self.draft_tools: list[str] = []
        self.untitled = False  # the open thread was made before its first message (to hold files): no title yet
        self.covered = False  # another screen (a dialog, a panel, the compare screen) is over this one
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
        yield Footer(compact=True)

    async def on_mount(self) -> None:
        self.prompt.focus()
        await self.conversation.show_welcome()
        self._show_thread_status([])
        self.connect()

    def on_screen_suspend(self) -> None:
        self.covered = True

    def on_screen_resume(self) -> None:
        """Back from a dialog or the compare screen: the thread list is read again, since the compare screen
        makes threads (and the dialogs rename and change them)."""
        if self.covered:  # not on the first show: the sidebar is reading its first page then
            self.covered = False
            self.sidebar.refresh_threads()

    def back_to_prompt(self, _result: object = None) -> None:
        """After a dialog about the next message (tools, files, model, mode): the prompt has the focus again.
        Textual gives it back to whatever had it before, which is nothing after the command palette (the
        sidebar then takes it)."""
        self.prompt.focus()

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
        notices: set[str] = set()  # each notice once, however often the library repeats it within a turn
        try:
            await self.library.connect()
            thread = self.thread or await self._create_thread(text)
            if self.untitled:
                await self._title_from(thread, text)
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
                        case "thread.state_rebuilt" | "container.replaced" | "tools.unavailable":
                            self._notice(event, notices)
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
        if event.type == "conversation.created":
            self.status.conversation_id.show(event.conversation_id)
        else:
            await view.answer.show_event(event)

    def _notice(self, event: Event, shown: set[str]) -> None:
        """What the library says once about the thread's state: its server state was rebuilt from the index
        (or it moved to chat mode), or the code interpreter's container expired and was replaced."""
        severity: SeverityLevel = "warning"
        match event.type:
            case "thread.state_rebuilt":
                message = event.reason[:1].upper() + event.reason[1:] + "."
                title = "Thread moved to chat mode" if "chat mode" in event.reason else "Thread state rebuilt"
                severity = "information"
            case "tools.unavailable":
                message = event.message[:1].upper() + event.message[1:] + "."
                title = "Tools not available on this server"
            case "container.replaced":
                message, title = event.message, "Code interpreter container replaced"
            case _:  # the other events are the answer's, not notices
                return
        if message not in shown:
            shown.add(message)
            self.notify(message, title=title, severity=severity, timeout=15)

    async def _create_thread(self, text: str, *, title: str | None = None) -> Thread:
        """The draft becomes a thread in the index, titled with the start of its first message."""
        title = " ".join(text.split())[:TITLE_LENGTH] if title is None else title
        self.thread = await self.library.new_thread(
            title=title, mode=self.draft_mode, model=self.draft_model, tools=self.draft_tools
        )
        self.sidebar.show_current(self.thread.id)
        self.thread_title.update(self.thread.title or "New thread")
        self._show_thread_status([])
        return self.thread

    async def _title_from(self, thread: Thread, text: str) -> None:
        self.untitled = False
        if not thread.title:
            title = " ".join(text.split())[:TITLE_LENGTH]
            await self.library.rename(thread.id, title)
            await self.library.refresh(thread)
            self.thread_title.update(title)

    async def _turn_ended(self, view: TurnView, turn: Turn) -> None:
        await view.answer.finish(turn)
        view.recorded_as(turn.seq)
        self.status.add_turn(turn)
        if self.thread is not None:
            self.status.show_mode(self.thread.mode, self.thread.conversation_id)
            if view.answer.cites_files:  # the turn's files are downloaded by now: link them
                await view.answer.show_local_paths(await self.library.file_paths(self.thread))

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

    @on(ThreadList.Left)
    def _sidebar_left(self) -> None:
        self.prompt.focus()

    @work(group="open", exclusive=True)
    async def open_thread(self, thread_id: str, *, focus_seq: int | None = None) -> None:
        if self.answering:
            self.notify(BUSY, severity="warning")
            return
        try:
            thread = await self.library.open_thread(thread_id)
        except Exception as error:
            self.notify(error_message(error), title=error_title(error), severity="error", timeout=10)
            return
        await self._show_thread(thread, focus_seq=focus_seq)

    async def _show_thread(self, thread: Thread, *, focus_seq: int | None = None) -> bool:
        try:
            turns = await self.library.history(thread)
            local_paths = await self.library.file_paths(thread)
        except Exception as error:
            self.notify(error_message(error), title=error_title(error), severity="error", timeout=10)
            return False
        self.thread = thread
        self.untitled = False
        self.sidebar.show_current(thread.id)
        self.thread_title.update(thread.title or "(untitled)")
        await self.conversation.show_history(turns, focus_seq=focus_seq, local_paths=local_paths)
        self._show_thread_status(turns)
        self.prompt.recall.reset([turn.input for turn in turns])
        if focus_seq is None:
            self.prompt.focus()
        return True

    def action_new_thread(self, mode: str = "conversation") -> None:
        if self.answering:
            self.notify(BUSY, severity="warning")
            return
        self.thread = None
        self.untitled = False
        self.sidebar.show_current(None)
        self.draft_mode = mode
        self.draft_model = self.library.default_model
        self.draft_tools = []
        self.thread_title.update("New thread" if mode == "conversation" else f"New thread ({mode} mode)")
        self.run_worker(self.conversation.show_welcome(), group="open", exclusive=True)
        self._show_thread_status([])
        self.prompt.recall.reset([])
        self.prompt.focus()

    def _show_thread_status(self, turns: list[Turn]) -> None:
        if self.thread is None:
            self.status.show_thread(
                model=self.draft_model, mode=self.draft_mode, conversation_id=None, turns=[], tools=self.draft_tools
            )
        else:
            self.status.show_thread(
                model=self.thread.model,
                mode=self.thread.mode,
                conversation_id=self.thread.conversation_id,
                turns=turns,
                tools=self.thread.tools.enabled,
            )

    @property
    def tools_enabled(self) -> list[str]:
        return self.thread.tools.enabled if self.thread is not None else list(self.draft_tools)

    @property
    def mode(self) -> str:
        return self.thread.mode if self.thread is not None else self.draft_mode

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
            await self.library.refresh(self.thread)
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
        self.back_to_prompt()
        if not model or model == current:
            return
        if self.thread is None:
            self.draft_model = model
        else:
            await self.library.set_model(self.thread, model)
        self.status.show_model(model)
        self.notify(f"Next answers come from {model}.", timeout=3)

    # deleting

    def _listed(self, thread_id: str):
        return next((info for info in self.sidebar.rows if info.id == thread_id), None)

    @work(group="edit")
    async def action_delete_thread(self) -> None:
        target = self._target_thread()
        if target is None:
            return
        thread_id, title = target
        is_open = self.thread is not None and self.thread.id == thread_id
        if is_open and self.answering:
            self.notify(BUSY, severity="warning")
            return
        info = self._listed(thread_id)
        choice = await self.app.push_screen_wait(DeleteThreadScreen(title, info.turn_count if info else None))
        if choice is None:
            return
        try:
            await self.library.delete_thread(thread_id, server=choice.server)
        except Exception as error:
            advice = " Nothing was deleted." + (
                " To delete it from this computer only, untick the server box." if choice.server else ""
            )
            self.notify(error_message(error) + advice, title="Cannot delete the thread", severity="error", timeout=15)
            return
        if self.thread is not None and self.thread.id == thread_id:
            self.action_new_thread()
        self.sidebar.refresh_threads()
        where = " and its server conversation" if choice.server else " (its server conversation is kept)"
        self.notify(f"Deleted “{title or '(untitled)'}”{where}.", timeout=4)

    # tools and files

    def action_tools(self) -> None:
        note = ""
        if self.mode == "chat":
            note = "In chat mode the tools run on this machine: Chat Completions has no hosted tools."
        self.app.push_screen(ToolsScreen(self.tools_enabled, self.set_tool, note=note), self.back_to_prompt)

    async def set_tool(self, name: str, on: bool) -> list[str]:
        """Turn a hosted tool on or off for the thread (or the draft); returns the tools now on."""
        if self.thread is None:
            tools = [
                tool.name
                for tool in TOOLS
                if (tool.name == name and on) or (tool.name != name and tool.name in self.draft_tools)
            ]
            self.draft_tools = tools
        else:
            tools = (await self.library.set_tool(self.thread, name, on)).enabled
            self.sidebar.refresh_threads()
        self.status.show_tools(tools)
        return tools

    @work(group="edit")
    async def toggle_tool(self, name: str) -> None:
        on = name not in self.tools_enabled
        try:
            await self.set_tool(name, on)
        except Exception as error:
            self.notify(error_message(error), title="Cannot change the tools", severity="error", timeout=10)
            return
        self.notify(f"{BY_NAME[name].title} is {'on' if on else 'off'} for this thread.", timeout=3)

    def action_files(self) -> None:
        if self.thread is None and self.answering:
            self.notify(BUSY, severity="warning")  # the draft is becoming a thread: add files to it after
            return
        title = self.thread.title if self.thread is not None else ""
        self.app.push_screen(
            FilesScreen(
                self.library,
                self.thread.id if self.thread else None,
                title or "new thread",
                ensure_thread=self._thread_for_files,
                on_added=self._files_added,
            ),
            self.back_to_prompt,
        )

    async def _thread_for_files(self) -> str:
        """Files belong to a thread: a draft becomes an untitled thread, titled by its first message later."""
        if self.thread is None:
            await self._create_thread("", title="")
            self.untitled = True
            self.sidebar.refresh_threads()
        assert self.thread is not None
        return self.thread.id

    async def _files_added(self) -> None:
        if self.thread is not None and "file_search" not in self.thread.tools.enabled:
            await self.set_tool("file_search", True)
            self.notify(
                "File search is now on for this thread, so answers can quote its files.",
                title="File search on",
                timeout=6,
            )

    # modes

    @work(group="edit")
    async def action_pick_mode(self) -> None:
        if self.answering:
            self.notify(BUSY, severity="warning")
            return
        current = self.mode
        mode = await self.app.push_screen_wait(ModePickerScreen(self.library.modes, current, draft=self.thread is None))
        self.back_to_prompt()
        if mode and mode != current:
            await self._switch_mode(mode)

    @work(group="edit")
    async def switch_mode(self, mode: str) -> None:
        if self.answering:
            self.notify(BUSY, severity="warning")
            return
        await self._switch_mode(mode)

    async def _switch_mode(self, mode: str) -> None:
        if self.thread is None:
            self.draft_mode = mode
            self.thread_title.update("New thread" if mode == "conversation" else f"New thread ({mode} mode)")
            self.status.show_mode(mode, None)
            self.notify(f"The new thread will be in {mode} mode.", timeout=3)
            return
        try:
            await self.library.set_mode(self.thread, mode)
        except Exception as error:
            self.notify(error_message(error), title="Cannot switch the mode", severity="error", timeout=10)
            return
        self.status.show_mode(self.thread.mode, self.thread.conversation_id)
        self.sidebar.refresh_threads()
        message = f"The thread is in {mode} mode now; its next turn rebuilds the state it needs from the index."
        if mode == "chat" and self.thread.tools.enabled:
            message += " Its tools now run on this machine: Chat Completions has no hosted tools."
        self.notify(message, title="Mode switched", timeout=8)

    # edit and resend (in a fork)

    @on(UserMessage.EditRequested)
    def _edit_requested(self, event: UserMessage.EditRequested) -> None:
        self.edit_message(event.seq)

    def action_edit_last_message(self) -> None:
        recorded = [view.user_message.seq for view in self.conversation.query(TurnView) if view.user_message.seq]
        if not recorded or self.thread is None:
            self.notify("There is no sent message to edit yet.", timeout=3)
            return
        self.edit_message(recorded[-1])

    @work(group="edit")
    async def action_edit_message(self) -> None:
        """Pick any earlier message of the thread to edit and resend."""
        if self.thread is None:
            self.notify("There is no sent message to edit yet.", timeout=3)
            return
        turns = await self.library.history(self.thread)
        if not turns:
            self.notify("There is no sent message to edit yet.", timeout=3)
            return
        seq = await self.app.push_screen_wait(MessagePickerScreen([(turn.seq, turn.input) for turn in turns]))
        if seq:
            self.edit_message(seq)

    @work(group="edit")
    async def edit_message(self, seq: int) -> None:
        """Edit message `seq` and send it in a fork made at the turn before it; then the fork is open."""
        if self.thread is None:
            return
        if self.answering:
            self.notify(BUSY, severity="warning")
            return
        parent = self.thread
        turns = await self.library.history(parent)
        turn = next((turn for turn in turns if turn.seq == seq), None)
        if turn is None:
            return
        text = await self.app.push_screen_wait(EditMessageScreen(turn.input, seq, len(turns)))
        if text is None or self.thread is not parent:
            return
        if self.answering:
            self.notify(BUSY, severity="warning")
            return
        try:
            fork = await self.library.fork(parent, seq - 1, title=f"{parent.title or 'untitled'} (edit of #{seq})")
        except Exception as error:
            self.notify(error_message(error), title="Cannot fork the thread", severity="error", timeout=10)
            return
        if not await self._show_thread(fork):
            return
        self.sidebar.refresh_threads()
        kept = f"turns 1–{seq - 1}" if seq > 2 else ("turn 1" if seq == 2 else "no turns")  # noqa: RUF001 (a range's en dash)
        self.notify(
            f"“{parent.title or '(untitled)'}” is unchanged; the edited message goes to this fork, "
            f"which shares {kept} with it.",
            title="Forked",
            timeout=6,
        )
        self.prompt.recall.add(text)
        self.answer_worker = self._answer(text)

    # the command palette

    def commands(self) -> Iterator[Command]:
        yield Command("New thread", "Start a new thread (conversation mode)", self.action_new_thread)
        for mode in self.library.modes:
            if mode != "conversation":
                yield Command(
                    f"New thread in {mode} mode",
                    f"Start a new thread whose state is kept in {mode} mode",
                    partial(self.action_new_thread, mode),
                )
        yield Command("Search turns", "Full-text search over every message and answer", self.action_search)
        yield Command("Rename thread", "Give the thread a new title", self.action_rename_thread)
        yield Command(
            "Delete thread",
            "Delete the thread from the index and its conversation on the server",
            self.action_delete_thread,
        )
        yield Command(
            "Tools", "Turn web search, file search and code interpreter on or off (ctrl+t)", self.action_tools
        )
        enabled = self.tools_enabled
        for tool in TOOLS:
            state = "off" if tool.name in enabled else "on"
            yield Command(
                f"Turn {tool.title.lower()} {state}",
                f"For this thread: {tool.help}",
                partial(self.toggle_tool, tool.name),
            )
        yield Command("Files", "Add, watch and remove the thread's files for file search (ctrl+l)", self.action_files)
        yield Command(
            "Switch mode", f"Choose how the thread keeps its state; now {self.mode} (ctrl+g)", self.action_pick_mode
        )
        for mode in self.library.modes:
            if mode != self.mode:
                yield Command(
                    f"Switch to {mode} mode",
                    "Move the thread to another state mode, losing nothing",
                    partial(self.switch_mode, mode),
                )
        yield Command(
            "Edit and resend a message",
            "Edit an earlier message and send it in a fork (ctrl+up: the last one); the thread itself stays as it is",
            self.action_edit_message,
        )
        if self.sidebar.archived:
            yield Command("Restore thread", "Move the thread back to the thread list", self.action_archive_thread)
            yield Command("Show threads", "List the threads that are not archived", self.action_toggle_archived)
        else:
            yield Command(
                "Archive thread", "Hide the thread from the list (it stays in the index)", self.action_archive_thread
            )
            yield Command(
                "Show archived threads", "List archived threads, to open or restore them", self.action_toggle_archived
            )
        yield Command("Pick model", "Choose the model for the next answers", self.action_pick_model)
        yield Command(
            "Copy conversation id", "Copy the thread's server conversation id", self.action_copy_conversation_id
        )
        yield Command("Toggle sidebar", "Show or hide the thread list", self.action_toggle_sidebar)
        yield Command("Focus prompt", "Move the cursor to the message box", self.action_focus_prompt)
        if self.answering:
            yield Command("Cancel answer", "Stop the answer that is streaming", self.action_cancel_answer)
