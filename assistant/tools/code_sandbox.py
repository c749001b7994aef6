"""A persistent, sandboxed Python process per container folder: the code interpreter's runtime.

Variables survive between `run` calls (one long-lived worker process, `sandbox_worker.py`). The folder is the
code's working directory, seen as `/mnt/data` as on the real API, and the only place it can write. Isolation,
strongest first (`detect_isolation`):

- `bwrap`: bubblewrap with new network, pid, ipc and uts namespaces and a file system that holds only /usr (and
  the Python installation) read-only, private /tmp, /proc and /dev, and the folder. There is no network device
  but loopback, so any connection out fails at once. As root the user namespace is left out on purpose: the code
  then runs as the real unprivileged uid `nobody`, which is what makes RLIMIT_NPROC (the fork-bomb limit) bite;
  root is exempt from it, also root mapped inside a user namespace.
- `unshare`: util-linux `unshare` with new network, mount and pid namespaces; a start-up script hides home
  folders and temporary folders behind empty tmpfs mounts, re-exposes the Python installation read-only and
  binds the folder at /mnt/data; as root the code runs as `nobody`, so the rest of the file system is only
  readable where it is world-readable and nowhere writable.
- `rlimits`: resource limits only, logged as a warning: no network or file isolation at all.

Limits in every mode: wall time and CPU time per call, address space, largest file, process count, output size.
A call that hits the wall-time limit kills the whole sandbox; the next call starts a fresh process (and says so).
"""

from __future__ import annotations

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
from functools import lru_cache
from pathlib import Path
from typing import Literal

from .errors import ToolError

logger = logging.getLogger(__name__)

Isolation = Literal["bwrap", "unshare", "rlimits"]
ISOLATIONS: tuple[Isolation, ...] = ("bwrap", "unshare", "rlimits")
SANDBOX_PATH = "/mnt/data"  # where the code sees its folder, as on the real API
IMAGE_SUFFIXES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
                  ".webp": "image/webp"}
_WORKER_SOURCE = (Path(__file__).with_name("sandbox_worker.py")).read_text()
_START_TIMEOUT_S = 15.0
# Folders the `unshare` mode hides behind empty tmpfs mounts: homes and the server's private files (read-only
# to the code), and temporary folders (private and writable, as on any machine, and gone with the sandbox).
_HIDDEN_DIRS = ("/root", "/home", "/run", "/srv", "/media", "/opt")
_PRIVATE_TEMP_DIRS = ("/tmp", "/var/tmp", "/dev/shm")

MEMORY_LIMITS = {"1g": 1 << 30, "4g": 4 << 30, "16g": 16 << 30, "64g": 64 << 30}


@dataclass(frozen=True)
class SandboxLimits:
    wall_seconds: float = 60.0  # per call; past it the sandbox is killed and restarted
    cpu_seconds: int = 30  # per call
    memory_bytes: int = 1 << 30  # address space of the Python process
    file_bytes: int = 100 << 20  # the largest file the code may write
    output_bytes: int = 1 << 20  # characters of stdout + stderr kept per call
    processes: int = 32  # processes the code may run at once (its own included)
    session_cpu_seconds: int = 3600  # CPU time of one process over all its calls

    @classmethod
    def for_memory_limit(cls, memory_limit: str | None, **overrides: float) -> "SandboxLimits":
        """Limits for the API's `memory_limit` ("1g", "4g", ...)."""
        memory = MEMORY_LIMITS.get(memory_limit or "1g", MEMORY_LIMITS["1g"])
        return cls(memory_bytes=memory, **overrides)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ProducedFile:
    """A file the code created or changed in its folder."""

    path: Path  # on the host
    name: str  # relative to the folder, with "/" separators
    size: int

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
            uid = _sandbox_uid(self.isolation)
            if uid is not None:
                _give_folder_to(self.folder, uid)  # files the server added since the last call included
            before = _snapshot(self.folder)
            try:
                self._process.stdin.write(json.dumps({"code": code}).encode() + b"\n")
                self._process.stdin.flush()
            except (BrokenPipeError, OSError):
                self._kill()
                raise ToolError("The Python sandbox stopped unexpectedly; run the code again.", "sandbox_crashed")
            reply = self._read_reply(self.limits.wall_seconds)
            if reply is None:
                crashed = self._process.poll() is not None
                self._kill()
                if crashed:
                    reply = {"logs": "", "error": "The Python process was killed (it may have exhausted a sandbox "
                                                  "limit); the session was restarted and its variables are lost."}
                else:
                    reply = {"logs": "", "error": f"The code ran longer than {self.limits.wall_seconds:g} s and was "
                                                  "stopped; the session was restarted and its variables are lost."}
            files = _changed_files(self.folder, before)
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
            "own_pid_namespace": self.isolation != "rlimits",
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
            raise ToolError(f"The Python sandbox ({self.isolation}) failed to start: {stderr or 'no output'}",
                            "sandbox_unavailable")
        assert self._process.stderr is not None
        self._process.stderr.close()  # nothing writes there once the worker runs; never let the pipe fill

    def _command(self, worker: list[str]) -> tuple[list[str], Path | None]:
        if self.isolation == "bwrap":
            return _bwrap_command(self.folder, worker), None
        if self.isolation == "unshare":
            return _unshare_command(self.folder, worker), None
        return worker, self.folder

    def _read_reply(self, timeout: float) -> dict | None:
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
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None and not stream.closed:
                stream.close()


