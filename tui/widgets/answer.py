"""One assistant answer: its output items in the order they happened (answer text, tool cards), the numbered
sources it cited, and a footer with how the turn ended and what it cost.

The same widget renders a live turn from its events and a recorded turn from the index, so a reopened thread
looks exactly like it did while it streamed.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import LoadingIndicator, Markdown, Static
from textual.widgets.markdown import MarkdownStream

from assistant import Event, Turn
from tui.citations import Citations, cites_files
from tui.opener import local_path, open_local_file
from tui.structured_view import function_outputs, structured_markdown
from tui.widgets.tool_card import ToolCard, is_tool_item


class AnswerText(Markdown):
    """The text of one message item. Deltas go through `Markdown.get_stream()`, which batches them when they
    arrive faster than the widget can render; the finished text is set with one `update()`."""

    def __init__(self) -> None:
        super().__init__("", classes="answer-text")
        self.streamed = ""
        self._stream: MarkdownStream | None = None
        self.finished = False

    async def add_delta(self, delta: str) -> None:
        if self._stream is None:
            self._stream = Markdown.get_stream(self)
        self.streamed += delta
        await self._stream.write(delta)

    async def finish(self, markdown: str) -> None:
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
        self.finished = True
        await self.update(markdown)


class AssistantAnswer(Vertical):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.citations = Citations()
        self._blocks: dict[int, Widget] = {}  # by output_index
        self._annotations: dict[int, list[dict[str, Any]]] = {}
        # Links in the sources are opened here: local files need more than a browser (see tui/opener.py).
        self._sources = Markdown("", classes="sources", open_links=False)
        self._footer = Static("", classes="answer-footer")
        self._waiting: LoadingIndicator | None = None

    def compose(self) -> ComposeResult:
        yield self._sources
        yield self._footer

    def on_mount(self) -> None:
        self._sources.display = False  # until something is cited

    # a live turn

    async def wait(self) -> None:
        """Show that an answer is on its way until its first item arrives."""
        self._waiting = LoadingIndicator(classes="waiting")
        await self.mount(self._waiting, before=self._sources)

    async def show_event(self, event: Event) -> None:
        """Render one of a turn's streamed events (the ones an answer shows; others are the screen's)."""
        match event.type:
            case "item.added":
                await self.item_added(event.item, event.output_index)
            case "text.delta":
                await self.text_delta(event.text, event.output_index)
            case "tool_call.progress":
                await self.tool_progress(event.tool, event.item_id, event.output_index, event.status, event.delta)
            case "citation":
                await self.citation(event.annotation, event.output_index)
            case "item.done":
                await self.item_done(event.item, event.output_index)
            case "function.result":
                await self.function_result(event.item_id, event.output, event.error)
            # response.started and usage: the terminal event carries the turn with both

    async def item_added(self, item: dict[str, Any], output_index: int) -> None:
        if item.get("type") == "message":
            await self._block(output_index, AnswerText)
        elif is_tool_item(item):
            await self._block(output_index, lambda: ToolCard(item))

    async def text_delta(self, text: str, output_index: int) -> None:
        block = await self._block(output_index, AnswerText)
        if isinstance(block, AnswerText):
            await block.add_delta(text)

    async def tool_progress(self, tool: str, item_id: str, output_index: int, status: str, delta: str) -> None:
        card = await self._block(output_index, lambda: ToolCard({"type": tool, "id": item_id}))
        if isinstance(card, ToolCard):
            card.progress(status, delta)

    async def citation(self, annotation: dict[str, Any], output_index: int) -> None:
        self.citations.number(annotation)
        self._annotations.setdefault(output_index, []).append(annotation)
        await self._show_sources()

    async def item_done(self, item: dict[str, Any], output_index: int) -> None:
        if item.get("type") == "message":
            block = await self._block(output_index, AnswerText)
            if isinstance(block, AnswerText):
                await block.finish(self._marked(message_text(item), message_annotations(item)))
        elif is_tool_item(item):
            card = await self._block(output_index, lambda: ToolCard(item))
            if isinstance(card, ToolCard):
                card.finish(item)

    async def function_result(self, item_id: str | None, output: str, error: str | None) -> None:
        """One of the user's functions ran for a function_call card: show what it returned (or its error)."""
        for block in self._blocks.values():
            if isinstance(block, ToolCard) and item_id and block.item.get("id") == item_id:
                block.finish({**block.item, "output": output, "error": error})

    async def finish(self, turn: Turn | None, *, note: str = "") -> None:
        """Close the answer: text still streaming is set as it stands (a cancelled or broken-off turn keeps
        what arrived), and the footer says how the turn ended."""
        await self._stop_waiting()
        for index, block in self._blocks.items():
            if isinstance(block, AnswerText) and not block.finished:
                await block.finish(self._marked(block.streamed, self._annotations.get(index, [])))
        structured = structured_markdown(turn) if turn is not None else None
        answers = [block for block in self._blocks.values() if isinstance(block, AnswerText)]
        if structured and answers:  # a structured answer (schema=) reads better as indented JSON
            await answers[-1].finish(structured)
        await self._show_sources()
        self._footer.update(footer_text(turn, note))

    async def show_local_paths(self, paths: dict[str, str]) -> None:
        """Link the cited files to their local copies (known once the turn's files were downloaded)."""
        self.citations.local_paths = paths
        if self.citations.sources:
            await self._show_sources()

    @on(Markdown.LinkClicked)
    def _open_link(self, event: Markdown.LinkClicked) -> None:
        if event.markdown is not self._sources:
            return  # the answer text's own links: Markdown opens them in the browser
        event.stop()
        path = local_path(event.href)
        if path is None:
            self.app.open_url(event.href)
        else:
            self.run_worker(open_local_file(self.app, path), group="open-file")

    @property
    def cites_files(self) -> bool:
        return cites_files(self.citations.sources)

    # a recorded turn

    async def show(self, turn: Turn) -> None:
        """Render a turn read back from the index."""
        outputs = function_outputs(turn)
        for position, item in enumerate(turn.output_items):
            data = item.data
            if data.get("type") == "function_call" and data.get("call_id") in outputs:
                data = {**data, **outputs[data["call_id"]]}
            if data.get("type") == "message":
                block = await self._block(position, AnswerText)
                assert isinstance(block, AnswerText)
                await block.finish(self._marked(message_text(data), message_annotations(data)))
            elif is_tool_item(data):
                await self._block(position, partial(ToolCard, data))
        if not any(isinstance(block, AnswerText) for block in self._blocks.values()) and turn.text:
            # A turn that ended before its message item finished keeps its text on the turn only.
            block = await self._block(len(turn.output_items), AnswerText)
            assert isinstance(block, AnswerText)
            await block.finish(turn.text)
        await self.finish(turn)

    # parts

    async def _block(self, output_index: int, make: Callable[[], Widget]) -> Widget:
        """The block of an output item, created in output order the first time it is mentioned."""
        block = self._blocks.get(output_index)
        if block is None:
            await self._stop_waiting()
            block = make()
            later = [index for index in self._blocks if index > output_index]
            before = self._blocks[min(later)] if later else self._sources
            self._blocks[output_index] = block
            await self.mount(block, before=before)
        return block

    async def _show_sources(self) -> None:
        self._sources.display = bool(self.citations.sources)
        await self._sources.update(self.citations.markdown())

    async def _stop_waiting(self) -> None:
        if self._waiting is not None:
            waiting, self._waiting = self._waiting, None
            await waiting.remove()

    def _marked(self, text: str, annotations: list[dict[str, Any]]) -> str:
        return self.citations.mark(text, annotations) if annotations else text

    @property
    def text(self) -> str:
        """The answer's text as shown so far (for tests and copying)."""
        return "\n\n".join(
            block.streamed or block.source or "" for block in self._blocks.values() if isinstance(block, AnswerText)
        )


