"""The code sandbox: a persistent Python process per folder, contained by every isolation mode this machine has.

Each containment test runs in every available namespace mode (bwrap, and the `unshare` fallback), so the
fallback is proven too, not only the mode CI happens to pick. Limits are small to keep the suite fast.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.tools import PythonSandbox, SandboxLimits, isolation_available

MODES = [mode for mode in ("bwrap", "unshare") if isolation_available(mode)]
LIMITS = SandboxLimits(
    wall_seconds=3, cpu_seconds=1, memory_bytes=512 << 20, file_bytes=4 << 20, output_bytes=10_000, processes=16
)

pytestmark = pytest.mark.skipif(not MODES, reason="neither bubblewrap nor unshare can sandbox code here")


@pytest.fixture(params=MODES)
def sandbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PythonSandbox]:
    box = PythonSandbox(tmp_path / "container", LIMITS, isolation=request.param)
    yield box
    box.close()


def healthy(sandbox: PythonSandbox) -> None:
    assert sandbox.run("print('still here', 6 * 7)").logs == "still here 42\n"


def test_variables_survive_between_calls_and_last_expression_is_shown(sandbox: PythonSandbox) -> None:
    assert sandbox.run("x = 17 * 23").logs == ""
    result = sandbox.run("x")
    assert result.logs == "391\n" and result.error is None and not result.restarted
    assert "ZeroDivisionError" in sandbox.run("1 / 0").logs
    healthy(sandbox)


def test_files_written_become_results_and_the_folder_is_mnt_data(sandbox: PythonSandbox) -> None:
    result = sandbox.run("import os\nopen('table.csv', 'w').write('a,b\\n1,2\\n')\nprint(os.getcwd())")
    assert result.logs.splitlines()[-1] == "/mnt/data"
    assert [(f.name, f.size, f.media_type) for f in result.files] == [("table.csv", 8, None)]
    assert (sandbox.folder / "table.csv").read_text() == "a,b\n1,2\n"
    png = sandbox.run("open('dot.png', 'wb').write(b'\\x89PNG\\r\\n\\x1a\\n')").files
    assert [(f.name, f.media_type, f.sandbox_path) for f in png] == [("dot.png", "image/png", "/mnt/data/dot.png")]
    assert sandbox.run("print('no new files')").files == []


def test_network_is_unreachable(sandbox: PythonSandbox) -> None:
    # No traffic leaves: the sandbox has no network device but loopback, so connect fails before sending.
    result = sandbox.run("import socket\ns = socket.socket()\ns.settimeout(2)\ns.connect(('1.1.1.1', 53))")
    assert "Network is unreachable" in result.logs
    healthy(sandbox)


def test_files_outside_the_container_cannot_be_read(sandbox: PythonSandbox, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    secret.chmod(0o600)
    for path in ("/etc/shadow", str(secret), os.path.expanduser("~/.bashrc")):
        result = sandbox.run(f"print(open({path!r}).read())")
        assert "top secret" not in result.logs and "root:" not in result.logs
        assert "Error" in result.logs or result.logs.strip() == "", result.logs
    healthy(sandbox)


def test_nothing_outside_the_container_can_be_written(sandbox: PythonSandbox, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    for path in (str(outside), "/usr/evil.txt", "/etc/evil.txt", os.path.expanduser("~/evil.txt")):
        result = sandbox.run(f"open({path!r}, 'w').write('x')")
        assert "Error" in result.logs, (path, result.logs)
    for path in (outside, Path("/usr/evil.txt"), Path("/etc/evil.txt"), Path("~/evil.txt").expanduser()):
        assert not path.exists()
    healthy(sandbox)


def test_fork_bomb_is_stopped(sandbox: PythonSandbox) -> None:
    result = sandbox.run("import os\nwhile True:\n    os.fork()")
    assert result.error == "The code tried to start more processes than the sandbox allows."
    healthy(sandbox)


def test_allocating_8_gb_fails_cleanly(sandbox: PythonSandbox) -> None:
    result = sandbox.run("block = bytearray(8 * 1024 ** 3)")
    assert "MemoryError" in result.logs and "ran out of memory" in (result.error or "")
    healthy(sandbox)


@pytest.mark.parametrize("mode", MODES)
def test_infinite_loop_hits_the_cpu_limit_and_the_session_survives(mode: str, tmp_path: Path) -> None:
    # A generous wall limit, so that the CPU limit (1 s) is what stops the loop even on a busy machine.
    sandbox = PythonSandbox(tmp_path, dataclasses.replace(LIMITS, wall_seconds=20), isolation=mode)  # type: ignore[arg-type]
    try:
        sandbox.run("kept = 'value'")
        result = sandbox.run("while True:\n    pass")
        assert "CPU time" in (result.error or "")
        assert sandbox.run("print(kept)").logs == "value\n"  # same process: variables survive
    finally:
        sandbox.close()


def test_sleeping_past_the_wall_limit_restarts_the_session(sandbox: PythonSandbox) -> None:
    sandbox.run("kept = 'value'")
    result = sandbox.run("import time\ntime.sleep(60)")
    assert "ran longer than 3 s" in (result.error or "")
    after = sandbox.run("print(globals().get('kept'))")
    assert after.restarted and after.logs == "None\n"


def test_printing_100_mb_is_truncated(sandbox: PythonSandbox) -> None:
    result = sandbox.run("print('x' * 100_000_000)")
    assert len(result.logs) < LIMITS.output_bytes + 200
    assert "output truncated" in result.logs and "printed more than" in (result.error or "")
    healthy(sandbox)


def test_oversized_files_are_refused(sandbox: PythonSandbox) -> None:
    result = sandbox.run("open('big.bin', 'wb').write(b'x' * (8 << 20))")
    assert "larger than 4 MiB" in (result.error or "")
    healthy(sandbox)


def test_symlinks_planted_by_code_are_never_reported_as_files(sandbox: PythonSandbox) -> None:
    result = sandbox.run("import os\nos.symlink('/etc/passwd', 'passwd')\nos.symlink('/', 'root')")
    assert result.files == []