# -- isolation --------------------------------------------------------------------------------------------------


@lru_cache(maxsize=None)
def detect_isolation() -> Isolation:
    """The strongest isolation this machine offers; `ASSISTANT_SANDBOX` can ask for a weaker one."""
    wanted = os.environ.get("ASSISTANT_SANDBOX")
    candidates = ISOLATIONS[ISOLATIONS.index(wanted):] if wanted in ISOLATIONS else ISOLATIONS  # type: ignore[arg-type]
    for mode in candidates:
        if isolation_available(mode):
            if mode == "rlimits":
                logger.warning(
                    "Neither bubblewrap (bwrap) nor unshare can sandbox code here: the code interpreter runs with "
                    "resource limits only, with network and file access. Install bubblewrap (apt install bubblewrap)."
                )
            return mode
    return "rlimits"


@lru_cache(maxsize=None)
def isolation_available(mode: Isolation) -> bool:
    """Whether `mode` works on this machine (tried once, with a trivial command)."""
    if mode == "rlimits":
        return True
    probe = [sys.executable, "-I", "-c", "pass"]
    try:
        if mode == "bwrap":
            if shutil.which("bwrap") is None:
                return False
            command = _bwrap_command(Path("/nonexistent-probe"), probe, probe_only=True)
        else:
            if shutil.which("unshare") is None:
                return False
            command = _unshare_command(Path("/nonexistent-probe"), probe, probe_only=True)
        result = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return False
    if result.returncode != 0:
        logger.info("sandbox mode %s is unavailable: %s", mode, result.stderr.decode(errors="replace").strip())
    return result.returncode == 0


def _python_roots() -> list[Path]:
    """Folders the interpreter needs (its prefix, a venv, the real executable's installation), outside /usr."""
    candidates = {Path(sys.base_prefix), Path(sys.prefix), Path(os.path.realpath(sys.executable)).parent.parent}
    roots = sorted({path.resolve() for path in candidates})
    return [root for root in roots if not _is_under(root, Path("/usr")) and not any(
        other != root and _is_under(root, other) for other in roots)]


def _bwrap_command(folder: Path, worker: list[str], probe_only: bool = False) -> list[str]:
    command = ["bwrap", "--die-with-parent", "--new-session"]
    if os.geteuid() == 0:
        # No user namespace: the worker drops to a real unprivileged uid itself (see the module docstring).
        command += ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
                    "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        command += ["--unshare-all"]
    command += ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            command += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            command += ["--ro-bind", str(path), str(path)]
    for path in ("/etc/ld.so.cache", "/etc/localtime", "/etc/fonts", "/etc/alternatives", "/etc/mime.types"):
        command += ["--ro-bind-try", path, path]
    # The private /tmp comes before the interpreter's folders: bwrap mounts in order, and a virtualenv under /tmp
    # would otherwise be hidden by it.
    command += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for root in _python_roots():
        for parent in reversed(root.parents):
            if parent != Path("/"):
                command += ["--perms", "0755", "--dir", str(parent)]  # bwrap would make them 0700
        command += ["--ro-bind", str(root), str(root)]
    if not probe_only:
        command += ["--bind", str(folder), SANDBOX_PATH, "--chdir", SANDBOX_PATH]
    return command + worker


