"""A folder whose contents someone else controls, touched only through file descriptors.

Sandboxed code owns its container folder: at any moment, from a thread that outlives the call, it can swap any
file or folder in it for a symlink (renameat2(RENAME_EXCHANGE) swaps two names atomically). A check on a path
("is it a symlink?", "does it resolve inside?") followed by a use of the same path is a race the code can win,
and the server, often root, would then read, write or chown a file outside the folder. So nothing here uses a
path into the folder: each operation opens the folder as a directory descriptor and opens everything beneath
it relative to that descriptor, never following a symlink or crossing a mount, with `openat2(RESOLVE_BENEATH |
RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV)` where the kernel has it (Linux 5.6+), else one
`openat(O_NOFOLLOW)` per path component. What is checked (`fstat`) is then what is used (`read`, `fchown`,
`fchmod` on the same descriptor), and new files are created with `O_CREAT | O_EXCL`, so a planted link is never
written through. A regular file with more than one link is refused: a hard link names a file that may live
elsewhere.

The folder's own path must contain no symlink (resolve it once, before any code runs): opening it refuses any
symlink on the way, so a folder later swapped for a link is refused too.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

MAX_DEPTH = 64  # folders deeper than this are not walked (each level holds a descriptor while it is walked)
DIRECTORY_MODE = 0o755  # what `give_to` sets: the sandbox enters its folder as root without CAP_DAC_OVERRIDE
FILE_MODE = 0o600  # files this module creates
TEMPORARY_PREFIX = ".partial-"  # `replace` writes here first; never reported as a file
# A descriptor that only names a folder (Linux); elsewhere the folder is opened for reading, which needs `r`.
_O_PATH = getattr(os, "O_PATH", os.O_RDONLY)


class RefusedEntry(OSError):
    """An entry that cannot be used safely: missing, reached through a symlink or a mount, not a regular file
    (or folder), linked from elsewhere, or named with a path that leaves the folder."""

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"


class FileTooLarge(RefusedEntry):
    pass


@dataclass(frozen=True)
class FileState:
    size: int
    mtime_ns: int


class UntrustedFolder:
    """The folder at `path` (a real path: no symlinks). Every method opens it afresh; nothing is held open."""

    def __init__(self, path: Path) -> None:
        self.path = Path(os.path.abspath(path))

    def __repr__(self) -> str:
        return f"UntrustedFolder({str(self.path)!r})"

    def read(self, relative: str, max_bytes: int) -> bytes:
        """The bytes of the regular file `relative` ("a/b.png"); RefusedEntry if it is not one, FileTooLarge if
        it holds more than `max_bytes`."""
        parts = _parts(relative)
        with self._opened() as root:
            fd = _open_beneath(root, parts, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)  # a FIFO must not block
            try:
                info = os.fstat(fd)
                _require_regular(info, relative)
                if info.st_size > max_bytes:
                    raise FileTooLarge(errno.EFBIG, f"larger than {max_bytes} bytes", relative)
                data = _read_at_most(fd, max_bytes + 1)  # it may grow after the fstat
                if len(data) > max_bytes:
                    raise FileTooLarge(errno.EFBIG, f"larger than {max_bytes} bytes", relative)
                return data
            finally:
                os.close(fd)

    def replace(self, relative: str, data: bytes) -> None:
        """Make `relative` a new regular file holding `data`, whatever the name held before (a planted symlink
        is replaced, never written through): written under a fresh name beside it, then renamed over it."""
        parts = _parts(relative)
        with self._opened() as root, _parent(root, parts, relative) as parent:
            temporary = f"{TEMPORARY_PREFIX}{secrets.token_hex(8)}"
            _write_new(parent, temporary, data)
            try:
                os.rename(temporary, parts[-1], src_dir_fd=parent, dst_dir_fd=parent)
            except OSError as error:
                _unlink_quietly(parent, temporary)
                folder = error.errno in (errno.EISDIR, errno.ENOTEMPTY, errno.EEXIST)
                raise RefusedEntry(error.errno, "a folder has that name" if folder else _why(error), relative) from None

    def create(self, relative: str, data: bytes) -> None:
        """Create `relative` holding `data`; FileExistsError if the name is taken (by anything, a symlink too)."""
        parts = _parts(relative)
        with self._opened() as root, _parent(root, parts, relative) as parent:
            _write_new(parent, parts[-1], data)

    def remove(self, relative: str) -> None:
        """Remove the entry `relative` itself (a symlink, never its target); nothing if it is gone already."""
        parts = _parts(relative)
        with self._opened() as root, _parent(root, parts, relative) as parent:
            try:
                os.unlink(parts[-1], dir_fd=parent)
            except FileNotFoundError:
                pass
            except IsADirectoryError:
                raise RefusedEntry(errno.EISDIR, "is a folder", relative) from None

    def give_to(self, uid: int, gid: int) -> None:
        """Make the folder, its folders and its regular files owned by `uid`:`gid`, folders mode 0755. Entries
        are changed through their own descriptors, so a name swapped for a symlink meanwhile is skipped, not
        followed."""
        with self._opened() as root:
            _give_directory(root, uid, gid, depth=0)

    def regular_files(self) -> dict[str, FileState]:
        """Every regular file (relative name with "/" -> size and mtime), symlinks and dot-folders left out."""
        found: dict[str, FileState] = {}
        with self._opened() as root:
            _collect(root, "", found, depth=0)
        return found

    @contextmanager
    def _opened(self) -> Iterator[int]:
        try:
            fd = _open_real_directory(self.path)
        except OSError as error:
            raise RefusedEntry(error.errno, f"cannot open the folder ({error.strerror})", str(self.path)) from None
        try:
            yield fd
        finally:
            os.close(fd)


# -- opening beneath a descriptor ----------------------------------------------------------------------------

_RESOLVE_NO_XDEV = 0x01
_RESOLVE_NO_MAGICLINKS = 0x02
_RESOLVE_NO_SYMLINKS = 0x04
_RESOLVE_BENEATH = 0x08
_BENEATH = _RESOLVE_BENEATH | _RESOLVE_NO_SYMLINKS | _RESOLVE_NO_MAGICLINKS | _RESOLVE_NO_XDEV
# openat2 has one number on every architecture since Linux 5.1's unified table, but alpha's; only use it where
# that number is known.
_OPENAT2_MACHINES = {
    "x86_64",
    "amd64",
    "aarch64",
    "arm64",
    "i386",
    "i686",
    "armv7l",
    "armv6l",
    "riscv64",
    "ppc64le",
    "ppc64",
    "s390x",
    "loongarch64",
    "mips64",
}
_SYS_OPENAT2 = 437


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


def _load_libc() -> ctypes.CDLL | None:
    if platform.system() != "Linux" or platform.machine().lower() not in _OPENAT2_MACHINES:
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        return libc
    except (OSError, AttributeError):
        return None


_LIBC = _load_libc()


def _openat2(dir_fd: int, path: str, flags: int, mode: int, resolve: int) -> int:
    assert _LIBC is not None
    how = _OpenHow(flags | os.O_CLOEXEC, mode if flags & os.O_CREAT else 0, resolve)
    fd: int = _LIBC.syscall(
        ctypes.c_long(_SYS_OPENAT2),
        ctypes.c_long(dir_fd),
        ctypes.c_char_p(os.fsencode(path)),
        ctypes.byref(how),
        ctypes.c_size_t(ctypes.sizeof(how)),
    )
    if fd < 0:
        number = ctypes.get_errno()
        raise OSError(number, os.strerror(number), path)
    return fd


def _probe_openat2() -> bool:
    """Whether openat2 works here (a kernel before 5.6, or a seccomp filter, may refuse it)."""
    if _LIBC is None:
        return False
    try:
        os.close(_openat2(-100, "/", _O_PATH | os.O_DIRECTORY, 0, _RESOLVE_NO_SYMLINKS))  # -100: AT_FDCWD
    except OSError:
        return False
    return True


OPENAT2 = _probe_openat2()  # False: every component is opened with O_NOFOLLOW instead


def _parts(relative: str) -> list[str]:
    """The components of a relative name, refusing anything that could leave the folder or is ambiguous."""
    parts = relative.split("/")
    if not relative or "\x00" in relative or any(part in ("", ".", "..") for part in parts):
        raise RefusedEntry(errno.EINVAL, "not a plain relative name", relative)
    return parts


def _open_beneath(root: int, parts: list[str], flags: int, mode: int = 0) -> int:
    """Open root/parts with `flags`, refusing symlinks, `..` and mounts on the way (RefusedEntry)."""
    relative = "/".join(parts)
    try:
        if OPENAT2:
            return _openat2(root, relative, flags | os.O_NOFOLLOW, mode, _BENEATH)
        parent = _walk(root, parts[:-1])
        try:
            return os.open(parts[-1], flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=parent)
        finally:
            if parent != root:
                os.close(parent)
    except RefusedEntry:
        raise
    except FileExistsError:
        raise
    except OSError as error:
        raise RefusedEntry(error.errno, _why(error), relative) from None


def _walk(root: int, parts: list[str]) -> int:
    """The folder root/parts opened component by component with O_NOFOLLOW, staying on root's mount."""
    device = os.fstat(root).st_dev
    current = root
    for part in parts:
        try:
            fd = os.open(part, _O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=current)
        finally:
            if current != root:
                os.close(current)
        current = fd
        try:
            _require_directory(fd, device)
        except OSError:
            os.close(fd)
            raise
    return current


