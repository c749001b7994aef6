"""What a Chat Completions server has shown about function calling, and what the user is told about it.

Many servers behind the Chat fallback have no function calling, or only when started for it: vLLM refuses
`tools` unless started with `--enable-auto-tool-choice`, Ollama for a model without tool support, llama.cpp's
`llama-server` without `--jinja`; llama-cpp-python's server (without `--chat_format chatml-function-calling`)
takes them and ignores them. Either way the turn still gets an answer, and the user is told once per thread which
tools could not be offered:

- refused: the error named tools (a 4xx or 5xx whose message says "tool"); the round is sent again without
  them, and later rounds and turns for that model are sent without them from the start;
- ignored: a completed turn offered tools and the model called none, and no turn has yet seen that model call one.

Kept for the backend's lifetime (one Assistant): what a server can do does not change between turns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import openai

from assistant.errors import redact
from assistant.events import ToolsUnavailable

# Statuses a server answers a request it cannot serve with, as opposed to auth, rate limits or a missing model.
_REFUSAL_STATUSES = (400, 422, 500, 501)
# What a turn's notice points to, for how to start a server with function calling.
_HINT = (
    "llama-cpp-python's server needs --chat_format chatml-function-calling, vLLM --enable-auto-tool-choice: "
    'see "Servers the fallback was tried on" in docs/compare.md'
)


def refuses_tools(error: openai.APIStatusError) -> bool:
    """Whether an error answers a request's `tools` as a server without function calling does."""
    return error.status_code in _REFUSAL_STATUSES and "tool" in _said(error).lower()


def _said(error: openai.APIStatusError) -> str:
    """The server's own words in an error, on one line (not the SDK's "Error code: 400 - {...}")."""
    body = error.body if isinstance(error.body, dict) else {}
    return redact(" ".join(str(body.get("message") or error.message).split()))[:300]


def tool_names(params: Mapping[str, Any]) -> list[str]:
    """The names of the tools a Chat request offers."""
    return [str((tool.get("function") or {}).get("name") or tool.get("type")) for tool in params.get("tools") or []]


@dataclass
class ToolSupport:
    refused: dict[str, str] = field(default_factory=dict)  # model -> the server's words when it refused tools
    used: set[str] = field(default_factory=set)  # models seen calling a tool
    told: set[str] = field(default_factory=set)  # threads told which tools could not be offered

    def refusal(
        self, thread_id: str, model: str, names: list[str], server: str, error: openai.APIStatusError
    ) -> list[ToolsUnavailable]:
        """Take the server's refusal of `names`: remember it for the model, and the notice for the thread."""
        self.refused[model] = _said(error)
        return self.notice(thread_id, model, names, server)

    def notice(self, thread_id: str, model: str, names: list[str], server: str) -> list[ToolsUnavailable]:
        """Why `names` were not offered (the model's tools were refused), once per thread."""
        if thread_id in self.told or model not in self.refused:
            return []
        self.told.add(thread_id)
        return [
            ToolsUnavailable(
                tools=names,
                message=(
                    f"{server} refused the tools offered ({', '.join(names)}): {self.refused[model]}; the turn was "
                    f"answered without them. {_HINT}"
                ),
            )
        ]

    def answered(
        self, thread_id: str, model: str, names: list[str], server: str, *, called: bool
    ) -> list[ToolsUnavailable]:
        """After a completed turn that offered `names`: a notice, once per thread, when the model called none of
        them and has never been seen calling one."""
        if called:
            self.used.add(model)
            return []
        if not names or model in self.used or thread_id in self.told:
            return []
        self.told.add(thread_id)
        return [
            ToolsUnavailable(
                tools=names,
                message=(
                    f"the model answered without calling the tools offered ({', '.join(names)}); if {server} has no "
                    f"function calling, it ignores them. {_HINT}"
                ),
            )
        ]
