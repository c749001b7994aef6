"""The `assistant` command.

With no arguments it opens the terminal app; the subcommands are the scriptable face of the library. Every
error ends the command with one clear line on stderr and a non-zero exit code, never a traceback.

A command imports only what it uses, when it runs: `--help` builds the parser from light modules alone, the
commands that read the index never load the SDK, and `Assistant` (the index, and through it SQLAlchemy) is
imported by `make_assistant()`, the one place commands get it from.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.config import load_settings
from assistant.errors import AssistantError, ModelNotFound
from assistant.model_names import ENGINE_ENVIRONMENT_VARIABLE, display_name
from assistant.modes import MODES
from assistant.pricing import describe_cost
from assistant.private_files import make_private_folder
from assistant.tool_settings import ToolSettings, parse_tools

if TYPE_CHECKING:
    from assistant.client import Assistant
    from assistant.events import Event
    from assistant.file_progress import FileProgress
    from assistant.index.records import ThreadInfo
    from assistant.thread import Thread
    from assistant.turn import Turn

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a writer whose reader closed the pipe
THREADS_PER_PAGE = 50  # threads read at a time while looking for the latest conversation


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        return run_app()
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except AssistantError as error:
        return fail(str(error))
    except KeyboardInterrupt:
        print("\ncancelled", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`assistant ask ... | head`): stop quietly, as other command-line tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def read_message(raw: bytes | str) -> str:
    """The message as text the API and the index can take: bytes that are not UTF-8 are replaced (U+FFFD) and
    NUL characters removed, each with a warning, rather than failing on them later."""
    if isinstance(raw, str):  # from argv: undecodable bytes arrive as surrogate escapes
        raw = raw.encode("utf-8", "surrogateescape")
    text = raw.decode("utf-8", "replace")
    if "\ufffd" in text and b"\xef\xbf\xbd" not in raw:
        print("warning: the message was not valid UTF-8; undecodable bytes were replaced with U+FFFD", file=sys.stderr)
    if "\x00" in text:
        print(f"warning: removed {text.count(chr(0))} NUL character(s) from the message", file=sys.stderr)
        text = text.replace("\x00", "")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assistant",
        description="Stateful assistants on the OpenAI Responses API. With no command, opens the terminal app. "
        "Without OPENAI_API_KEY (and OPENAI_BASE_URL) it runs on an embedded offline server.",
    )
    parser.set_defaults(command=None)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    def command(name: str, handler: Callable[[argparse.Namespace], int], help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(command=name, handler=handler)
        return sub

    ask = command(
        "ask",
        cmd_ask,
        "Send a message and stream the answer. Continues the latest thread (never one `compare` made) unless "
        "--thread or --new; a TEXT of - reads standard input; --json prints the finished turn instead.",
    )
    ask.add_argument("text", metavar="TEXT", help="the message; - reads it from standard input")
    which = ask.add_mutually_exclusive_group()
    which.add_argument("--thread", metavar="ID", help="continue this thread")
    which.add_argument("--new", action="store_true", help="start a new thread")
    ask.add_argument("--model", metavar="M", help="model for this turn (default: the thread's, or ASSISTANT_MODEL)")
    ask.add_argument("--title", metavar="T", help="title of a new thread (default: the start of the message)")
    ask.add_argument(
        "--mode", choices=MODES, default="conversation", help="state mode of a new thread (default: conversation)"
    )
    ask.add_argument("--instructions", metavar="S", help="instructions (system prompt) for a new thread")
    ask.add_argument("--max-output-tokens", type=int, metavar="N", help="cap the answer's length")
    ask.add_argument(
        "--tools", metavar="LIST", help="hosted tools for this turn, e.g. web,files,code (a new thread keeps them)"
    )
    ask.add_argument("--json", action="store_true", help="print the finished turn as JSON instead of streaming")

    threads = command("threads", cmd_threads, "List threads, most recently active first.")
    threads.add_argument("--limit", type=int, default=50, metavar="N", help="how many (default 50)")
    threads.add_argument("--archived", action="store_true", help="list archived threads instead")
    threads.add_argument("--json", action="store_true", help="print JSON")

    show = command(
        "show", cmd_show, "Show a thread's turns from the index, with tokens, cost and latency (--json: every item)."
    )
    show.add_argument("id", metavar="ID", help="thread id (thr_…)")
    show.add_argument("--json", action="store_true", help="print JSON, with every item")

    search = command(
        "search", cmd_search, "Full-text search over messages and answers: the turns holding every word, newest first."
    )
    search.add_argument("text", metavar="TEXT", help="words to find (all must match)")
    search.add_argument("--limit", type=int, default=20, metavar="N", help="how many hits (default 20)")
    search.add_argument("--json", action="store_true", help="print JSON")

    serve = command(
        "serve",
        cmd_serve,
        "Run the offline OpenAI-compatible server in the foreground. When ASSISTANT_SERVER_API_KEY is set, "
        "clients must send that key.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    serve.add_argument("--db", metavar="PATH", help="server state file (default: local-server.db beside the index)")
    serve.add_argument(
        "--engine",
        choices=("llama", "reference"),
        default="auto",
        help="what answers: llama (SmolLM2 through llama.cpp) or reference (deterministic); default: "
        "ASSISTANT_LOCAL_ENGINE, else llama when installed, else reference",
    )
    serve.add_argument(
        "--api-key",
        metavar="KEY",
        help="require this bearer key (needed to listen beyond loopback); other local users can read "
        "it in the process list: prefer ASSISTANT_SERVER_API_KEY",
    )
    serve.add_argument(
        "--allow-origin",
        metavar="ORIGIN",
        action="append",
        default=[],
        help="let web pages from ORIGIN (e.g. http://localhost:3000) use the server; repeatable. "
        "Requests from any other page are refused",
    )
    serve.add_argument(
        "--lenient",
        action="store_true",
        help="accept requests the real API refuses (a function output with no call, a call left without its "
        "output, a tool_choice naming no offered tool); by default they get the real API's 400",
    )

    files = command("files", cmd_files, "A thread's files for file search: add, list, rm.")
    files_commands = files.add_subparsers(dest="files_command", metavar="ACTION", required=True)

    def files_command(name: str, help: str) -> argparse.ArgumentParser:
        return files_commands.add_parser(name, help=help, description=help)

    files_add = files_command(
        "add",
        "Upload files and attach them to the thread's vector store, with progress and per-file errors; waits until "
        "the server has indexed them. Exit 1 when a file could not be added.",
    )
    files_add.add_argument("paths", nargs="+", metavar="PATH", help="a file to upload")
    files_list = files_command("list", "The thread's files and their indexing status.")
    files_list.add_argument("--json", action="store_true", help="print JSON")
    files_rm = files_command(
        "rm", "Detach a file from the thread's vector store (the upload stays, for other threads that use it)."
    )
    files_rm.add_argument("file_id", metavar="FILE_ID", help="the file's id (file-…), as `files list` shows it")
    for sub in (files_add, files_list, files_rm):
        sub.add_argument("--thread", metavar="ID", help="the thread (default: the latest, never one `compare` made)")

    mode = command("mode", cmd_mode, "Move a thread to another state mode (nothing is lost: the index has it all).")
    mode.add_argument("id", metavar="ID", help="thread id")
    mode.add_argument(
        "mode",
        choices=MODES,
        help="conversation (a server conversation), chain (previous_response_id), local (the whole history each "
        "turn, nothing stored on the server) or chat (the whole history to /chat/completions)",
    )

    fork = command("fork", cmd_fork, "Start a new thread from a thread's turns 1 to N, and print its id.")
    fork.add_argument("id", metavar="ID", help="thread id")
    fork.add_argument("--at", type=int, required=True, metavar="N", help="the last turn the fork keeps (0 keeps none)")
    fork.add_argument(
        "--title", metavar="T", help="title of the new thread (default: the thread's title, marked (fork))"
    )

    doctor = command(
        "doctor",
        cmd_doctor,
        "Check that the server still holds each thread's state as the index records it; --fix rebuilds it "
        "from the index. Exit 1 while differences remain.",
    )
    doctor.add_argument("id", metavar="ID", nargs="?", help="one thread (default: every thread not archived)")
    doctor.add_argument("--fix", action="store_true", help="rebuild the server state of threads that differ")
    doctor.add_argument("--json", action="store_true", help="print JSON")

    migrate = command(
        "migrate",
        cmd_migrate,
        "Translate a Chat Completions request body into the equivalent Responses request, or back with "
        "--reverse: JSON on stdout, warnings on stderr.",
    )
    migrate.add_argument("file", metavar="FILE", help="the request body as JSON; - reads standard input")
    migrate.add_argument("--reverse", action="store_true", help="translate a Responses request into Chat Completions")

    compare = command(
        "compare",
        cmd_compare,
        "Replay conversations (YAML turns or logged Chat transcripts) through the Responses API and the Chat "
        "Completions fallback at once, and report tokens, bytes, latency, cost, tool calls and how similar the "
        "answers are, per turn. Both runs are recorded as threads.",
    )
    compare.add_argument(
        "file",
        metavar="FILE",
        help="user turns as YAML (.yaml/.yml), or JSONL: one "
        '{"messages": [...]} transcript, {"turns": [...]} script or user turn per line',
    )
    compare.add_argument(
        "--model", metavar="M", help="model for both runs (default: the one new threads use, ASSISTANT_MODEL)"
    )
    compare.add_argument("--tools", metavar="LIST", help="hosted tools for both runs, e.g. web,files,code")
    compare.add_argument("--report", metavar="FILE", help="also write the report: .md, .json or .html (with a chart)")
    compare.add_argument(
        "--prices", metavar="FILE", help="JSON price overrides (default: the file ASSISTANT_PRICES names, if any)"
    )
    compare.add_argument("--json", action="store_true", help="print the JSON report instead of the table")

    command("config", cmd_config, "Print the effective settings (API key masked) and what answers.")
    return parser


def run_app() -> int:
    try:
        from tui.app import run
    except ImportError:
        print('The terminal app is not available in this build. Try: assistant ask "hello"', file=sys.stderr)
        return EXIT_USAGE
    return run()


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_ERROR


def make_assistant() -> Assistant:
    """The library, for a command that uses it. Building it opens the index and nothing else: the SDK and the
    embedded server load when a command first talks to a server."""
    from assistant.client import Assistant

    return Assistant()


def open_assistant() -> Assistant:
    """The library for a command that talks to a server, saying which one when it is the embedded one."""
    assistant = make_assistant()
    if assistant.settings.uses_local_server:
        print(
            f"No OPENAI_API_KEY set: using the embedded local server at {assistant.base_url} "
            "(set OPENAI_API_KEY to use OpenAI).",
            file=sys.stderr,
        )
    return assistant


# commands


def cmd_ask(args: argparse.Namespace) -> int:
    text = read_message(sys.stdin.buffer.read()) if args.text == "-" else read_message(args.text)
    if not text.strip():
        return fail("Nothing to send: the message is empty.")
    try:
        tools = parse_tools(args.tools) if args.tools else None
    except ValueError as error:
        return fail(str(error))
    with open_assistant() as assistant:
        thread = pick_thread(assistant, args, text, tools)
        options: dict[str, object] = {"model": args.model, "max_output_tokens": args.max_output_tokens}
        if tools is not None:
            options["tools"] = tools
        try:
            turn = stream_turn(thread, text, options, quiet=args.json)
        except ModelNotFound as error:
            return fail(f"{error}{available_models(assistant)}")
        except KeyboardInterrupt:
            print(f"\ncancelled; what had arrived is saved in thread {thread.id}", file=sys.stderr)
            return EXIT_INTERRUPTED
        if args.json:
            print(json.dumps(turn.to_dict(), indent=2, ensure_ascii=False))
        if turn.incomplete_reason == "stream_interrupted":
            # The server ended the stream without saying the answer was over: not an answer to rely on.
            return fail(
                f"{turn.error or 'the stream ended before the answer finished'} ({assistant.base_url}); "
                f"what arrived is saved in thread {thread.id}, turn {turn.seq}"
            )
        if not args.json:
            note = f" ({turn.status}: {turn.incomplete_reason or turn.error})" if turn.status != "completed" else ""
            print(f"[thread {thread.id}, turn {turn.seq}{note}]", file=sys.stderr)
    return 0


def pick_thread(assistant: Assistant, args: argparse.Namespace, text: str, tools: ToolSettings | None) -> Thread:
    if args.thread:
        return assistant.thread(args.thread)
    if not args.new:
        latest = latest_conversation(assistant)
        if latest is not None:
            return latest
    title = args.title or " ".join(text.split())[:60]
    return assistant.thread(
        title=title,
        mode=args.mode,
        model=args.model,
        instructions=args.instructions,
        tools=tools,
    )


class CtrlC:
    """Ctrl-C while an answer streams. Python drops a KeyboardInterrupt that lands inside a finalizer (and prints
    "Exception ignored in ..."), which happens under load, so the handler also leaves a flag the stream loop
    checks after every event, and that message is kept off the screen: one Ctrl-C always stops the answer."""

    def __init__(self) -> None:
        self.pressed = False

    def __enter__(self) -> CtrlC:
        self._previous = signal.signal(signal.SIGINT, self._handle)
        self._previous_hook = sys.unraisablehook
        sys.unraisablehook = self._unraisable
        return self

    def __exit__(self, *_: object) -> None:
        signal.signal(signal.SIGINT, self._previous)
        sys.unraisablehook = self._previous_hook

    def _unraisable(self, unraisable: sys.UnraisableHookArgs) -> None:
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            self._previous_hook(unraisable)

    def _handle(self, _signum: int, _frame: object) -> None:
        self.pressed = True
        raise KeyboardInterrupt


def stream_turn(thread: Thread, text: str, options: dict[str, object], *, quiet: bool) -> Turn:
    turn = None
    with CtrlC() as ctrl_c:
        events = thread.stream(text, **options)
        try:
            for event in events:
                if ctrl_c.pressed:
                    raise KeyboardInterrupt
                turn = show(event, quiet) or turn
        finally:
            # Records the turn as cancelled now, not whenever the generator is collected. (Thread.stream is a
            # generator; its annotation says only Iterator, which has no close().)
            if isinstance(events, Generator):
                events.close()
    if not quiet:
        sys.stdout.write("\n")
    if turn is None:  # a stream always ends with its turn; this says so if one ever did not
        raise AssistantError(f"the answer ended without its turn; what arrived is saved in thread {thread.id}")
    return turn


def show(event: Event, quiet: bool) -> Turn | None:
    """Print what a streamed event says; returns the finished turn from the terminal event."""
    if event.type == "text.delta":
        if not quiet:
            sys.stdout.write(event.text)
            sys.stdout.flush()
    elif event.type == "thread.state_rebuilt":
        print(f"note: {event.reason}", file=sys.stderr)
    elif event.type == "container.replaced" or event.type == "tools.unavailable":
        print(f"note: {event.message}", file=sys.stderr)
    elif event.type in ("turn.completed", "turn.incomplete", "turn.failed", "turn.cancelled"):
        return event.turn
    return None


def available_models(assistant: Assistant) -> str:
    try:
        return " Available: " + ", ".join(assistant.models())
    except Exception:  # listing is a courtesy; the error line above already says what to do
        return ""


def cmd_threads(args: argparse.Namespace) -> int:
    with make_assistant() as assistant:
        threads = assistant.threads(limit=args.limit, archived=args.archived)
    if args.json:
        print(json.dumps([thread_dict(thread) for thread in threads], indent=2, ensure_ascii=False))
        return 0
    if not threads:
        print('No threads yet. Start one: assistant ask "hello"', file=sys.stderr)
    for thread in threads:
        when = thread.updated_at.strftime("%Y-%m-%d %H:%M")
        print(
            f"{thread.id}  {when}  {thread.mode:<12} {plural(thread.turn_count, 'turn'):>10}  {thread.title}"
            f"  [{display_name(thread.model)}]"
        )
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    with make_assistant() as assistant:
        thread = assistant.thread(args.id)
        turns = thread.history()
        info = assistant.store.thread(thread.id)
    if args.json:
        print(
            json.dumps({**thread_dict(info), "turns": [turn.to_dict() for turn in turns]}, indent=2, ensure_ascii=False)
        )
        return 0
    print(f"{info.title or '(untitled)'}  [{info.id}, {info.mode}, {display_name(info.model)}]")
    if info.conversation_id:
        print(f"conversation {info.conversation_id}")
    for turn in turns:
        status = "" if turn.status == "completed" else f" [{turn.status}]"
        usage = turn.usage
        cost = describe_cost(
            turn.model,
            turn.cost_usd,
            usage.input_tokens,
            usage.cached_tokens,
            usage.output_tokens,
            estimate_at=info.model,
        )
        print(f"\n#{turn.seq} you: {turn.input}")
        print(f"#{turn.seq} assistant{status}: {turn.text}")
        print(
            f"   (answered by {display_name(turn.model)}: {usage.input_tokens} in / {usage.cached_tokens} cached / "
            f"{usage.output_tokens} out, {cost}, {turn.latency_ms or 0:.0f} ms)"
        )
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from assistant.index.search import search_query

    query = search_query(args.text)
    if query.note:
        print(f"note: {query.note}", file=sys.stderr)
    with make_assistant() as assistant:
        hits = assistant.search(args.text, limit=args.limit)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "thread_id": hit.thread_id,
                        "thread_title": hit.thread_title,
                        "turn_id": hit.turn_id,
                        "seq": hit.seq,
                        "input": hit.input,
                        "snippet": hit.snippet,
                        "created_at": hit.created_at.isoformat(),
                    }
                    for hit in hits
                ],
                indent=2,
                ensure_ascii=False,
            )
        )
        return 0
    if not hits:
        print(f"No turns match {' '.join(query.terms)!r}.", file=sys.stderr)
    for hit in hits:
        print(f"{hit.thread_id} #{hit.seq}  {hit.thread_title}\n    {hit.snippet}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from assistant.server.front_door import normalized_origin
    from assistant.server.server import check_exposure, serve

    settings = load_settings()
    db_path = args.db or settings.local_server_db
    if args.api_key:
        print(
            "warning: --api-key shows the key to every user of this machine (in the process list, "
            "/proc/<pid>/cmdline); set ASSISTANT_SERVER_API_KEY instead.",
            file=sys.stderr,
        )
    api_key = args.api_key or settings.server_api_key
    try:
        check_exposure(args.host, api_key)
        origins = [normalized_origin(origin) for origin in args.allow_origin]
    except ValueError as error:
        return fail(str(error))
    access = (
        "requests must carry its API key"
        if api_key
        else "no key: any program on this machine may use it; set ASSISTANT_SERVER_API_KEY to require one"
    )
    print(
        f"Serving the OpenAI-compatible local server at http://{args.host}:{args.port}/v1 (state: {db_path}; "
        f"{access}). Ctrl-C stops it.",
        file=sys.stderr,
    )
    try:
        make_private_folder(Path(db_path).parent)  # the data folder, for a PostgreSQL index
        serve(
            host=args.host,
            port=args.port,
            db_path=db_path,
            api_key=api_key,
            engine=args.engine,
            allowed_origins=origins,
            strict=not args.lenient,
        )
    except (ValueError, OSError, RuntimeError) as error:
        return fail(str(error))
    return 0


def cmd_files(args: argparse.Namespace) -> int:
    with open_assistant() as assistant:
        thread = assistant.thread(args.thread) if args.thread else latest_thread(assistant)
        if args.files_command == "add":
            outcomes = assistant.files.add(thread.id, args.paths, progress=FilesProgressBar())
            for outcome in outcomes:
                if outcome.error:
                    print(f"error: {outcome.error}", file=sys.stderr)
            ready = sum(1 for outcome in outcomes if outcome.status == "completed")
            print(
                f"{ready} of {plural(len(outcomes), 'file')} ready for file search in thread {thread.id}",
                file=sys.stderr,
            )
            return 0 if ready == len(outcomes) else EXIT_ERROR
        if args.files_command == "rm":
            assistant.files.remove(thread.id, args.file_id)
            print(f"removed {args.file_id} from thread {thread.id}", file=sys.stderr)
            return 0
        records = assistant.files.list(thread.id)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "id": r.id,
                        "filename": r.filename,
                        "bytes": r.bytes,
                        "sha256": r.sha256,
                        "vector_store_id": r.vector_store_id,
                        "status": r.status,
                        "last_error": r.last_error,
                    }
                    for r in records
                ],
                indent=2,
            )
        )
    elif not records:
        print(f"Thread {thread.id} has no files. Add some: assistant files add PATH...", file=sys.stderr)
    for record in [] if args.json else records:
        error = f"  ({record.last_error})" if record.last_error else ""
        print(f"{record.id}  {record.status:<11} {record.bytes:>10} B  {record.filename}{error}")
    return 0


class FilesProgressBar:
    """One line on stderr, redrawn in place: how many files are done, and what is happening to which."""

    def __call__(self, progress: FileProgress) -> None:
        width = 20
        filled = width * progress.done // max(progress.total, 1)
        line = (
            f"[{'#' * filled}{'.' * (width - filled)}] {progress.done}/{progress.total} {progress.step} "
            f"{Path(progress.path).name}"
        )
        end = "\n" if progress.done == progress.total and progress.step in ("completed", "failed") else ""
        print(f"\r{line[:100]:<100}", end=end, file=sys.stderr, flush=True)


def latest_thread(assistant: Assistant) -> Thread:
    latest = latest_conversation(assistant)
    if latest is None:
        raise AssistantError('There is no thread yet. Start one: assistant ask "hello"')
    return latest


def latest_conversation(assistant: Assistant) -> Thread | None:
    """The most recently active thread that is not one of a comparison's pair: `assistant compare` and the app's
    compare screen record theirs as comparisons, and a question sent into one would skew what it measures."""
    offset = 0
    while page := assistant.threads(limit=THREADS_PER_PAGE, offset=offset):
        for info in page:
            if not assistant.comparisons(thread_id=info.id, limit=1):
                return assistant.thread(info.id)
        offset += len(page)
    return None


def cmd_mode(args: argparse.Namespace) -> int:
    with make_assistant() as assistant:
        thread = assistant.thread(args.id)
        before = thread.mode
        thread.set_mode(args.mode)
    print(
        f"thread {thread.id}: {before} -> {thread.mode}"
        + ("; the next turn rebuilds the server state from the index" if before != thread.mode else " (unchanged)")
    )
    return 0


def cmd_fork(args: argparse.Namespace) -> int:
    with make_assistant() as assistant:
        fork = assistant.thread(args.id).fork(args.at, title=args.title)
    print(fork.id)
    print(f'forked {args.id} at turn {args.at}: continue with  assistant ask --thread {fork.id} "..."', file=sys.stderr)
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from assistant.doctor import check

    with open_assistant() as assistant:
        ids = [args.id] if args.id else [thread.id for thread in assistant.threads(limit=10_000)]
        reports = [check(assistant, thread_id, fix=args.fix) for thread_id in ids]
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "thread_id": r.thread_id,
                        "mode": r.mode,
                        "ok": r.ok,
                        "repaired": r.repaired,
                        "findings": [{"kind": f.kind, "detail": f.detail} for f in r.findings],
                    }
                    for r in reports
                ],
                indent=2,
            )
        )
    else:
        for report in reports:
            print(
                f"{report.thread_id} ({report.mode}): "
                + ("ok" if report.ok else f"{len(report.findings)} difference(s)")
            )
            for finding in report.findings:
                print(f"  {finding.kind}: {finding.detail}")
            if report.repaired:
                print(f"  repaired: {report.repaired}")
    unrepaired = [report for report in reports if not report.ok and not report.repaired]
    if unrepaired and not args.fix:
        print("Run with --fix to rebuild the server state from the index.", file=sys.stderr)
    return 1 if unrepaired else 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from assistant.migrate import MigrationError, chat_to_responses, responses_to_chat

    source = "standard input" if args.file == "-" else args.file
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    except OSError as error:
        return fail(f"cannot read {source}: {error.strerror or error}")
    except UnicodeDecodeError as error:
        return fail(f"{source} is not UTF-8 text (byte {error.start}): give it a JSON request body")
    try:
        body = json.loads(text)
    except ValueError as error:
        return fail(f"{source} is not valid JSON: {error}")
    except RecursionError:
        return fail(f"{source} nests objects and arrays too deeply to read; no API request does")
    try:
        translation = responses_to_chat(body) if args.reverse else chat_to_responses(body)
    except MigrationError as error:
        return fail(f"{source}: {error}")
    for warning in translation.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(json.dumps(translation.request, indent=2, ensure_ascii=False))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from assistant.compare import compare
    from assistant.compare_input import CompareInputError, load_conversations
    from assistant.compare_report import table, to_json, write_report
    from assistant.pricing import load_prices

    try:
        loaded = load_conversations(args.file)
        prices = load_prices(args.prices)
        tools = parse_tools(args.tools) if args.tools else None
    except (CompareInputError, ValueError) as error:
        return fail(str(error))
    for skip in loaded.skipped:
        where = f"line {skip.line}" if skip.line else (skip.name or args.file)
        print(f"warning: {args.file}: {where}: {skip.reason}; skipped", file=sys.stderr)
    with open_assistant() as assistant:
        report = compare(
            assistant, loaded, model=args.model, tools=tools, prices=prices, progress=ProgressBar("compare")
        )
    print(to_json(report) if args.json else table(report))
    if args.report:
        try:
            write_report(report, args.report)
        except (ValueError, OSError) as error:
            return fail(f"cannot write the report: {error}")
        print(f"report written to {args.report}", file=sys.stderr)
    return 0


class ProgressBar:
    """A one-line progress bar on stderr (redrawn in place on a terminal, one final line otherwise)."""

    def __init__(self, label: str, width: int = 30) -> None:
        self.label = label
        self.width = width
        self.tty = sys.stderr.isatty()

    def __call__(self, done: int, total: int) -> None:
        if not self.tty and done < total:
            return
        filled = self.width * done // total if total else self.width
        line = f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {done}/{plural(total, 'turn')}"
        print(("\r" if self.tty else "") + line, end="\n" if done >= total else "", file=sys.stderr, flush=True)


def cmd_config(_args: argparse.Namespace) -> int:
    """Every setting in effect, then what answers. Nothing is started or loaded to say so."""
    from assistant.pricing import PRICES_ENV, load_prices
    from assistant.tools.web_search import CORPUS_ENV, describe_web_search

    settings = load_settings()
    engine = local_engine()
    try:
        load_prices()
        prices = "the built-in table" + (", with this file's prices over it" if os.environ.get(PRICES_ENV) else "")
    except ValueError as error:
        prices = f"cannot be used: {error}"
    settings_in_effect = {
        **settings.describe(),
        ENGINE_ENVIRONMENT_VARIABLE: f"{os.environ.get(ENGINE_ENVIRONMENT_VARIABLE) or '(not set)'}: {engine}",
        CORPUS_ENV: f"{os.environ.get(CORPUS_ENV) or '(not set)'}: {describe_web_search()}",
        PRICES_ENV: f"{os.environ.get(PRICES_ENV) or '(not set)'}: {prices}",
    }
    for name, value in settings_in_effect.items():
        print(f"{name}={value}")
    if settings.uses_local_server:
        print(f"answers: the embedded local server, with {engine}")
    else:
        print(f"answers: the server at {settings_in_effect['OPENAI_BASE_URL']}, model {settings.model}")
    return 0


def local_engine() -> str:
    """What answers in the local server, decided as the server decides (`registry_for("auto")`) but without
    loading a model."""
    from assistant.server.engines.registry import ENGINE_CHOICES
    from assistant.server.engines.smollm2 import llama_engine_missing

    choice = os.environ.get(ENGINE_ENVIRONMENT_VARIABLE) or "auto"
    llama = "the llama engine (SmolLM2-135M-Instruct through llama.cpp)"
    reference = "the reference engine (deterministic answers that show the server's state)"
    if choice not in ENGINE_CHOICES:
        return f"no engine: {choice!r} is not one of {', '.join(ENGINE_CHOICES)}"
    if choice == "reference":
        return reference
    missing = llama_engine_missing()
    if missing is None:
        return llama
    if choice == "llama":
        return f"{llama}, which cannot start: {missing}"
    return f"{reference}. {missing}"


def thread_dict(thread: ThreadInfo) -> dict[str, object]:
    return {
        "id": thread.id,
        "title": thread.title,
        "mode": thread.mode,
        "model": thread.model,
        "instructions": thread.instructions,
        "conversation_id": thread.conversation_id,
        "last_response_id": thread.last_response_id,
        "archived": thread.archived,
        "created_at": thread.created_at.isoformat(),
        "updated_at": thread.updated_at.isoformat(),
        "turn_count": thread.turn_count,
    }


if __name__ == "__main__":
    sys.exit(main())
