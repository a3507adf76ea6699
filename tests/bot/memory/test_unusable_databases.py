"""An unusable DATABASE_URL stops `qwenbot` at once: one line naming the problem, a non-zero exit,
no traceback, and no hang (a process left waiting on a database thread is the failure here).

Each case runs the real command line in a subprocess, as an operator would.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.config import ConfigError
from bot.memory import open_store

ROOT = Path(__file__).resolve().parents[3]
HANG_GUARD_SECONDS = 60  # far above the few seconds a refusal takes: only a hang reaches it


def run_qwenbot(database_url: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("QWEN_", "DATABASE_"))}
    env.update(PYTHONPATH=str(ROOT), DATABASE_URL=database_url, QWEN_API_KEY="sk-test",
               QWEN_BASE_URL="http://127.0.0.1:9/v1")
    return subprocess.run(
        [sys.executable, "-m", "bot", "chat"], cwd=workdir, env=env, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=HANG_GUARD_SECONDS,
    )


def assert_refused(result: subprocess.CompletedProcess[str], *named: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("qwenbot: DATABASE_URL"), result.stderr
    for word in named:
        assert word in lines[0]


@pytest.fixture
def read_only() -> Iterator[Callable[[Path], None]]:
    """Make a file or folder unwritable, even for root (which ignores permission bits)."""
    undo: list[Callable[[], object]] = []

    def make(path: Path) -> None:
        if os.geteuid() != 0:
            mode = path.stat().st_mode
            path.chmod(0o555 if path.is_dir() else 0o444)
            undo.append(lambda: path.chmod(mode))
            return
        if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
            pytest.skip("running as root, and this file system cannot make a file immutable")
        undo.append(lambda: subprocess.run(["chattr", "-i", str(path)], check=True))

    yield make
    for step in reversed(undo):
        step()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- PostgreSQL ---------------------------------------------------------------------------------

def test_a_malformed_port_is_named(tmp_path: Path) -> None:
    result = run_qwenbot("postgresql://bot:s3cret@127.0.0.1:54x2/memory", tmp_path)

    assert_refused(result, "port", "54x2")
    assert "s3cret" not in result.stderr


def test_an_unreachable_server_is_named_without_its_password(tmp_path: Path) -> None:
    port = closed_port()

    result = run_qwenbot(f"postgresql://bot:s3cret@127.0.0.1:{port}/memory", tmp_path)

    assert_refused(result, f"127.0.0.1:{port}/memory")
    assert "s3cret" not in result.stderr


def test_an_unknown_scheme_is_refused_before_anything_starts(tmp_path: Path) -> None:
    result = run_qwenbot("mysql://bot@127.0.0.1/memory", tmp_path)

    # The settings check names it first (its own multi-line format); never a traceback.
    assert result.returncode == 2
    assert "DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


async def test_open_store_refuses_an_unknown_scheme_in_one_line() -> None:
    with pytest.raises(ConfigError, match="unknown scheme 'mysql'") as refused:
        await open_store("mysql://bot@127.0.0.1/memory")

    assert "\n" not in str(refused.value)


# -- SQLite -------------------------------------------------------------------------------------

def test_a_folder_given_as_the_database_file_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()

    assert_refused(run_qwenbot(f"sqlite:///{folder}", tmp_path), str(folder), "folder")


def test_a_file_standing_where_the_folder_should_be_is_named(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("not a folder")

    assert_refused(run_qwenbot(f"sqlite:///{tmp_path}/data/memory.db", tmp_path), "is a file, not a folder")


def test_a_folder_that_cannot_be_written_is_named(
    tmp_path: Path, read_only: Callable[[Path], None]
) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    read_only(folder)

    assert_refused(run_qwenbot(f"sqlite:///{folder}/memory.db", tmp_path), f"{folder}/memory.db", "write")


async def test_a_read_only_database_file_is_named(tmp_path: Path, read_only: Callable[[Path], None]) -> None:
    # Fully migrated, so opening it would need no write: the refusal must not wait for the first one.
    database = tmp_path / "memory.db"
    await (await open_store(f"sqlite:///{database}")).close()
    read_only(database)

    assert_refused(run_qwenbot(f"sqlite:///{database}", tmp_path), str(database), "read")


def test_a_database_on_a_read_only_file_system_is_named(tmp_path: Path) -> None:
    if not Path("/proc/self").is_dir():
        pytest.skip("no /proc: no read-only file system to point at")

    assert_refused(run_qwenbot("sqlite:////proc/memory.db", tmp_path), "/proc/memory.db")
