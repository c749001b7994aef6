"""The files panel: the thread's files for file search. Add them by path (several at once, quoted when they
hold spaces) or from a directory tree; watch each upload and its indexing; see per file why one failed (the
others go ahead); remove one. Every call runs in a worker: uploads and indexing may take a while, and the
panel stays responsive (more files can be queued meanwhile, and Esc closes it while they go on).
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import (
    Button,
    DataTable,
    DirectoryTree,
    Input,
    Label,
    ProgressBar,
    Static,
)

from assistant import FileOutcome, FileProgress, FileRecord
from tui.library import Library
from tui.notices import error_message

STEP_WORDS = {
    "checking": "checking",
    "uploading": "uploading",
    "attaching": "attaching",
    "indexing": "indexing",
    "completed": "indexed",
    "failed": "failed",
}


def split_paths(text: str) -> list[str]:
    """Paths typed in the input: separated by spaces, quoted (or backslash-escaped) when they hold one."""
    try:
        return shlex.split(text)
    except ValueError:  # an unclosed quote: take the text as one path
        return [text.strip()] if text.strip() else []


def size_text(count: int) -> str:
    if count < 1024:
        return f"{count:,} B"
    size = count / 1024
    if size < 1024:
        return f"{size:,.1f} KB"
    return f"{size / 1024:,.1f} MB"


def status_text(record: FileRecord) -> Content:
    match record.status:
        case "completed":
            return Content.styled("indexed", "$text-success")
        case "in_progress":
            return Content.styled("indexing…", "$text-warning")
        case "failed" | "cancelled":
            return Content.styled(
                f"{record.status}: {record.last_error or 'the store could not index it'}", "$text-error"
            )
    return Content(record.status or "–")  # noqa: RUF001 (an en dash, as typeset, for "no status")


class FilesScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Close"),
        Binding("ctrl+b", "browse", "Browse"),
        Binding("delete", "remove_file", "Remove file", show=False),
    ]

    def __init__(
        self,
        library: Library,
        thread_id: str | None,
        title: str,
        *,
        ensure_thread: Callable[[], Awaitable[str]],
        on_added: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """`ensure_thread` gives the thread's id, creating the thread when it is still a draft (files belong to
        a thread's vector store); `on_added` runs after files were added (the screen turns file search on)."""
        super().__init__(classes="dialog", id="files-screen")
        self.library = library
        self.thread_id = thread_id
        self.thread_title = title
        self.ensure_thread = ensure_thread
        self.on_added = on_added
        self.records: list[FileRecord] = []
        self.outcomes: list[FileOutcome] = []  # of the last add, for tests and the error list
        self._adding = asyncio.Lock()  # one add at a time: the first makes the thread's vector store

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box", id="files-box"):
            yield Label(f"Files for file search · {self.thread_title}", classes="dialog-title")
            with Horizontal(id="files-add"):
                yield Input(
                    placeholder="Path of a file to add (several: space between, quotes around spaces)", id="file-path"
                )
                yield Button("Add", id="add-file", variant="primary")
                yield Button("Browse", id="browse")
            yield DirectoryTree(Path.cwd(), id="file-tree")
            with Horizontal(id="files-progress"):
                yield ProgressBar(show_eta=False, id="upload-progress")
                yield Label("", id="upload-step")
            yield Static("", id="file-errors")
            yield DataTable(id="files", cursor_type="row", zebra_stripes=True)
            yield Label(
                "Enter adds · ctrl+b browses folders · Del removes the selected file · Esc closes",
                classes="dialog-hint",
            )

    def on_mount(self) -> None:
        self.query_one("#file-tree").display = False
        self.query_one("#files-progress").display = False
        self.query_one("#file-errors").display = False
        table = self.query_one("#files", DataTable)
        table.add_columns("File", "Size", "In the vector store")
        table.display = False
        self.query_one("#file-path", Input).focus()
        self.load()

    # the list

    @work(group="list", exclusive=True)
    async def load(self) -> None:
        if self.thread_id is None:
            self._show_records([])
            return
        try:
            records = await self.library.files(self.thread_id)
        except Exception as error:
            self.notify(error_message(error), title="Cannot list the files", severity="error", timeout=10)
            return
        self._show_records(records)

    def _show_records(self, records: list[FileRecord]) -> None:
        self.records = records
        table = self.query_one("#files", DataTable)
        cursor = table.cursor_row
        table.clear()
        for record in records:
            table.add_row(record.filename, size_text(record.bytes), status_text(record), key=record.id)
        table.display = bool(records)
        if records:
            table.move_cursor(row=min(cursor, len(records) - 1))

    # adding

    @on(Input.Submitted, "#file-path")
    @on(Button.Pressed, "#add-file")
    def _add_typed(self) -> None:
        field = self.query_one("#file-path", Input)
        paths = split_paths(field.value)
        if not paths:
            self.notify("Type the path of a file, or browse for one with ctrl+b.", timeout=4)
            return
        field.value = ""
        self.add(paths)

    @on(DirectoryTree.FileSelected, "#file-tree")
    def _add_chosen(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        self.add([str(event.path)])

    @on(Button.Pressed, "#browse")
    def action_browse(self) -> None:
        tree = self.query_one("#file-tree", DirectoryTree)
        tree.display = not tree.display
        (tree if tree.display else self.query_one("#file-path")).focus()

    @work(group="add")  # not exclusive: files chosen while others upload wait their turn
    async def add(self, paths: list[str]) -> None:
        async with self._adding:
            try:
                if self.thread_id is None:
                    self.thread_id = await self.ensure_thread()
                self._progress(FileProgress(paths[0], "checking", 0, len(paths)))
                outcomes = await self.library.add_files(self.thread_id, paths, self._progress)
            except Exception as error:
                self.notify(error_message(error), title="Cannot add the files", severity="error", timeout=15)
                self.query_one("#files-progress").display = False
                return
            self.outcomes = outcomes
            self._show_outcomes(outcomes)
            if self.on_added and any(outcome.status != "failed" for outcome in outcomes):
                await self.on_added()
        self.load()

    def _progress(self, step: FileProgress) -> None:
        if not self.is_attached:
            return
        self.query_one("#files-progress").display = True
        bar = self.query_one("#upload-progress", ProgressBar)
        bar.update(total=step.total, progress=step.done)
        name = Path(step.path).name
        self.query_one("#upload-step", Label).update(
            f"{STEP_WORDS.get(step.step, step.step)} {name} · {step.done} of {step.total} done"
        )

    def _show_outcomes(self, outcomes: list[FileOutcome]) -> None:
        failed = [outcome for outcome in outcomes if outcome.error]
        added = sum(1 for outcome in outcomes if outcome.status == "completed")
        summary = f"{added} of {len(outcomes)} added"
        if failed:
            summary += f", {len(failed)} with a problem"
        self.query_one("#upload-step", Label).update(summary)
        errors = self.query_one("#file-errors", Static)
        errors.display = bool(failed)
        errors.update(
            Content("\n").join(
                Content.assemble(("✗ " if outcome.status == "failed" else "… ", "bold"), outcome.error or "")
                for outcome in failed
            )
        )
        errors.set_class(any(outcome.status == "failed" for outcome in failed), "-failed")

    # removing

    @work(group="remove")
    async def action_remove_file(self) -> None:
        table = self.query_one("#files", DataTable)
        if self.thread_id is None or not self.records or not table.display:
            return
        record = self.records[table.cursor_row]
        try:
            await self.library.remove_file(self.thread_id, record.id)
        except Exception as error:
            self.notify(error_message(error), title="Cannot remove the file", severity="error", timeout=10)
            return
        self.notify(f"Removed {record.filename} from this thread's file search.", timeout=3)
        self.load()
