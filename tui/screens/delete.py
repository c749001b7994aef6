"""A dialog confirming that a thread is to be deleted, and whether its server state goes too."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Label, Static


@dataclass(frozen=True)
class DeleteChoice:
    server: bool  # delete the server conversation and vector store too


class DeleteThreadScreen(ModalScreen[DeleteChoice | None]):
    """Dismisses with what to delete, or None (Cancel, Esc). Cancel has the focus: Enter alone never
    deletes anything."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, title: str, turn_count: int | None, *, has_server_state: bool = True) -> None:
        super().__init__(classes="dialog")
        self.thread_title = title or "(untitled)"
        self.turn_count = turn_count
        self.has_server_state = has_server_state

    def compose(self) -> ComposeResult:
        turns = (
            "" if self.turn_count is None else f" and its {self.turn_count} turn{'' if self.turn_count == 1 else 's'}"
        )
        with Vertical(classes="dialog-box -danger"):
            yield Label("Delete thread", classes="dialog-title")
            yield Static(
                f"Delete “{self.thread_title}”{turns} from the index? This cannot be undone. "
                "Its forks keep their own copy of the turns they share.",
                id="delete-what",
            )
            yield Checkbox("Also delete its server conversation and files", self.has_server_state, id="delete-server")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Delete", variant="error", id="delete")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#delete")
    def _delete(self) -> None:
        self.dismiss(DeleteChoice(server=self.query_one("#delete-server", Checkbox).value))
