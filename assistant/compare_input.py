"""The conversations `assistant compare` replays, read from a script or from logged Chat Completions transcripts.

Accepted input:

- YAML (`.yaml`, `.yml`): a list of user turns (one conversation), or `{turns: [...]}`, or a list of / a
  `conversations:` list of `{name, turns, instructions?}`.
- JSONL (any other name), one JSON value per line, mixed freely:
  - `{"messages": [...]}`: a Chat Completions transcript as people log it. Its user turns are replayed; the
    recorded assistant answers are kept for reference; a system/developer message becomes the instructions.
  - `{"name": ..., "turns": [...]}`: a scripted conversation.
  - `"text"` or `{"user": "text"}`: one more user turn of a conversation named after the file.

Bad input: a line that is not JSON (or not one of these shapes, or nested too deeply to read) is reported with
its line number and skipped; a transcript with no user turn is skipped with the reason; an empty file, one that
is not UTF-8 text, YAML with aliases (`*name`: a few lines of them can stand for billions of values), YAML nested
too deeply to read, or a file with nothing to replay, is an error (`CompareInputError`).
"""

from __future__ import annotations

import json
import reprlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class CompareInputError(ValueError):
    """The input cannot be compared at all (missing, empty, nothing to replay)."""


class AliasesRefused(yaml.YAMLError):
    pass


class NoAliasLoader(yaml.SafeLoader):
    """YAML's safe loader without aliases: each `*name` would stand for its anchor's whole value, so nine lines
    of nested aliases stand for a billion strings (a "billion laughs"), which took 35 s to run out of memory.
    A conversation script never needs them."""

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]  # types-PyYAML leaves it unannotated
            raise AliasesRefused(
                f"it uses a YAML alias (*{event.anchor} at line {event.start_mark.line + 1}, "
                f"column {event.start_mark.column + 1}); write each value out instead"
            )
        # `index` is a mapping value's key node, or a sequence position: the stubs' `int` is too narrow.
        return super().compose_node(parent, index)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Conversation:
    name: str
    turns: list[str]  # the user's messages, in order
    references: list[str | None] = field(default_factory=list)  # a transcript's recorded answer to each turn
    instructions: str | None = None
    line: int | None = None  # where it was in a JSONL file


@dataclass(frozen=True)
class Skipped:
    reason: str
    line: int | None = None
    name: str | None = None


@dataclass(frozen=True)
class ComparisonInput:
    conversations: list[Conversation]
    skipped: list[Skipped]  # malformed lines, transcripts with no user turn
    source: str


