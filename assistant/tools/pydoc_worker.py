"""The Python process that renders standard library modules with pydoc. Not imported by the server: its source
is passed to `python -I -c`, so that importing a module (which runs its code) can neither crash nor hang the
server, and what a module prints on import cannot corrupt the output.

Input: argv[1] is `{"modules": [...], "seconds_per_module": N}`. Output: one JSON object per line on the original
stdout, per page: `{"module", "member" (null for the module's own page), "kind" (module, class, exception or
function), "defined_in" (the member's __module__), "summary" (its docstring's first sentence), "text"}`. A module
that fails to import or to render, or takes longer than N seconds, is skipped and named on stderr.
"""

import contextlib
import importlib
import inspect
import io
import json
import os
import pydoc
import re
import signal
import sys
import types
import warnings
from collections.abc import Iterator

# pydoc separates a class's sections with this line; the sections of inherited members are left out when their
# class has a page of its own (a public name), since they would repeat that page in every subclass.
SECTION_RULE = re.compile(r"^ \|  -{20,}$", re.MULTILINE)
INHERITED_FROM = re.compile(r"inherited from (\S+):$")
CLASS_MARGIN = re.compile(r"^ \|  ?", re.MULTILINE)
# pydoc's text renderer without its backspace bold; typeshed does not declare it.
PLAIN_TEXT: pydoc.TextDoc = pydoc.plaintext  # type: ignore[attr-defined]


class ModuleTimeout(BaseException):
    # BaseException so that a module's own `except Exception:` cannot swallow it.
    pass


def on_alarm(signum: int, frame: object) -> None:
    raise ModuleTimeout()


def public_members(module: types.ModuleType) -> list[tuple[str, object]]:
    """The classes and functions pydoc itself documents for `module` (its __all__, else what it defines)."""
    names = getattr(module, "__all__", None)
    members: list[tuple[str, object]] = []
    for key, value in inspect.getmembers(module):
        if not (inspect.isclass(value) or inspect.isroutine(value)):
            continue
        if key.startswith("_") or not pydoc.visiblename(key, names, module):
            continue
        # pydoc's own rule: without __all__, what the module defines (and its built-in functions); what it imports
        # from elsewhere is documented there.
        defined_here = (inspect.getmodule(value) or module) is module
        if names is None and not (defined_here or inspect.isbuiltin(value)):
            continue
        if getattr(value, "__name__", key) != key:
            continue  # an alias (typing.Text is str): the original has the page
        members.append((key, value))
    return members


def summary(value: object) -> str:
    """The first sentence of the docstring (which may wrap over lines)."""
    paragraph = " ".join((inspect.getdoc(value) or "").strip().split("\n\n")[0].split())
    end = paragraph.find(". ")
    return paragraph[: end + 1] if end >= 0 else paragraph


def class_text(cls: type, name: str) -> str:
    kept = []
    for section in SECTION_RULE.split(PLAIN_TEXT.document(cls, name)):
        heading = section.strip().splitlines()[0] if section.strip() else ""
        inherited = INHERITED_FROM.search(heading)
        if inherited:
            origin = inherited.group(1)
            if origin.startswith("builtins.") or not origin.rsplit(".", 1)[-1].startswith("_"):
                continue
        kept.append(section)
    return CLASS_MARGIN.sub("", "\n".join(kept))


def pages(name: str, module: types.ModuleType) -> Iterator[dict[str, object]]:
    # `name`, not module.__name__: os.path is posixpath.
    yield {
        "module": name,
        "member": None,
        "kind": "module",
        "defined_in": name,
        "summary": summary(module),
        "text": pydoc.getdoc(module),
    }
    for key, value in public_members(module):
        if inspect.isclass(value):
            kind = "exception" if issubclass(value, BaseException) else "class"
            text = class_text(value, key)
        else:
            kind = "function"
            text = PLAIN_TEXT.document(value, key)
        yield {
            "module": name,
            "member": key,
            "kind": kind,
            "defined_in": getattr(value, "__module__", None) or name,
            "summary": summary(value),
            "text": text,
        }


def main() -> None:
    config = json.loads(sys.argv[1])
    os.environ.clear()  # the parent passes none; pydoc would show it where a default value is os.environ
    # Keep the real stdout for the pages; anything a module prints goes nowhere.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 -- stays open for the whole process: prints go nowhere
    warnings.simplefilter("ignore")
    signal.signal(signal.SIGALRM, on_alarm)
    seconds = max(1, int(config["seconds_per_module"]))
    for name in config["modules"]:
        signal.alarm(seconds)
        try:
            with contextlib.redirect_stderr(io.StringIO()):
                module = importlib.import_module(name)
                rendered = [json.dumps(page) for page in pages(name, module)]
        except (Exception, ModuleTimeout, SystemExit) as error:
            print(f"skipped {name}: {type(error).__name__}", file=sys.stderr)
            continue
        finally:
            signal.alarm(0)
        out.write("\n".join(rendered) + "\n")
        out.flush()
    out.close()


main()