# Runs as root (or mapped root) in the new mount namespace, before the worker starts. /mnt becomes a fresh tmpfs
# holding the folder (/mnt/data) and read-only binds of the interpreter's folders, which are then bound back at
# their own paths once home and temporary folders are hidden.
_UNSHARE_SCRIPT = r"""
set -eu
folder=$1; hidden=$2; temporary=$3; shift 3
mount --make-rprivate /
mkdir -p /mnt
mount -t tmpfs -o mode=0755,size=1m sandbox /mnt
n=0
for root in $PYTHON_ROOTS; do
  n=$((n+1)); mkdir "/mnt/.python-$n"; mount --bind "$root" "/mnt/.python-$n"; mount -o remount,bind,ro "/mnt/.python-$n"
done
mkdir /mnt/data
[ "$folder" = "-" ] || mount --bind "$folder" /mnt/data
for dir in $hidden; do if [ -d "$dir" ]; then mount -t tmpfs -o mode=0755,size=1m sandbox "$dir"; fi; done
for dir in $temporary; do if [ -d "$dir" ]; then mount -t tmpfs -o mode=1777,size=64m sandbox "$dir"; fi; done
n=0
for root in $PYTHON_ROOTS; do
  n=$((n+1)); mkdir -p "$root"; mount --bind "/mnt/.python-$n" "$root"; mount -o remount,bind,ro "$root"
done
: > /mnt/.denied; chmod 000 /mnt/.denied
for secret in /etc/shadow /etc/gshadow; do if [ -e "$secret" ]; then mount --bind /mnt/.denied "$secret"; fi; done
cd /mnt/data
exec "$@"
"""


def _unshare_command(folder: Path, worker: list[str], probe_only: bool = False) -> list[str]:
    command = ["unshare", "--net", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc"]
    if os.geteuid() != 0:
        command.insert(1, "--map-root-user")
    script = _UNSHARE_SCRIPT.replace("$PYTHON_ROOTS", " ".join(f"'{root}'" for root in _python_roots()))
    target = "-" if probe_only else str(folder)
    return command + ["sh", "-c", script, "sandbox", target, " ".join(_HIDDEN_DIRS), " ".join(_PRIVATE_TEMP_DIRS)] + worker


def _sandbox_uid(isolation: Isolation) -> int | None:
    """The uid the code runs as: `nobody` when we are root and a namespace sandbox re-exposes the interpreter
    (it may live under /root, which `nobody` cannot enter); otherwise None, our own uid."""
    if os.geteuid() != 0 or isolation == "rlimits":
        return None
    try:
        return pwd.getpwnam("nobody").pw_uid
    except KeyError:
        return 65534


def _give_folder_to(folder: Path, uid: int) -> None:
    """Let the sandbox uid write its folder (files the server put there included). Folders stay 0755: bwrap
    enters the folder as root without CAP_DAC_OVERRIDE; other users are kept out by the containers root."""
    for directory, _, names in os.walk(folder):
        os.lchown(directory, uid, uid)
        os.chmod(directory, 0o755)
        for name in names:
            os.lchown(os.path.join(directory, name), uid, uid)


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


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    state = {}
    for path in _regular_files(folder):
        stat = path.lstat()
        state[path.relative_to(folder).as_posix()] = (stat.st_size, stat.st_mtime_ns)
    return state


def _changed_files(folder: Path, before: dict[str, tuple[int, int]]) -> list[ProducedFile]:
    produced = []
    for name, (size, mtime) in sorted(_snapshot(folder).items()):
        if before.get(name) != (size, mtime):
            produced.append(ProducedFile(folder / name, name, size))
    return produced


def _regular_files(folder: Path) -> list[Path]:
    """Regular files under `folder`, never following symlinks: code can plant a link to /etc/shadow, and the
    server reading it as root must not leak it."""
    found = []
    for directory, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames[:] = [name for name in dirnames if not name.startswith(".")]
        for name in filenames:
            path = Path(directory) / name
            try:
                if path.is_file() and not path.is_symlink():
                    found.append(path)
            except OSError:
                continue
    return found


def _is_under(path: Path, parent: Path) -> bool:
    return path == parent or parent in path.parents
