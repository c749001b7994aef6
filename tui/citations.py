"""Numbered citations for an answer: each source gets one number, in the order it is first cited, and the
answer text gets a `[n]` marker where the annotation points.

Annotations come from `citation` events while an answer streams and from each `output_text`'s `annotations`
when a thread is read back from the index; both are the API's wire JSON:
url_citation (url, title, start/end_index), file_citation (file_id, filename, index),
container_file_citation (container_id, file_id, filename, start/end_index) and file_path (file_id, index).

Files have a local path when the index has one: files the code interpreter made are downloaded beside the
index, and uploads keep a copy there. Those sources link to the file (`file://`), which the app opens with
the system's opener, or copies the path of when there is none (tui/opener.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote


def source_key(annotation: dict[str, Any]) -> str:
    """What makes two annotations the same source (cited twice, one number)."""
    return annotation.get("url") or annotation.get("file_id") or repr(sorted(annotation.items()))


def source_markdown(annotation: dict[str, Any], local_paths: dict[str, str] | None = None) -> str:
    """One line naming the source; URLs and local files are links (the answer widget opens them)."""
    path = (local_paths or {}).get(annotation.get("file_id") or "")
    match annotation.get("type"):
        case "url_citation":
            title = _escape(annotation.get("title") or annotation.get("url", ""))
            return f"[{title}]({annotation.get('url', '')})"
        case "file_citation":
            name = _escape(annotation.get("filename") or "file")
            return f"{_link(name, path)} `{annotation.get('file_id', '')}`"
        case "container_file_citation":
            # Files the code interpreter wrote: downloaded beside the index once the turn ended; until then
            # (or when the download failed) the container and file ids are the way to fetch them.
            name = _escape(annotation.get("filename") or "file")
            if path:
                return f"{_link(name, path)} `{path}`"
            return f"{name} `{annotation.get('container_id', '')}/{annotation.get('file_id', '')}`"
        case "file_path":
            return f"{_link('file', path)} `{path or annotation.get('file_id', '')}`"
    return f"`{annotation}`"


def cites_files(annotations: list[dict[str, Any]]) -> bool:
    return any(annotation.get("type") != "url_citation" for annotation in annotations)


def _link(text: str, path: str | None) -> str:
    # A bare absolute path, not a file:// URL: Markdown refuses file: links (markdown-it's link validation).
    return f"[{text}]({quote(Path(path).absolute().as_posix())})" if path else text


def marker_position(annotation: dict[str, Any], text: str) -> int | None:
    """Where the `[n]` marker goes: after the cited span, moved to the end of the word it falls in, so a
    marker never lands inside a Markdown link or a URL. None when the annotation points nowhere useful."""
    position = annotation.get("end_index", annotation.get("index"))
    if not isinstance(position, int) or position <= 0:
        return None
    position = min(position, len(text))
    while position < len(text) and not text[position].isspace():
        position += 1
    return position


@dataclass
class Citations:
    """The sources of one answer, numbered from 1."""

    numbers: dict[str, int] = field(default_factory=dict)
    sources: list[dict[str, Any]] = field(default_factory=list)
    local_paths: dict[str, str] = field(default_factory=dict)  # file id -> path on this machine

    def number(self, annotation: dict[str, Any]) -> int:
        key = source_key(annotation)
        if key not in self.numbers:
            self.sources.append(annotation)
            self.numbers[key] = len(self.sources)
        return self.numbers[key]

    def mark(self, text: str, annotations: list[dict[str, Any]]) -> str:
        """`text` with a marker for each annotation (numbering any new sources)."""
        markers: dict[int, list[int]] = {}
        for annotation in annotations:
            number = self.number(annotation)
            position = marker_position(annotation, text)
            if position is not None and number not in markers.setdefault(position, []):
                markers[position].append(number)
        for position in sorted(markers, reverse=True):
            # Escaped brackets: "[1][2]" must not read as a Markdown reference link.
            label = "".join(f"\\[{number}\\]" for number in markers[position])
            text = f"{text[:position]} {label}{text[position:]}"
        return text

    def markdown(self) -> str:
        """The numbered list of sources, or "" when nothing was cited."""
        if not self.sources:
            return ""
        lines = [
            f"{number}. {source_markdown(source, self.local_paths)}"
            for number, source in enumerate(self.sources, start=1)
        ]
        return "**Sources**\n\n" + "\n".join(lines)


def _escape(text: str) -> str:
    return text.replace("[", "\\[").replace("]", "\\]")
