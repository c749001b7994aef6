"""The standard library's own documentation, as web search pages with their docs.python.org URLs.

Every Python has it, so web search works offline with nothing installed. The pages:

- the language topics of `pydoc_data.topics` (statements, expressions, the data model, string formatting, ...),
  each at its page of the reference with its label as the anchor
  (https://docs.python.org/3.11/reference/compound_stmts.html#for);
- the documented standard library modules, rendered by pydoc: one page for the module (its docstring) and one per
  public class and function, at its page of the library reference
  (https://docs.python.org/3.11/library/io.html#io.IOBase; built-ins at functions.html, stdtypes.html and
  exceptions.html, as the docs place them).

Importing a module runs its code, so the modules are rendered in a subprocess (`pydoc_worker.py`, `python -I`)
with a time bound per module and for the whole build; modules with side effects on import (`antigravity`,
`this`) and GUI or test packages are left out. The pages are built once per Python version into the user's
cache folder (`corpus_path()`, a JSON file written atomically with mode 0600) and read from there afterwards;
a cache file that cannot be read is rebuilt.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from platformdirs import user_cache_path

from .tool_error import ToolError

logger = logging.getLogger(__name__)

FORMAT = 1  # of the cache file: a new format (or new pages) means a new build
SECONDS_PER_MODULE = 10  # importing and rendering one module; past it the module is left out
BUILD_SECONDS = 120  # the whole build; past it the pages rendered so far are used, and not cached
_WORKER_SOURCE = Path(__file__).with_name("pydoc_worker.py").read_text()
_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"
DOCS = f"https://docs.python.org/{_VERSION}/"

# Left out: side effects on import (a browser, a print), GUI and IDE packages, the test suite, and modules with
# no page of their own in the library reference (internals of os.path and re; packages documented per submodule).
_LEFT_OUT = frozenset(
    [
        "antigravity",
        "this",
        "turtle",
        "turtledemo",
        "tkinter",
        "idlelib",
        "test",
        "lib2to3",
        "pydoc_data",
        "distutils",
        "posix",
        "genericpath",
        "ntpath",
        "posixpath",
        "nturl2path",
        "opcode",
        "pyexpat",
        "sre_compile",
        "sre_constants",
        "sre_parse",
        "encodings",
        "concurrent",
        "xmlrpc",
        "nt",
        "msilib",
        "msvcrt",
        "winreg",
        "winsound",
    ]
)
# Submodules with a page (or a section) of their own in the library reference.
_DOCUMENTED_SUBMODULES = (
    "collections.abc",
    "concurrent.futures",
    "curses.ascii",
    "curses.panel",
    "curses.textpad",
    "dbm.dumb",
    "dbm.gnu",
    "dbm.ndbm",
    "email.charset",
    "email.contentmanager",
    "email.encoders",
    "email.errors",
    "email.generator",
    "email.header",
    "email.headerregistry",
    "email.iterators",
    "email.message",
    "email.mime",
    "email.parser",
    "email.policy",
    "email.utils",
    "html.entities",
    "html.parser",
    "http.client",
    "http.cookiejar",
    "http.cookies",
    "http.server",
    "importlib.abc",
    "importlib.machinery",
    "importlib.metadata",
    "importlib.resources",
    "importlib.resources.abc",
    "importlib.util",
    "json.tool",
    "logging.config",
    "logging.handlers",
    "multiprocessing.connection",
    "multiprocessing.dummy",
    "multiprocessing.managers",
    "multiprocessing.pool",
    "multiprocessing.shared_memory",
    "multiprocessing.sharedctypes",
    "os.path",
    "unittest.mock",
    "urllib.error",
    "urllib.parse",
    "urllib.request",
    "urllib.response",
    "urllib.robotparser",
    "wsgiref.handlers",
    "wsgiref.headers",
    "wsgiref.simple_server",
    "wsgiref.types",
    "wsgiref.util",
    "wsgiref.validate",
    "xml.dom",
    "xml.dom.minidom",
    "xml.dom.pulldom",
    "xml.etree.ElementTree",
    "xml.parsers.expat",
    "xml.parsers.expat.errors",
    "xml.parsers.expat.model",
    "xml.sax",
    "xml.sax.handler",
    "xml.sax.saxutils",
    "xml.sax.xmlreader",
    "xmlrpc.client",
    "xmlrpc.server",
)
# Modules documented on another module's page (the rest are at library/<name in lower case>.html).
_MODULE_PAGES = {
    "cProfile": "profile",
    "pstats": "profile",
    "curses.textpad": "curses",
    "dbm.dumb": "dbm",
    "dbm.gnu": "dbm",
    "dbm.ndbm": "dbm",
    "importlib.abc": "importlib",
    "importlib.machinery": "importlib",
    "importlib.util": "importlib",
    "json.tool": "json",
    "multiprocessing.connection": "multiprocessing",
    "multiprocessing.dummy": "multiprocessing",
    "multiprocessing.managers": "multiprocessing",
    "multiprocessing.pool": "multiprocessing",
    "multiprocessing.sharedctypes": "multiprocessing",
    "urllib.response": "urllib.request",
    "wsgiref.handlers": "wsgiref",
    "wsgiref.headers": "wsgiref",
    "wsgiref.simple_server": "wsgiref",
    "wsgiref.types": "wsgiref",
    "wsgiref.util": "wsgiref",
    "wsgiref.validate": "wsgiref",
    "xml.parsers.expat": "pyexpat",
    "xml.parsers.expat.errors": "pyexpat",
    "xml.parsers.expat.model": "pyexpat",
    "xml.sax.saxutils": "xml.sax.utils",
    "xml.sax.xmlreader": "xml.sax.reader",
}
# asyncio's names are documented over several pages, by the submodule that defines them (or by name when its C
# accelerator defines them).
_MEMBER_PAGES = {
    "asyncio.Future": "asyncio-future",
    "asyncio.Task": "asyncio-task",
    "asyncio.get_event_loop": "asyncio-eventloop",
    "asyncio.get_running_loop": "asyncio-eventloop",
    "asyncio.tasks": "asyncio-task",
    "asyncio.threads": "asyncio-task",
    "asyncio.timeouts": "asyncio-task",
    "asyncio.taskgroups": "asyncio-task",
    "asyncio.locks": "asyncio-sync",
    "asyncio.queues": "asyncio-queue",
    "asyncio.streams": "asyncio-stream",
    "asyncio.subprocess": "asyncio-subprocess",
    "asyncio.runners": "asyncio-runner",
    "asyncio.protocols": "asyncio-protocol",
    "asyncio.transports": "asyncio-protocol",
    "asyncio.exceptions": "asyncio-exceptions",
    "asyncio.futures": "asyncio-future",
    "asyncio.base_futures": "asyncio-future",
    "asyncio.events": "asyncio-eventloop",
    "asyncio.base_events": "asyncio-eventloop",
    "asyncio.unix_events": "asyncio-policy",
}
# Built-in classes documented with the built-in types (the other built-in classes are in functions.html).
_STDTYPES_BUILTINS = frozenset(
    ["bytearray", "bytes", "dict", "frozenset", "list", "memoryview", "range", "set", "str", "tuple"]
)
# The page of each label of pydoc_data.topics (the docs' own objects.inv); a label not listed here links to the
# docs' search for it.
_TOPIC_PAGES = {
    label: page
    for page, labels in {
        "reference/simple_stmts.html": "assert assignment augassign break continue del global import nonlocal pass "
        "raise return yield type",
        "reference/compound_stmts.html": "async class compound else for function if try while with match",
        "reference/expressions.html": "atom-identifiers atom-literals attribute-references await binary bitwise "
        "booleans calls comparisons conversions dict exprlists in lambda lists "
        "operator-summary power shifting slicings subscriptions unary",
        "reference/datamodel.html": "attribute-access callable-types context-managers customization numeric-types "
        "objects sequence-types specialnames types",
        "reference/executionmodel.html": "dynamic-features exceptions execmodel naming",
        "reference/lexical_analysis.html": "floating id-classes identifiers imaginary integers numbers strings",
        "library/stdtypes.html": "bltin-code-objects bltin-ellipsis-object bltin-null-object bltin-type-objects "
        "specialattrs string-methods truth typesfunctions typesmapping typesmethods "
        "typesmodules typesseq typesseq-mutable",
        "library/string.html": "formatstrings",
        "library/pdb.html": "debugger",
    }.items()
    for label in labels.split()
}
_TITLE_SUMMARY_CHARS = 90


@dataclass(frozen=True)
class DocPage:
    url: str
    title: str
    text: str


def python_version() -> str:
    """The Python whose documentation the corpus is: a different one builds its own."""
    return f"{platform.python_implementation().lower()}-{platform.python_version()}"


def corpus_path(cache_dir: Path | None = None) -> Path:
    folder = cache_dir if cache_dir is not None else user_cache_path("assistant", appauthor=False)
    return Path(folder) / f"pydoc-corpus-{python_version()}.json"


def cached_page_count(path: Path) -> int | None:
    """How many pages the cache file at `path` holds, or None when there is no readable one."""
    pages = _read(path)
    return None if pages is None else len(pages)


def load_pages(path: Path) -> list[DocPage]:
    """The cached pages, built (and cached) first when the file is missing or cannot be read."""
    pages = _read(path)
    if pages is not None:
        return pages
    started = time.monotonic()
    pages, complete = build_pages()
    logger.info("pydoc corpus: %d pages built in %.1f s", len(pages), time.monotonic() - started)
    if complete:
        _write(path, pages)
    return pages


def build_pages() -> tuple[list[DocPage], bool]:
    """Every page, and whether the build finished (False: some modules were cut off by the time bound)."""
    pages = topic_pages()
    records, complete = _render_modules(module_names())
    pages += [rendered_page(record) for record in records if record.get("text")]
    return pages, complete


def module_names() -> list[str]:
    top = sorted(name for name in sys.stdlib_module_names if not name.startswith("_") and name not in _LEFT_OUT)
    return top + [name for name in _DOCUMENTED_SUBMODULES if name.split(".")[0] in sys.stdlib_module_names]


def topic_pages() -> list[DocPage]:
    try:
        from pydoc_data.topics import topics
    except ImportError:  # a Python packaged without it
        return []
    pages = []
    for label, text in sorted(topics.items()):
        page = _TOPIC_PAGES.get(label)
        url = f"{DOCS}{page}#{label}" if page else f"{DOCS}search.html?q={quote(label)}"
        title = text.strip().splitlines()[0].strip() if text.strip() else label
        pages.append(DocPage(url, title, text))
    return pages


def rendered_page(record: dict[str, Any]) -> DocPage:
    """A page rendered by the worker, with its URL and title."""
    module, member, kind = record["module"], record.get("member"), record.get("kind")
    if module == "builtins" and member:
        name = member
        page = "exceptions" if kind == "exception" else "stdtypes" if member in _STDTYPES_BUILTINS else "functions"
        url = f"{DOCS}library/{page}.html#{member}"
    else:
        name = f"{module}.{member}" if member else module
        member_page = (_MEMBER_PAGES.get(name) or _MEMBER_PAGES.get(record.get("defined_in") or "")) if member else None
        page = member_page or _MODULE_PAGES.get(module, module.lower())
        url = f"{DOCS}library/{page}.html#{name if member else 'module-' + module}"
    summary = str(record.get("summary") or "")
    title = f"{name} — {summary}" if summary and len(summary) <= _TITLE_SUMMARY_CHARS else name
    return DocPage(url, title, str(record["text"]))


def _render_modules(names: list[str]) -> tuple[list[dict[str, Any]], bool]:
    config = json.dumps({"modules": names, "seconds_per_module": SECONDS_PER_MODULE})
    # A scratch working folder: whatever a module writes on import lands there, not in the user's folder.
    # An empty environment: pydoc shows default values, and some are os.environ (cgi.FieldStorage's): the
    # user's variables, keys among them, must not become searchable pages.
    with (
        tempfile.TemporaryDirectory(prefix="assistant-pydoc-") as scratch,
        subprocess.Popen(
            [sys.executable, "-I", "-c", _WORKER_SOURCE, config],
            cwd=scratch,
            env={},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        ) as worker,
    ):
        try:
            out, err = worker.communicate(timeout=BUILD_SECONDS)
        except subprocess.TimeoutExpired:
            worker.kill()
            out, err = worker.communicate()  # what it wrote before it was stopped
            logger.warning("pydoc corpus: the build took over %d s; using the modules rendered so far", BUILD_SECONDS)
    complete = worker.returncode == 0
    if worker.returncode > 0:
        logger.warning(
            "pydoc corpus: the renderer stopped (exit %s): %s",
            worker.returncode,
            err.decode(errors="replace").strip()[-300:],
        )
    skipped = err.decode(errors="replace").count("skipped ")
    if skipped:
        logger.info("pydoc corpus: %d modules could not be rendered", skipped)
    records = []
    for line in out.decode("utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # the last line of a worker stopped mid-write
        if isinstance(record, dict) and isinstance(record.get("module"), str) and isinstance(record.get("text"), str):
            records.append(record)
    if not records:
        raise ToolError(
            "Could not render the Python documentation with pydoc for web search "
            f"(the renderer exited with {worker.returncode}).",
            "no_search_provider",
        )
    return records, complete


def _read(path: Path) -> list[DocPage] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data["format"] != FORMAT or data["python"] != python_version():
            return None
        return [DocPage(str(url), str(title), str(text)) for url, title, text in data["pages"]]
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        logger.warning("pydoc corpus: rebuilding %s, which cannot be read (%s)", path, error)
        return None


def _write(path: Path, pages: list[DocPage]) -> None:
    data = {
        "format": FORMAT,
        "python": python_version(),
        "pages": [[page.url, page.title, page.text] for page in pages],
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor, temporary = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)  # mode 0600
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                json.dump(data, file, ensure_ascii=False)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as error:
        # Not cached: the pages still serve this process, and the next one tries again.
        logger.warning("pydoc corpus: could not cache it in %s: %s", path, error)
