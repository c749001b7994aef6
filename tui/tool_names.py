"""The hosted tools a thread can turn on, as the app names them: in the tools dialog, the status bar and the
sidebar's badges."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ToolName:
    name: str  # the API's name, as `Thread.set_tools` takes it
    title: str  # in the dialog and the command palette
    short: str  # in the status bar
    badge: str  # one letter on a sidebar row
    help: str


TOOLS = (
    ToolName("web_search", "Web search", "web", "W", "search the web and cite the pages"),
    ToolName("file_search", "File search", "files", "F", "search the thread's files (add them with ctrl+l)"),
    ToolName("code_interpreter", "Code interpreter", "code", "C", "run Python in a sandbox; files it makes are saved"),
)
BY_NAME = {tool.name: tool for tool in TOOLS}


def tools_text(enabled: list[str]) -> str:
    """ "web files code", or "no tools"."""
    return " ".join(BY_NAME[name].short for name in enabled if name in BY_NAME) or "no tools"


def tool_badges(enabled: list[str]) -> str:
    return "".join(BY_NAME[name].badge for name in enabled if name in BY_NAME)
