"""UntrustedFolder: every operation stays beneath the folder's descriptor, whatever the folder holds.

Each test runs with openat2 (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) and with the fallback that opens one
component at a time with O_NOFOLLOW, so a kernel without openat2 is covered too.
"""

from __future__ import annotations

import ctypes
import os
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from assistant.tools import untrusted_folder
from assistant.tools.untrusted_folder import FileTooLarge, RefusedEntry, UntrustedFolder

SECRET = b"outside secret"
_LIBC = ctypes.CDLL(None, use_errno=True)


@pytest.fixture(params=["openat2", "component by component"])
def resolver(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "openat2" and not untrusted_folder.OPENAT2:
        pytest.skip("this kernel has no openat2")  # the fallback, the other parameter, is what runs here
    monkeypatch.setattr(untrusted_folder, "OPENAT2", request.param == "openat2")
    return request.param


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir(mode=0o700)
    (folder / "secret.txt").write_bytes(SECRET)
    (folder / "secret.txt").chmod(0o600)
    return folder


@pytest.fixture
def box(tmp_path: Path, resolver: str) -> UntrustedFolder:
    (tmp_path / "box" / "sub").mkdir(parents=True)
    (tmp_path / "box" / "plain.txt").write_bytes(b"plain")
    (tmp_path / "box" / "sub" / "nested.txt").write_bytes(b"nested")
    return UntrustedFolder(tmp_path / "box")


def snapshot(folder: Path) -> dict[str, tuple[int, int, int, bytes]]:
    return {
        str(path): (info.st_uid, info.st_gid, info.st_mode, path.read_bytes() if path.is_file() else b"")
        for path in [folder, *folder.rglob("*")]
        for info in [path.lstat()]
    }


def exchange(a: Path, b: Path) -> None:
    """renameat2(RENAME_EXCHANGE): the two names trade places atomically."""
    if _LIBC.renameat2(-100, bytes(a), -100, bytes(b), 2) != 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))


# -- reading ----------------------------------------------------------------------------------------------------


def test_regular_files_are_read_nested_ones_too(box: UntrustedFolder) -> None:
    assert box.read("plain.txt", 100) == b"plain"
    assert box.read("sub/nested.txt", 100) == b"nested"


@pytest.mark.parametrize(
    "name",
    [
        "../outside/secret.txt",
        "sub/../../outside/secret.txt",
        "sub/../plain.txt",
        "/etc/passwd",
        "",
        ".",
        "sub//nested.txt",
        "./plain.txt",
        "plain.txt\x00",
    ],
)
def test_names_that_leave_the_folder_or_are_not_plain_are_refused(
    box: UntrustedFolder, outside: Path, name: str
) -> None:
    with pytest.raises(RefusedEntry, match="not a plain relative name"):
        box.read(name, 100)


def test_a_symlink_anywhere_on_the_path_is_refused(box: UntrustedFolder, outside: Path) -> None:
    (box.path / "link.txt").symlink_to(outside / "secret.txt")
    (box.path / "linked").symlink_to(outside)
    (box.path / "sub" / "up").symlink_to("..")
    (box.path / "inside-link.txt").symlink_to("plain.txt")  # even one that stays inside
    for name in ("link.txt", "linked/secret.txt", "sub/up/plain.txt", "inside-link.txt"):
        with pytest.raises(RefusedEntry, match="symlink"):
            box.read(name, 100)


def test_only_regular_files_with_one_name_are_read(box: UntrustedFolder, outside: Path) -> None:
    os.mkfifo(box.path / "fifo")  # opening it must not block, and it is not a file
    os.link(outside / "secret.txt", box.path / "hardlink.txt")  # a name for a file outside
    with pytest.raises(RefusedEntry, match="not a regular file"):
        box.read("fifo", 100)
    with pytest.raises(RefusedEntry, match="not a regular file"):
        box.read("sub", 100)
    with pytest.raises(RefusedEntry, match="hard link"):
        box.read("hardlink.txt", 100)
    with pytest.raises(RefusedEntry):
        box.read("missing.txt", 100)


