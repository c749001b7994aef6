"""Replay conversations through the Responses API and the Chat Completions fallback, and measure the difference.

`compare(assistant, conversations)` runs every conversation twice at once, on worker threads: in a thread in
conversation mode (Responses: only the new message goes out each turn) and in a thread in chat mode (Chat
Completions: the whole history goes out each turn, hosted tools run on the client). Both threads are ordinary
threads of the index, titled "compare: <name> (responses)" / "(chat)", and the pair is recorded as a comparison
(`IndexStore.comparisons()`) before its first turn, so the app can find them later and `assistant ask` never
takes one for the latest conversation (not even while the comparison runs, or after it was interrupted).

Each turn's numbers are the ones the index records for every turn (request bytes as sent on the wire, tokens
from the API's usage, time to first token, latency), so both sides are measured the same way. Cost uses the
price table (`assistant.pricing.load_prices`: built in, or a user's file); hosted tools that the Chat fallback
ran on the client are not charged, as no API ran them.

Similarity of the two answers: `difflib.SequenceMatcher(None, a, b).ratio()` over the answers normalised to
lower-case words separated by single spaces (punctuation and layout ignored): 1.0 is the same words in the same
order, 0.0 nothing in common. It is a rough, deterministic measure of "did the answer change", not of meaning.
"""

from __future__ import annotations

import difflib
import re
import secrets
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from assistant.compare_input import ComparisonInput, Conversation, Skipped
from assistant.errors import AssistantError
from assistant.pricing import PriceTable, load_prices, local_estimate
from assistant.turn import Turn

if TYPE_CHECKING:
    from assistant.client import Assistant
    from assistant.thread import Thread

BACKENDS = ("responses", "chat")
MODE_OF_BACKEND = {"responses": "conversation", "chat": "chat"}
SIMILARITY_MEASURE = (
    "difflib.SequenceMatcher ratio of the two answers as lower-case words joined by single "
    "spaces (0 = nothing in common, 1 = the same words in the same order)"
)
_WORD = re.compile(r"\w+")

Progress = Callable[[int, int], None]  # (turns done, turns in all)


@dataclass(frozen=True)
class TurnMetrics:
    turn: int  # 1-based
    user: str
    status: str
    request_bytes: int
    input_tokens: int
    cached_tokens: int
    output_tokens: int
    ttft_ms: float | None
    latency_ms: float | None
    cost_usd: float | None
    tool_calls: int
    tool_call_types: dict[str, int]
    text: str
    error: str | None = None
    answered_by: str = ""  # the model that answered (the response's `model`)
    # A local model's turn costs $0; this is what it would have cost at the comparison model's prices (or
    # gpt-4.1-mini's): an estimate, shown as one. None for a turn a hosted model answered.
    estimate_usd: float | None = None


@dataclass(frozen=True)
class Totals:
    turns: int
    request_bytes: int
    input_tokens: int
    cached_tokens: int
    output_tokens: int
    latency_ms: float
    mean_ttft_ms: float | None
    cost_usd: float | None  # None when no turn could be priced
    tool_calls: int
    estimate_usd: float | None = None  # the local turns' estimate (see TurnMetrics)


@dataclass(frozen=True)
class BackendRun:
    backend: str  # responses | chat
    thread_id: str
    turns: list[TurnMetrics]

    @property
    def totals(self) -> Totals:
        return totals_of(self.turns)


@dataclass(frozen=True)
class ConversationResult:
    conversation: Conversation
    runs: dict[str, BackendRun]  # by backend
    similarity: list[float]  # per turn
    comparison_id: str | None = None

    @property
    def mean_similarity(self) -> float | None:
        return sum(self.similarity) / len(self.similarity) if self.similarity else None


