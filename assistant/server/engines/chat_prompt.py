"""The prompt a chat model sees: canonical items as chat messages, fitted into a token budget.

Messages keep their roles (developer -> system). Tool call items become text in the user turn they answer, quoted
by the same rules the reference engine answers with (`tool_rules.quote_tool_result`), so a model that cannot
call tools still reads exactly what the tools returned. The quotes the engine appended to its earlier answers
are left out of them (`grounding.without_quotes`): the model reads the results in the user turn, and never as
words of its own that it would then imitate.

History is left out in whole turns (a user message and what follows it up to the next one), so a tool exchange,
which lives in its user turn, is kept or left out whole. Two budgets apply, oldest turns going first:
- `history_turns`: at most that many earlier turns are kept before the latest, since a small model answers worse
  from a long history it cannot use (the engine's default is measured: see `llama.HISTORY_TURNS`);
- the token budget: a small model's context is short and its prefill slow, so a prompt over budget loses its
  oldest turns, `DROP_TURNS` at a time (a stable cut keeps the prompt prefix, and so llama.cpp's prefix cache,
  valid for several turns).
The system message is always kept and says how many messages were left out. The latest user turn is never
dropped; if it alone is over budget its middle is cut, with a marker. Nothing fails for being long.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..items import item_text
from .grounding import without_quotes
from .tool_rules import TOOL_RESULT_TYPES, quote_tool_result

DROP_TURNS = 2
CUT_MARKER = "\n[... {} characters left out to fit the context window ...]\n"

Message = dict[str, str]  # {"role": ..., "content": ...}
Tokenize = Callable[[list[Message]], list[int]]  # the chat template applied and tokenized


@dataclass(frozen=True)
class FittedPrompt:
    messages: list[Message]
    tokens: list[int]
    dropped_messages: int  # oldest messages left out
    cut_characters: int  # characters cut from the middle of the latest user turn


def chat_messages(instructions: str | None, items: Sequence[Mapping[str, Any]], default_system: str) -> list[Message]:
    """System message first (the request's instructions, or the model's own default), then the conversation."""
    messages: list[Message] = [{"role": "system", "content": instructions or default_system}]
    question = ""
    for item in items:
        kind = item.get("type")
        if kind == "message":
            role = {"developer": "system"}.get(str(item.get("role")), str(item.get("role")))
            text = item_text(item)
            if role == "user":
                question = text
            elif role == "assistant":
                text = without_quotes(text)
            messages.append({"role": role, "content": text})
        elif kind in TOOL_RESULT_TYPES:
            _add_to_user_turn(messages, _tool_result_text(item, question))
        elif text := item_text(item):
            _add_to_user_turn(messages, f"{kind}: {text}")  # function calls and their outputs
    return messages


def _tool_result_text(item: Mapping[str, Any], question: str) -> str:
    # Phrased after measuring SmolLM2-135M: told only "The code printed: 391" it writes code of its own; shown the
    # code, the output and "answer briefly" it answers "The output is: 391".
    kind = str(item["type"])
    parts = []
    code = item.get("code")
    if kind == "code_interpreter_call" and isinstance(code, str) and code.strip():
        code = code.strip()
        parts.append(f"The Python code `{code}` ran." if "\n" not in code else f"This Python code ran:\n{code}")
    parts.append("".join(segment.text for segment in quote_tool_result(item, question)))
    parts.append(f"Answer briefly from this {kind.removesuffix('_call').replace('_', ' ')} result.")
    return "\n\n".join(parts)


def _add_to_user_turn(messages: list[Message], text: str) -> None:
    if messages[-1]["role"] == "user":
        messages[-1] = {"role": "user", "content": f"{messages[-1]['content']}\n\n{text}"}
    else:
        messages.append({"role": "user", "content": text})


def fit_prompt(
    messages: list[Message], tokenize: Tokenize, budget: int, history_turns: int | None = None
) -> FittedPrompt:
    """`messages` (system first) within `budget` tokens and `history_turns` earlier turns (None: no limit),
    dropping and cutting as the module docstring says."""
    system, rest = messages[0], messages[1:]
    starts = turn_starts(rest)
    latest = len(starts) - 1
    first = 0 if history_turns is None else max(0, latest - history_turns)
    while True:
        dropped = starts[first]
        fitted = [_with_notice(system, dropped), *rest[dropped:]]
        tokens = tokenize(fitted)
        if len(tokens) <= budget:
            return FittedPrompt(fitted, tokens, dropped, 0)
        if first + DROP_TURNS > latest:
            break
        first += DROP_TURNS
    # Only the latest turn is left: cut the middle of its longest message until it fits.
    dropped = starts[latest]
    kept = [_with_notice(system, dropped), *rest[dropped:]]
    tokens = tokenize(kept)
    longest = max(range(len(kept)), key=lambda i: len(kept[i]["content"]))
    original = kept[longest]["content"]
    cut = 0
    while len(tokens) > budget and cut < len(original):
        over = len(tokens) - budget
        cut = min(len(original), cut + max(64, over * 4))  # ~4 characters a token, then check again
        head, tail = original[: (len(original) - cut) // 2], original[(len(original) - cut) // 2 + cut :]
        kept[longest] = {**kept[longest], "content": head + CUT_MARKER.format(cut) + tail}
        tokens = tokenize(kept)
    return FittedPrompt(kept, tokens, dropped, cut)


def turn_starts(conversation: Sequence[Message]) -> list[int]:
    """Where each turn of `conversation` (the messages after the system one) begins: at 0, then at every user
    message that does not follow another user message. Tool results are part of their user turn."""
    return [0] + [
        i
        for i in range(1, len(conversation))
        if conversation[i]["role"] == "user" and conversation[i - 1]["role"] != "user"
    ]


def _with_notice(system: Message, dropped: int) -> Message:
    if not dropped:
        return system
    notice = (
        f"(The {dropped} oldest messages of this conversation were left out to fit the context window; "
        "say so if the user asks about them.)"
    )
    return {"role": "system", "content": f"{system['content']}\n\n{notice}"}
