"""A persistent, sandboxed Python process per container folder: the code interpreter's runtime.

Variables survive between `run` calls. The folder is the code's working directory, seen as `/mnt/data` as on
the real API, and the only place it can write. Inside the sandbox two processes (`sandbox_worker.py`): a worker
that speaks the protocol with this module, and a cell it forks that holds the interpreter state and runs the
code. The code can reach neither the protocol pipes nor the worker; everything it prints is only ever logs. The
worker keeps the cell stopped (SIGSTOP) and its other processes killed whenever no call runs, so nothing in the
sandbox runs while the server touches the folder between calls.

Isolation, strongest first (`detect_isolation`):

- `bwrap`: bubblewrap with new network, pid, ipc and uts namespaces and a file system that holds only /usr (and
  the Python installation) read-only, private /tmp, /proc and /dev, and the folder. There is no network device
  but loopback, so any connection out fails at once. As root the user namespace is left out on purpose: the code
  then runs as the real unprivileged uid `nobody`, which is what makes RLIMIT_NPROC (the fork-bomb limit) bite;
  root is exempt from it, also root mapped inside a user namespace.
- `unshare`: util-linux `unshare` with new network, mount, pid, ipc and uts namespaces, and a start-up script
  that builds the same file system as bwrap's from bind mounts and moves into it (`pivot_root`), so nothing else
  of the host is visible. As root the code runs as `nobody`; otherwise the worker and the code run without any
  capability (mapped root with an empty bounding set).
- `rlimits`: resource limits only, logged as a warning: no network or file isolation at all.

Limits (`SandboxLimits`): per process, address space, largest file, process count and CPU time; across all the
processes of the sandbox, wall time per call, memory (their proportional set size plus the private /tmp, which
is a tmpfs of that size), and the total size of the folder, which the worker measures while a call runs and
after it (past the limit, what the call wrote or changed is removed). A call stopped by the wall time, memory or
folder limit loses its variables; the next call starts a new cell and says so.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pwd
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

from .tool_error import ToolError
from .untrusted_folder import FileState, RefusedEntry, UntrustedFolder

logger = logging.getLogger(__name__)

Isolation = Literal["bwrap", "unshare", "rlimits"]
ISOLATIONS: tuple[Isolation, ...] = ("bwrap", "unshare", "rlimits")
SANDBOX_PATH = "/mnt/data"  # where the code sees its folder, as on the real API
IMAGE_SUFFIXES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
_WORKER_SOURCE = (Path(__file__).with_name("sandbox_worker.py")).read_text()
_START_TIMEOUT_S = 15.0
_REPLY_GRACE_S = 10.0  # the worker enforces the wall time itself; past this too, the whole sandbox is killed
# Host files the namespaced modes show the code, read-only, when they exist (as bwrap's --ro-bind-try).
_RUNTIME_FILES = ("/etc/ld.so.cache", "/etc/localtime", "/etc/fonts", "/etc/alternatives", "/etc/mime.types")

MEMORY_LIMITS = {"1g": 1 << 30, "4g": 4 << 30, "16g": 16 << 30, "64g": 64 << 30}


@dataclass(frozen=True)
class SandboxLimits:
    wall_seconds: float = 60.0  # per call; past it the session is killed and restarted
    cpu_seconds: int = 30  # per call
    # The address space of each process, and (namespaced modes) the memory of all of them plus /tmp together.
    memory_bytes: int = 1 << 30
    file_bytes: int = 100 << 20  # the largest file the code may write
    disk_bytes: int = 1 << 30  # all the files in the folder together
    output_bytes: int = 1 << 20  # bytes of stdout + stderr kept per call
    processes: int = 32  # processes the code may run at once (its own included)
    session_cpu_seconds: int = 3600  # CPU time of one process over all its calls


@dataclass(frozen=True)
class ProducedFile:
    """A file the code created or changed in its folder. There is no host path to it on purpose: the code can
    swap the name for a symlink at any moment, so it is read through the folder's descriptors (`read`)."""

    name: str  # relative to the folder, with "/" separators
    size: int
    folder: UntrustedFolder = field(repr=False, compare=False)

    def read(self, max_bytes: int) -> bytes:
        """Its bytes; RefusedEntry when the name no longer holds a regular file inside the folder (the code
        swapped it, or removed it) or holds more than `max_bytes`."""
        return self.folder.read(self.name, max_bytes)

    @property
    def sandbox_path(self) -> str:
        return f"{SANDBOX_PATH}/{self.name}"

    @property
    def media_type(self) -> str | None:
        """The image media type when the file is an image the API would show as an image output."""
        return IMAGE_SUFFIXES.get(Path(self.name).suffix.lower())


