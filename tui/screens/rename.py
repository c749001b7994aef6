"""A dialog asking for a thread's new title."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class RenameScreen(ModalScreen[str | None]):
    """Dismisses with the new title, or None when cancelled (Esc) or left empty."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, title: str) -> None:
        super().__init__(classes="dialog")
        self.current_title = title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Label("Rename thread", classes="dialog-title")
            yield Input(self.current_title, placeholder="Title", id="title")
            yield Label("Enter saves · Esc cancels", classes="dialog-hint")

    @on(Input.Submitted)
    def _save(self, event: Input.Submitted) -> None:
        title = " ".join(event.value.split())
        self.dismiss(title or None)
