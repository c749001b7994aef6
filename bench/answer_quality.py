"""How often the local engines answer correctly, and whether a tool turn's answer ever contradicts the tool.

    python bench/answer_quality.py [--engines llama,reference] [--temperature T] [--top-p P] [--show]
        [--budgets full,turns=2,turns=4,tokens=512] [--seed N] [--max-output-tokens N] [--categories ...]

49 fixed questions with expected facts, in seven categories: arithmetic with code on, facts from an uploaded file
with file search on, web search over an offline corpus (pages this script writes), follow-ups that need the
history (one exchange back), long follow-ups (a fact stated, then 2-6 unrelated turns, then a question that needs
the fact), general knowledge, small talk. Each runs through a `LocalServer` with the openai SDK over loopback
HTTP, as any client would (model `gpt-4.1-mini`: the server answers it with its local model).

`--budgets` runs the llama engine once per history budget, for tuning `llama.HISTORY_TURNS` / `PROMPT_BUDGET` on
this fixed set: `default` (the engine's own), `full` (no limit of turns), `turns=N` (at most N earlier turns),
`tokens=N` (a prompt budget of N tokens), or both joined by `+` (`turns=4+tokens=1024`). `--seed` fixes the llama
engine's sampling, so two runs with the same settings answer the same.

Per engine and category it prints the share answered correctly (every expected fact in the answer; for small
talk, a reply that does not repeat an earlier answer word for word) and, for tool turns, the share whose answer
contradicts the tool output: the model's prose (the answer without the engine's quoted results) states a number
that neither the tool output nor the question holds, or a quote line of its own ("The code printed: ..."). Target:
0 contradictions and >= 90% correct on tool turns.

`--show` prints every question with its answer. `--temperature` / `--top-p` send those sampling settings with
every request (default: the engine's own), for tuning them on this fixed set.
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openai import OpenAI

from assistant.pricing import MODEL_PRICES
from assistant.server import LocalServer
from assistant.server.engines import EngineRegistry
from assistant.server.engines.grounding import QUOTE_OPENERS, numbers_in, without_quotes
from assistant.server.engines.registry import registry_for
from assistant.server.engines.smollm2 import SMOLLM2_MODEL

MODEL = "gpt-4.1-mini"
CODE = [{"type": "code_interpreter", "container": {"type": "auto"}}]
WEB = [{"type": "web_search"}]
# What the tools returned, in the response (the API leaves it out unless asked).
INCLUDE: list[Any] = ["code_interpreter_call.outputs", "file_search_call.results", "web_search_call.action.sources"]

PLAN = """# Falcon project plan

