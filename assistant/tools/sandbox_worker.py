"""The processes inside a code-interpreter sandbox. Not imported by the server: its source is passed to
`python -I -c`, because the sandbox cannot see this package.

Two processes, so that the code can reach neither the protocol nor the process that speaks it:

- the worker speaks the protocol with the server over its own stdin/stdout (kept as private copies; fds 0-2
  then point at /dev/null). It is not dumpable (no ptrace, no /proc/<pid>/fd from the code), adopts every
  orphan of the code (child subreaper), and, when it is root, stays root while the code runs as the sandbox uid;
- the cell, a child the worker forks, holds the interpreter state and runs the code. Its stdout and stderr are
  one pipe the worker reads, and it says that a call is over on a private socket, with the call's number.
  The worker frames every reply itself from what it read: whatever the code prints, a forged reply included,
  is only ever the logs of its call.

Between calls the cell is stopped (SIGSTOP: all its threads) and every other process it started is killed, so
nothing in the sandbox runs while the server touches the folder. A cell that cannot be stopped and cleaned is
killed; the next call starts a new one and says so (`restarted`).

Limits. The cell gets the per-process resource limits (address space, largest file, process count, CPU time);
the worker adds what holds across all the cell's processes: wall time per call, memory (the proportional set
size of every process of the cell, plus the private /tmp), and the total size of the working folder (files the
call wrote or changed are removed when it passes the limit). A call stopped by one of those loses the cell.

Protocol: one JSON object per line each way. The server sends `{"code": "..."}`; the worker answers
`{"logs": str, "error": str | null, "restarted": bool}`. `error` is set when a sandbox limit, not the code
itself, stopped it. Like a notebook cell, the value of a final expression is printed, and open matplotlib
figures are saved as PNG files in the working folder (which the server turns into image outputs).
"""

from __future__ import annotations

import ast
import contextlib
import ctypes
import errno
import io
import json
import linecache
import math
import os
import resource
import select
import shutil
import signal
import socket
import stat
import sys
import time
import traceback
from collections.abc import Iterator
from types import FrameType
from typing import Literal, TypedDict

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
MEMORY_CHECK_S = 0.05  # how often the worker measures the cell's memory during a call
DISK_CHECK_S = 0.25  # at least; longer when the folder is slow to measure
STOP_TIMEOUT_S = 2.0  # for the cell to stop and its other processes to die, else it is replaced
ENTRY_BYTES = 4096  # what an entry of the folder costs at least (a block): a million empty files are not free
MIB = 1 << 20


class WorkerConfig(TypedDict):
    """argv[1], as the server writes it (code_sandbox.PythonSandbox._start)."""

    memory_bytes: int
    file_bytes: int
    output_bytes: int
    cpu_seconds: int
    session_cpu_seconds: int
    max_processes: int
    uid: int | None  # None: the code keeps the worker's uid
    gid: int | None
    wall_seconds: float
    disk_bytes: int
    private_tmp: bool


# A folder entry as the worker compares it before and after a call: inode, size, mtime (ns), whether a directory.
EntryState = tuple[int, int, int, bool]


def prctl(option: int, value: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, ctypes.c_ulong(value), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")


# -- the cell: runs the code -------------------------------------------------------------------------------------


class CpuTimeLimitExceeded(BaseException):
    # BaseException so that `except Exception:` in user code cannot swallow it.
    pass


def on_cpu_limit(signum: int, frame: FrameType | None) -> None:
    raise CpuTimeLimitExceeded()


def apply_limits(config: WorkerConfig) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    memory = config["memory_bytes"]
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    file_size = config["file_bytes"]
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
    if config.get("max_processes"):
        processes = config["max_processes"]
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
    session_cpu = config["session_cpu_seconds"]
    resource.setrlimit(resource.RLIMIT_CPU, (session_cpu, session_cpu))


def drop_privileges(config: WorkerConfig) -> None:
    uid, gid = config["uid"], config["gid"]  # both set, or both None
    if uid is not None and gid is not None and os.geteuid() == 0:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)  # clears every capability the worker kept
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    # The worker is not dumpable, and the cell inherited that (setuid clears it too); the cell itself may be, so
    # that a worker of the same uid can measure its memory.
    prctl(PR_SET_DUMPABLE, 1)
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # after setuid, which clears it; for the rlimits mode


