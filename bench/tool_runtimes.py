"""What the hosted-tool runtimes cost: file search over 10k chunks and the code interpreter's sandbox.

    python bench/tool_runtimes.py [--chunks 10000] [--queries 300] [--calls 300]

- file search: `FileSearchIndex.search` (what vector stores and the Chat fallback call) against raw bm25s on the
  same chunks in the same run (same tokenizer, top 10), and `vector_stores.search` over HTTP through the SDK.
- code interpreter: cold start (a new sandboxed process and its first call) and a warm call (one more call in a
  running session), against a bare `python` subprocess (spawn, and a round trip to a persistent one).

Targets (issue #3): search p50 < 20 ms, warm call p50 < 20 ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import bm25s
from bm25s.tokenization import Tokenizer

from assistant.server import LocalServer
from assistant.tools import DocumentChunk, FileSearchIndex, PythonSandbox, SandboxLimits, detect_isolation

WORDS = [
    "capital",
    "city",
    "river",
    "mountain",
    "engine",
    "battery",
    "protocol",
    "server",
    "request",
    "latency",
    "cache",
    "index",
    "vector",
    "token",
    "python",
    "module",
    "function",
    "thread",
    "process",
    "memory",
    "network",
    "socket",
    "file",
    "folder",
    "archive",
    "report",
    "revenue",
    "sales",
    "quarter",
    "growth",
    "market",
    "customer",
    "product",
    "design",
    "system",
    "storage",
    "database",
    "query",
    "result",
    "score",
    "ranking",
    "search",
    "answer",
    "question",
    "document",
    "chapter",
    "section",
    "paragraph",
    "sentence",
    "word",
    "letter",
    "number",
    "table",
    "chart",
    "image",
    "plot",
    "figure",
    "container",
    "sandbox",
    "limit",
    "policy",
    "security",
    "access",
    "error",
    "warning",
    "status",
    "progress",
]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def timed(action: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def synthetic_chunks(count: int, rng: random.Random) -> list[str]:
    """Chunks of 80-160 words drawn Zipf-like from a 20k-word vocabulary (a few very common words, a long tail),
    which is how word frequencies in real prose fall."""
    vocabulary = WORDS + [f"term{n}" for n in range(20_000 - len(WORDS))]
    weights = [1 / rank for rank in range(1, len(vocabulary) + 1)]
    return [" ".join(rng.choices(vocabulary, weights, k=rng.randint(80, 160))) for _ in range(count)]


def bench_search(chunks: list[str], queries: list[str]) -> list[tuple[str, list[float]]]:
    index = FileSearchIndex(
        [DocumentChunk(f"file-{i // 100}", f"f{i // 100}.txt", text) for i, text in enumerate(chunks)]
    )
    tokenizer = Tokenizer(stopwords="en")
    retriever = bm25s.BM25()
    retriever.index(tokenizer.tokenize(chunks, return_as="ids", show_progress=False), show_progress=False)

    def raw(query: str) -> None:
        ids = tokenizer.tokenize([query], update_vocab=False, return_as="ids", show_progress=False)
        retriever.retrieve(ids, k=10, show_progress=False)

    ours: list[float] = []
    bare: list[float] = []
    for query in queries:  # interleaved, so both see the same machine noise
        ours += timed(lambda query=query: index.search(query, 10), 1)
        bare += timed(lambda query=query: raw(query), 1)
    return [("FileSearchIndex.search (top 10)", ours), ("raw bm25s retrieve (top 10)", bare)]


def bench_search_over_http(chunks: list[str], queries: list[str]) -> tuple[str, list[float]]:
    """The same text as files in a vector store, re-chunked by the store (static 120-token chunks, no overlap:
    about as many chunks as the direct benchmark)."""
    from openai import OpenAI

    from assistant.tools import ChunkingStrategy, chunk_text

    with tempfile.TemporaryDirectory() as folder, LocalServer(db_path=Path(folder) / "server.db") as server:
        client = OpenAI(base_url=server.base_url, api_key="sk-bench", max_retries=0)
        store = client.vector_stores.create(name="bench")
        strategy = {"type": "static", "static": {"max_chunk_size_tokens": 120, "chunk_overlap_tokens": 0}}
        file_ids = []
        stored_chunks = 0
        for start in range(0, len(chunks), 100):
            text = "\n".join(chunks[start : start + 100])
            stored_chunks += len(chunk_text(text, ChunkingStrategy.from_api(strategy)))
            file_ids.append(client.files.create(file=(f"part{start}.txt", text.encode()), purpose="assistants").id)
        client.vector_stores.file_batches.create_and_poll(
            vector_store_id=store.id, file_ids=file_ids, chunking_strategy=strategy, poll_interval_ms=50
        )
        client.vector_stores.search(store.id, query=queries[0])  # builds the store's index
        samples = [
            timed(lambda q=q: client.vector_stores.search(store.id, query=q, max_num_results=10), 1)[0] for q in queries
        ]
    return (f"vector_stores.search over HTTP, SDK ({stored_chunks} chunks)", samples)


def bench_sandbox(calls: int, cold_starts: int) -> list[tuple[str, list[float]]]:
    with tempfile.TemporaryDirectory() as folder:
        cold: list[float] = []
        for number in range(cold_starts):
            sandbox = PythonSandbox(Path(folder) / f"cold{number}", SandboxLimits())
            cold += timed(lambda sandbox=sandbox: sandbox.run("pass"), 1)
            sandbox.close()
        sandbox = PythonSandbox(Path(folder) / "warm", SandboxLimits())
        sandbox.run("x = 0")
        warm = timed(lambda: sandbox.run("x += 1"), calls)
        sandbox.close()

    bare_cold = timed(lambda: subprocess.run([sys.executable, "-I", "-c", "pass"], check=True), cold_starts)
    echo = subprocess.Popen(
        [
            sys.executable,
            "-I",
            "-u",
            "-c",
            "import sys\nfor line in sys.stdin:\n    exec(line)\n    print('ok', flush=True)",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    assert echo.stdin is not None and echo.stdout is not None

    def round_trip() -> None:
        echo.stdin.write("x = 1\n")  # type: ignore[union-attr]
        echo.stdout.readline()  # type: ignore[union-attr]

    bare_warm = timed(round_trip, calls)
    echo.stdin.close()
    echo.wait()
    return [
        (f"sandbox cold start + first call ({detect_isolation()})", cold),
        ("bare subprocess: python -c pass", bare_cold),
        ("sandbox warm call", warm),
        ("bare persistent python: one round trip", bare_warm),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--cold-starts", type=int, default=20)
    args = parser.parse_args()

    rng = random.Random(3)
    chunks = synthetic_chunks(args.chunks, rng)
    queries = [" ".join(rng.sample(WORDS, 4)) for _ in range(args.queries)]
    rows = bench_search(chunks, queries)
    rows.append(bench_search_over_http(chunks, queries))
    rows += bench_sandbox(args.calls, args.cold_starts)

    print(
        f"\nfile search over {args.chunks} chunks ({args.queries} queries); code interpreter "
        f"({args.calls} warm calls, {args.cold_starts} cold starts); milliseconds\n"
    )
    print(f"{'what':<52} {'p50':>8} {'p95':>8} {'mean':>8}")
    for name, samples in rows:
        print(
            f"{name:<52} {percentile(samples, 0.5):8.2f} {percentile(samples, 0.95):8.2f} "
            f"{statistics.fmean(samples):8.2f}"
        )
    search_p50 = percentile(rows[0][1], 0.5)
    warm_p50 = percentile(next(samples for name, samples in rows if name == "sandbox warm call"), 0.5)
    print(
        f"\ntargets: search p50 {search_p50:.2f} ms (< 20: {'met' if search_p50 < 20 else 'MISSED'}), "
        f"warm call p50 {warm_p50:.2f} ms (< 20: {'met' if warm_p50 < 20 else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