def load_conversations(path: str | Path) -> ComparisonInput:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CompareInputError(f"cannot read {path}: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise CompareInputError(f"{path} is not UTF-8 text (byte {error.start}): give it YAML or JSONL") from None
    if not text.strip():
        raise CompareInputError(f"{path} is empty: give it user turns (YAML) or one transcript per line (JSONL)")
    loaded = _from_yaml(text, path) if path.suffix.lower() in (".yaml", ".yml") else _from_jsonl(text, path)
    if not loaded.conversations:
        reasons = "; ".join(_describe(skip) for skip in loaded.skipped) or "no user turns"
        raise CompareInputError(f"{path} has no conversation to replay ({reasons})")
    return loaded


def _describe(skip: Skipped) -> str:
    where = f"line {skip.line}" if skip.line else (skip.name or "input")
    return f"{where}: {skip.reason}"


def _from_yaml(text: str, path: Path) -> ComparisonInput:
    try:
        data = yaml.load(text, Loader=NoAliasLoader)
    except AliasesRefused as error:
        raise CompareInputError(f"{path} is refused: {error}") from None
    except yaml.YAMLError as error:
        raise CompareInputError(f"{path} is not valid YAML: {error}") from None
    except RecursionError:
        raise CompareInputError(f"{path} is nested too deeply to read as YAML") from None
    if isinstance(data, dict) and "conversations" in data:
        data = data["conversations"]
    if isinstance(data, dict) or (isinstance(data, list) and all(isinstance(entry, str) for entry in data)):
        data = [data]
    if not isinstance(data, list):
        raise CompareInputError(f"{path}: expected a list of user turns or of conversations")
    conversations, skipped = [], []
    for number, entry in enumerate(data, start=1):
        if isinstance(entry, list):
            entry = {"turns": entry}
        name = f"{path.stem}" if len(data) == 1 else f"{path.stem} #{number}"
        try:
            conversations.append(_script(entry, name))
        except ValueError as error:
            skipped.append(Skipped(str(error), name=name))
    return ComparisonInput(conversations, skipped, str(path))


def _from_jsonl(text: str, path: Path) -> ComparisonInput:
    conversations: list[Conversation] = []
    skipped: list[Skipped] = []
    loose_turns: list[str] = []  # bare user turns, for one conversation named after the file
    first_loose_line: int | None = None
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            skipped.append(Skipped(f"not valid JSON ({error.msg} at column {error.colno})", line=line_number))
            continue
        except ValueError as error:  # valid JSON Python will not read, e.g. an integer of over 4,300 digits
            skipped.append(Skipped(f"cannot be read ({error})", line=line_number))
            continue
        except RecursionError:
            skipped.append(Skipped("nested too deeply to read", line=line_number))
            continue
        try:
            if isinstance(value, str) or (isinstance(value, dict) and set(value) == {"user"}):
                turn = value if isinstance(value, str) else value["user"]
                if not isinstance(turn, str) or not turn.strip():
                    raise ValueError("an empty user turn")
                loose_turns.append(turn)
                first_loose_line = first_loose_line or line_number
            elif isinstance(value, dict) and "messages" in value:
                conversations.append(
                    _transcript(value, f"{value.get('name') or path.stem + ' line ' + str(line_number)}", line_number)
                )
            elif isinstance(value, dict) and "turns" in value:
                conversations.append(
                    _script(value, str(value.get("name") or f"{path.stem} line {line_number}"), line_number)
                )
            else:
                raise ValueError('expected {"messages": [...]}, {"turns": [...]}, {"user": "..."} or a string')
        except ValueError as error:
            skipped.append(Skipped(str(error), line=line_number))
    if loose_turns:
        conversations.append(Conversation(path.stem, loose_turns, [None] * len(loose_turns), line=first_loose_line))
    return ComparisonInput(conversations, skipped, str(path))


def _script(entry: Any, name: str, line: int | None = None) -> Conversation:
    if not isinstance(entry, dict):
        raise ValueError("a conversation must be a list of user turns or an object with 'turns'")
    turns = entry.get("turns")
    if not isinstance(turns, list) or not turns:
        raise ValueError("no user turns ('turns' must be a non-empty list)")
    texts = []
    for turn in turns:
        text = turn.get("user") if isinstance(turn, dict) else turn
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"every turn must be a non-empty string (got {_SHORT.repr(turn)})")
        texts.append(text)
    instructions = entry.get("instructions")
    return Conversation(
        str(entry.get("name") or name),
        texts,
        [None] * len(texts),
        instructions if isinstance(instructions, str) else None,
        line,
    )


# A value quoted in a message: a glimpse, however big the value.
_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 60
_SHORT.maxlist = _SHORT.maxdict = 3
_SHORT.maxlevel = 2


def _transcript(entry: dict[str, Any], name: str, line: int) -> Conversation:
    messages = entry["messages"]
    if not isinstance(messages, list):
        raise ValueError("'messages' must be a list")
    instructions: list[str] = []
    turns: list[str] = []
    references: list[str | None] = []
    for message in messages:
        if not isinstance(message, dict):
            raise ValueError("every message must be an object")
        role, text = message.get("role"), _message_text(message.get("content"))
        if role in ("system", "developer") and text:
            instructions.append(text)
        elif role == "user" and text:
            turns.append(text)
            references.append(None)
        elif role == "assistant" and turns and text:
            # The recorded answer to the latest user turn (tool-call rounds in between add to it).
            references[-1] = f"{references[-1]}\n{text}" if references[-1] else text
    if not turns:
        raise ValueError("the transcript has no user turn to replay")
    return Conversation(name, turns, references, "\n\n".join(instructions) or None, line)


def _message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: only text can be replayed
        return "".join(
            part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""
