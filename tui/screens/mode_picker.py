"""A dialog choosing the open thread's state mode (`Thread.set_mode`): nothing is lost by switching, since
the index holds every item and the next turn rebuilds whatever server state the new mode needs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

MODE_HELP = {
    "conversation": "the server keeps the conversation; only new input is sent",
    "chain": "each answer points to the previous response (kept 30 days on the server)",
    "local": "the whole history is sent from the index; nothing is stored on the server",
    "chat": "Chat Completions with the history from the index (no hosted tools)",
}


class ModePickerScreen(ModalScreen[str | None]):
    """Dismisses with the chosen mode, or None (Esc)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, modes: Sequence[str], current: str, *, draft: bool) -> None:
        super().__init__(classes="dialog")
        self.modes = list(modes)
        self.current = current
        self.draft = draft

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Label("Thread mode", classes="dialog-title")
            options = [
                Option(
                    Content.assemble(
                        (mode, "bold"),
                        (" · current" if mode == self.current else "", "dim"),
                        "\n",
                        (MODE_HELP.get(mode, ""), "dim"),
                    ),
                    id=mode,
                )
                for mode in self.modes
            ]
            yield OptionList(*options, id="modes")
            hint = "for the new thread" if self.draft else "the next turn rebuilds the state it needs; nothing is lost"
            yield Label(f"Enter switches ({hint}) · Esc cancels", classes="dialog-hint")

    def on_mount(self) -> None:
        options = self.query_one("#modes", OptionList)
        if self.current in self.modes:
            options.highlighted = self.modes.index(self.current)
        options.focus()

    @on(OptionList.OptionSelected, "#modes")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
