"""A dialog listing the models the server offers (`Assistant.models()`, read in a worker thread)."""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, LoadingIndicator, OptionList
from textual.widgets.option_list import Option

from tui.library import Library
from tui.notices import error_message


class ModelPickerScreen(ModalScreen[str | None]):
    """Dismisses with the chosen model, or None (Esc, or the list could not be read)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, library: Library, current: str) -> None:
        super().__init__(classes="dialog")
        self.library = library
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Label("Model", classes="dialog-title")
            yield LoadingIndicator()
            yield OptionList(id="models")
            yield Label("Enter picks · Esc cancels", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#models").display = False
        self.load_models()

    @work(exclusive=True)
    async def load_models(self) -> None:
        try:
            models = await self.library.models()
        except Exception as error:  # `Assistant.models()` lets the SDK's errors through untranslated
            self.app.notify(error_message(error), title="Cannot list the models", severity="error", timeout=10)
            self.dismiss(None)
            return
        options = self.query_one("#models", OptionList)
        options.add_options([Option(model, id=model) for model in models])
        if self.current in models:
            options.highlighted = models.index(self.current)
        await self.query_one(LoadingIndicator).remove()
        options.display = True
        options.focus()

    @on(OptionList.OptionSelected, "#models")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
