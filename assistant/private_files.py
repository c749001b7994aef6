"""Files and folders the project writes belong to its user alone: files are created 0600 and folders 0700.

They hold conversations, uploads, downloads and reports, which other local users have no business reading. The
mode is given when each is created (never a chmod afterwards, which would leave a moment where it is open), and
only narrows what the user's umask allows. Files and folders that exist already keep their mode. SQLite makes a
database's `-wal` and `-shm` files with the database file's own mode, so creating that file 0600 covers them.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PRIVATE_FILE_MODE = 0o600
PRIVATE_FOLDER_MODE = 0o700


def make_private_folder(path: Path) -> None:
    """Make the folder `path`, and any missing parents, 0700 (`mkdir -p`, which would leave parents 0755)."""
    if path.is_dir():
        return
    if path.parent != path:
        make_private_folder(path.parent)
    path.mkdir(mode=PRIVATE_FOLDER_MODE, exist_ok=True)


def create_private_file(path: Path) -> None:
    """Create `path` empty and 0600, unless it exists (a database file, before SQLite opens it)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))


def write_private_file(path: Path, data: bytes) -> None:
    """Write `data` to `path`, created 0600 if it is new."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
