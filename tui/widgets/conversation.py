"""The conversation pane: one `TurnView` per turn (the user's message, then the answer), in a scroll view that
follows a streaming answer until the user scrolls up (Textual's anchor)."""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import Static

from assistant import Turn
from tui.widgets.answer import AssistantAnswer

# Mounting thousands of Markdown widgets would stall a long thread's opening; older turns stay in the index
# (and in search) and the pane says how many it leaves out.
SHOWN_TURNS = 100

WELCOME = (
    "Ask anything: type below and press Enter.\n\n"
    "ctrl+n new thread · ctrl+f search · ctrl+o model · ctrl+p every command"
)


class UserMessage(Static):
    """The user's message; a click offers to edit and resend it (in a fork)."""

    @dataclass
    class EditRequested(Message):
        seq: int

    def __init__(self, text: str) -> None:
        super().__init__(Content(text), classes="user-message")
        self.text = text
        self.seq: int | None = None  # known once the turn is recorded

    def set_seq(self, seq: int | None) -> None:
        self.seq = seq
        self.tooltip = "Click to edit and resend (in a fork)" if seq else None

    def on_click(self, event: events.Click) -> None:
        if self.seq:
            event.stop()
            self.post_message(self.EditRequested(self.seq))


class TurnView(Vertical):
    """A turn: the user's message and the answer to it. Recorded turns are named `turn-<seq>` so search can
    jump to them."""

    def __init__(self, text: str, *, seq: int | None = None) -> None:
        super().__init__(id=f"turn-{seq}" if seq else None, classes="turn")
        self.user_message = UserMessage(text)
        self.user_message.set_seq(seq)
        self.answer = AssistantAnswer(classes="answer")

    def recorded_as(self, seq: int) -> None:
        """The live turn is in the index now, as turn `seq`."""
        self.user_message.set_seq(seq)

    def compose(self) -> ComposeResult:
        yield self.user_message
        yield self.answer

    def mark_failed(self) -> None:
        """The message never reached the model (it is back in the prompt)."""
        self.add_class("-failed")


class Conversation(VerticalScroll):
    """Anchored, like a chat: the newest turn sits just above the prompt and a streaming answer is followed;
    scrolling up releases the anchor, scrolling back to the end takes it again."""

    can_focus = True

    def on_mount(self) -> None:
        self.anchor()

    async def show_welcome(self) -> None:
        await self.remove_children()
        await self.mount(Static(WELCOME, classes="welcome"))

    async def show_history(
        self, turns: list[Turn], *, focus_seq: int | None = None, local_paths: dict[str, str] | None = None
    ) -> None:
        """Replace the pane with recorded turns and scroll to the end, or to turn `focus_seq` (highlighted).
        `local_paths` (file id -> path) links cited files to their copies on this machine."""
        await self.remove_children()
        if not turns:
            await self.mount(Static(WELCOME, classes="welcome"))
            return
        first = max(0, len(turns) - SHOWN_TURNS)
        if focus_seq is not None:
            first = min(first, max(0, focus_seq - 1))
        views = [TurnView(turn.input, seq=turn.seq) for turn in turns[first:]]
        if first:
            await self.mount(Static(f"{first} earlier turns are not shown.", classes="earlier"))
        await self.mount_all(views)
        for view, turn in zip(views, turns[first:], strict=True):
            view.answer.citations.local_paths = local_paths or {}
            await view.answer.show(turn)
        if focus_seq is None:
            self.anchor()
        else:
            self.call_after_refresh(self.jump_to, focus_seq)

    def jump_to(self, seq: int) -> None:
        for view in self.query(TurnView):
            view.set_class(view.id == f"turn-{seq}", "-found")
        target = self.query(f"#turn-{seq}")
        if target:
            self.release_anchor()
            self.scroll_to_widget(target.first(), animate=False, top=True)

    async def start_turn(self, text: str) -> TurnView:
        """A new turn at the end, followed as it streams."""
        await self.query(".welcome").remove()
        view = TurnView(text)
        await self.mount(view)
        await view.answer.wait()
        self.anchor()
        return view