def test_a_file_larger_than_asked_is_refused(box: UntrustedFolder) -> None:
    assert box.read("plain.txt", 5) == b"plain"
    with pytest.raises(FileTooLarge):
        box.read("plain.txt", 4)


def test_the_folder_itself_swapped_for_a_link_is_refused(tmp_path: Path, outside: Path, resolver: str) -> None:
    (tmp_path / "real" / "inner").mkdir(parents=True)
    (tmp_path / "box").symlink_to(outside)
    (tmp_path / "through").symlink_to(tmp_path / "real")
    (tmp_path / "real" / "secret.txt").write_bytes(SECRET)
    (tmp_path / "real" / "inner" / "secret.txt").write_bytes(SECRET)
    for folder in (
        UntrustedFolder(tmp_path / "box"),
        UntrustedFolder(tmp_path / "through"),
        UntrustedFolder(tmp_path / "through" / "inner"),
    ):
        with pytest.raises(RefusedEntry, match="cannot open the folder"):
            folder.read("secret.txt", 100)
        with pytest.raises(RefusedEntry):
            folder.regular_files()


def test_a_file_swapped_between_the_listing_and_the_read_is_refused(box: UntrustedFolder, outside: Path) -> None:
    assert "plain.txt" in box.regular_files()
    (box.path / "bait").symlink_to(outside / "secret.txt")
    exchange(box.path / "plain.txt", box.path / "bait")  # what sandboxed code does after the server listed it
    with pytest.raises(RefusedEntry):
        box.read("plain.txt", 100)


