"""The prompt: a multi-line text area where Enter sends.

Shift+Enter inserts a newline where the terminal reports it (kitty keyboard protocol); ctrl+j does the same
everywhere, since most terminals send Shift+Enter as a plain Enter. Up on the first line recalls earlier
prompts and Down on the last line walks back, as in a shell; anywhere else they move the cursor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import TextArea


class PromptHistory:
    """Earlier prompts, oldest first, with a cursor that Up and Down move. A draft typed before recalling is
    kept, so walking past the newest prompt gives it back."""

    def __init__(self) -> None:
        self._prompts: list[str] = []
        self._position = 0  # == len(prompts) when not recalling
        self._draft = ""

    def reset(self, prompts: list[str]) -> None:
        self._prompts = [prompt for prompt in prompts if prompt.strip()]
        self._position = len(self._prompts)

    def add(self, prompt: str) -> None:
        if prompt.strip() and (not self._prompts or self._prompts[-1] != prompt):
            self._prompts.append(prompt)
        self._position = len(self._prompts)

    def previous(self, current: str) -> str | None:
        if self._position == 0:
            return None
        if self._position == len(self._prompts):
            self._draft = current
        self._position -= 1
        return self._prompts[self._position]

    def next(self) -> str | None:
        if self._position >= len(self._prompts):
            return None
        self._position += 1
        return self._draft if self._position == len(self._prompts) else self._prompts[self._position]


class PromptInput(TextArea):
    BINDINGS: ClassVar[list[BindingType]] = [
        # Enter and the newline keys are handled in _on_key; these two bindings name them in the footer.
        Binding("enter", "submit", "Send"),
        Binding("shift+enter,ctrl+j", "newline", "Newline", key_display="⇧⏎/^j"),
        Binding("up", "recall_previous", show=False),
        Binding("down", "recall_next", show=False),
    ]

    @dataclass
    class Submitted(Message):
        prompt: PromptInput
        text: str

        @property
        def control(self) -> PromptInput:
            return self.prompt

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(soft_wrap=True, show_line_numbers=False, tab_behavior="focus", id=id)
        self.recall = PromptHistory()  # not `history`: TextArea keeps its undo history there

    async def _on_key(self, event: events.Key) -> None:
        # Taken here, in the order keys arrive, not by the bindings: a binding runs once the key has bubbled up
        # to the app, after the characters typed behind it (fast typing, a paste without bracketed paste mode)
        # were already inserted; a priority binding runs before the characters typed ahead of it.
        if event.key in ("enter", "shift+enter", "ctrl+j"):
            event.stop()
            event.prevent_default()
            self.action_submit() if event.key == "enter" else self.action_newline()
            return
        await super()._on_key(event)

    def action_submit(self) -> None:
        if self.text.strip():
            self.post_message(self.Submitted(self, self.text))

    def action_newline(self) -> None:
        # Typed text moves the cursor past itself (insert() would keep the cursor where it was).
        self.replace("\n", *self.selection, maintain_selection_offset=False)

    def action_recall_previous(self) -> None:
        if self.cursor_location[0] > 0:
            self.action_cursor_up()
            return
        recalled = self.recall.previous(self.text)
        if recalled is not None:
            self._show(recalled)

    def action_recall_next(self) -> None:
        if self.cursor_location[0] < self.document.line_count - 1:
            self.action_cursor_down()
            return
        recalled = self.recall.next()
        if recalled is not None:
            self._show(recalled)

    def _show(self, text: str) -> None:
        self.text = text
        self.move_cursor(self.document.end)