def message_text(item: dict[str, Any]) -> str:
    return "".join(part.get("text", "") for part in item.get("content") or [] if part.get("type") == "output_text")


def message_annotations(item: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        annotation
        for part in item.get("content") or []
        if part.get("type") == "output_text"
        for annotation in part.get("annotations") or []
    ]


def footer_text(turn: Turn | None, note: str = "") -> str:
    """How the turn ended, when it did not simply complete, and its tokens and cost."""
    parts: list[str] = []
    if turn is not None:
        if turn.status == "cancelled":
            parts.append("cancelled · what had arrived is saved")
        elif turn.status == "incomplete":
            # A broken stream says what happened and where to look; other stops are named by their reason.
            why = turn.error if turn.incomplete_reason == "stream_interrupted" else turn.incomplete_reason
            parts.append(f"incomplete ({why or turn.error or 'stopped early'})")
        elif turn.status == "failed":
            parts.append("failed")
        usage = turn.usage
        if usage.total_tokens or turn.status == "completed":  # a stopped turn may have no usage to show
            parts.append(f"{usage.input_tokens:,} in · {usage.cached_tokens:,} cached · {usage.output_tokens:,} out")
            parts.append(money(turn.cost_usd))
    if note:
        parts.insert(0, note)
    return " · ".join(parts)


def money(cost: float | None) -> str:
    """Dollars to the millionth, without trailing zeros; "price unknown" when the model's price is."""
    if cost is None:
        return "price unknown"
    return f"${cost:.6f}".rstrip("0").rstrip(".") if cost else "$0"
