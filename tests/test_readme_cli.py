"""The README's table of commands is the argument parser's: `--help` and the README cannot say different things."""

from __future__ import annotations

import importlib.util
from itertools import takewhile
from pathlib import Path
from types import ModuleType

from assistant.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent


def readme_cli_table() -> ModuleType:
    """scripts/readme_cli_table.py, which makes the table (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("readme_cli_table", ROOT / "scripts" / "readme_cli_table.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_table_is_the_parsers() -> None:
    script = readme_cli_table()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert script.with_table(readme, script.table(build_parser())) == readme, (
        f"README.md's command table differs from assistant/cli.py's parser: run {script.REGENERATE}"
    )


def test_a_changed_help_or_option_makes_the_table_differ() -> None:
    script = readme_cli_table()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    parser = build_parser()
    commands = script.subcommands(parser)
    commands["ask"].description = "Something else."
    assert script.with_table(readme, script.table(parser)) != readme

    parser = build_parser()
    script.subcommands(parser)["threads"].add_argument("--oldest-first", action="store_true")
    table = script.table(parser)
    assert "| `assistant threads [--limit N] [--archived] [--json] [--oldest-first]` |" in table
    assert script.with_table(readme, table) != readme


def test_every_command_and_action_has_a_row_with_its_description() -> None:
    script = readme_cli_table()
    rows = dict(script.rows(build_parser()))
    # a command's words: those before its first argument ("files add", "ask")
    commands = {
        " ".join(takewhile(lambda word: word.isalpha() and word.islower(), usage.split()[1:])) for usage in rows
    }
    assert commands == {
        *("ask", "threads", "show", "search", "serve", "mode", "fork", "doctor", "migrate", "compare", "config"),
        *("files add", "files list", "files rm"),
    }
    assert all(description.endswith(".") for description in rows.values())
    # Usage as people write it: choices as a|b, a mutually exclusive group as [--a | --b], a repeatable option
    # with ..., a required option without brackets; the Markdown table escapes the |.
    table = script.table(build_parser())
    assert "`assistant ask TEXT [--thread ID \\| --new] [--model M]" in table
    assert "[--mode conversation\\|chain\\|local\\|chat]" in table
    assert "[--allow-origin ORIGIN]..." in table
    assert "| `assistant fork ID --at N [--title T]` |" in table
    assert "| `assistant doctor [ID] [--fix] [--json]` |" in table
