"""One assistant answer: its output items in the order they happened (answer text, tool cards), the numbered
sources it cited, and a footer with how the turn ended and what it cost.

The same widget renders a live turn from its events and a recorded turn from the index, so a reopened thread
looks exactly like it did while it streamed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import Any

from textual import events, on
from textual.app import ComposeResult
from textual.await_complete import AwaitComplete
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import LoadingIndicator, Markdown, Static
from textual.widgets.markdown import MarkdownStream

from assistant import Event, Turn
from tui.citations import Citations, cites_files
from tui.markdown_pieces import Context, Cut, next_cut, pieces
from tui.opener import local_path, open_local_file
from tui.structured_view import function_outputs, structured_markdown
from tui.widgets.tool_card import ToolCard, is_tool_item


class AnswerPiece(Markdown):
    """One piece of an answer's text (see tui/markdown_pieces.py); `joined`: the next piece continues its last
    block, so no margin separates them."""

    def __init__(self, markdown: str = "", *, joined: bool = False, continued: bool = False) -> None:
        super().__init__(markdown, classes="answer-piece")
        self.set_class(joined, "-joined")
        self.set_class(continued, "-continued")
        self._frozen_width: int | None = None

    def freeze_height(self) -> None:
        """A finished piece keeps the height it was laid out at, so the layouts that follow (one a frame while an
        answer streams) need not wrap its text again; at a new width it takes its natural height again."""
        if self.is_mounted and self.size.height:
            self._frozen_width = self.size.width
            self.styles.height = self.size.height

    def on_resize(self, event: events.Resize) -> None:
        if self._frozen_width is not None and event.size.width != self._frozen_width:
            self._frozen_width = None
            self.styles.height = "auto"
            self.call_after_refresh(self.freeze_height)


class LivePiece(AnswerPiece):
    """The last piece while the answer streams. Appends wait for the next frame, so the deltas that arrive
    meanwhile are rendered together (the stream joins them), at most `FRAMES_PER_SECOND` times a second."""

    FRAMES_PER_SECOND = 30

    def __init__(self, markdown: str = "") -> None:
        super().__init__(markdown)
        self._next_frame = 0.0
        self._in_order = asyncio.Lock()  # an append cut short by the stream's stop must still land before the rest

    def append(self, markdown: str) -> AwaitComplete:
        return AwaitComplete(self._append_at_next_frame(markdown))

    async def appends_done(self) -> None:
        """Wait for the appends already asked for: `MarkdownStream.stop()` does not wait for one it had
        shielded, which would otherwise land after a later `update()`."""
        async with self._in_order:
            pass

    async def _append_at_next_frame(self, markdown: str) -> None:
        async with self._in_order:
            loop = asyncio.get_running_loop()
            await asyncio.sleep(max(0.0, self._next_frame - loop.time()))
            self._next_frame = loop.time() + 1 / self.FRAMES_PER_SECOND
            await super().append(markdown)


class AnswerText(Vertical):
    """The text of one message item, as pieces (tui/markdown_pieces.py): while it streams, deltas go through
    `Markdown.get_stream()` into the last piece; when that piece is long enough, its finished part becomes a
    piece of its own that is never rendered again, so each delta costs the same however long the answer is.
    The finished text is set with `finish()`, which keeps the pieces already shown when the text is the same."""

    def __init__(self) -> None:
        super().__init__(classes="answer-text")
        self.streamed = ""
        self.source = ""  # the text as shown (the finished text once finished)
        self.finished = False
        self._live: LivePiece | None = None
        self._stream: MarkdownStream | None = None
        self._stopping: asyncio.Future[None] | None = None
        self._settling: tuple[AnswerPiece, str] | None = None  # a piece being set to its finished text
        self._live_start = 0  # where the live piece starts in `streamed`
        self._live_context = Context()

    async def add_delta(self, delta: str) -> None:
        if self._live is None:
            self._live = LivePiece()
            await self.mount(self._live)
        if self._stream is None:
            self._stream = Markdown.get_stream(self._live)
        self.streamed += delta
        self.source = self.streamed
        await self._stream.write(delta)
        if cut := next_cut(self.streamed, self._live_start, self._live_context, final=False):
            await self._settle(cut)

    async def _settle(self, cut: Cut) -> None:
        """The live piece's text up to `cut` becomes a piece of its own; the live piece keeps the rest."""
        assert self._live is not None
        await self._stop_stream()
        done = self._live_context.reopen + self.streamed[self._live_start : cut.end] + cut.close
        self._live_start, self._live_context = cut.end, cut.after
        # The live piece becomes the finished one and a new live piece goes at the end: mounting there, rather
        # than before the live piece, spares Textual restyling every piece before it.
        piece, self._live = self._live, LivePiece(self._live_context.reopen + self.streamed[cut.end :])
        self._live.set_class(cut.joined, "-continued")
        piece.set_class(cut.joined, "-joined")
        self._settling = (piece, done)  # for finish(), should Esc interrupt this
        with self.app.batch_update():
            await self.mount(self._live)
            await piece.update(done)
        self._settling = None
        self._stream = Markdown.get_stream(self._live)
        self.call_after_refresh(piece.freeze_height)

    async def _stop_stream(self) -> None:
        """Stop the live piece's stream, shielded: cancelling the turn must not cancel the stream's own task
        (it would then be cancelled in its last append, and the cancel of the turn be swallowed by it)."""
        if self._stream is not None:
            stream, self._stream = self._stream, None
            self._stopping = asyncio.ensure_future(self._stopped(stream))
            await asyncio.shield(self._stopping)

    @staticmethod
    async def _stopped(stream: MarkdownStream) -> None:
        await stream.stop()
        if isinstance(stream.markdown_widget, LivePiece):
            await stream.markdown_widget.appends_done()

    async def finish(self, markdown: str) -> None:
        await self._stop_stream()
        if self._stopping is not None:
            await self._stopping  # a stop that Esc interrupted: its last append lands before the update below
        self.finished = True
        self.source = markdown
        if self._settling is not None:
            piece, done = self._settling
            await piece.update(done)
            self._settling = None
        if self._live is not None and markdown == self.streamed:  # keep the pieces shown; cut the rest the same way
            rest = pieces(self.streamed[self._live_start :], self._live_context)
            await self._live.update(rest[0][0])  # also when Esc interrupted a settle halfway
            self._live.set_class(rest[0][1], "-joined")
            await self.mount_all(piece_widgets(rest[1:], continued=rest[0][1]))
        else:
            with self.app.batch_update():
                await self.remove_children()
                await self.mount_all(piece_widgets(pieces(markdown)))
        self._live = None
        for piece in self.query_children(AnswerPiece):
            self.call_after_refresh(piece.freeze_height)


def piece_widgets(texts: list[tuple[str, bool]], *, continued: bool = False) -> list[AnswerPiece]:
    """A widget per piece; `continued`: the first continues the block the piece before it ended in."""
    widgets = []
    for text, joined in texts:
        widgets.append(AnswerPiece(text, joined=joined, continued=continued))
        continued = joined
    return widgets


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
