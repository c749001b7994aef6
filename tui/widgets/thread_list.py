"""The sidebar: threads from the index, newest first, and a search box over every turn.

Threads are read a page at a time (the index may hold tens of thousands): the first page on mount, the next
when the list is scrolled or walked near its end. A fork is listed under the thread it was forked from
(indented, newest first) when that thread is listed too; otherwise in its own place. Each row shows the
thread's mode and its hosted tools (W web search, F file search, C code interpreter). Typing in the search box
replaces the list with matching turns; choosing one opens its thread at that turn. Esc in the sidebar clears
the search and goes back to the prompt.
"""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from assistant import SearchHit, ThreadInfo
from tui.library import Library, enabled_tools
from tui.notices import error_message
from tui.tool_names import tool_badges

PAGE_SIZE = 100
SEARCH_DELAY_S = 0.15  # wait for a pause in typing before searching
MODE_BADGES = {"conversation": "conv", "chain": "chain", "local": "local", "chat": "chat"}
MAX_INDENT = 4  # forks of forks of forks…: deeper ones are indented no further


def utc_now() -> datetime:
    return datetime.now(UTC)


def utc(moment: datetime) -> datetime:
    # The index stores UTC; SQLite may hand it back without a zone.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def ago(moment: datetime, now: datetime) -> str:
    """Last activity, short: "now", "5m", "3h", "2d", then the date."""
    seconds = (utc(now) - utc(moment)).total_seconds()
    if seconds < 60:
        return "now"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m"
    if seconds < 86400:
        return f"{seconds // 3600:.0f}h"
    if seconds < 7 * 86400:
        return f"{seconds // 86400:.0f}d"
    local = utc(moment)
    return local.strftime("%b %d") if local.year == utc(now).year else local.strftime("%Y-%m-%d")


def thread_prompt(thread: ThreadInfo, now: datetime, depth: int = 0) -> Content:
    badge = MODE_BADGES.get(thread.mode, thread.mode)
    turns = f"{thread.turn_count} turn{'' if thread.turn_count == 1 else 's'}"
    tools = tool_badges(enabled_tools(thread.tools))
    indent = "  " * min(depth, MAX_INDENT)
    return Content.assemble(
        (f"{indent[2:]}↳ " if depth else "", "$text-secondary"),
        (thread.title or "(untitled)", "bold"),
        "\n",
        indent,
        (f" {badge} ", "reverse $text-accent"),
        (f" {tools} ", "reverse $text-secondary") if tools else "",
        (f" {turns} · {ago(thread.updated_at, now)}", "dim"),
    )


def arrange(threads: list[ThreadInfo]) -> list[tuple[ThreadInfo, int]]:
    """The rows of the list, each with its depth: threads in their order, each followed by its listed forks
    (and theirs). A fork whose parent is not listed keeps its own place."""
    listed = {thread.id for thread in threads}
    forks: dict[str, list[ThreadInfo]] = defaultdict(list)
    roots: list[ThreadInfo] = []
    for thread in threads:
        if thread.parent_id and thread.parent_id in listed and thread.parent_id != thread.id:
            forks[thread.parent_id].append(thread)
        else:
            roots.append(thread)
    rows: list[tuple[ThreadInfo, int]] = []
    seen: set[str] = set()

    def walk(thread: ThreadInfo, depth: int) -> None:
        if thread.id in seen:
            return
        seen.add(thread.id)
        rows.append((thread, depth))
        for fork in forks.get(thread.id, []):
            walk(fork, depth + 1)

    for thread in roots:
        walk(thread, 0)
    for thread in threads:  # a cycle of parents (never made by the library): still listed
        walk(thread, 0)
    return rows


def hit_prompt(hit: SearchHit) -> Content:
    """The thread and turn of a hit, and its snippet with the matched words highlighted (the index wraps
    them in [ ])."""
    snippet = Content()
    position = 0
    for match in re.finditer(r"\[([^\]]*)\]", hit.snippet):
        snippet += Content(hit.snippet[position : match.start()])
        snippet += Content.styled(match.group(1), "bold $text-warning")
        position = match.end()
    snippet += Content(hit.snippet[position:])
    return Content.assemble((hit.thread_title or "(untitled)", "bold"), "\n", (f"#{hit.seq} ", "dim"), snippet)


