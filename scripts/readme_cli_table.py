"""The README's table of commands, made from the `assistant` command's own argument parser.

Each row is a command as its `--help` states it: its arguments (from the parser's actions) and its description.
So the README and `--help` cannot say different things: change a command's help in `assistant/cli.py`, then run

    python scripts/readme_cli_table.py          # rewrites the table in README.md
    python scripts/readme_cli_table.py --check  # exit 1 if README.md's table is not the parser's

tests/test_readme_cli.py runs the check.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BEGIN = "<!-- cli-table: made by scripts/readme_cli_table.py from assistant/cli.py's parser; do not edit by hand -->"
END = "<!-- /cli-table -->"
REGENERATE = "python scripts/readme_cli_table.py"


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The parser's subcommands by name, in the order they were added ({} when it has none)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def value(action: argparse.Action) -> str:
    """What an argument takes, as usage writes it: its choices (a|b), else its metavar, else its name."""
    if action.choices is not None and action.metavar is None:
        return "|".join(str(choice) for choice in action.choices)
    if isinstance(action.metavar, str):
        return action.metavar
    return action.dest.upper()


def argument(action: argparse.Action) -> str:
    """One argument as usage writes it, without the brackets of an optional one."""
    if not action.option_strings:  # positional
        name = value(action)
        if action.nargs in ("+", "*"):
            name += "..."
        return name
    flag = max(action.option_strings, key=len)  # the long form: it says what it is
    return flag if action.nargs == 0 else f"{flag} {value(action)}"


def optional(text: str, action: argparse.Action) -> str:
    bracketed = text if action.required else f"[{text}]"
    if isinstance(action, argparse._AppendAction):
        bracketed += "..."
    return bracketed


def synopsis(parser: argparse.ArgumentParser) -> str:
    """`prog ARG... [--option VALUE]...`: positionals first, then options in the order they were added, the
    members of a mutually exclusive group together as [--a | --b]. --help is left out (every command has it)."""
    grouped = {id(action): group for group in parser._mutually_exclusive_groups for action in group._group_actions}
    actions = [action for action in parser._actions if not isinstance(action, argparse._HelpAction)]
    parts = [parser.prog]
    for action in actions:
        if not action.option_strings and not isinstance(action, argparse._SubParsersAction):
            part = argument(action)
            parts.append(f"[{part}]" if action.nargs == "?" else part)
    written: set[int] = set()
    for action in actions:
        if not action.option_strings or id(action) in written:
            continue
        group = grouped.get(id(action))
        if group is None:
            parts.append(optional(argument(action), action))
            continue
        members = [member for member in group._group_actions if not isinstance(member, argparse._HelpAction)]
        written.update(id(member) for member in members)
        either = " | ".join(argument(member) for member in members)
        parts.append(f"({either})" if group.required else f"[{either}]")
    return " ".join(parts)


def rows(parser: argparse.ArgumentParser) -> list[tuple[str, str]]:
    """(synopsis, description) for every command; a command with its own subcommands gets one row for each."""
    found: list[tuple[str, str]] = []
    for sub in subcommands(parser).values():
        nested = subcommands(sub)
        if nested:
            found += rows(sub)
        else:
            found.append((synopsis(sub), sub.description or ""))
    return found


def cell(text: str) -> str:
    return text.replace("|", "\\|")  # a bare | would end the Markdown table's cell, even inside `code`


def table(parser: argparse.ArgumentParser) -> str:
    lines = ["| command | what it does |", "|---|---|"]
    lines += [f"| `{cell(usage)}` | {cell(description)} |" for usage, description in rows(parser)]
    return "\n".join(lines)


def with_table(readme: str, new_table: str) -> str:
    """The README's text with the part between the markers replaced by `new_table`."""
    start, end = readme.find(BEGIN), readme.find(END)
    if start < 0 or end < start:
        raise ValueError(f"README.md has no {BEGIN!r} ... {END!r} section to put the table in")
    return f"{readme[: start + len(BEGIN)]}\n{new_table}\n{readme[end:]}"


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))  # this checkout's `assistant`, also when another is installed
    from assistant.cli import build_parser

    readme = README.read_text(encoding="utf-8")
    wanted = with_table(readme, table(build_parser()))
    if argv == ["--check"]:
        if wanted != readme:
            print(f"README.md's command table differs from the parser in assistant/cli.py: run {REGENERATE}")
            return 1
        return 0
    if argv:
        print(__doc__, file=sys.stderr)
        return 2
    README.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
