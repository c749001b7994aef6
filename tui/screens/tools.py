"""A dialog turning the thread's hosted tools on and off. Each change is saved at once (`Thread.set_tools`,
in a worker), so there is nothing to confirm: Esc or Enter closes it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Label, Static

from tui.notices import error_message
from tui.tool_names import TOOLS

# (tool name, on) -> the tools now enabled
Toggle = Callable[[str, bool], Awaitable[list[str]]]


class ToolsScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter", "dismiss(None)", "Close"),
        Binding("down", "app.focus_next", "Next", show=False),
        Binding("up", "app.focus_previous", "Previous", show=False),
    ]

    def __init__(self, enabled: list[str], toggle: Toggle, *, note: str = "") -> None:
        super().__init__(classes="dialog")
        self.enabled = list(enabled)
        self.toggle = toggle
        self.note = note
        self._saving = asyncio.Lock()  # one save at a time: each reads the settings the previous one wrote

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box", id="tools-box"):
            yield Label("Tools for this thread", classes="dialog-title")
            for tool in TOOLS:
                yield Checkbox(tool.title, tool.name in self.enabled, id=f"tool-{tool.name}")
                yield Static(tool.help, classes="tool-help")
            if self.note:
                yield Static(self.note, classes="dialog-note")
            yield Label("Space: on or off (saved at once) · Esc closes", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query(Checkbox).first().focus()

    @on(Checkbox.Changed)
    def _changed(self, event: Checkbox.Changed) -> None:
        if event.checkbox.id is None:
            return
        self.save(event.checkbox.id.removeprefix("tool-"), event.value)

    @work(group="tools")  # not exclusive: every click is saved, in order
    async def save(self, name: str, on: bool) -> None:
        async with self._saving:
            try:
                self.enabled = await self.toggle(name, on)
            except Exception as error:
                self.app.notify(error_message(error), title="Cannot change the tools", severity="error", timeout=10)
                checkbox = self.query_one(f"#tool-{name}", Checkbox)
                with checkbox.prevent(Checkbox.Changed):
                    checkbox.value = not on
