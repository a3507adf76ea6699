"""The `qwenbot` command line, run as a user would."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot import cli
from bot.config import ConfigError


def qwenbot(*args: str, cwd: Path, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("QWEN_", "DASHSCOPE_", "DISCORD_", "SLACK_"))}
    environment.update(env)
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=60, input=stdin)


def test_help_lists_every_command(tmp_path: Path):
    result = qwenbot("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("chat", "run", "discord", "slack"):
        assert command in result.stdout


def test_run_without_platform_credentials_says_which_are_missing(tmp_path: Path):
    result = qwenbot("run", cwd=tmp_path, QWEN_API_KEY="sk-1")
    assert result.returncode == 2
    assert "no platform credentials" in result.stderr
    assert "DISCORD_TOKEN" in result.stderr and "SLACK_BOT_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_qwen_key_is_named(tmp_path: Path):
    result = qwenbot("chat", cwd=tmp_path)
    assert result.returncode == 2
    assert "QWEN_API_KEY" in result.stderr and "Traceback" not in result.stderr


def test_an_unreachable_platform_at_start_is_one_line(tmp_path: Path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = qwenbot("discord", cwd=tmp_path, QWEN_API_KEY="sk-1", DISCORD_TOKEN="token",
                     DISCORD_API_URL=f"http://127.0.0.1:{port}/api/v10")
    assert result.returncode == 2
    assert "Could not connect to Discord" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_discord_command_without_a_token_says_so(tmp_path: Path):
    result = qwenbot("discord", cwd=tmp_path, QWEN_API_KEY="sk-1")
    assert result.returncode == 2
    assert "DISCORD_TOKEN is not set" in result.stderr


class Stub:
    platform = True

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.served = False

    def missing(self) -> str | None:
        return None

    async def serve(self, core: object) -> None:
        await asyncio.sleep(0.05)
        self.served = True
        if self.error is not None:
            raise self.error


async def test_one_crashing_adapter_does_not_stop_the_others(make_settings):
    crashing, healthy = Stub(RuntimeError("boom")), Stub()
    assert await cli.serve(make_settings(), {"crashing": crashing, "healthy": healthy}) is False
    assert healthy.served


async def test_a_bad_token_at_start_stops_everything_with_its_message(make_settings):
    with pytest.raises(ConfigError, match="rejected"):
        await cli.serve(make_settings(), {"bad": Stub(ConfigError("token rejected")), "ok": Stub()})


class Disconnecting(Stub):
    """Connects, then loses the network."""

    def __init__(self) -> None:
        super().__init__(ConnectionResetError("connection reset by peer"))
        self.ready = asyncio.Event()
        self.ready.set()


async def test_a_connection_lost_after_start_stops_only_that_adapter(make_settings):
    healthy = Stub()
    assert await cli.serve(make_settings(), {"flaky": Disconnecting(), "healthy": healthy}) is False
    assert healthy.served


async def test_a_connection_refused_before_start_is_a_one_line_error(make_settings):
    with pytest.raises(ConfigError, match="cannot connect"):
        await cli.serve(make_settings(), {"down": Stub(ConnectionRefusedError("refused")), "ok": Stub()})


def old_turns_in(path: Path, *ages_in_days: float) -> None:
    """A memory database holding one turn of each age."""
    from bot.memory import Turn, open_store
    from bot.types import ConversationKey

    async def fill() -> None:
        store = await open_store(f"sqlite:///{path}")
        key = ConversationKey("terminal", "local", "default")
        for n, age in enumerate(ages_in_days):
            await store.add_turn(key, Turn("user", "u", "U", f"t{n}", 1, f"m{n}", time.time() - age * 86400))
        await store.close()

    asyncio.run(fill())


def test_purge_removes_what_is_older_and_prints_each_kind(tmp_path: Path):
    old_turns_in(tmp_path / "memory.db", 40, 35, 2)
    result = qwenbot("purge", "--older-than", "30", cwd=tmp_path, QWEN_API_KEY="sk-1",
                     DATABASE_URL=f"sqlite:///{tmp_path / 'memory.db'}")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Removed what was older than 30 days:"
    assert "  messages: 2" in lines
    assert {line.split(":")[0].strip() for line in lines[1:]} == {
        "messages", "summaries", "usage rows", "event claims", "unfinished answers"}

    again = qwenbot("purge", "--older-than", "1", cwd=tmp_path, QWEN_API_KEY="sk-1",
                    DATABASE_URL=f"sqlite:///{tmp_path / 'memory.db'}")
    assert "  messages: 1" in again.stdout.splitlines()


@pytest.mark.parametrize("days", ["0", "-3", "soon", "1.5"])
def test_purge_refuses_days_that_are_not_a_whole_number_of_one_or_more(tmp_path: Path, days: str):
    result = qwenbot("purge", "--older-than", days, cwd=tmp_path, QWEN_API_KEY="sk-1")
    assert result.returncode == 2
    assert "whole number of days" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "qwenbot.db").exists()


def test_purge_needs_its_age(tmp_path: Path):
    result = qwenbot("purge", cwd=tmp_path, QWEN_API_KEY="sk-1")
    assert result.returncode == 2 and "--older-than" in result.stderr


async def test_serving_with_a_retention_sweeps_in_the_background_and_stops_with_the_adapters(make_settings):
    seen: list[str] = []

    class Looking(Stub):
        async def serve(self, core: object) -> None:
            seen.extend(task.get_name() for task in asyncio.all_tasks())

    assert await cli.serve(make_settings(retention_days=30), {"ok": Looking()}) is True
    assert "retention sweep" in seen
    assert "retention sweep" not in {task.get_name() for task in asyncio.all_tasks()}