The Falcon project launches on 14 March 2026.
The project lead is Mira Okafor.
The budget is 2.4 million euros.
Falcon runs on 12 servers in Lisbon.
The first customer is Northwind Traders.
The code name of the mobile app is Kestrel.
The support hotline opens at 8 am every weekday.
"""

PAGES = {
    "zephyr-bridge.md": (
        "https://travel.example/zephyr-bridge",
        "The Zephyr Bridge",
        "The Zephyr Bridge is 1,850 metres long. It crosses the Silver River and opened in 1998.",
    ),
    "glimmer-lake.md": (
        "https://nature.example/glimmer-lake",
        "Glimmer Lake",
        "Glimmer Lake is 74 metres deep. It is home to the rare blue trout.",
    ),
    "orbis-phone.md": (
        "https://tech.example/orbis-x2",
        "Orbis X2 phone review",
        "The Orbis X2 phone has a battery of 5200 mAh and costs 649 dollars.",
    ),
    "tallis-festival.md": (
        "https://events.example/tallis-festival",
        "Tallis Music Festival",
        "The Tallis Music Festival takes place every July in Bergen.",
    ),
    "copper-comet.md": (
        "https://space.example/copper-comet",
        "Copper Comet",
        "The Copper Comet returns every 76 years. Its next visit is in 2061.",
    ),
    "marlow-library.md": (
        "https://city.example/marlow-library",
        "Marlow Library",
        "Marlow Library holds 320,000 books and was founded in 1887.",
    ),
    "quill-language.md": (
        "https://dev.example/quill",
        "The Quill programming language",
        "Quill is a programming language created by Ines Duarte in 2019.",
    ),
}


@dataclass(frozen=True)
class Question:
    category: str
    text: str
    expected: Sequence[str]  # regular expressions, all of which the answer must match (case-insensitive)
    tools: str = ""  # "code" | "file" | "web" | ""
    before: Sequence[str] = ()  # earlier turns of the same conversation
    no_repeat: bool = False  # small talk: must not repeat an earlier answer word for word


QUESTIONS: list[Question] = [
    *[
        Question("arithmetic", text, [answer], "code")
        for text, answer in [
            ("What is 17*23? Use code.", r"\b391\b"),
            ("Compute 123*45 with code.", r"\b5535\b"),
            ("What is 2**10? Use code.", r"\b1024\b"),
            ("Use code: what is 987+654?", r"\b1641\b"),
            ("What is 1000-7*13? Use code.", r"\b909\b"),
            ("Calculate 144/12 with code.", r"\b12(\.0)?\b"),
            ("What is (3+4)*5? Use code.", r"\b35\b"),
        ]
    ],
    *[
        Question("file", text, [answer], "file")
        for text, answer in [
            ("When does the Falcon project launch?", r"14 March 2026"),
            ("Who is the project lead of Falcon?", r"Mira Okafor"),
            ("What is the budget of the Falcon project?", r"2\.4 million"),
            ("How many servers does Falcon run on?", r"\b12\b"),
            ("Who is the first customer of Falcon?", r"Northwind"),
            ("What is the code name of the Falcon mobile app?", r"Kestrel"),
            ("When does the support hotline open?", r"8 am"),
        ]
    ],
    *[
        Question("web", text, [answer], "web")
        for text, answer in [
            ("Search the web: how long is the Zephyr Bridge?", r"1,?850"),
            ("Search the web: how deep is Glimmer Lake?", r"\b74\b"),
            ("Look up the battery of the Orbis X2 phone.", r"5200"),
            ("Search the web: where does the Tallis Music Festival take place?", r"Bergen"),
            ("Search the web: when is the next visit of the Copper Comet?", r"2061"),
            ("Search the web: how many books does Marlow Library hold?", r"320,?000"),
            ("Search the web: who created the Quill programming language?", r"Ines Duarte"),
        ]
    ],
    *[
        Question("follow-up", text, [answer], before=before)
        for before, text, answer in [
            (["My name is Ada."], "What is my name?", r"\bAda\b"),
            (["I live in Porto."], "Which city do I live in?", r"Porto"),
            (["My favourite colour is green."], "What is my favourite colour?", r"green"),
            (["I have two cats."], "How many cats do I have?", r"\b(two|2)\b"),
            (["My dog is called Rex."], "What is my dog called?", r"\bRex\b"),
            (["I work as a nurse."], "What is my job?", r"nurse"),
            (["I was born in 1990."], "In which year was I born?", r"1990"),
        ]
    ],
    # A fact, unrelated turns, then the question: whether the fact is still in the prompt, and still used.
    *[
        Question("long follow-up", text, [answer], before=before)
        for before, text, answer in [
            (
                ["My name is Ana.", "What is the capital of Italy?", "How many legs does a spider have?"],
                "What is my name?",
                r"\bAna\b",
            ),
            (
                [
                    "My dog is called Bruno.",
                    "What do cows drink?",
                    "Name a yellow fruit.",
                    "What is the opposite of hot?",
                ],
                "What is my dog called?",
                r"\bBruno\b",
            ),
            (
                [
                    "I live in Oslo.",
                    "What colour is grass?",
                    "How many hours are in a day?",
                    "What do bees make?",
                    "Tell me a fun fact about the ocean.",
                ],
                "Which city do I live in?",
                r"\bOslo\b",
            ),
            (
                [
                    "My favourite colour is purple.",
                    "What is the largest ocean?",
                    "How many wheels does a bicycle have?",
                    "What is the capital of Spain?",
                    "Name a musical instrument.",
                    "What sound does a cat make?",
                ],
                "What is my favourite colour?",
                r"purple",
            ),
            (
                [
                    "I work as a baker.",
                    "Which planet is closest to the sun?",
                    "What is ice made of?",
                    "Name a bird that cannot fly.",
                    "How many months are in a year?",
                    "What do plants need to grow?",
                    "What is the capital of Japan?",
                ],
                "What is my job?",
                r"\bbak(er|ing|e)\b",
            ),
            (
                ["My sister is called Lena.", "What is the tallest animal?", "What colour is a banana?"],
                "What is my sister called?",
                r"\bLena\b",
            ),
            (
                [
                    "I have three brothers.",
                    "What is the boiling point of water in Celsius?",
                    "Name a fruit that is red.",
                    "Which animal says moo?",
                    "What is the capital of Germany?",
                ],
                "How many brothers do I have?",
                r"\b(three|3)\b",
            ),
        ]
    ],
    *[
        Question("general", text, [answer])
        for text, answer in [
            ("What is the capital of France?", r"\bParis\b"),
            ("How many days are in a week?", r"\b(seven|7)\b"),
            ("What colour is the sky on a clear day?", r"\bblue\b"),
            ("What is the largest planet in our solar system?", r"Jupiter"),
            ("What do bees make?", r"honey"),
            ("What is the freezing point of water in Celsius?", r"\b0\b|zero"),
            ("Which animal is known as the king of the jungle?", r"\blions?\b"),
        ]
    ],
    *[
        Question("small talk", text, [answer], before=before, no_repeat=True)
        for before, text, answer in [
            ((), "Hello!", r"\b(hello|hi|hey|greetings|help)\b"),
            (["What is the capital of France?"], "Thanks!", r"welcome|glad|happy|pleasure|anytime|help"),
            ((), "How are you?", r"\b(good|well|fine|great|thanks|thank you|help|doing)\b"),
            ((), "Good morning!", r"\b(morning|hello|hi|help)\b"),
            (["How many days are in a week?"], "Thank you very much.", r"welcome|glad|happy|pleasure|anytime|help"),
            ((), "Nice to meet you.", r"\b(nice|pleased|too|meet|glad|help)\b"),
            ((), "Goodbye!", r"\b(bye|goodbye|care|see you|day)\b"),
        ]
    ],
]


@dataclass
class Tally:
    asked: int = 0
    correct: int = 0
    tool_turns: int = 0
    contradictions: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)


def write_corpus(folder: Path) -> None:
    for name, (url, title, text) in PAGES.items():
        (folder / name).write_text(f"---\nurl: {url}\n---\n# {title}\n\n{text}\n", encoding="utf-8")


def vector_store(client: OpenAI, folder: Path) -> str:
    plan = folder / "falcon-plan.md"
    plan.write_text(PLAN, encoding="utf-8")
    uploaded = client.files.create(file=plan.open("rb"), purpose="assistants")
    store = client.vector_stores.create(name="falcon", file_ids=[uploaded.id])
    client.vector_stores.files.poll(uploaded.id, vector_store_id=store.id, poll_interval_ms=25)
    return store.id


def tool_output_text(response: Any) -> str:
    """What this turn's tools returned, as text: logs, file passages, page snippets and titles."""
    parts = []
    for item in response.output:
        data = item.model_dump()
        if item.type == "code_interpreter_call":
            parts += [data.get("code") or ""] + [o.get("logs", "") for o in data.get("outputs") or []]
        elif item.type == "file_search_call":
            parts += [r.get("text", "") for r in data.get("results") or []]
        elif item.type == "web_search_call":
            found = {source.get("url") for source in (data.get("action") or {}).get("sources") or []}
            parts += [f"{title} {text}" for url, title, text in PAGES.values() if url in found]
    return "\n".join(parts)


