"""Hostile code against the server's handling of its container folder: the races of issue 19, through the real
server and the real SDK, in every isolation mode this machine offers.

A thread keeps swapping names in a container folder for symlinks to host files (it is handed the host paths,
as /proc/self/mountinfo would give them) while the server reads produced images, writes uploads, hands the
folder to the sandbox uid, serves and deletes container files. Each race runs for a bounded number of tries;
the secret must never come back, and no file outside the folder may be written, removed or change owner or
mode. The racing thread runs in two places:

- in the cell: the attack as the issue found it. The sandbox stops the cell between calls, so there it also
  proves that the server only touches the folder while nothing in the sandbox runs;
- beside the cell: a host process swapping the same names at any moment, as a sandbox process that escaped
  being stopped would. Only the server's descriptor-based file handling stands between it and the host files,
  which is what this proves, in every mode (in `rlimits` there is no namespace at all).
"""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import openai
import pytest
from openai import OpenAI

from assistant import Assistant
from assistant.server import LocalServer
from assistant.server.hosted_tools import HostedToolSettings
from assistant.tools import Isolation, SandboxLimits, isolation_available
from assistant.tools.code_sandbox import ISOLATIONS
from tests.support.fixtures import TEST_KEY

from ..server.conftest import make_client

MODES = [mode for mode in ISOLATIONS if isolation_available(mode)]
PLACES = ["in the cell", "beside the cell"]
TRIES = 30
MODEL = "gpt-4.1-mini"
# Generous CPU: the racing thread spins, and a per-call CPU limit must not end the race early.
LIMITS = SandboxLimits(
    wall_seconds=20, cpu_seconds=60, memory_bytes=512 << 20, file_bytes=4 << 20, output_bytes=10_000, processes=16
)
SECRET = b"TOP-SECRET-outside-the-container"

# `exchange` is renameat2(RENAME_EXCHANGE), which swaps two names atomically; `race` runs a swap in a daemon
# thread that outlives the call, until `STOP` is set (or a minute has passed). Names are relative to the
# working directory: the container folder.
RACER = r"""
import ctypes, os, threading, time
_libc = ctypes.CDLL(None, use_errno=True)
STOP = threading.Event()
RACERS = []

def exchange(a, b):
    return _libc.renameat2(-100, a.encode(), -100, b.encode(), 2)

def race(swap):
    deadline = time.monotonic() + 60
    def loop():
        count = 0
        while not STOP.is_set() and time.monotonic() < deadline:
            swap()
            count += 1
            if count % 50 == 0:
                time.sleep(0.0005)  # let the protocol (or the server) have the processor now and then
    RACERS.append(threading.Thread(target=loop, daemon=True))
    RACERS[-1].start()

def report():
    print('racing' if RACERS and all(thread.is_alive() for thread in RACERS) else 'stopped', flush=True)
    STOP.set()
"""


@dataclass(frozen=True)
class Outside:
    """Files outside every container: what the code must never get, write, remove or own."""

    folder: Path  # mode 0700
    secret: Path  # mode 0600, holds SECRET
    names: tuple[str, ...]  # more secret files in `folder`, named like files the code makes inside

    def state(self) -> dict[str, tuple[int, int, int, bytes] | None]:
        """Owner, group, mode and bytes of every outside file (None once removed)."""
        paths = [self.folder, self.secret, *(self.folder / name for name in self.names)]
        return {str(path): _state(path) for path in paths}


def _state(path: Path) -> tuple[int, int, int, bytes] | None:
    try:
        info = path.lstat()
        return info.st_uid, info.st_gid, info.st_mode, b"" if path.is_dir() else path.read_bytes()
    except FileNotFoundError:
        return None


@pytest.fixture
def outside(tmp_path: Path) -> Outside:
    folder = tmp_path / "outside"
    folder.mkdir()
    folder.chmod(0o700)
    names = tuple(f"f{number}.txt" for number in range(TRIES))
    for name in ("secret.txt", *names):
        (folder / name).write_bytes(SECRET)
        (folder / name).chmod(0o600)
    return Outside(folder, folder / "secret.txt", names)


@pytest.fixture(scope="module", params=MODES)
def mode(request: pytest.FixtureRequest) -> Isolation:
    return request.param


