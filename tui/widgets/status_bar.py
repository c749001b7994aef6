"""The status bar: where requests go and what they cost.

Line one: provider, model, thread mode (click: switch), hosted tools (click: turn on or off) and the
conversation id (click: copy). Line two: tokens in, cached and out with dollars, for the last turn and for the
whole thread, compact enough for 80 columns.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Label, Static

from assistant import Turn, answered_label, display_name
from tui.tool_names import tools_text
from tui.widgets.answer import money


@dataclass(frozen=True)
class Spend:
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0  # None once any turn's price is unknown

    @classmethod
    def of(cls, turn: Turn) -> Spend:
        usage = turn.usage
        return cls(usage.input_tokens, usage.cached_tokens, usage.output_tokens, turn.cost_usd)

    def __add__(self, other: Spend) -> Spend:
        cost = None if self.cost_usd is None or other.cost_usd is None else self.cost_usd + other.cost_usd
        return Spend(
            self.input_tokens + other.input_tokens,
            self.cached_tokens + other.cached_tokens,
            self.output_tokens + other.output_tokens,
            cost,
        )

    def describe(self) -> str:
        """ "in/cached/out" counts and dollars; the legend is printed once, before both."""
        counts = "/".join(tokens(count) for count in (self.input_tokens, self.cached_tokens, self.output_tokens))
        return f"{counts} {money(self.cost_usd)}"


def tokens(count: int) -> str:
    return f"{count / 1000:.1f}k" if count >= 10_000 else str(count)


class ConversationId(Label):
    """The conversation id; a click copies it (so does the "Copy conversation id" command)."""

    def __init__(self) -> None:
        super().__init__("", id="conversation-id")
        self.value: str | None = None

    def show(self, conversation_id: str | None, mode: str = "conversation") -> None:
        self.value = conversation_id
        # Only conversation mode has a server conversation; the others keep state another way.
        self.update(conversation_id or ("no conversation yet" if mode == "conversation" else "no conversation"))
        self.tooltip = "Click to copy" if conversation_id else None

    def on_click(self, event: events.Click) -> None:
        event.stop()
        if self.value:
            self.app.copy_to_clipboard(self.value)
            self.app.notify(f"Copied {self.value}", timeout=2)


class ActionLabel(Label):
    """A label that runs an action when clicked (the mode opens the mode picker, the tools their dialog)."""

    def __init__(self, action: str, tooltip: str, *, id: str) -> None:
        super().__init__("", id=id)
        self.action = action
        self.tooltip = tooltip

    async def on_click(self, event: events.Click) -> None:
        event.stop()
        await self.run_action(self.action)


class StatusBar(Vertical):
    def __init__(self) -> None:
        super().__init__(id="status-bar")
        self.provider = Label("connecting…", id="provider")
        self.model = Label("", id="model")
        self.asked_for = ""  # the thread's model; the label says which model answered when another did
        self.mode = ActionLabel("screen.pick_mode", "Click (or ctrl+g) to switch the thread's mode", id="mode")
        self.tools = ActionLabel("screen.tools", "Click (or ctrl+t) to turn tools on or off", id="tools")
        self.conversation_id = ConversationId()
        self.spend = Static("", id="spend")
        self.last_turn = Spend()
        self.thread_total = Spend()

    def compose(self) -> ComposeResult:
        with Horizontal(id="where"):
            yield self.provider
            yield self.model
            yield self.mode
            yield self.tools
            yield self.conversation_id
        yield self.spend

    def show_provider(self, provider: str) -> None:
        self.provider.update(provider)

    def show_thread(
        self, *, model: str, mode: str, conversation_id: str | None, turns: list[Turn], tools: list[str] | None = None
    ) -> None:
        self.asked_for = model
        self._show_model(turns[-1].model if turns else None)
        self.show_mode(mode, conversation_id)
        self.show_tools(tools or [])
        self.last_turn = Spend.of(turns[-1]) if turns else Spend()
        self.thread_total = sum((Spend.of(turn) for turn in turns), Spend())
        self._show_spend()

    def show_model(self, model: str) -> None:
        self.asked_for = model
        self._show_model(None)

    def show_mode(self, mode: str, conversation_id: str | None) -> None:
        self.mode.update(mode)
        self.conversation_id.show(conversation_id, mode)

    def show_tools(self, enabled: list[str]) -> None:
        self.tools.update(tools_text(enabled))
        self.tools.set_class(not enabled, "-none")

    def add_turn(self, turn: Turn) -> None:
        self._show_model(turn.model)
        self.last_turn = Spend.of(turn)
        self.thread_total = self.thread_total + self.last_turn
        self._show_spend()

    def _show_model(self, answered_by: str | None) -> None:
        # The model that answered, alone: the line has 80 columns for provider, model, mode, tools and the
        # conversation. The tooltip says what the thread asked for when that differs.
        label = answered_label(self.asked_for, answered_by)
        self.model.update(
            display_name(answered_by)
            if answered_by and label != display_name(self.asked_for)
            else display_name(self.asked_for)
        )
        self.model.tooltip = label

    def _show_spend(self) -> None:
        self.spend.update(
            Content.assemble(
                ("tokens in/cached/out  ", "dim"),
                ("last turn ", "dim"),
                self.last_turn.describe(),
                ("  thread ", "dim"),
                self.thread_total.describe(),
            )
        )