_IMITATION = re.compile("|".join(re.escape(opener) for opener in QUOTE_OPENERS))


def contradicts(answer: str, tool_output: str, question: str) -> bool:
    """The model's prose states a number the tool output and the question do not hold, or imitates the
    engine's quote lines."""
    prose = without_quotes(answer)
    if _IMITATION.search(prose):
        return True
    known = numbers_in(tool_output) | numbers_in(question)
    stated = {number for number in numbers_in(prose) if not re.fullmatch(r"\d", number)}  # list markers
    return not stated <= known


def ask(
    client: OpenAI, question: Question, store_id: str, sampling: dict[str, float], max_output_tokens: int
) -> tuple[str, Any, list[str]]:
    previous = None
    earlier: list[str] = []
    for text in question.before:
        turn = client.responses.create(
            model=MODEL, input=text, previous_response_id=previous, max_output_tokens=max_output_tokens, **sampling
        )
        previous = turn.id
        earlier.append(turn.output_text)
    tools: list[dict[str, Any]] = {"code": CODE, "web": WEB, "": []}.get(question.tools, [])
    if question.tools == "file":
        tools = [{"type": "file_search", "vector_store_ids": [store_id]}]
    response = client.responses.create(
        model=MODEL,
        input=question.text,
        previous_response_id=previous,
        tools=tools,
        max_output_tokens=max(300, max_output_tokens),
        include=INCLUDE,  # type: ignore[arg-type]
        **sampling,
    )
    return response.output_text, response, earlier


