"""Sync check: does the server still hold what the index says a thread's server state is?

The index is the source of truth and server state is a cache of it. `check()` compares a conversation's items on
the server with the index item by item (and, in chain mode, that the chain head still resolves) and lists the
differences; `fix=True` rebuilds the server state from the index: a new conversation seeded with the thread's
history, or (chain mode) a cleared head so the next turn sends the history and becomes the new head.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import openai

from assistant.backends.responses import seed_conversation

if TYPE_CHECKING:
    from assistant.client import Assistant


@dataclass(frozen=True)
class Finding:
    kind: str  # missing_on_server | missing_in_index | unresolved_id
    detail: str


@dataclass
class DoctorReport:
    thread_id: str
    mode: str
    findings: list[Finding] = field(default_factory=list)
    repaired: str | None = None  # what --fix did

    @property
    def ok(self) -> bool:
        return not self.findings


def check(assistant: Assistant, thread_id: str, *, fix: bool = False) -> DoctorReport:
    thread = assistant.store.thread(thread_id)
    report = DoctorReport(thread_id=thread.id, mode=thread.mode)
    history = assistant.store.replay_items(thread.id)
    client = assistant.client
    if thread.mode == "conversation" and thread.conversation_id:
        try:
            server_items = [
                item.to_dict(mode="json", warnings=False)
                for item in client.conversations.items.list(thread.conversation_id, order="asc")
            ]
        except openai.NotFoundError:
            report.findings.append(Finding("unresolved_id", f"conversation {thread.conversation_id} no longer exists"))
        else:
            report.findings.extend(compare(history, server_items))
        if fix and report.findings:
            conversation_id = seed_conversation(client, thread, history)
            assistant.store.record_change(
                thread.id,
                "repaired",
                f"server state rebuilt as {conversation_id}: " + "; ".join(f.detail for f in report.findings[:5]),
                conversation_id=conversation_id,
            )
            report.repaired = f"new conversation {conversation_id} seeded with {len(history)} items from the index"
    elif thread.mode == "chain" and thread.last_response_id:
        try:
            client.responses.retrieve(thread.last_response_id)
        except openai.NotFoundError:
            report.findings.append(Finding("unresolved_id", f"response {thread.last_response_id} no longer exists"))
        if fix and report.findings:
            assistant.store.record_change(thread.id, "repaired", report.findings[0].detail, last_response_id=None)
            report.repaired = "chain head cleared: the next turn sends the history and becomes the new head"
    return report


def signature(item: dict[str, Any]) -> tuple[Any, ...]:
    """What must match between the index and the server for an item to be the same item. Input messages are
    compared by role and text (the index records them before the server gives them ids); everything else by
    its server id."""
    if item.get("type") == "message" and item.get("role") != "assistant":
        texts = tuple(part.get("text") for part in item.get("content") or [])
        return ("message", item.get("role"), texts)
    if item.get("type") == "function_call_output":  # sent by the library without an id; the server adds one
        return ("function_call_output", item.get("call_id"))
    return (item.get("type"), item.get("id"))


def compare(index_items: list[dict[str, Any]], server_items: list[dict[str, Any]]) -> list[Finding]:
    mine = [signature(item) for item in index_items]
    theirs = [signature(item) for item in server_items]
    findings = []
    matcher = difflib.SequenceMatcher(a=mine, b=theirs, autojunk=False)
    for operation, a_start, a_end, b_start, b_end in matcher.get_opcodes():
        if operation in ("delete", "replace"):
            for position in range(a_start, a_end):
                findings.append(
                    Finding(
                        "missing_on_server",
                        f"index item {position + 1} ({describe(index_items[position])}) "
                        "is not in the server's conversation",
                    )
                )
        if operation in ("insert", "replace"):
            for position in range(b_start, b_end):
                findings.append(
                    Finding(
                        "missing_in_index",
                        f"server item {position + 1} ({describe(server_items[position])}) is not in the index",
                    )
                )
    return findings


def describe(item: dict[str, Any]) -> str:
    kind = item.get("type", "item")
    if kind == "message":
        text = " ".join(part.get("text", "") for part in item.get("content") or [])
        short = text if len(text) <= 40 else text[:37] + "..."
        return f"{item.get('role')} message {short!r}"
    return f"{kind} {item.get('id', '')}".strip()