@dataclass(frozen=True)
class ExecutionResult:
    logs: str  # what the code printed, tracebacks included
    error: str | None = None  # set when a sandbox limit (not the code itself) stopped the call
    files: list[ProducedFile] = field(default_factory=list)
    restarted: bool = False  # the previous process was gone: variables from earlier calls are lost


class PythonSandbox:
    """One persistent sandboxed Python process working in `folder`. Thread-safe; calls run one at a time."""

    def __init__(self, folder: Path, limits: SandboxLimits = SandboxLimits(), isolation: Isolation | None = None):
        self.folder = Path(folder).resolve()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.contents = UntrustedFolder(self.folder)  # what the server does in the folder goes through this
        self.limits = limits
        self.isolation: Isolation = isolation or detect_isolation()
        self._process: subprocess.Popen[bytes] | None = None
        self._buffer = b""
        self._lock = threading.Lock()
        self._started_once = False

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the process now (it is started on first `run` anyway)."""
        with self._lock:
            if not self.alive:
                self._start()

    def run(self, code: str) -> ExecutionResult:
        with self._lock:
            restarted = False
            if not self.alive:
                restarted = self._started_once
                self._start()
            assert self._process is not None and self._process.stdin is not None
            # Nothing in the sandbox runs from here until the request is written, and again once the reply is
            # read: between calls the worker keeps the cell stopped and its other processes killed. This is
            # where the server may touch the folder.
            uid = _sandbox_uid(self.isolation)
            if uid is not None:
                _give_folder_to(self.contents, uid)  # files the server added since the last call included
            before = _snapshot(self.contents)
            try:
                self._process.stdin.write(json.dumps({"code": code}).encode() + b"\n")
                self._process.stdin.flush()
            except (BrokenPipeError, OSError) as error:
                self._kill()
                raise ToolError(
                    "The Python sandbox stopped unexpectedly; run the code again.", "sandbox_crashed"
                ) from error
            # The worker enforces the wall time itself; this bound only catches a worker that stopped answering.
            waited_at_most = time.monotonic() + self.limits.wall_seconds + _REPLY_GRACE_S
            reply = self._read_reply(self.limits.wall_seconds + _REPLY_GRACE_S)
            if reply is None:
                # Its output ended before the time was up: it died (the exit itself may not be visible yet).
                crashed = self._process.poll() is not None or time.monotonic() < waited_at_most
                self._kill()
                if crashed:
                    reply = {
                        "logs": "",
                        "error": "The Python process was killed (it may have exhausted a sandbox "
                        "limit); the session was restarted and its variables are lost.",
                    }
                else:
                    reply = {
                        "logs": "",
                        "error": f"The code ran longer than {self.limits.wall_seconds:g} s and was "
                        "stopped; the session was restarted and its variables are lost.",
                    }
            files = _changed_files(self.contents, before)
            restarted = restarted or bool(reply.get("restarted"))  # the worker replaced the cell
            return ExecutionResult(logs=reply["logs"], error=reply.get("error"), files=files, restarted=restarted)

    def close(self) -> None:
        with self._lock:
            self._kill()

    # -- process ----------------------------------------------------------------------------------------------

    def _start(self) -> None:
        uid = _sandbox_uid(self.isolation)
        config = {
            "memory_bytes": self.limits.memory_bytes,
            "file_bytes": self.limits.file_bytes,
            "output_bytes": self.limits.output_bytes,
            "cpu_seconds": self.limits.cpu_seconds,
            "session_cpu_seconds": self.limits.session_cpu_seconds,
            # RLIMIT_NPROC counts every process of the uid, so leave room for the ones it already runs.
            "max_processes": _process_count(uid if uid is not None else os.getuid()) + self.limits.processes,
            "uid": uid,
            "gid": uid,
            "wall_seconds": self.limits.wall_seconds,
            "disk_bytes": self.limits.disk_bytes,
            "private_tmp": self.isolation != "rlimits",
        }
        worker = [sys.executable, "-I", "-c", _WORKER_SOURCE, json.dumps(config)]
        command, cwd = self._command(worker)
        self._process = subprocess.Popen(
            command,
            cwd=cwd,
            env=_sandbox_environment(self.folder if self.isolation == "rlimits" else Path(SANDBOX_PATH)),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, so a kill reaches everything it started
        )
        self._buffer = b""
        self._started_once = True
        ready = self._read_reply(_START_TIMEOUT_S)
        if not ready or not ready.get("ready"):
            stderr = self._drain_stderr()
            self._kill()
            raise ToolError(
                f"The Python sandbox ({self.isolation}) failed to start: {stderr or 'no output'}", "sandbox_unavailable"
            )
        assert self._process.stderr is not None
        self._process.stderr.close()  # nothing writes there once the worker runs; never let the pipe fill

    def _command(self, worker: list[str]) -> tuple[list[str], Path | None]:
        if self.isolation == "bwrap":
            return _bwrap_command(self.folder, worker, self.limits.memory_bytes), None
        if self.isolation == "unshare":
            return _unshare_command(self.folder, worker, self.limits.memory_bytes), None
        return worker, self.folder

    def _read_reply(self, timeout: float) -> dict[str, Any] | None:
        """The next JSON line from the worker, or None on timeout or end of output."""
        assert self._process is not None and self._process.stdout is not None
        fd = self._process.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            readable, _, _ = select.select([fd], [], [], remaining)
            if not readable:
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            reply = json.loads(line)
        except ValueError:
            return None
        return reply if isinstance(reply, dict) else None

    def _drain_stderr(self) -> str:
        process = self._process
        if process is None or process.stderr is None or process.stderr.closed:
            return ""
        try:
            os.set_blocking(process.stderr.fileno(), False)
            return (process.stderr.read() or b"").decode(errors="replace").strip()[-2000:]
        except OSError:
            return ""

    def _kill(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None and not stream.closed:
                stream.close()


# -- isolation --------------------------------------------------------------------------------------------------


@cache
def detect_isolation() -> Isolation:
    """The strongest isolation this machine offers; `ASSISTANT_SANDBOX` can ask for a weaker one."""
    wanted = os.environ.get("ASSISTANT_SANDBOX")
    candidates = ISOLATIONS[ISOLATIONS.index(wanted) :] if wanted in ISOLATIONS else ISOLATIONS
    for mode in candidates:
        if isolation_available(mode):
            if mode == "rlimits":
                logger.warning(
                    "Neither bubblewrap (bwrap) nor unshare can sandbox code here: the code interpreter runs with "
                    "resource limits only, with network and file access. Install bubblewrap (apt install bubblewrap)."
                )
            return mode
    return "rlimits"


@cache
def isolation_available(mode: Isolation) -> bool:
    """Whether `mode` works on this machine (tried once, with a trivial command)."""
    if mode == "rlimits":
        return True
    probe = [sys.executable, "-I", "-c", "pass"]
    try:
        if mode == "bwrap":
            if shutil.which("bwrap") is None:
                return False
            command = _bwrap_command(Path("/nonexistent-probe"), probe, 1 << 20, probe_only=True)
        else:
            if shutil.which("unshare") is None:
                return False
            command = _unshare_command(Path("/nonexistent-probe"), probe, 1 << 20, probe_only=True)
        result = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=20)
    except (OSError, subprocess.SubprocessError, ToolError):
        return False
    if result.returncode != 0:
        logger.info("sandbox mode %s is unavailable: %s", mode, result.stderr.decode(errors="replace").strip())
    return result.returncode == 0


def _python_roots() -> list[Path]:
    """Folders the interpreter needs (its prefix, a venv, the real executable's installation), outside /usr."""
    candidates = {Path(sys.base_prefix), Path(sys.prefix), Path(os.path.realpath(sys.executable)).parent.parent}
    roots = sorted({path.resolve() for path in candidates})
    return [
        root
        for root in roots
        if not _is_under(root, Path("/usr")) and not any(other != root and _is_under(root, other) for other in roots)
    ]


def _bwrap_command(folder: Path, worker: list[str], tmp_bytes: int, probe_only: bool = False) -> list[str]:
    command = ["bwrap", "--die-with-parent", "--new-session"]
    if os.geteuid() == 0:
        # No user namespace: the worker drops the code to a real unprivileged uid (see the module docstring). It
        # keeps what it needs to stop, measure and clean up after the code's processes: signalling them, reading
        # their /proc/<pid>/smaps_rollup, and reading and removing files the code made unreadable to root.
        command += [
            "--unshare-net",
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--cap-drop",
            "ALL",
        ]
        for capability in _WORKER_CAPABILITIES:
            command += ["--cap-add", capability]
    else:
        command += ["--unshare-all"]
    command += ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            command += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            command += ["--ro-bind", str(path), str(path)]
    command += ["--perms", "0755", "--dir", "/etc"]  # bwrap would make it 0700: the code could not read the files
    for runtime_file in _RUNTIME_FILES:
        command += ["--ro-bind-try", runtime_file, runtime_file]
    # The private /tmp comes before the interpreter's folders: bwrap mounts in order, and a virtualenv under /tmp
    # would otherwise be hidden by it. It is memory: the worker counts it in the memory limit.
    command += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", str(tmp_bytes), "--tmpfs", "/tmp"]
    for root in _python_roots():
        for parent in reversed(root.parents):
            if parent != Path("/"):
                command += ["--perms", "0755", "--dir", str(parent)]  # bwrap would make them 0700
        command += ["--ro-bind", str(root), str(root)]
    if not probe_only:
        # /mnt 0755 too: bwrap would make it 0700, and the code could not reach its folder by its absolute path.
        command += ["--perms", "0755", "--dir", "/mnt", "--bind", str(folder), SANDBOX_PATH, "--chdir", SANDBOX_PATH]
    return command + worker


_WORKER_CAPABILITIES = ("CAP_SETUID", "CAP_SETGID", "CAP_KILL", "CAP_SYS_PTRACE", "CAP_DAC_OVERRIDE", "CAP_FOWNER")

# Runs as root (or mapped root) in the new mount and pid namespaces, before the worker starts, and builds the
# file system bwrap gives: a read-only tmpfs root holding /usr, the interpreter and a few /etc files (bound
# read-only from the host), a private /tmp, a /proc of its own, a minimal /dev and the folder at /mnt/data. It is
# built on a tmpfs mounted at a staging folder that holds none of them (shadowed in this namespace only), then
# becomes the root (pivot_root) and the host's root is detached: nothing else of the host stays reachable.
_UNSHARE_SCRIPT = r"""
set -eu
umask 022
path=$PATH; PATH=/usr/sbin:/usr/bin:/sbin:/bin
new=$1; folder=$2; tmp_bytes=$3; drop_capabilities=$4; shift 4
mount --make-rprivate /
mount -t tmpfs -o mode=0755,size=1m sandbox "$new"
mkdir "$new/tmp"
mount -t tmpfs -o "mode=1777,size=$tmp_bytes" sandbox "$new/tmp"
while [ "$1" != "--" ]; do
  source=$1; shift
  if [ -L "$source" ]; then
    mkdir -p "$new$(dirname "$source")"; ln -s "$(readlink "$source")" "$new$source"
  elif [ -d "$source" ]; then
    mkdir -p "$new$source"; mount -o bind,ro "$source" "$new$source"
  elif [ -e "$source" ]; then
    mkdir -p "$new$(dirname "$source")"; : > "$new$source"; mount -o bind,ro "$source" "$new$source"
  fi
done
shift
mkdir "$new/proc" "$new/dev" "$new/mnt" "$new/mnt/data"
mount -t proc proc "$new/proc"
mount -t tmpfs -o mode=0755,size=64k sandbox "$new/dev"
mkdir "$new/dev/shm"
for device in null zero full random urandom tty; do
  if [ -e "/dev/$device" ]; then : > "$new/dev/$device"; mount --bind "/dev/$device" "$new/dev/$device"; fi
done
ln -s /proc/self/fd "$new/dev/fd"
ln -s /proc/self/fd/0 "$new/dev/stdin"; ln -s /proc/self/fd/1 "$new/dev/stdout"; ln -s /proc/self/fd/2 "$new/dev/stderr"
mount -o remount,bind,ro "$new/dev"
[ "$folder" = "-" ] || mount --bind "$folder" "$new/mnt/data"
cd "$new"
mkdir .host
pivot_root . .host
cd /
umount -l /.host
rmdir /.host
mount -o remount,bind,ro /
cd /mnt/data
PATH=$path
if [ "$drop_capabilities" = 1 ]; then exec setpriv --inh-caps=-all --bounding-set=-all -- "$@"; fi
exec "$@"
"""
_STAGING_CANDIDATES = ("/mnt", "/media", "/srv", "/opt", "/boot", "/var/tmp", "/tmp")


def _unshare_command(folder: Path, worker: list[str], tmp_bytes: int, probe_only: bool = False) -> list[str]:
    command = ["unshare", "--net", "--mount", "--pid", "--ipc", "--uts", "--fork", "--kill-child"]
    if os.geteuid() != 0:
        command.insert(1, "--map-root-user")
    runtime = [
        "/usr",
        *(f"/{name}" for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32")),
        *_RUNTIME_FILES,
        *(str(root) for root in _python_roots()),
    ]
    needed = [Path(path) for path in runtime] + ([] if probe_only else [folder])
    staging = next(
        (
            candidate
            for candidate in _STAGING_CANDIDATES
            if os.path.isdir(candidate)
            and not os.path.islink(candidate)
            and not any(_is_under(path, Path(candidate)) for path in needed)
        ),
        None,
    )
    if staging is None:
        raise ToolError(
            "The unshare sandbox has no folder to build its file system in (it needs one of "
            f"{', '.join(_STAGING_CANDIDATES)} that holds neither the interpreter nor the container).",
            "sandbox_unavailable",
        )
    arguments = [staging, "-" if probe_only else str(folder), str(tmp_bytes), "1" if os.geteuid() != 0 else "0"]
    return [*command, "sh", "-c", _UNSHARE_SCRIPT, "sandbox", *arguments, *runtime, "--", *worker]


def _sandbox_uid(isolation: Isolation) -> int | None:
    """The uid the code runs as: `nobody` when we are root and a namespace sandbox re-exposes the interpreter
    (it may live under /root, which `nobody` cannot enter); otherwise None, our own uid."""
    if os.geteuid() != 0 or isolation == "rlimits":
        return None
    try:
        return pwd.getpwnam("nobody").pw_uid
    except KeyError:
        return 65534


def _give_folder_to(folder: UntrustedFolder, uid: int) -> None:
    """Let the sandbox uid write its folder (files the server put there included). Folders stay 0755: bwrap
    enters the folder as root without CAP_DAC_OVERRIDE; other users are kept out by the containers root. Done
    through descriptors: the code may have swapped any name for a link to a host file meanwhile."""
    try:
        folder.give_to(uid, uid)
    except RefusedEntry as error:
        raise ToolError(f"The container's folder cannot be used: {error}.", "sandbox_unavailable") from None


def _process_count(uid: int) -> int:
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    count += 1
            except OSError:
                continue
    return count


def _sandbox_environment(home: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TMPDIR": "/tmp",
        "MPLBACKEND": "Agg",  # no display: figures are saved as files
        "MPLCONFIGDIR": "/tmp/matplotlib",
        "OPENBLAS_NUM_THREADS": "1",  # BLAS thread pools reserve address space the memory limit would refuse
        "OMP_NUM_THREADS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


# -- files the code produced -------------------------------------------------------------------------------------


def _snapshot(folder: UntrustedFolder) -> dict[str, FileState]:
    """Regular files by name, never following symlinks: code can plant a link to /etc/shadow, and the server
    reading it as root must not leak it."""
    try:
        return folder.regular_files()
    except RefusedEntry as error:  # the folder itself is gone or was swapped for a link
        raise ToolError(f"The container's folder cannot be used: {error}.", "sandbox_unavailable") from None


def _changed_files(folder: UntrustedFolder, before: dict[str, FileState]) -> list[ProducedFile]:
    try:
        after = folder.regular_files()
    except RefusedEntry:
        return []  # the code's output still counts; the folder has nothing the server can show
    return [
        ProducedFile(name, state.size, folder) for name, state in sorted(after.items()) if before.get(name) != state
    ]


def _is_under(path: Path, parent: Path) -> bool:
    return path == parent or parent in path.parents