@dataclass(frozen=True)
class ComparisonReport:
    run_id: str
    model: str
    source: str | None
    created_at: str
    conversations: list[ConversationResult]
    skipped: list[Skipped] = field(default_factory=list)

    def totals(self, backend: str) -> Totals:
        return totals_of([turn for result in self.conversations for turn in result.runs[backend].turns])

    def to_dict(self) -> dict[str, Any]:
        """The JSON report (a contract for other tools: see docs/compare.md)."""
        return {
            "version": 1,
            "run_id": self.run_id,
            "model": self.model,
            "source": self.source,
            "created_at": self.created_at,
            "similarity_measure": SIMILARITY_MEASURE,
            "skipped": [asdict(skip) for skip in self.skipped],
            "conversations": [
                {
                    "name": result.conversation.name,
                    "comparison_id": result.comparison_id,
                    "line": result.conversation.line,
                    "instructions": result.conversation.instructions,
                    "turns": [
                        {"turn": number, "user": user, "reference": reference, "similarity": similarity}
                        for number, (user, reference, similarity) in enumerate(
                            zip(
                                result.conversation.turns,
                                _references(result.conversation),
                                result.similarity,
                                strict=True,
                            ),
                            start=1,
                        )
                    ],
                    "similarity": result.mean_similarity,
                    **{
                        backend: {
                            "thread_id": run.thread_id,
                            "turns": [asdict(turn) for turn in run.turns],
                            "totals": asdict(run.totals),
                        }
                        for backend, run in result.runs.items()
                    },
                }
                for result in self.conversations
            ],
            "totals": {backend: asdict(self.totals(backend)) for backend in BACKENDS},
        }


def _references(conversation: Conversation) -> list[str | None]:
    """A recorded answer (or None) for each turn, one per turn: a Conversation made in code may leave
    `references` empty."""
    missing = len(conversation.turns) - len(conversation.references)
    return [*conversation.references, *[None] * missing][: len(conversation.turns)]


def similarity(first: str, second: str) -> float:
    """See the module docstring."""
    a = " ".join(_WORD.findall(first.lower()))
    b = " ".join(_WORD.findall(second.lower()))
    if not a and not b:
        return 1.0
    return round(difflib.SequenceMatcher(None, a, b, autojunk=False).ratio(), 4)


def totals_of(turns: Sequence[TurnMetrics]) -> Totals:
    ttfts = [turn.ttft_ms for turn in turns if turn.ttft_ms is not None]
    costs = [turn.cost_usd for turn in turns if turn.cost_usd is not None]
    estimates = [turn.estimate_usd for turn in turns if turn.estimate_usd is not None]
    return Totals(
        turns=len(turns),
        request_bytes=sum(turn.request_bytes for turn in turns),
        input_tokens=sum(turn.input_tokens for turn in turns),
        cached_tokens=sum(turn.cached_tokens for turn in turns),
        output_tokens=sum(turn.output_tokens for turn in turns),
        latency_ms=round(sum(turn.latency_ms or 0.0 for turn in turns), 3),
        mean_ttft_ms=round(sum(ttfts) / len(ttfts), 3) if ttfts else None,
        cost_usd=sum(costs) if costs else None,
        tool_calls=sum(turn.tool_calls for turn in turns),
        estimate_usd=sum(estimates) if estimates else None,
    )


def compare(
    assistant: Assistant,
    conversations: Sequence[Conversation] | ComparisonInput,
    *,
    model: str | None = None,
    tools: Any = None,
    prices: PriceTable | None = None,
    progress: Progress | None = None,
    max_workers: int = 8,
) -> ComparisonReport:
    """Run each conversation through both backends at once, record both threads and the comparison in the index,
    and return the report. A turn that fails is reported with its status and error; the conversation goes on."""
    source = conversations.source if isinstance(conversations, ComparisonInput) else None
    skipped = list(conversations.skipped) if isinstance(conversations, ComparisonInput) else []
    items = list(conversations.conversations if isinstance(conversations, ComparisonInput) else conversations)
    model = model or assistant.settings.model
    prices = prices or load_prices()
    run_id = "run_" + secrets.token_hex(8)
    total_turns = 2 * sum(len(conversation.turns) for conversation in items)
    done = 0
    lock = threading.Lock()

    def one_turn_done() -> None:
        nonlocal done
        with lock:
            done += 1
            if progress:
                progress(done, total_turns)

    if progress:
        progress(0, total_turns)
    pairs = [_start(assistant, conversation, model, tools, run_id, source) for conversation in items]
    jobs = [
        (conversation, backend, threads[backend])
        for conversation, (threads, _) in zip(items, pairs, strict=True)
        for backend in BACKENDS
    ]
    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(jobs)))) as pool:
        futures = [
            pool.submit(_run, thread, backend, conversation, prices, one_turn_done)
            for conversation, backend, thread in jobs
        ]
        runs = [future.result() for future in futures]

    results = []
    for position, (conversation, (_, comparison_id)) in enumerate(zip(items, pairs, strict=True)):
        by_backend = {run.backend: run for run in runs[2 * position : 2 * position + 2]}
        scores = [
            similarity(first.text, second.text)
            for first, second in zip(by_backend["responses"].turns, by_backend["chat"].turns, strict=True)
        ]
        result = ConversationResult(conversation, by_backend, scores, comparison_id)
        assistant.store.set_comparison_summary(
            comparison_id,
            {
                "similarity": result.mean_similarity,
                **{backend: asdict(run.totals) for backend, run in by_backend.items()},
            },
        )
        results.append(result)
    return ComparisonReport(run_id, model, source, datetime.now(UTC).isoformat(timespec="seconds"), results, skipped)


