"""The terminal app: `assistant` with no arguments opens it.

`AssistantApp` takes the `Assistant` it works with (tests pass one pointed at a test server); `run()` builds
one from the settings, which without an API key means the embedded local server. Screens are installed by
name, so a screen (e.g. the compare screen) is one more entry in SCREENS plus its commands.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from assistant import Assistant, AssistantError
from tui.library import Library
from tui.screens.compare import compare_commands, open_compare
from tui.screens.main import MainScreen


class AssistantApp(App[None]):
    TITLE = "assistant"
    CSS_PATH = "app.tcss"
    # ctrl+c copies in text areas (Textual's default); ctrl+q quits.
    ENABLE_COMMAND_PALETTE = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f2", "compare", "Compare", show=False)
    ]  # the compare screen (tui/screens/compare.py)

    def __init__(self, assistant: Assistant, *, close_assistant: bool = False) -> None:
        """With `close_assistant` the app closes the assistant when it exits, on its own event loop (the async
        client must be closed on the loop that used it)."""
        super().__init__()
        self.assistant = assistant
        self.library = Library(assistant)
        self.close_assistant = close_assistant

    def get_default_screen(self) -> Screen:
        return MainScreen(self.library)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Every action of the screen in the command palette (ctrl+p), after Textual's own (theme, keys, quit)."""
        yield from super().get_system_commands(screen)
        if isinstance(screen, MainScreen):
            for command in screen.commands():
                yield SystemCommand(command.title, command.help, command.run)
        for command in compare_commands(screen):
            yield SystemCommand(command.title, command.help, command.run)

    def action_compare(self) -> None:
        open_compare(self, self.library)

    async def on_unmount(self) -> None:
        # Stop workers first: a streaming answer is then recorded as cancelled before its client goes away.
        self.workers.cancel_all()
        if self.close_assistant:
            await self.assistant.aclose()


def run() -> int:
    """Open the app on the configured server (the embedded local server when there is no API key)."""
    try:
        assistant = Assistant()
    except AssistantError as error:  # e.g. the index cannot be opened: say why before any screen is drawn
        print(f"error: {error}")
        return 1
    AssistantApp(assistant, close_assistant=True).run()
    return 0
