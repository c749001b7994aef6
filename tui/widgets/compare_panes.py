"""The parts of the compare screen: one pane per backend (the main screen's conversation and answer widgets, so
a turn looks the same here) and the numbers below them: a table of the last turn and of all turns on each
backend, and a per-turn chart of the bytes each sent."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.style import Style as RichStyle
from rich.text import Text
from textual.app import ComposeResult, RenderResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import DataTable, Label, Sparkline, Static

from assistant import Turn
from tui.widgets.answer import money
from tui.widgets.conversation import Conversation, TurnView

BACKEND_TITLES = {"responses": "Responses", "chat": "Chat"}
BACKEND_HEADINGS = {
    "responses": "Responses API · conversation mode (only the new message is sent)",
    "chat": "Chat Completions · chat mode (the whole history is sent)",
}
COLUMNS = ("", "in", "cached", "out", "sent", "TTFT", "latency", "cost")  # sent: request bytes
BARS = "▁▂▃▄▅▆▇█"


class BytesSparkline(Sparkline):
    """Textual's Sparkline on a scale shared with the other backend's: the built-in one stretches each series
    between its own minimum and maximum, which would draw Responses' nearly flat bytes as steeply as Chat's
    growing ones. Here a bar's height is its value over `ceiling` (the larger peak of the two), so Responses
    stays low and flat while Chat climbs. One band of columns per turn; colours from the same component
    classes as the built-in widget."""

    ceiling: reactive[int] = reactive(0)

    def render(self) -> RenderResult:
        data = list(self.data or [])
        if not data or self.ceiling <= 0:
            return super().render()
        _, base = self.background_colors
        low = base + self.get_component_styles("sparkline--min-color").color
        high = base + self.get_component_styles("sparkline--max-color").color
        width = max(1, self.size.width)
        bars = Text()
        for column in range(width):
            ratio = max(0.0, min(1.0, data[column * len(data) // width] / self.ceiling))
            bars.append(BARS[round(ratio * (len(BARS) - 1))], RichStyle(color=low.blend(high, ratio).rich_color))
        return bars


class BackendPane(Vertical):
    """One backend's side: a heading and its turns, streamed or read back from the index."""

    def __init__(self, backend: str) -> None:
        super().__init__(id=f"compare-{backend}", classes="compare-pane")
        self.backend = backend
        self.conversation = Conversation(classes="compare-conversation")

    def compose(self) -> ComposeResult:
        yield Label(BACKEND_HEADINGS[self.backend], classes="compare-heading")
        yield self.conversation

    async def clear(self, hint: str = "") -> None:
        await self.conversation.remove_children()
        if hint:
            await self.conversation.mount(Static(hint, classes="welcome"))

    async def start_turn(self, text: str) -> TurnView:
        return await self.conversation.start_turn(text)

    async def show_turns(self, turns: Sequence[Turn]) -> None:
        # TurnView without a seq: a click on a message here does not offer edit-and-resend (that is the main
        # screen's, on one thread).
        await self.conversation.remove_children()
        views = [TurnView(turn.input) for turn in turns]
        await self.conversation.mount_all(views)
        for view, turn in zip(views, turns, strict=True):
            await view.answer.show(turn)
        self.conversation.anchor()


class CompareMetrics(Vertical):
    """The table (last turn and all turns, per backend) and one sparkline per backend of the bytes each turn
    sent. Built from recorded turns, so a live comparison and a reopened one show the same numbers."""

    def __init__(self) -> None:
        super().__init__(id="compare-metrics")
        self.table: DataTable[str] = DataTable(id="compare-table", cursor_type="none", zebra_stripes=True)
        self.sparklines = {
            backend: BytesSparkline([], id=f"bytes-{backend}", classes="compare-sparkline")
            for backend in BACKEND_TITLES
        }
        self.captions = {backend: Label("", classes="compare-caption") for backend in BACKEND_TITLES}
        self.bytes_per_turn: dict[str, list[int]] = {backend: [] for backend in BACKEND_TITLES}

    def compose(self) -> ComposeResult:
        yield self.table
        for backend, title in BACKEND_TITLES.items():
            with Horizontal(classes="compare-chart"):
                yield Label(f"{title} bytes/turn", classes="compare-chart-label")
                yield self.sparklines[backend]
                yield self.captions[backend]

    def on_mount(self) -> None:
        self.table.add_columns(*COLUMNS)
        self.show({})

    def show(self, turns: Mapping[str, Sequence[Turn]]) -> None:
        self.table.clear()
        for backend, title in BACKEND_TITLES.items():
            backend_turns = turns.get(backend, [])
            last = backend_turns[-1] if backend_turns else None
            self.table.add_row(
                f"{title} #{last.seq}" if last else title,
                *(turn_cells(last) if last else blank()),
                key=f"{backend}-last",
            )
        for backend, title in BACKEND_TITLES.items():
            backend_turns = turns.get(backend, [])
            self.table.add_row(
                f"{title} total", *(total_cells(backend_turns) if backend_turns else blank()), key=f"{backend}-total"
            )
        self.bytes_per_turn = {
            backend: [turn.request_bytes for turn in turns.get(backend, [])] for backend in BACKEND_TITLES
        }
        peak = max((value for values in self.bytes_per_turn.values() for value in values), default=0)
        for backend, values in self.bytes_per_turn.items():
            self.sparklines[backend].ceiling = peak
            self.sparklines[backend].data = values
            self.captions[backend].update(bytes_caption(values))

    def row(self, key: str) -> list[str]:
        """A row of the table as shown (for tests)."""
        return [str(cell) for cell in self.table.get_row(key)]


def bytes_caption(values: Sequence[int]) -> str:
    if not values:
        return ""
    if len(values) == 1:
        return size(values[0])
    return f"{size(values[0])} → {size(values[-1])}"


def turn_cells(turn: Turn) -> list[str]:
    usage = turn.usage
    return [
        f"{usage.input_tokens:,}",
        f"{usage.cached_tokens:,}",
        f"{usage.output_tokens:,}",
        size(turn.request_bytes),
        duration(turn.ttft_ms),
        duration(turn.latency_ms),
        money(turn.cost_usd),
    ]


def total_cells(turns: Sequence[Turn]) -> list[str]:
    """Sums over the turns, but the mean time to first token (the totals `assistant compare` reports)."""
    ttfts = [turn.ttft_ms for turn in turns if turn.ttft_ms is not None]
    costs = [turn.cost_usd for turn in turns if turn.cost_usd is not None]
    return [
        f"{sum(turn.usage.input_tokens for turn in turns):,}",
        f"{sum(turn.usage.cached_tokens for turn in turns):,}",
        f"{sum(turn.usage.output_tokens for turn in turns):,}",
        size(sum(turn.request_bytes for turn in turns)),
        duration(sum(ttfts) / len(ttfts)) if ttfts else "—",
        duration(sum(turn.latency_ms or 0.0 for turn in turns)),
        money(sum(costs)) if costs else "price unknown",
    ]


def blank() -> list[str]:
    return ["—"] * (len(COLUMNS) - 1)


def size(count: int) -> str:
    return f"{count:,} B" if count < 10_000 else f"{count / 1000:,.1f} kB"


def duration(ms: float | None) -> str:
    if ms is None:
        return "—"
    return f"{ms:,.0f} ms" if ms < 1000 else f"{ms / 1000:.2f} s"
