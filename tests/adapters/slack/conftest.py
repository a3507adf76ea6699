"""Fixtures for the Slack adapter's end-to-end tests: a fake Slack, the fake Qwen, the real bolt app."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from adapters.slack import SlackAdapter
from adapters.slack.app import SlackBot
from adapters.slack.config import SlackSettings
from bot.config import Settings
from bot.core import ConversationCore
from tests.fakes.slack import FakeSlack

ALICE, BOB, ADMIN = "U0ALICE", "U0BOB", "U0ADMIN"
GENERAL, RANDOM, DM = "C0GENERAL", "C0RANDOM", "D0ALICE"


async def eventually(check: Callable[[], Any], within: float = 10.0) -> Any:
    """Wait until `check()` is truthy (and return it); fail the test after `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        value = check()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {within}s: {check}")
        await asyncio.sleep(0.01)


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = await FakeSlack().start()
    fake.add_user(ALICE, "Alice")
    fake.add_user(BOB, "Bob")
    fake.add_user(ADMIN, "Ada Admin", admin=True)
    fake.add_channel(GENERAL, creator=BOB)
    fake.add_channel(RANDOM, creator=ALICE)
    yield fake
    await fake.stop()


@dataclass
class Running:
    adapter: SlackAdapter
    core: ConversationCore
    task: asyncio.Task[None]

    @property
    def bot(self) -> SlackBot:
        assert self.adapter.bot is not None
        return self.adapter.bot

    async def idle(self) -> None:
        await self.bot.idle()

    async def stop(self, grace: float = 10.0) -> None:
        """Stop as the process does: the core ends answers under way, then the app disconnects."""
        await self.core.stop(grace)
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.core.close()


StartBot = Callable[..., Awaitable[Running]]


@pytest.fixture
async def start_bot(slack: FakeSlack, make_settings: Callable[..., Settings]) -> AsyncIterator[StartBot]:
    """Start the real adapter against the fakes; `mode="socket"` for Socket Mode."""
    running: list[Running] = []

    async def start(
        mode: str = "http", core_settings: dict[str, Any] | None = None, **options: Any
    ) -> Running:
        values: dict[str, Any] = {
            "slack_bot_token": slack.bot_token,
            "slack_api_url": slack.api_url,
            "slack_signing_secret": slack.signing_secret,
            "slack_http_host": "127.0.0.1",
            "port": 0,
        }
        if mode == "socket":
            values["slack_app_token"] = slack.app_token
        values.update(options)
        core = await ConversationCore.start(make_settings(**(core_settings or {})))
        adapter = SlackAdapter(SlackSettings(**values))
        task = asyncio.create_task(adapter.serve(core))
        ready = asyncio.create_task(adapter.ready.wait())
        await asyncio.wait({task, ready}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            ready.cancel()
            await core.close()
            task.result()
        assert adapter.bot is not None
        if mode == "http":
            slack.bot_url = f"http://127.0.0.1:{adapter.bot.port}"
        run = Running(adapter, core, task)
        running.append(run)
        return run

    yield start
    for run in running:
        if not run.task.done():
            await run.stop(grace=0)
