"""Asks the user before one of their functions runs (`function_tool(requires_approval=True)`).

`dialog_approver(app)` is the approval callback to give the library (`thread.approve = dialog_approver(app)`,
or `approve=` per turn): the library awaits it in the async API, the dialog shows the function's name and
arguments, and the answer (Allow: y / Deny: n or Esc) is what the library does. A denial goes back to the model
as the call's output, so it can answer without it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from assistant import FunctionCall


class ApprovalScreen(ModalScreen[bool]):
    DEFAULT_CSS = """
    ApprovalScreen { align: center middle; }
    ApprovalScreen > Vertical { width: 72; height: auto; max-height: 80%; border: thick $warning;
                                background: $surface; padding: 1 2; }
    ApprovalScreen #arguments { margin: 1 0; max-height: 16; overflow-y: auto; }
    ApprovalScreen Horizontal { height: auto; align-horizontal: right; }
    ApprovalScreen Button { margin-left: 2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "allow", "Allow"),
        Binding("n", "deny", "Deny"),
        Binding("escape", "deny", "Deny"),
    ]

    def __init__(self, call: FunctionCall) -> None:
        super().__init__()
        self.call = call

    def compose(self) -> ComposeResult:
        parsed = self.call.parsed
        arguments = json.dumps(parsed, indent=2, ensure_ascii=False) if parsed is not None else self.call.arguments
        with Vertical():
            yield Label(f"Run [b]{self.call.name}[/b]?", id="question")
            yield Static(arguments, id="arguments", markup=False)
            with Horizontal():
                yield Button("Deny", id="deny", variant="error")
                yield Button("Allow", id="allow", variant="success")

    def on_mount(self) -> None:
        self.query_one("#deny", Button).focus()  # the safe answer is the default

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "allow")

    def action_allow(self) -> None:
        self.dismiss(True)

    def action_deny(self) -> None:
        self.dismiss(False)


def dialog_approver(app: App) -> Callable[[FunctionCall], Awaitable[bool]]:
    """An approval callback that asks with `ApprovalScreen` (for `Thread.astream`, which awaits it)."""

    async def approve(call: FunctionCall) -> bool:
        answered: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def done(allowed: bool | None) -> None:
            if not answered.done():
                answered.set_result(bool(allowed))

        app.push_screen(ApprovalScreen(call), done)
        return await answered

    return approve
