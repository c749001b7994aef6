"""A thread: a conversation whose state lives on the server and whose record lives in the index.

`Thread.stream()` is the one path every turn takes (`ask`, the CLI and the TUI all use it or its async twin):
record the user's message, run the backend, record its events, close the turn with an honest status. The turn
itself is written once, in assistant/turn_loop.py; `stream` and `astream` only drive it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from typing import TYPE_CHECKING, Any

from assistant.errors import AssistantError
from assistant.events import Event, TurnEnded
from assistant.functions import Approver, FunctionTool, as_tools, function_tool
from assistant.index.records import ThreadChange, ThreadInfo
from assistant.modes import check_mode
from assistant.tool_settings import ToolSettings, parse_tools
from assistant.turn import Turn

if TYPE_CHECKING:
    from assistant.client import Assistant


class Thread:
    def __init__(self, assistant: Assistant, info: ThreadInfo) -> None:
        self._assistant = assistant
        self._id = info.id
        self._known: ThreadInfo | None = info  # None: the index has moved on; read again when next needed
        # Your functions live on this object, not in the index (code cannot be stored): register them again
        # on a thread reopened by id.
        self._functions: dict[str, FunctionTool] = {}
        self.approve: Approver | None = None  # asked before a function that requires approval runs

    def __repr__(self) -> str:
        return f"<Thread {self.id} {self.title!r} mode={self.mode}>"

    @property
    def _info(self) -> ThreadInfo:
        if self._known is None:
            self._known = self._assistant.store.thread(self._id)
        return self._known

    @property
    def info(self) -> ThreadInfo:
        """The thread as the index last showed it (turn count, parent of a fork, …)."""
        return self._info

    @property
    def id(self) -> str:
        return self._id

    @property
    def title(self) -> str:
        return self._info.title

    @property
    def mode(self) -> str:
        return self._info.mode

    @property
    def model(self) -> str:
        return self._info.model

    @property
    def instructions(self) -> str | None:
        return self._info.instructions

    @property
    def tools(self) -> ToolSettings:
        """The hosted tools every turn may use (a turn can override them with `tools=`)."""
        return ToolSettings.from_json(self._info.tools)

    def rename(self, title: str) -> None:
        self._assistant.store.update_thread(self.id, touch=False, title=title)
        self.refresh()

    def set_archived(self, archived: bool) -> None:
        """Archive (hide from the thread list) or restore; nothing is deleted."""
        self._assistant.store.update_thread(self.id, touch=False, archived=archived)
        self.refresh()

    def set_model(self, model: str) -> None:
        """The model for the thread's next turns (a turn can still pass `model=`)."""
        self._assistant.store.update_thread(self.id, touch=False, model=model)
        self.refresh()

    def set_tools(self, tools: Any) -> None:
        """The hosted tools the thread's turns may use (a setting, not activity: the thread keeps its place)."""
        self._assistant.store.update_thread(self.id, touch=False, tools=parse_tools(tools).to_json())
        self.refresh()

    # your functions

    @property
    def functions(self) -> list[FunctionTool]:
        """The functions every turn of this thread offers (a turn adds more with `functions=`)."""
        return list(self._functions.values())

    def add_functions(self, *functions: Any) -> None:
        """Offer these callables (or `function_tool(...)` ones) to every turn of this thread."""
        self._functions.update(as_tools(functions))

    def function(self, target: Any = None, **options: Any) -> Any:
        """Decorator: `@t.function` or `@t.function(requires_approval=True, name=..., description=...)`
        registers a function on the thread and returns it as a FunctionTool (still callable)."""

        def register(function: Any) -> FunctionTool:
            tool: FunctionTool = function_tool(function, **options)
            self._functions[tool.name] = tool
            return tool

        return register(target) if target is not None else register

    def remove_function(self, name: str) -> None:
        self._functions.pop(name, None)

    @property
    def conversation_id(self) -> str | None:
        return self._info.conversation_id

    @property
    def last_response_id(self) -> str | None:
        return self._info.last_response_id

    def refresh(self) -> None:
        """Re-read the thread from the index (another process may have moved it on)."""
        self._known = self._assistant.store.thread(self.id)

    def forget_info(self) -> None:
        """The index has moved the thread on (a turn closed): read it again when next asked, not now."""
        self._known = None

    def history(self) -> list[Turn]:
        """Every turn of the thread from the index, oldest first, with its items."""
        return self._assistant.store.turns(self.id)

    def changes(self) -> list[ThreadChange]:
        """What happened to the thread's state outside its turns: mode switches, rebuilds, forks, repairs."""
        return self._assistant.store.changes(self.id)

    def set_mode(self, mode: str) -> None:
        """Move the thread to another state mode, losing nothing: the index holds every item, and the next
        turn rebuilds whatever server state the new mode needs (a seeded conversation, a chain head)."""
        check_mode(mode)
        if mode == self.mode:
            return
        self._assistant.store.record_change(
            self.id, "mode_changed", f"{self.mode} -> {mode}", mode=mode, conversation_id=None, last_response_id=None
        )
        self.refresh()

    def file_paths(self) -> dict[str, str]:
        """Where the files this thread's answers may cite are on this machine, by file id: the thread's uploads
        (the index keeps a copy of each) and the files the code interpreter made (downloaded beside the index).
        A file with no copy here is left out."""
        paths = {record.id: record.path for record in self._assistant.files.list(self.id) if record.path}
        made = self._assistant.store.container_files(self.id)
        paths.update({record.file_id: record.path for record in made if record.path})
        return paths

    def fork(self, at_turn: int, *, title: str | None = None) -> Thread:
        """A new thread sharing this one's history up to turn `at_turn` (1-based; 0 keeps no turns, e.g. to
        edit the first message), for trying another way from there. Its server state is new: a conversation
        seeded from those turns on its first turn, or in chain mode the response of turn `at_turn` as its
        chain head."""
        turns = self.history()
        if not 0 <= at_turn <= len(turns):
            raise AssistantError(f"Cannot fork at turn {at_turn}: thread {self.id} has turns 1 to {len(turns)}.")
        head = turns[at_turn - 1] if at_turn else None
        chain_head = (
            head.response_id if head and self.mode == "chain" and head.status in ("completed", "incomplete") else None
        )
        info = self._assistant.store.fork_thread(
            self._info, at_turn, title=title or f"{self.title} (fork)".strip(), last_response_id=chain_head
        )
        return Thread(self._assistant, info)

    # one turn

    def ask(self, text: str, **options: Any) -> Turn:
        """Send `text` and wait for the whole answer. Raises AssistantError when the turn fails; the turn is
        recorded either way (`error.turn`)."""
        turn = None
        for event in self.stream(text, **options):
            if isinstance(event, TurnEnded):
                turn = event.turn
        assert turn is not None
        return turn

    def stream(self, text: str, **options: Any) -> Generator[Event, None, None]:
        """Send `text`; yield the turn's events as they arrive, ending with one TurnEnded. Closing the generator
        early cancels the turn, which is recorded as cancelled with what had arrived.

        Options beyond the API's (`model`, `instructions`, `tools`, `max_output_tokens`, ...):
        `functions=[callable, ...]` your own tools for this turn (added to the thread's), `approve=callback`
        for functions that require approval, `max_function_rounds=N`, and `schema=` (a pydantic model class
        or a JSON schema) for a structured answer, parsed into `turn.parsed`. Nothing runs until the first event
        is asked for; closing the iterator cancels the turn, on record."""
        # The turn loop brings the SDK and the backends: loaded when a turn runs, so that the commands that only
        # read or rearrange threads (`assistant show`, `fork`, `mode`) start without them.
        from assistant.turn_loop import TurnLoop, run_turn

        return run_turn(TurnLoop(self, self._assistant, text, options).steps())

    async def aask(self, text: str, **options: Any) -> Turn:
        turn = None
        async for event in self.astream(text, **options):
            if isinstance(event, TurnEnded):
                turn = event.turn
        assert turn is not None
        return turn

    def astream(self, text: str, **options: Any) -> AsyncGenerator[Event, None]:
        """The async twin of `stream` (the same turn, driven with awaits): async functions are awaited, sync ones
        run in worker threads, and the approval callback may be a coroutine (a dialog). Nothing runs until the
        first event is asked for; closing the iterator (`aclose`) cancels the turn, on record."""
        from assistant.turn_loop import TurnLoop, arun_turn  # as in `stream`

        return arun_turn(TurnLoop(self, self._assistant, text, options).steps())
