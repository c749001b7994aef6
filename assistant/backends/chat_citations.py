"""Citations on a Chat answer, found in its text: Chat Completions has no annotations for tools run on the client.

The Responses API annotates answers itself. For the Chat fallback, the backend knows what this turn's tools
returned (`CitationSources`) and looks for them in the answer, so the index and the UI get the same annotations:

- `url_citation`: a Markdown link `[title](url)` to a page web search returned (start/end over the link);
- `container_file_citation`: a link `[name](sandbox:/mnt/data/name)` to a file the code wrote (over the link);
- `file_citation`: the name of a file file search returned, written in the answer; `index` is where the cited
  passage ends, i.e. just before the name and any " (" that opens it, where the Responses API puts its index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_LINK = re.compile(r"\[([^\]\n]*)\]\(([^)\s]+)\)")


@dataclass
class CitationSources:
    pages: dict[str, str] = field(default_factory=dict)  # url -> title
    files: dict[str, str] = field(default_factory=dict)  # filename -> file id
    container_files: dict[str, dict[str, str]] = field(
        default_factory=dict
    )  # sandbox path -> container_id, file_id, filename


def citations_in(text: str, sources: CitationSources) -> list[dict[str, Any]]:
    """The annotations for `text`, in text order."""
    found: list[tuple[int, dict[str, Any]]] = []
    linked: list[tuple[int, int]] = []
    for link in _LINK.finditer(text):
        target = link.group(2)
        start, end = link.span()
        if target in sources.pages:
            found.append(
                (
                    start,
                    {
                        "type": "url_citation",
                        "start_index": start,
                        "end_index": end,
                        "url": target,
                        "title": sources.pages[target] or link.group(1),
                    },
                )
            )
            linked.append((start, end))
        elif target.removeprefix("sandbox:") in sources.container_files:
            file = sources.container_files[target.removeprefix("sandbox:")]
            found.append(
                (
                    start,
                    {
                        "type": "container_file_citation",
                        "container_id": file["container_id"],
                        "file_id": file["file_id"],
                        "filename": file["filename"],
                        "start_index": start,
                        "end_index": end,
                    },
                )
            )
            linked.append((start, end))
    for filename, file_id in sources.files.items():
        for mention in re.finditer(re.escape(filename), text):
            if any(start <= mention.start() < end for start, end in linked):
                continue  # part of a link already cited
            index = mention.start()
            while index > 0 and text[index - 1] in " (":
                index -= 1
            found.append((index, {"type": "file_citation", "file_id": file_id, "filename": filename, "index": index}))
    return [annotation for _, annotation in sorted(found, key=lambda pair: pair[0])]