@pytest.fixture(scope="module")
def mode_server(mode: Isolation, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    root = tmp_path_factory.mktemp(f"escape-{mode}")
    settings = HostedToolSettings(sandbox_limits=LIMITS, sandbox_isolation=mode, web_search=None)
    with LocalServer(db_path=root / "server.db", tool_settings=settings) as running:
        yield running


@pytest.fixture
def client(mode_server: LocalServer) -> Iterator[OpenAI]:
    with make_client(mode_server) as sdk:
        yield sdk


def run(client: OpenAI, container_id: str, code: str) -> tuple[list[bytes], str]:
    """Run `code` in the container; return the image outputs (decoded) and the logs."""
    response = client.responses.create(
        model=MODEL,
        input=f"```python\n{code}\n```",
        tools=[{"type": "code_interpreter", "container": container_id}],
        include=["code_interpreter_call.outputs"],
    )
    call = response.output[0]
    assert call.type == "code_interpreter_call"
    images = [base64.b64decode(output.url.split(",", 1)[1]) for output in call.outputs or [] if output.type == "image"]
    logs = "".join(output.logs for output in call.outputs or [] if output.type == "logs")
    return images, logs


class Race:
    """A thread swapping names in a container's folder, `place`d in the cell or in a host process beside it."""

    def __init__(self, client: OpenAI, server: LocalServer, container_id: str, place: str) -> None:
        self.client, self.container_id, self.place = client, container_id, place
        assert server.hosted_tools is not None
        self.folder = server.hosted_tools.store.container_folder(container_id)
        self._process: subprocess.Popen[str] | None = None

    def start(self, swap: str) -> None:
        """`swap` defines `swap()`, one round of the race."""
        if self.place == "in the cell":
            _, logs = run(self.client, self.container_id, f"{RACER}\n{swap}\nrace(swap)")
            assert "Error" not in logs, logs
        else:
            self._process = subprocess.Popen(
                [sys.executable, "-c", f"{RACER}\n{swap}\nrace(swap)\nimport sys\nsys.stdin.read()\nreport()"],
                cwd=self.folder,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )

    def stop(self) -> None:
        """End the race, making sure it ran all along (a racer that died early would prove nothing)."""
        if self._process is None:
            _, said = run(self.client, self.container_id, "report()")
        else:
            said, _ = self._process.communicate(timeout=30)
        assert said == "racing\n", said

    def kill(self) -> None:
        """Stop a host racer a failed test left running."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()


StartRace = Callable[[str], Race]  # a container id -> its race, not started yet


@pytest.fixture(params=PLACES)
def race(request: pytest.FixtureRequest, client: OpenAI, mode_server: LocalServer) -> Iterator[StartRace]:
    started: list[Race] = []

    def make(container_id: str) -> Race:
        started.append(Race(client, mode_server, container_id, request.param))
        return started[-1]

    yield make
    for each in started:  # a failed test leaves no racer running
        each.kill()


def test_a_swapped_image_never_comes_back_as_an_outside_file(client: OpenAI, race: StartRace, outside: Outside) -> None:
    container = client.containers.create(name="image race")
    # leak.png is a real PNG (with a new mtime each time, so every call reports it as produced) half the time,
    # a link to the secret the other half: the server sees a regular file, then reads whatever the name is by then.
    run(
        client,
        container.id,
        f"import os\nopen('leak.png', 'wb').write(b'\\x89PNG\\r\\n\\x1a\\n' + b'0' * 64)\n"
        f"os.symlink({str(outside.secret)!r}, 'bait')",
    )
    racer = race(container.id)
    racer.start("""
def swap():
    os.utime('leak.png', ns=(time.time_ns(), time.time_ns()), follow_symlinks=False)
    exchange('leak.png', 'bait')
    time.sleep(0.0002)
    exchange('leak.png', 'bait')
    time.sleep(0.0002)
""")
    before = outside.state()
    shown = 0
    for _ in range(TRIES):
        images, logs = run(client, container.id, "import time\ntime.sleep(0.01)")
        shown += len(images)
        assert all(SECRET not in image for image in images)
        assert SECRET.decode() not in logs
        for file in client.containers.files.list(container.id):
            try:
                content = client.containers.files.content.retrieve(file.id, container_id=container.id).read()
            except openai.NotFoundError:  # a file caught as a link is not found: that is the point
                continue
            assert SECRET not in content
    racer.stop()
    assert shown > 0  # the race did not starve the real image: the server still shows it
    assert outside.state() == before


def test_an_upload_never_writes_through_a_planted_link(client: OpenAI, race: StartRace, outside: Outside) -> None:
    container = client.containers.create(name="upload race")
    racer = race(container.id)
    # upload.txt is a link to the secret again and again: whenever the server removes it, it is back at once.
    racer.start(f"""
def swap():
    try:
        os.symlink({str(outside.secret)!r}, '.link')
    except FileExistsError:
        pass
    os.rename('.link', 'upload.txt')
""")
    before = outside.state()
    for number in range(TRIES):
        uploaded = client.containers.files.create(container.id, file=("upload.txt", b"uploaded %d" % number))
        assert uploaded.path == "/mnt/data/upload.txt"
    racer.stop()
    assert outside.state() == before


def swapped_folder(client: OpenAI, race: StartRace, outside: Outside) -> tuple[str, Race]:
    """A container whose `data` folder (holding files named like the outside ones, reported as produced) keeps
    trading places with a link to the outside folder."""
    container = client.containers.create(name="folder race")
    run(
        client,
        container.id,
        "import os\nos.mkdir('data')\n"
        + "".join(f"open('data/{name}', 'w').write('inside')\n" for name in outside.names)
        + f"os.symlink({str(outside.folder)!r}, 'bait')",
    )
    racer = race(container.id)
    racer.start("""
def swap():
    exchange('data', 'bait')
    time.sleep(0.0002)
    exchange('data', 'bait')
    time.sleep(0.0002)
""")
    return container.id, racer


def test_container_file_downloads_and_deletes_never_follow_a_swapped_folder(
    client: OpenAI, race: StartRace, outside: Outside
) -> None:
    before = outside.state()
    container_id, racer = swapped_folder(client, race, outside)
    files = [file for file in client.containers.files.list(container_id) if file.path.startswith("/mnt/data/data/")]
    assert len(files) == len(outside.names)
    for file in files:
        for _ in range(2):
            try:
                content = client.containers.files.content.retrieve(file.id, container_id=container_id).read()
            except openai.NotFoundError:  # caught while `data` was the link
                continue
            assert content == b"inside"
        client.containers.files.delete(file.id, container_id=container_id)
    racer.stop()
    assert outside.state() == before


def test_handing_the_folder_to_the_sandbox_never_touches_outside_files(
    client: OpenAI, race: StartRace, mode: Isolation, outside: Outside
) -> None:
    # A root server gives the folder to the sandbox's uid before every call; in rlimits mode, or as an ordinary
    # user, nothing is handed over, and the same swaps must still leave every outside file as it was.
    before = outside.state()
    container_id, racer = swapped_folder(client, race, outside)
    for _ in range(TRIES):
        # Before every call the server gives the folder (and files it added) to the sandbox uid.
        client.containers.files.create(container_id, file=("added.txt", b"added"))
        run(client, container_id, "import time\ntime.sleep(0.005)")
    racer.stop()
    assert outside.state() == before


def test_downloads_never_write_through_a_link_in_the_thread_folder(
    mode_server: LocalServer, tmp_path: Path, outside: Outside
) -> None:
    """The client side: files the code made are saved in `files/<thread>/`, which may hold links by then."""
    before = outside.state()
    with Assistant(
        base_url=mode_server.base_url,
        api_key=TEST_KEY,
        db_path=tmp_path / "index.db",
        strict_validation=True,
        max_retries=0,
    ) as assistant:
        thread = assistant.thread(tools=["code_interpreter"])
        folder = tmp_path / "files" / thread.id
        folder.mkdir(parents=True)
        (folder / "made.txt").symlink_to(outside.secret)
        (folder / "new.txt").symlink_to(outside.folder / "created-by-the-download.txt")  # dangling
        turn = thread.ask("```python\nfor name in ('made.txt', 'new.txt'):\n    open(name, 'w').write('made')\n```")
        assert turn.status == "completed"
        saved = sorted(Path(record.path) for record in assistant.store.container_files(thread.id) if record.path)
    assert saved == [folder / "made-2.txt", folder / "new-2.txt"]
    assert [path.read_bytes() for path in saved] == [b"made", b"made"]
    assert outside.state() == before
    assert not (outside.folder / "created-by-the-download.txt").exists()