def set_call_cpu_limit(seconds: int) -> None:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = usage.ru_utime + usage.ru_stime
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = math.ceil(used + seconds)  # RLIMIT_CPU counts whole seconds
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def run_cell(code: str, namespace: dict[str, object], cell_number: int) -> BaseException | None:
    """Run one cell; return the exception that ended it, or None."""
    filename = f"<cell {cell_number}>"
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    try:
        tree = ast.parse(code, filename, "exec")
    except SyntaxError as error:
        print("".join(traceback.format_exception_only(type(error), error)), end="", file=sys.stderr)
        return None
    last_expression = None
    last_statement = tree.body[-1] if tree.body else None
    if isinstance(last_statement, ast.Expr):
        tree.body.pop()
        last_expression = ast.Expression(last_statement.value)
    try:
        exec(compile(tree, filename, "exec"), namespace)
        if last_expression is not None:
            value = eval(compile(last_expression, filename, "eval"), namespace)
            if value is not None:
                print(repr(value))
    except (Exception, CpuTimeLimitExceeded, KeyboardInterrupt, SystemExit) as error:
        if isinstance(error, SystemExit) and error.code in (None, 0):
            return None
        trace = error.__traceback__.tb_next if error.__traceback__ else None  # hide this frame
        print("".join(traceback.format_exception(type(error), error, trace)), end="", file=sys.stderr)
        return error
    return None


def show_figures(counter: int) -> int:
    """Save open matplotlib figures as PNG files, as a notebook would display them; return the new counter."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is None:
        return counter
    for number in pyplot.get_fignums():
        counter += 1
        pyplot.figure(number).savefig(f"figure_{counter}.png")
    pyplot.close("all")
    return counter


def limit_kind(error: BaseException) -> str | None:
    """Which per-process limit stopped the code, if one did."""
    if isinstance(error, CpuTimeLimitExceeded):
        return "cpu"
    if isinstance(error, MemoryError):
        return "memory"
    if isinstance(error, OSError) and error.errno == errno.EFBIG:
        return "file_size"
    if isinstance(error, OSError) and error.errno == errno.EAGAIN:
        return "processes"
    return None


def reap_children() -> None:
    """Collect the children the worker killed after the last call (they wait as zombies of the cell)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def cell_main(config: WorkerConfig, channel: socket.socket) -> None:
    """The cell's life: its limits and uid, then one call per request from the worker."""
    cell_pid = os.getpid()
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})  # blocked in the worker only
    apply_limits(config)
    drop_privileges(config)
    signal.signal(signal.SIGXCPU, on_cpu_limit)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write raises OSError(EFBIG) instead of killing us
    # Line-buffered, so that what the code printed before it was stopped is not lost, and its output and its
    # child processes' come in the order they were written.
    output = io.TextIOWrapper(
        io.FileIO(1, "w", closefd=False), encoding="utf-8", errors="backslashreplace", line_buffering=True
    )
    sys.path.insert(0, os.getcwd())
    namespace: dict[str, object] = {"__name__": "__main__", "__builtins__": __builtins__}
    figures = 0
    requests = channel.makefile("rb")
    for line in requests:
        request = json.loads(line)
        reap_children()
        sys.stdout = sys.stderr = output
        set_call_cpu_limit(config["cpu_seconds"])
        error = run_cell(request["code"], namespace, request["call"])
        if os.getpid() != cell_pid:
            os._exit(0)  # a process the code forked fell through to here: it must never answer
        try:
            figures = show_figures(figures)
        except Exception:
            print("".join(traceback.format_exc()), end="", file=output)
        with contextlib.suppress(OSError, ValueError):
            output.flush()
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))  # an idle session is not charged for past cells
        kind = limit_kind(error) if error is not None else None
        channel.sendall(json.dumps({"call": request["call"], "limit": kind}).encode() + b"\n")


