"""Numbered citations for an answer: each source gets one number, in the order it is first cited, and the
answer text gets a `[n]` marker where the annotation points.

Annotations come from `citation` events while an answer streams and from each `output_text`'s `annotations`
when a thread is read back from the index; both are the API's wire JSON:
url_citation (url, title, start/end_index), file_citation (file_id, filename, index),
container_file_citation (container_id, file_id, filename, start/end_index) and file_path (file_id, index).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def source_key(annotation: dict[str, Any]) -> str:
    """What makes two annotations the same source (cited twice, one number)."""
    return annotation.get("url") or annotation.get("file_id") or repr(sorted(annotation.items()))


def source_markdown(annotation: dict[str, Any]) -> str:
    """One line naming the source; URLs are links the Markdown widget opens."""
    match annotation.get("type"):
        case "url_citation":
            title = _escape(annotation.get("title") or annotation.get("url", ""))
            return f"[{title}]({annotation.get('url', '')})"
        case "file_citation":
            return f"{_escape(annotation.get('filename') or 'file')} `{annotation.get('file_id', '')}`"
        case "container_file_citation":
            # Files the code interpreter wrote: the container and file ids are the path to fetch them by.
            return (f"{_escape(annotation.get('filename') or 'file')} "
                    f"`{annotation.get('container_id', '')}/{annotation.get('file_id', '')}`")
        case "file_path":
            return f"file `{annotation.get('file_id', '')}`"
    return f"`{annotation}`"


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
        lines = [f"{number}. {source_markdown(source)}" for number, source in enumerate(self.sources, start=1)]
        return "**Sources**\n\n" + "\n".join(lines)


def _escape(text: str) -> str:
    return text.replace("[", "\\[").replace("]", "\\]")
