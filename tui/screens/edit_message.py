"""Edit-and-resend: pick an earlier message of the thread, edit it, send it. The app then forks the thread at
the turn before that message and sends the edited text in the fork, so the original history is never
overwritten."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from tui.widgets.prompt import PromptInput


class MessagePickerScreen(ModalScreen[int | None]):
    """The thread's messages, newest highlighted; dismisses with the chosen turn's seq, or None."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, messages: list[tuple[int, str]]) -> None:
        super().__init__(classes="dialog")
        self.messages = messages

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Label("Edit and resend which message?", classes="dialog-title")
            yield OptionList(
                *[
                    Option(Content.assemble((f"#{seq} ", "dim"), " ".join(text.split())[:200]), id=str(seq))
                    for seq, text in self.messages
                ],
                id="messages",
            )
            yield Label("Enter edits · Esc cancels", classes="dialog-hint")

    def on_mount(self) -> None:
        options = self.query_one("#messages", OptionList)
        options.highlighted = len(self.messages) - 1
        options.focus()

    @on(OptionList.OptionSelected, "#messages")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(int(event.option.id or 0))


class EditMessageScreen(ModalScreen[str | None]):
    """Dismisses with the edited text, or None (Esc, or left empty)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, text: str, seq: int, turn_count: int) -> None:
        super().__init__(classes="dialog")
        self.text = text
        self.seq = seq
        self.turn_count = turn_count

    def compose(self) -> ComposeResult:
        kept = "no earlier turns" if self.seq == 1 else f"turns 1 to {self.seq - 1}" if self.seq > 2 else "turn 1"
        with Vertical(classes="dialog-box -wide"):
            yield Label(f"Edit message #{self.seq} and resend", classes="dialog-title")
            yield Static(
                f"Sending makes a fork of this thread with {kept}, and asks there; this thread stays as it is.",
                classes="dialog-note",
            )
            yield PromptInput(id="edited")
            yield Label("Enter sends to a fork · ctrl+j new line · Esc cancels", classes="dialog-hint")

    def on_mount(self) -> None:
        editor = self.query_one("#edited", PromptInput)
        editor.text = self.text
        editor.move_cursor(editor.document.end)
        editor.focus()

    @on(PromptInput.Submitted, "#edited")
    def _send(self, event: PromptInput.Submitted) -> None:
        event.stop()
        self.dismiss(event.text if event.text.strip() else None)
