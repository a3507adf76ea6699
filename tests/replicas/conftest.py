"""Two bot processes on one PostgreSQL database, against the fakes running in the test process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.bot.memory.backends import Backend, postgres_backend
from tests.fakes.discord import FakeDiscord
from tests.fakes.qwen import FakeQwen
from tests.fakes.slack import FakeSlack
from tests.processes import BotProcess
from tests.waiting import until

ALICE, GENERAL, DM = "U0ALICE", "C0GENERAL", "D0ALICE"


@pytest.fixture
async def pg() -> AsyncIterator[Backend]:
    """A throwaway schema on the test server, shared by both replicas."""
    async with postgres_backend() as backend:
        yield backend


def model_env(qwen: FakeQwen, pg: Backend) -> dict[str, str]:
    return {"QWEN_API_KEY": "sk-test", "QWEN_BASE_URL": qwen.base_url, "QWEN_MAX_RETRIES": "0",
            "DATABASE_URL": pg.url, "USER_RATE_LIMIT": "0"}


class SlackReplica(BotProcess):
    """`qwenbot slack` in HTTP mode on a port of its own choosing."""

    url = ""

    async def start(self) -> None:
        await super().start()
        found = await self.logged(r"HTTP mode as .* on port (\d+)")
        self.url = f"http://127.0.0.1:{found.group(1)}"


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = await FakeSlack().start()
    fake.add_user(ALICE, "Alice")
    fake.add_channel(GENERAL, creator=ALICE)
    yield fake
    await fake.stop()


@pytest.fixture
async def slack_replicas(slack: FakeSlack, qwen: FakeQwen, pg: Backend, tmp_path: Path,
                         processes: list[BotProcess]) -> list[SlackReplica]:
    """Replicas A and B behind a load balancer: each serves POST /slack/events on its own port."""
    env = {**model_env(qwen, pg), "SLACK_BOT_TOKEN": slack.bot_token, "SLACK_API_URL": slack.api_url,
           "SLACK_SIGNING_SECRET": slack.signing_secret, "PORT": "0", "SLACK_HTTP_HOST": "127.0.0.1"}
    replicas = [SlackReplica("slack", tmp_path, env, name=f"slack-{n}") for n in "AB"]
    processes.extend(replicas)
    # Started together, as an orchestrator does: the schema is created once, under its lock.
    await asyncio.gather(*(replica.start() for replica in replicas))
    return replicas


@pytest.fixture
async def discord() -> AsyncIterator[FakeDiscord]:
    fake = await FakeDiscord().start()
    yield fake
    await fake.stop()


@pytest.fixture
def discord_world(discord: FakeDiscord) -> list[dict[str, Any]]:
    """A guild on each of two shards, each with a channel and a member."""
    world = []
    for shard in (0, 1):
        guild = discord.add_guild_on_shard(shard, 2)
        world.append({"guild": guild, "channel": discord.add_channel(guild, "general"),
                      "member": discord.add_member(guild, f"Member{shard}")})
    return world


StartDiscord = Callable[[list[str | None]], Awaitable[list[BotProcess]]]


@pytest.fixture
def start_discord(discord: FakeDiscord, qwen: FakeQwen, pg: Backend, tmp_path: Path,
                  processes: list[BotProcess]) -> StartDiscord:
    """Start one `qwenbot discord` per entry: `SHARD_IDS` of `SHARD_COUNT=2`, or None for unsharded.

    Process n has the persona "You are process n.", so the model's requests show which answered.
    """
    async def start(shard_ids: list[str | None]) -> list[BotProcess]:
        bots = []
        for n, shard in enumerate(shard_ids):
            env = {**model_env(qwen, pg), "DISCORD_TOKEN": discord.token, "DISCORD_API_URL": discord.api_url,
                   "DISCORD_GATEWAY_URL": discord.gateway_url, "DISCORD_EDIT_INTERVAL": "0.2",
                   "SYSTEM_PROMPT": f"You are process {n}."}
            if shard is not None:
                env.update(SHARD_COUNT="2", SHARD_IDS=shard)
            bots.append(BotProcess("discord", tmp_path, env, name=f"discord-{n}"))
        processes.extend(bots)
        await asyncio.gather(*(bot.start() for bot in bots))
        await until(lambda: len(discord.connections) == len(bots), 30,
                    lambda: "every process to connect:\n" + "\n".join(b.output() for b in bots))
        return bots

    return start