# -- the worker: owns the cell, the protocol and the limits across processes ---------------------------------


class BoundedBytes:
    """What the code printed in one call: the first `limit` bytes kept, the rest counted."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[bytes] = []
        self.size = 0
        self.dropped = 0

    def add(self, data: bytes) -> None:
        room = self.limit - self.size
        if room > 0:
            self.parts.append(data[:room])
            self.size += min(room, len(data))
        self.dropped += max(0, len(data) - max(room, 0))

    def text(self) -> str:
        return b"".join(self.parts).decode("utf-8", errors="replace")


def process_table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, state) of every process this worker can see."""
    table: dict[int, tuple[int, str]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            fd = os.open(f"/proc/{name}/stat", os.O_RDONLY)
        except OSError:
            continue
        try:
            data = os.read(fd, 512)
        except OSError:
            continue
        finally:
            os.close(fd)
        fields = data[data.rindex(b")") + 2 :].split(b" ", 2)  # the command name may hold spaces and parentheses
        table[int(name)] = (int(fields[1]), fields[0].decode())
    return table


def descendants(table: dict[int, tuple[int, str]], root: int) -> list[int]:
    """The live (not zombie) processes under `root`."""
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    found: list[int] = []
    stack = list(children.get(root, []))
    while stack:
        pid = stack.pop()
        if table[pid][1] not in "ZX":
            found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def all_threads_stopped(pid: int) -> bool:
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return True  # gone
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/stat", "rb") as file:
                data = file.read()
        except OSError:
            continue
        if data[data.rindex(b")") + 2 :][:1] not in (b"T", b"t", b"Z", b"X"):
            return False
    return True


def memory_of(pid: int) -> int:
    """Proportional set size in bytes (pages shared between forked processes counted once in all); the
    resident size where the worker may not read smaps."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as file:
            for line in file:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        with open(f"/proc/{pid}/statm", "rb") as file:
            return int(file.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return 0


def tmp_usage() -> int:
    usage = os.statvfs("/tmp")
    return (usage.f_blocks - usage.f_bfree) * usage.f_frsize


def walk(folder_fd: int) -> Iterator[tuple[str, os.stat_result]]:
    """(relative path, lstat) of everything under the folder, never following a link. A folder the worker
    cannot read (the code made it 0o000) is opened up first: what is in it counts too."""
    stack = [(os.dup(folder_fd), "")]
    try:
        while stack:
            fd, prefix = stack.pop()
            try:
                with os.scandir(fd) as entries:
                    for entry in entries:
                        try:
                            info = entry.stat(follow_symlinks=False)
                        except OSError:
                            continue
                        path = prefix + entry.name
                        yield path, info
                        if stat.S_ISDIR(info.st_mode):
                            child = open_directory(entry.name, fd)
                            if child is not None:
                                stack.append((child, path + "/"))
            finally:
                os.close(fd)
    finally:
        for fd, _ in stack:
            os.close(fd)


def open_directory(name: str, parent_fd: int) -> int | None:
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    try:
        return os.open(name, flags, dir_fd=parent_fd)
    except PermissionError:
        pass
    except OSError:
        return None
    try:  # the code made it unreadable (a worker of its own uid has no capability to read it anyway): open it up
        handle = os.open(name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent_fd)
        try:
            os.chmod(f"/proc/self/fd/{handle}", 0o700)  # that very directory, even if the name was swapped since
        finally:
            os.close(handle)
        return os.open(name, flags, dir_fd=parent_fd)
    except OSError:
        return None


def entry_bytes(info: os.stat_result) -> int:
    return max(info.st_size, info.st_blocks * 512, ENTRY_BYTES)


def folder_usage(folder_fd: int, stop_above: int) -> int:
    """Bytes the folder takes, counted until it passes `stop_above`."""
    total = 0
    for _, info in walk(folder_fd):
        total += entry_bytes(info)
        if total > stop_above:
            break
    return total


def folder_state(folder_fd: int) -> dict[str, EntryState]:
    return {
        path: (info.st_ino, info.st_size, info.st_mtime_ns, stat.S_ISDIR(info.st_mode))
        for path, info in walk(folder_fd)
    }


def remove_new_entries(folder_fd: int, before: dict[str, EntryState]) -> list[str]:
    """Remove what the call created or changed in the folder; return the names of the files removed."""
    after = folder_state(folder_fd)
    changed = {
        path for path, state in after.items() if before.get(path) != state and not (state[3] and path in before)
    }  # a directory that was there stays (its mtime moved)
    removed: list[str] = []
    for path in sorted(changed, key=lambda name: -name.count("/")):  # deepest first: directories empty out
        parent, _, name = path.rpartition("/")
        parent_fd = open_path(folder_fd, parent)
        if parent_fd is None:
            continue
        try:
            if after[path][3]:
                shutil.rmtree(name, dir_fd=parent_fd, ignore_errors=True)
            else:
                os.unlink(name, dir_fd=parent_fd)
                removed.append(path)
        except OSError:
            pass
        finally:
            os.close(parent_fd)
    return sorted(removed)


def open_path(folder_fd: int, relative: str) -> int | None:
    fd = os.dup(folder_fd)
    for part in relative.split("/") if relative else []:
        child = open_directory(part, fd)
        os.close(fd)
        if child is None:
            return None
        fd = child
    return fd


def clear_folder(path: str) -> None:
    """Empty a folder (the private /tmp when a cell is replaced), never following a link."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return
    try:
        for name in os.listdir(fd):
            try:
                if stat.S_ISDIR(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode):
                    shutil.rmtree(name, dir_fd=fd, ignore_errors=True)
                else:
                    os.unlink(name, dir_fd=fd)
            except OSError:
                pass
    finally:
        os.close(fd)


class Cell:
    """The worker's handle on one cell process."""

    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.calls = 0
        output_read, output_write = os.pipe()
        channel, cell_channel = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            try:
                channel.detach()  # closed below with the rest; its object must never close a reused number
                os.dup2(output_write, 1)
                os.dup2(output_write, 2)
                keep = cell_channel.fileno()
                os.closerange(3, keep)
                os.closerange(keep + 1, 1 << 16)  # the protocol pipes, the folder, the worker's own channel end
                cell_main(config, cell_channel)
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(1)  # never back into the worker's loop
        os.close(output_write)
        cell_channel.close()
        self.pid = pid
        CELLS.add(pid)
        self.output = output_read
        self.channel = channel
        self.channel.setblocking(False)
        self.received = b""
        self.exited: int | None
        try:
            self.exited = os.pidfd_open(pid)  # readable once the cell has exited
        except (AttributeError, OSError):
            self.exited = None
        self.dead = False

    def run(self, code: str, folder_fd: int) -> tuple[str, str | None, bool]:
        """Run one call; return (logs, error, whether the cell survived)."""
        config = self.config
        self.calls += 1
        self._discard_received()
        before = folder_state(folder_fd)
        request = json.dumps({"call": self.calls, "code": code}).encode() + b"\n"
        output = BoundedBytes(config["output_bytes"])
        started = time.monotonic()
        deadline = started + config["wall_seconds"]
        next_memory, next_disk = started + MEMORY_CHECK_S, started + DISK_CHECK_S
        readers: list[int | socket.socket] = [self.output, self.channel]
        if self.exited is not None:
            readers.append(self.exited)
        with contextlib.suppress(ProcessLookupError):  # it died while stopped: seen below
            os.kill(self.pid, signal.SIGCONT)
        outcome: str | None = None
        limit = ""
        while outcome is None:
            now = time.monotonic()
            timeout = max(0.0, min(deadline, next_memory, next_disk) - now)
            ready, writable, _ = select.select(readers, [self.channel] if request else [], [], timeout)
            if writable:
                try:
                    request = request[self.channel.send(request) :]
                except BlockingIOError:
                    pass
                except OSError:
                    request = b""
            if self.output in ready:
                data = os.read(self.output, 1 << 16)
                if data:
                    output.add(data)
                else:
                    readers.remove(self.output)
            if self.channel in ready:
                done = self._receive_done()
                if done is False:
                    readers.remove(self.channel)  # the code closed its end: it can no longer finish
                elif done is not None:
                    outcome, limit = "done", done
            if (self.exited is not None and self.exited in ready) or (self.exited is None and self._has_exited()):
                outcome = outcome or "died"
            now = time.monotonic()
            if outcome is None and now >= deadline:
                outcome = "timeout"
            if outcome is None and now >= next_memory:
                if self._memory_used() > config["memory_bytes"]:
                    outcome = "memory"
                next_memory = time.monotonic() + MEMORY_CHECK_S
            if outcome is None and now >= next_disk:
                if folder_usage(folder_fd, config["disk_bytes"]) > config["disk_bytes"]:
                    outcome = "disk"
                next_disk = now + max(DISK_CHECK_S, 20 * (time.monotonic() - now))
        errors: list[str] = []
        if outcome == "done":
            if not self._stop():
                errors.append(
                    "The code left processes that could not be stopped; the session was restarted "
                    "and its variables are lost."
                )
                self.kill()
            elif limit:
                errors.append(limit_message(limit, config))
        else:
            self.kill()
            errors.append(stop_message(outcome, config))
        self._drain(output)
        if folder_usage(folder_fd, config["disk_bytes"]) > config["disk_bytes"]:
            removed = remove_new_entries(folder_fd, before)
            errors = [disk_message(removed, outcome == "disk", config)] + (errors if outcome != "disk" else [])
        if self.dead:
            self.close()
        logs = output.text()
        if output.dropped:
            logs += f"\n[output truncated: {output.dropped} more bytes than the {config['output_bytes']} allowed]"
            errors.append(f"The code printed more than {config['output_bytes']} bytes; the rest was dropped.")
        return logs, " ".join(errors) or None, not self.dead

    def kill(self) -> None:
        """Kill the cell and everything it started; forget it."""
        if not self._has_exited():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while kill_strays(exclude=None) and time.monotonic() < deadline:
            time.sleep(0.001)
        if not self.dead:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
            REAPED.discard(self.pid)
            CELLS.discard(self.pid)
            self.dead = True
        if self.config["private_tmp"]:
            clear_folder("/tmp")  # a new session starts from an empty /tmp, as after a reboot

    def close(self) -> None:
        """Let go of a dead cell's pipe and socket (once what was left in them is read)."""
        for fd in (self.output, self.exited):
            if fd is not None:
                os.close(fd)
        self.channel.close()

    def _stop(self) -> bool:
        """Stop every thread of the cell and kill every other process it started. False if that could not be
        done in time (a process stuck in the kernel, say)."""
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while True:
            try:
                os.kill(self.pid, signal.SIGSTOP)  # again each round: a process being killed may have continued it
            except ProcessLookupError:
                return False
            if not self._wait_stopped(deadline):
                return False
            if not kill_strays(exclude=self.pid):
                return True
            if time.monotonic() >= deadline:
                return False

    def _wait_stopped(self, deadline: float) -> bool:
        """Wait until every thread of the cell is stopped; False if it exited or the deadline passed."""
        while True:
            if self._has_exited():
                return False
            if all_threads_stopped(self.pid):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            # SIGCHLD (blocked in the worker) comes when the cell has stopped; the cap covers a signal that
            # was already taken by an earlier wait.
            signal.sigtimedwait([signal.SIGCHLD], min(remaining, 0.01))

    def _has_exited(self) -> bool:
        reap()
        if self.pid in REAPED:
            REAPED.discard(self.pid)
            CELLS.discard(self.pid)
            self.dead = True
        return self.dead

    def _memory_used(self) -> int:
        pids = [self.pid, *descendants(process_table(), self.pid)]
        used = sum(memory_of(pid) for pid in pids)
        return used + (tmp_usage() if self.config["private_tmp"] else 0)

    def _receive_done(self) -> str | Literal[False] | None:
        """The limit kind (or "") when the cell said the current call is done; None if it did not (yet); False
        when its end is closed. Anything else it sent is ignored: it is the code's, not the cell's."""
        try:
            data = self.channel.recv(1 << 16)
        except BlockingIOError:
            return None
        except OSError:
            return False
        if not data:
            return False
        self.received = (self.received + data)[-(1 << 16) :]
        while b"\n" in self.received:
            line, _, self.received = self.received.partition(b"\n")
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if isinstance(message, dict) and message.get("call") == self.calls:
                kind = message.get("limit")
                return kind if kind in ("cpu", "memory", "file_size", "processes") else ""
        return None

    def _discard_received(self) -> None:
        self.received = b""
        while True:
            try:
                if not self.channel.recv(1 << 16):
                    return
            except OSError:
                return

    def _drain(self, output: BoundedBytes) -> None:
        """What is left in the output pipe: its writers are stopped or dead now."""
        os.set_blocking(self.output, False)
        try:
            while True:
                data = os.read(self.output, 1 << 16)
                if not data:
                    break
                output.add(data)
        except (BlockingIOError, OSError):
            pass
        finally:
            if not self.dead:
                os.set_blocking(self.output, True)


def kill_strays(exclude: int | None) -> bool:
    """SIGKILL every live process under this worker but `exclude`; return whether there were any."""
    strays = [pid for pid in descendants(process_table(), os.getpid()) if pid != exclude]
    for pid in strays:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    reap()
    return bool(strays)


CELLS: set[int] = set()  # pids of the cells alive, or exited and not yet seen by their handle
REAPED: set[int] = set()  # cells collected by `reap` before their handle asked


def reap() -> None:
    """Collect exited children: the cell, and the orphans the worker adopted."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        if pid in CELLS:
            REAPED.add(pid)


def limit_message(kind: str, config: WorkerConfig) -> str:
    if kind == "cpu":
        return f"The code used more than {config['cpu_seconds']} s of CPU time and was stopped."
    if kind == "memory":
        return f"The code ran out of memory (limit {config['memory_bytes'] // MIB} MiB)."
    if kind == "file_size":
        return f"The code tried to write a file larger than {config['file_bytes'] // MIB} MiB."
    # "processes": the only other kind the cell reports (Cell._receive_done passes no other)
    return "The code tried to start more processes than the sandbox allows."


def disk_message(removed: list[str], stopped: bool, config: WorkerConfig) -> str:
    shown = ", ".join(removed[:5]) + (f" and {len(removed) - 5} more" if len(removed) > 5 else "")
    return (
        f"The container's files passed their limit of {config['disk_bytes'] // MIB} MiB"
        + (" and the code was stopped" if stopped else "")
        + "; what this call wrote or changed was removed"
        + (f" ({shown})" if removed else "")
        + ("; the session was restarted and its variables are lost." if stopped else ".")
    )


def stop_message(outcome: str | None, config: WorkerConfig) -> str:
    lost = "; the session was restarted and its variables are lost."
    if outcome == "timeout":
        return f"The code ran longer than {config['wall_seconds']:g} s and was stopped" + lost
    if outcome == "memory":
        return (
            f"The code used more than {config['memory_bytes'] // MIB} MiB of memory across its processes "
            "and was stopped" + lost
        )
    if outcome == "disk":
        return f"The code wrote more than {config['disk_bytes'] // MIB} MiB of files and was stopped" + lost
    return "The Python process was killed (it may have exhausted a sandbox limit)" + lost


def main() -> None:
    config: WorkerConfig = json.loads(sys.argv[1])
    requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    prctl(PR_SET_DUMPABLE, 0)
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})  # taken by sigtimedwait (Cell._wait_stopped)
    folder_fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
    cell: Cell | None = None
    started_cells = 0
    replies.write(json.dumps({"ready": True}) + "\n")
    replies.flush()
    for line in requests:
        request = json.loads(line)
        restarted = False
        if cell is None:
            restarted = started_cells > 0
            cell = Cell(config)
            started_cells += 1
        logs, error, alive = cell.run(request["code"], folder_fd)
        if not alive:
            cell = None
        replies.write(json.dumps({"logs": logs, "error": error, "restarted": restarted}) + "\n")
        replies.flush()


if __name__ == "__main__":
    main()