def llama_settings(budget: str) -> dict[str, int | None]:
    """`LlamaEngine` keyword arguments for a `--budgets` entry: "default" (the engine's), "full" (no limit of turns,
    the default token budget), "turns=N", "tokens=N" or "turns=N+tokens=M"."""
    settings: dict[str, int | None] = {}
    for part in budget.split("+"):
        name, _, value = part.partition("=")
        if name == "default" and not value:
            pass
        elif name == "full" and not value:
            settings["history_turns"] = None
        elif name in ("turns", "tokens") and value.isdigit():
            settings["history_turns" if name == "turns" else "prompt_budget"] = int(value)
        else:
            raise SystemExit(f"Unknown budget {part!r}: expected default, full, turns=N or tokens=N (joined by +).")
    return settings


def engines_for(engine: str, budget: str, seed: int | None) -> EngineRegistry:
    if engine != "llama":
        return registry_for(engine)
    from assistant.server.engines.llama import (
        LlamaEngine,  # imports llama_cpp: only when it is benched
    )

    registry = EngineRegistry()
    registry.serve_locally(
        LlamaEngine(seed=seed, **llama_settings(budget)),
        SMOLLM2_MODEL,  # type: ignore[arg-type]
        also_for=MODEL_PRICES,
    )
    return registry


def run_engine(
    engine: str,
    budget: str,
    questions: Sequence[Question],
    folder: Path,
    sampling: dict[str, float],
    seed: int | None,
    max_output_tokens: int,
    show: bool,
) -> dict[str, Tally]:
    tallies: dict[str, Tally] = defaultdict(Tally)
    label = engine_label(engine, budget)
    with (
        LocalServer(db_path=folder / f"{label}.db", engines=engines_for(engine, budget, seed)) as server,
        OpenAI(base_url=server.base_url, api_key="bench", max_retries=0, timeout=600) as client,
    ):
        store_id = vector_store(client, folder)
        for question in questions:
            started = time.perf_counter()
            answer, response, earlier = ask(client, question, store_id, sampling, max_output_tokens)
            tally = tallies[question.category]
            tally.seconds += time.perf_counter() - started
            tally.asked += 1
            # The question echoed inside an answer ("Reference reply to: Hello!") answers nothing; a greeting
            # answered with the same greeting does.
            reply = answer if answer.strip() == question.text else answer.replace(question.text, "")
            right = all(re.search(pattern, reply, re.IGNORECASE) for pattern in question.expected)
            if question.no_repeat and any(answer.strip() == before.strip() for before in earlier):
                right = False
            tally.correct += right
            contradiction = False
            if question.tools:
                tally.tool_turns += 1
                contradiction = contradicts(answer, tool_output_text(response), question.text)
                tally.contradictions += contradiction
            if not right or contradiction:
                tally.failures.append(f"{question.text!r} -> {answer!r}")
            if show:
                mark = "ok " if right else "BAD"
                print(
                    f"[{label}] {mark}{' CONTRADICTS' if contradiction else ''} {question.text!r} -> "
                    f"{answer!r} ({response.model})",
                    flush=True,
                )
    return tallies