@contextmanager
def racing(swap: list[tuple[Path, Path]]) -> Iterator[None]:
    """A thread swapping each pair of names again and again while the block runs."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            for a, b in swap:
                exchange(a, b)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def test_reads_racing_a_swapping_thread_never_get_the_outside_file(box: UntrustedFolder, outside: Path) -> None:
    (box.path / "bait").symlink_to(outside / "secret.txt")
    (box.path / "dir-bait").symlink_to(outside)
    (box.path / "sub" / "secret.txt").write_bytes(b"inside")
    outcomes: set[bytes | str] = set()
    with racing([(box.path / "plain.txt", box.path / "bait"), (box.path / "sub", box.path / "dir-bait")]):
        for _ in range(2000):
            for name in ("plain.txt", "sub/secret.txt"):
                try:
                    outcomes.add(box.read(name, 100))
                except RefusedEntry:
                    outcomes.add("refused")
    assert SECRET not in outcomes
    assert outcomes <= {b"plain", b"inside", "refused"} and "refused" in outcomes


# -- writing and removing ---------------------------------------------------------------------------------------


def test_replace_replaces_a_planted_link_instead_of_writing_through_it(box: UntrustedFolder, outside: Path) -> None:
    before = snapshot(outside)
    (box.path / "upload.txt").symlink_to(outside / "secret.txt")
    (box.path / "dangling.txt").symlink_to(outside / "created.txt")
    box.replace("upload.txt", b"new bytes")
    box.replace("dangling.txt", b"new bytes")
    box.replace("plain.txt", b"replaced")
    assert snapshot(outside) == before
    for name in ("upload.txt", "dangling.txt"):
        info = (box.path / name).lstat()
        assert stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600
        assert (box.path / name).read_bytes() == b"new bytes"
    assert (box.path / "plain.txt").read_bytes() == b"replaced"
    assert not [path for path in box.path.iterdir() if path.name.startswith(".")]  # no temporary left


def test_replace_refuses_a_folder_and_a_linked_parent(box: UntrustedFolder, outside: Path) -> None:
    before = snapshot(outside)
    (box.path / "linked").symlink_to(outside)
    with pytest.raises(RefusedEntry, match="a folder has that name"):
        box.replace("sub", b"x")
    with pytest.raises(RefusedEntry, match="symlink"):
        box.replace("linked/secret.txt", b"x")
    assert snapshot(outside) == before
    assert not [path for path in box.path.iterdir() if path.name.startswith(".")]


def test_create_never_takes_a_name_that_is_in_use(box: UntrustedFolder, outside: Path) -> None:
    (box.path / "dangling.txt").symlink_to(outside / "created.txt")
    for name in ("plain.txt", "dangling.txt", "sub"):
        with pytest.raises(FileExistsError):
            box.create(name, b"x")
    assert not (outside / "created.txt").exists()
    box.create("sub/new.txt", b"new")
    assert (box.path / "sub" / "new.txt").read_bytes() == b"new"


def test_remove_removes_the_entry_never_what_it_points_at(box: UntrustedFolder, outside: Path) -> None:
    before = snapshot(outside)
    (box.path / "link.txt").symlink_to(outside / "secret.txt")
    (box.path / "linked").symlink_to(outside)
    box.remove("link.txt")
    assert not (box.path / "link.txt").is_symlink()
    with pytest.raises(RefusedEntry, match="symlink"):
        box.remove("linked/secret.txt")
    with pytest.raises(RefusedEntry, match="is a folder"):
        box.remove("sub")
    box.remove("missing.txt")  # gone already: nothing to do
    box.remove("sub/nested.txt")
    assert not (box.path / "sub" / "nested.txt").exists()
    assert snapshot(outside) == before


# -- listing and handing over -----------------------------------------------------------------------------------


def test_regular_files_lists_files_only_never_through_links(box: UntrustedFolder, outside: Path) -> None:
    (box.path / "link.txt").symlink_to(outside / "secret.txt")
    (box.path / "linked").symlink_to(outside)
    (box.path / ".hidden").mkdir()
    (box.path / ".hidden" / "cache.bin").write_bytes(b"x")
    (box.path / ".dotfile").write_bytes(b"x")
    (box.path / ".partial-0123").write_bytes(b"half an upload")
    os.mkfifo(box.path / "fifo")
    deep = box.path.joinpath(*["d"] * (untrusted_folder.MAX_DEPTH + 3))
    deep.mkdir(parents=True)
    (deep / "too-deep.txt").write_bytes(b"x")
    files = box.regular_files()
    assert set(files) == {"plain.txt", "sub/nested.txt", ".dotfile"}
    assert (files["plain.txt"].size, files["sub/nested.txt"].size) == (5, 6)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give files to another uid")
def test_give_to_changes_the_folder_and_nothing_it_links_to(box: UntrustedFolder, outside: Path) -> None:
    (box.path / "linked").symlink_to(outside)
    (box.path / "link.txt").symlink_to(outside / "secret.txt")
    os.link(outside / "secret.txt", box.path / "hardlink.txt")
    (box.path / "sub").chmod(0o700)
    before = snapshot(outside)
    box.give_to(65534, 65534)
    assert snapshot(outside) == before
    for path in (box.path, box.path / "sub"):
        info = path.stat()
        assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (65534, 65534, 0o755)
    for path in (box.path / "plain.txt", box.path / "sub" / "nested.txt"):
        assert (path.stat().st_uid, path.stat().st_gid) == (65534, 65534)
    assert (box.path / "link.txt").lstat().st_uid == 0  # the link itself is left alone too


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give files to another uid")
def test_give_to_racing_a_swapping_thread_never_touches_the_outside(box: UntrustedFolder, outside: Path) -> None:
    for number in range(20):
        (outside / f"f{number}.txt").write_bytes(SECRET)
        (box.path / "sub" / f"f{number}.txt").write_bytes(b"inside")
    (box.path / "bait").symlink_to(outside)
    before = snapshot(outside)
    with racing([(box.path / "sub", box.path / "bait")]):
        for number in range(300):
            with suppress(RefusedEntry):  # refused when `sub` was the link just then
                box.replace(f"sub/f{number % 20}.txt", b"added")  # as the server adds files: new, root's, 0600
            box.give_to(65534, 65534)
    assert snapshot(outside) == before
