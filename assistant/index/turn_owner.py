"""Which process is running a turn, and whether that process is gone.

A turn is written `in_progress` before its request goes out and closed when its stream ends. A process that is
SIGKILLed, loses power or crashes in C never closes it, so each turn records its owner: host, pid and the
process's start time (pids are reused; the start time, from /proc, tells a reused pid from the original). When
the index is opened, in-progress turns whose owner is known to be gone are closed as interrupted. A turn owned
by another host (a shared PostgreSQL index) or by a process that cannot be checked is left alone: better an
in-progress turn shown too long than a live one closed under its writer.
"""

from __future__ import annotations

import os
import socket
from functools import cache


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat), or None without /proc.
    Returns "Z" for a zombie: it has exited and only waits for its parent to read its status."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read().decode("ascii", "replace")
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces or parentheses itself.
    fields = stat[stat.rindex(")") + 2 :].split()
    return "Z" if fields[0] in ("Z", "X") else fields[19]


def current_owner() -> str:
    return _owner(os.getpid())  # by pid: a forked child is a new owner


@cache
def _owner(pid: int) -> str:
    return f"{socket.gethostname()} {pid} {_start_time(pid) or ''}"


def owner_is_gone(owner: str | None) -> bool:
    """True only when `owner` ran on this host and that process has certainly ended."""
    if not owner:
        return False
    host, _, rest = owner.partition(" ")
    pid_text, _, started = rest.partition(" ")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return owner != current_owner()
    now_started = _start_time(pid)
    if now_started is not None:
        return now_started == "Z" or (bool(started) and now_started != started)
    if os.path.isdir("/proc/self"):
        return True  # /proc works here and has no such process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False