def engine_label(engine: str, budget: str) -> str:
    return f"{engine}[{budget}]" if engine == "llama" else engine


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "—"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="llama,reference")
    parser.add_argument("--temperature", type=float)
    parser.add_argument("--top-p", type=float)
    parser.add_argument("--categories", help="only these categories, comma-separated (for tuning)")
    parser.add_argument(
        "--budgets",
        default="default",
        help="llama history budgets to compare: default, full, turns=N, tokens=N, joined by + (comma-separated)",
    )
    parser.add_argument("--seed", type=int, default=7, help="the llama engine's sampling seed (fixed: repeatable)")
    parser.add_argument(
        "--max-output-tokens",
        type=int,
        default=200,
        help="output limit of the earlier turns (tool answers get at least 300 for their quotes)",
    )
    parser.add_argument("--show", action="store_true", help="print every question and answer")
    args = parser.parse_args(argv)
    wanted = args.categories.split(",") if args.categories else None
    questions = [question for question in QUESTIONS if wanted is None or question.category in wanted]
    sampling = {
        key: value for key, value in (("temperature", args.temperature), ("top_p", args.top_p)) if value is not None
    }
    categories = list(dict.fromkeys(question.category for question in questions))
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        corpus = folder / "corpus"
        corpus.mkdir()
        write_corpus(corpus)
        os.environ["ASSISTANT_WEB_CORPUS"] = str(corpus)  # the servers' web search reads these pages
        runs = [
            (engine, budget)
            for engine in args.engines.split(",")
            for budget in (args.budgets.split(",") if engine == "llama" else ["full"])
        ]
        results = {
            engine_label(engine, budget): run_engine(
                engine, budget, questions, folder, sampling, args.seed, args.max_output_tokens, args.show
            )
            for engine, budget in runs
        }

    print(
        f"\n{len(questions)} questions; sampling: {sampling or 'engine defaults'}; llama seed {args.seed}; "
        f"earlier turns' max_output_tokens {args.max_output_tokens}"
    )
    width = max(len("engine"), *(len(label) for label in results))
    print(
        f"{'engine':<{width}} {'category':<14} {'correct':>8} {'tool turns':>10} {'contradict':>10} {'s/question':>10}"
    )
    for engine, tallies in results.items():
        for category in categories:
            tally = tallies[category]
            share = percent(tally.correct, tally.asked)
            print(
                f"{engine:<{width}} {category:<14} {tally.correct:>3}/{tally.asked:<2} {share:>4}"
                f" {tally.tool_turns:>10} {percent(tally.contradictions, tally.tool_turns):>10}"
                f" {tally.seconds / max(tally.asked, 1):>10.1f}"
            )
        tool = [tallies[c] for c in categories if tallies[c].tool_turns]
        correct = sum(t.correct for t in tool)
        turns = sum(t.tool_turns for t in tool)
        wrong = sum(t.contradictions for t in tool)
        if not turns:
            continue
        print(
            f"{engine:<{width}} {'tool turns':<14} {correct:>3}/{turns:<2} {percent(correct, turns):>4}"
            f" {turns:>10} {percent(wrong, turns):>10}   (target: >= 90% correct, 0% contradict)"
        )
    for engine, tallies in results.items():
        failures = [line for category in categories for line in tallies[category].failures]
        if failures and args.show:
            print(f"\n{engine}: {len(failures)} answers wrong or contradicting")


if __name__ == "__main__":
    main()