class ThreadOptions(OptionList):
    """The list itself; says when it is near its end, so the next page can be read."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("delete", "screen.delete_thread", "Delete")]

    @dataclass
    class NearEnd(Message):
        pass

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if self.max_scroll_y and new >= self.max_scroll_y - self.size.height:
            self.post_message(self.NearEnd())

    def watch_highlighted(self, highlighted: int | None) -> None:
        super().watch_highlighted(highlighted)
        if highlighted is not None and highlighted >= self.option_count - 10:
            self.post_message(self.NearEnd())


class ThreadList(Vertical):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "leave", "Clear search, back to the prompt", show=False)]

    @dataclass
    class ThreadChosen(Message):
        thread_id: str

    @dataclass
    class Left(Message):
        """Esc: the user is done with the sidebar (the main screen puts the focus back on the prompt)."""

    @dataclass
    class HitChosen(Message):
        hit: SearchHit

    def __init__(self, library: Library) -> None:
        super().__init__(id="sidebar")
        self.library = library
        self.archived = False  # which threads are listed: active or archived
        self.threads: list[ThreadInfo] = []  # as the index lists them (the next page starts after them)
        self.rows: list[ThreadInfo] = []  # as shown: forks under their parents
        self.hits: list[SearchHit] | None = None  # None: not searching
        self.exhausted = False  # every thread is loaded
        self.loaded = False  # the first page arrived (for tests and the startup bench)
        self.first_page = asyncio.Event()  # set once the first page is read (or could not be)
        self.current_id: str | None = None  # the open thread, highlighted when listed
        self._search_timer: Timer | None = None
        self.heading = Label("Threads", id="sidebar-heading")
        self.search = Input(placeholder="Search turns  ctrl+f", id="search")
        self.options = ThreadOptions(id="threads")

    def compose(self) -> ComposeResult:
        yield self.heading
        yield self.search
        yield self.options

    def on_mount(self) -> None:
        self.reload()

    @property
    def highlighted_thread(self) -> ThreadInfo | None:
        index = self.options.highlighted
        if self.hits is None and index is not None and index < len(self.rows):
            return self.rows[index]
        return None

    # threads

    @work(exclusive=True, group="threads")
    async def reload(self, *, keep: int = 0) -> None:
        """Read the list again from the top: `keep` rows at least (so a refresh keeps what was scrolled to)."""
        limit = max(PAGE_SIZE, keep)
        try:
            threads = await self.library.threads(offset=0, limit=limit, archived=self.archived)
        except Exception as error:
            self.notify(error_message(error), title="Cannot read the threads", severity="error", timeout=10)
            return
        finally:
            self.loaded = True
            self.first_page.set()
        self.threads = threads
        self.exhausted = len(threads) < limit
        self._show_threads()

    @work(exclusive=True, group="threads")
    async def load_more(self) -> None:
        if self.exhausted or self.hits is not None:
            return
        page = await self.library.threads(offset=len(self.threads), limit=PAGE_SIZE, archived=self.archived)
        self.exhausted = len(page) < PAGE_SIZE
        known = {thread.id for thread in self.threads}
        new = [thread for thread in page if thread.id not in known]
        self.threads.extend(new)
        rows = arrange(self.threads)
        if [thread.id for thread, _ in rows[: len(self.rows)]] == [thread.id for thread in self.rows]:
            now = utc_now()  # the page adds rows at the end only: append them
            shown = len(self.rows)
            self.rows = [thread for thread, _ in rows]
            self.options.add_options(
                [Option(thread_prompt(thread, now, depth), id=thread.id) for thread, depth in rows[shown:]]
            )
        else:
            self._show_threads()  # a fork listed earlier has found its parent: lay the list out again

    def refresh_threads(self) -> None:
        """Re-read the loaded threads (a turn moved one to the top, or one was renamed)."""
        self.reload(keep=len(self.threads))

    def show_archived(self, archived: bool) -> None:
        self.archived = archived
        self.heading.update("Archived threads" if archived else "Threads")
        self.threads = []
        self.rows = []
        self.options.clear_options()
        self.reload()

    def show_current(self, thread_id: str | None) -> None:
        """Mark the open thread, and highlight it when it is listed."""
        self.current_id = thread_id
        if self.hits is None:
            self._highlight(thread_id)

    def _show_threads(self) -> None:
        highlighted = self.highlighted_thread
        now = utc_now()
        rows = arrange(self.threads)
        self.rows = [thread for thread, _ in rows]
        self.options.clear_options()
        if rows:
            self.options.add_options(
                [Option(thread_prompt(thread, now, depth), id=thread.id) for thread, depth in rows]
            )
        else:
            empty = "No archived threads." if self.archived else "No threads yet."
            self.options.add_option(Option(Content.styled(empty, "dim"), disabled=True))
        # Keep the highlight where the user left it; otherwise on the open thread.
        keep = highlighted.id if highlighted is not None and self.options.has_focus else self.current_id
        self._highlight(keep)

    def _highlight(self, thread_id: str | None) -> None:
        """Highlight that thread, or the first one: a highlighted row is what Enter and the thread commands
        act on."""
        for index, thread in enumerate(self.rows):
            if thread.id == thread_id:
                self.options.highlighted = index
                return
        if self.rows:
            self.options.highlighted = 0

    @on(ThreadOptions.NearEnd)
    def _near_end(self) -> None:
        if not self.exhausted and self.hits is None:
            self.load_more()

    @on(OptionList.OptionSelected, "#threads")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if self.hits is not None:
            self.post_message(self.HitChosen(self.hits[event.option_index]))
        elif event.option.id:
            self.post_message(self.ThreadChosen(event.option.id))

    # search

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
        if not event.value.strip():
            self._end_search()
            return
        self._search_timer = self.set_timer(SEARCH_DELAY_S, lambda: self.run_search(event.value))

    @on(Input.Submitted, "#search")
    def _search_submitted(self) -> None:
        self.options.focus()

    @work(exclusive=True, group="search")
    async def run_search(self, text: str) -> None:
        hits = await self.library.search(text)
        if not self.search.value.strip():
            return  # cleared while the search ran
        self.hits = hits
        self.options.add_class("-searching")  # snippets wrap; thread titles are cut to one line
        self.heading.update(f"{len(hits)} matching turn{'' if len(hits) == 1 else 's'}")
        self.options.clear_options()
        if hits:
            self.options.add_options([Option(hit_prompt(hit), id=f"hit-{hit.turn_id}") for hit in hits])
            self.options.highlighted = 0
        else:
            self.options.add_option(Option(Content.styled("No turn matches.", "dim"), disabled=True))

    def action_leave(self) -> None:
        self.search.value = ""  # Input.Changed ends a search
        self.post_message(self.Left())

    def _end_search(self) -> None:
        if self.hits is None:
            return
        self.hits = None
        self.options.remove_class("-searching")
        self.heading.update("Archived threads" if self.archived else "Threads")
        self._show_threads()