def _start(
    assistant: Assistant, conversation: Conversation, model: str, tools: Any, run_id: str, source: str | None
) -> tuple[dict[str, Thread], str]:
    """A conversation's two threads, by backend, recorded as a comparison before either runs."""
    threads = {
        backend: assistant.thread(
            title=f"compare: {conversation.name} ({backend})",
            mode=MODE_OF_BACKEND[backend],
            model=model,
            instructions=conversation.instructions,
            tools=tools,
        )
        for backend in BACKENDS
    }
    comparison_id = assistant.store.add_comparison(
        run_id=run_id,
        name=conversation.name,
        source=source,
        responses_thread_id=threads["responses"].id,
        chat_thread_id=threads["chat"].id,
        summary={},
    )
    return threads, comparison_id


def _run(
    thread: Thread, backend: str, conversation: Conversation, prices: PriceTable, turn_done: Callable[[], None]
) -> BackendRun:
    metrics = []
    for number, text in enumerate(conversation.turns, start=1):
        try:
            turn: Turn | None = thread.ask(text)
            error = None
        except AssistantError as failure:
            turn, error = getattr(failure, "turn", None), str(failure)
        metrics.append(_metrics(number, text, turn, error, backend, prices, estimate_at=thread.model))
        turn_done()
    return BackendRun(backend, thread.id, metrics)


def _metrics(
    number: int,
    user: str,
    turn: Turn | None,
    error: str | None,
    backend: str,
    prices: PriceTable,
    estimate_at: str | None = None,
) -> TurnMetrics:
    if turn is None:  # failed before the turn was recorded (it always is; this is belt and braces)
        return TurnMetrics(number, user, "failed", 0, 0, 0, 0, None, None, None, 0, {}, "", error)
    types: dict[str, int] = {}
    for item in turn.output_items:
        if item.type.endswith("_call"):
            types[item.type] = types.get(item.type, 0) + 1
    # Hosted tools the Chat fallback ran on the client cost nothing; function calls are never charged per call.
    billable = types if backend == "responses" else {}
    return TurnMetrics(
        turn=number,
        user=user,
        status=turn.status,
        request_bytes=turn.request_bytes,
        input_tokens=turn.usage.input_tokens,
        cached_tokens=turn.usage.cached_tokens,
        output_tokens=turn.usage.output_tokens,
        ttft_ms=round(turn.ttft_ms, 3) if turn.ttft_ms is not None else None,
        latency_ms=round(turn.latency_ms, 3) if turn.latency_ms is not None else None,
        cost_usd=prices.cost(
            turn.model, turn.usage.input_tokens, turn.usage.cached_tokens, turn.usage.output_tokens, billable
        ),
        tool_calls=sum(types.values()),
        tool_call_types=types,
        text=turn.text,
        error=error or turn.error,
        answered_by=turn.model,
        estimate_usd=local_estimate(
            turn.model, turn.usage.input_tokens, turn.usage.cached_tokens, turn.usage.output_tokens, estimate_at
        ),
    )