def _require_directory(fd: int, device: int) -> None:
    """Refuse an O_PATH|O_NOFOLLOW descriptor that is not a folder on `device` (a symlink opens as itself)."""
    info = os.fstat(fd)
    if stat.S_ISLNK(info.st_mode):
        raise OSError(errno.ELOOP, "a symlink is on the way")
    if not stat.S_ISDIR(info.st_mode):
        raise OSError(errno.ENOTDIR, "not a folder")
    if info.st_dev != device:
        raise OSError(errno.EXDEV, "crosses a mount point")


@contextmanager
def _parent(root: int, parts: list[str], relative: str) -> Iterator[int]:
    """The folder holding the last component, opened beneath `root` (root itself for a plain name). An O_PATH
    descriptor: enough to create, rename and remove names in it."""
    if len(parts) == 1:
        yield root
        return
    fd = _open_beneath(root, parts[:-1], _O_PATH)
    try:
        _require_directory(fd, os.fstat(root).st_dev)
    except OSError as error:
        os.close(fd)
        raise RefusedEntry(error.errno, _why(error), relative) from None
    try:
        yield fd
    finally:
        os.close(fd)


def _open_real_directory(path: Path) -> int:
    """The folder at absolute `path`, refusing a symlink anywhere on the way."""
    flags = os.O_RDONLY | os.O_DIRECTORY
    if OPENAT2:
        return _openat2(-100, str(path), flags, 0, _RESOLVE_NO_SYMLINKS | _RESOLVE_NO_MAGICLINKS)
    current = os.open("/", _O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in path.parts[1:-1]:
            fd = os.open(part, _O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=current)
            os.close(current)
            current = fd
        if not path.name:  # the root folder itself
            return os.open("/", flags | os.O_CLOEXEC)
        return os.open(path.name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=current)
    finally:
        os.close(current)


def _why(error: OSError) -> str:
    if error.errno == errno.ELOOP:
        return "a symlink is on the way"
    if error.errno == errno.EXDEV:
        return "leaves the folder"
    return error.strerror or str(error)


def _require_regular(info: os.stat_result, relative: str) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise RefusedEntry(errno.EINVAL, "not a regular file", relative)
    if info.st_nlink != 1:
        raise RefusedEntry(errno.EMLINK, "has other names (a hard link)", relative)


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks = []
    left = limit
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _write_new(parent: int, name: str, data: bytes) -> None:
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE, dir_fd=parent)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
    except BaseException:
        _unlink_quietly(parent, name)
        raise


