"""The bot as a real process: `python -m bot <command>` pointed at the fakes through its environment.

Used by the tests that need what only separate processes show: a crash (`kill -9`), several
replicas on one database, the command line's exit status.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.waiting import until

REPO = Path(__file__).resolve().parents[1]
#: Settings of the developer's own environment that must not leak into a bot under test.
OWN_SETTINGS = ("QWEN_", "DASHSCOPE_", "DISCORD_", "SLACK_", "DATABASE_", "SHARD_", "PORT",
                "SYSTEM_PROMPT", "ON_PLATFORM_FAILURE")


class BotProcess:
    """`python -m bot <command>` with its own environment; its log is kept for failure messages."""

    def __init__(self, command: str, cwd: Path, env: dict[str, str], *, name: str | None = None) -> None:
        self.command, self.cwd = command, cwd
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(OWN_SETTINGS)}
        self.env.update(env, PYTHONPATH=str(REPO), SHUTDOWN_GRACE="0", LOG_LEVEL="INFO")
        self.log = cwd / f"{name or command}.log"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", self.command, cwd=self.cwd, env=self.env,
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log)

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 15)
            except TimeoutError:
                await self.kill()

    async def exit_code(self, within: float = 20) -> int:
        """Wait for the process to end on its own; its exit status."""
        assert self.process is not None
        try:
            return await asyncio.wait_for(self.process.wait(), within)
        except TimeoutError:
            raise AssertionError(f"still running after {within}s:\n{self.output()}") from None

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    async def logged(self, pattern: str, within: float = 20) -> re.Match[str]:
        """Wait until the log has a line matching `pattern`; the match."""
        found: list[re.Match[str]] = []

        def check() -> bool:
            match = re.search(pattern, self.log.read_text(errors="replace"))
            if match:
                found.append(match)
            elif self.process is not None and self.process.returncode is not None:
                raise AssertionError(f"exited ({self.process.returncode}) before logging {pattern!r}:\n"
                                     f"{self.output()}")
            return match is not None

        await until(check, within, lambda: f"{pattern!r} in the log:\n{self.output()}")
        return found[0]


@pytest.fixture
async def processes() -> AsyncIterator[list[BotProcess]]:
    """Bot processes a test starts; each is stopped (SIGTERM, then SIGKILL) afterwards."""
    started: list[BotProcess] = []
    yield started
    for process in started:
        await process.stop()
