"""Opening a local file a citation points to: with the system's opener when there is one (xdg-open, open,
the Windows shell), else by copying its path, so a terminal without a desktop still gets somewhere. The path is
always shown."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

from textual.app import App


def local_path(href: str) -> Path | None:
    """The local file a link names (an absolute path, as tui/citations.py writes it, or a `file://` URL), or
    None for a web link."""
    parsed = urlparse(href)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if not parsed.scheme and not parsed.netloc and parsed.path:
        return Path(unquote(parsed.path))
    return None


def system_opener() -> list[str] | None:
    if sys.platform == "darwin" and shutil.which("open"):
        return ["open"]
    if sys.platform.startswith("linux") and shutil.which("xdg-open"):
        return ["xdg-open"]
    return None


async def open_local_file(app: App, path: Path) -> None:
    """Open `path` (in the app's worker: starting the opener never blocks the UI), or copy it."""
    if not await asyncio.to_thread(path.exists):
        app.notify(f"{path} is not there any more.", title="File not found", severity="warning", timeout=8)
        return
    opener = system_opener()
    if sys.platform == "win32":
        await asyncio.to_thread(os.startfile, str(path))
        app.notify(str(path), title="Opened", timeout=5)
    elif opener is not None:
        try:
            process = await asyncio.create_subprocess_exec(
                *opener,
                str(path),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as error:
            app.copy_to_clipboard(str(path))
            app.notify(f"{path}\n(copied: {opener[0]} failed: {error})", title="File", timeout=8)
            return
        app.notify(str(path), title="Opened", timeout=5)
        await process.wait()  # reaped here, in the worker, whenever the opener exits
    else:
        app.copy_to_clipboard(str(path))
        app.notify(f"{path}\nNo program to open files here: the path is copied.", title="Path copied", timeout=8)