def _unlink_quietly(parent: int, name: str) -> None:
    with suppress(OSError):
        os.unlink(name, dir_fd=parent)


# -- walking ----------------------------------------------------------------------------------------------------


def _entries(fd: int) -> list[tuple[str, os.stat_result]]:
    """The entries of the open folder `fd` with their own lstat (taken relative to `fd`)."""
    found = []
    with os.scandir(fd) as listing:
        for entry in listing:
            try:
                found.append((entry.name, entry.stat(follow_symlinks=False)))
            except OSError:
                continue  # gone meanwhile
    return found


def _open_subdirectory(parent: int, name: str) -> int | None:
    try:
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
    except OSError:
        return None  # swapped for a symlink (or removed) since it was listed
    if os.fstat(fd).st_dev != os.fstat(parent).st_dev:
        os.close(fd)
        return None
    return fd


def _give_directory(fd: int, uid: int, gid: int, depth: int) -> None:
    info = os.fstat(fd)
    if (info.st_uid, info.st_gid) != (uid, gid):
        os.fchown(fd, uid, gid)
    if stat.S_IMODE(info.st_mode) != DIRECTORY_MODE:
        os.fchmod(fd, DIRECTORY_MODE)
    for name, entry in _entries(fd):
        if stat.S_ISDIR(entry.st_mode) and depth < MAX_DEPTH:
            child = _open_subdirectory(fd, name)
            if child is not None:
                try:
                    _give_directory(child, uid, gid, depth + 1)
                finally:
                    os.close(child)
        elif stat.S_ISREG(entry.st_mode) and (entry.st_uid, entry.st_gid) != (uid, gid):
            _give_file(fd, name, uid, gid)


def _give_file(parent: int, name: str, uid: int, gid: int) -> None:
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC, dir_fd=parent)
    except OSError:
        return  # swapped for a symlink (or removed) since it was listed
    try:
        info = os.fstat(fd)
        if stat.S_ISREG(info.st_mode) and info.st_nlink == 1:
            os.fchown(fd, uid, gid)
    finally:
        os.close(fd)


def _collect(fd: int, prefix: str, found: dict[str, FileState], depth: int) -> None:
    for name, entry in _entries(fd):
        if not _is_utf8(name):
            continue  # a name no API response could carry
        if stat.S_ISREG(entry.st_mode):
            if not name.startswith(TEMPORARY_PREFIX):
                found[prefix + name] = FileState(entry.st_size, entry.st_mtime_ns)
        elif stat.S_ISDIR(entry.st_mode) and not name.startswith(".") and depth < MAX_DEPTH:
            child = _open_subdirectory(fd, name)
            if child is not None:
                try:
                    _collect(child, f"{prefix}{name}/", found, depth + 1)
                finally:
                    os.close(child)


def _is_utf8(name: str) -> bool:
    try:
        name.encode()
    except UnicodeEncodeError:
        return False
    return True
