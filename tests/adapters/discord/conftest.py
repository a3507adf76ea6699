"""A running qwenbot Discord adapter wired to a fake Discord and the fake Qwen, over loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import discord
import pytest
import yarl

from adapters.discord import DiscordAdapter, DiscordSettings
from bot.config import Settings
from bot.core import ConversationCore
from tests.fakes.discord import FakeDiscord
from tests.fakes.qwen import FakeQwen

#: Short pacing for tests that are not about pacing, with the fake's limit scaled to match.
FAST = {"discord_edit_interval": 0.05, "discord_channel_edits": 4, "discord_edit_window": 0.5}


class Bot:
    """One qwenbot process: a core and the Discord adapter, started and stopped like the real one."""

    def __init__(self, fake: FakeDiscord, qwen: FakeQwen, make_settings: Callable[..., Settings]) -> None:
        self.fake = fake
        self.qwen = qwen
        self.make_settings = make_settings
        self.core: ConversationCore | None = None
        self.adapter: DiscordAdapter | None = None
        self.task: asyncio.Task[None] | None = None

    async def start(self, core: dict[str, Any] | None = None, **discord_settings: Any) -> Bot:
        values: dict[str, Any] = {
            "discord_token": self.fake.token,
            "discord_api_url": self.fake.api_url,
            **FAST,
        }
        values.update(discord_settings)
        self.core = await ConversationCore.start(self.make_settings(**(core or {})))
        self.adapter = DiscordAdapter(DiscordSettings(**values), guild_ready_timeout=0.05)
        self.task = asyncio.create_task(self.adapter.serve(self.core))
        ready = asyncio.create_task(self.adapter.ready.wait())
        await asyncio.wait({ready, self.task}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
        if self.task.done():
            ready.cancel()
            self.task.result()  # raises what serve raised
        assert ready.done(), "the bot did not become ready"
        return self

    async def stop(self, grace: float = 10.0) -> None:
        """Stop as the process does: the core ends answers under way, then the connection closes."""
        if self.core is not None:
            await self.core.stop(grace)
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except (asyncio.CancelledError, Exception):
                pass
            self.task = None
        if self.core is not None:
            await self.core.close()
            self.core = None

    async def restart(self, **discord_settings: Any) -> Bot:
        await self.stop()
        return await self.start(**discord_settings)

    @property
    def client(self) -> discord.Client:
        assert self.adapter is not None and self.adapter.client is not None
        return self.adapter.client


def point_discord_py_at(fake: FakeDiscord) -> tuple[str, yarl.URL]:
    previous = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    discord.http.Route.BASE = fake.api_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    return previous


@pytest.fixture
def fake_limits() -> dict[str, Any]:
    """The fake's edit limit; tests about Discord's real pacing override this with 5 per 5 s."""
    return {"edit_limit": 5, "edit_window": 0.5}


@pytest.fixture
async def fake(fake_limits: dict[str, Any]) -> AsyncIterator[FakeDiscord]:
    server = await FakeDiscord(**fake_limits).start()
    base, gateway = point_discord_py_at(server)
    yield server
    discord.http.Route.BASE = base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway
    await server.stop()


@pytest.fixture
async def world(fake: FakeDiscord) -> dict[str, Any]:
    """A server with two channels and a few people, and a DM user."""
    guild = fake.add_guild("Test Server")
    general = fake.add_channel(guild, "general")
    random = fake.add_channel(guild, "random")
    mods = fake.add_role(guild, "Moderators")
    return {
        "guild": guild,
        "general": general,
        "random": random,
        "mods": mods,
        "alice": fake.add_member(guild, "Alice", nick="Ali"),
        "bob": fake.add_member(guild, "Bob", roles=(mods,)),
        "robot": fake.add_member(guild, "OtherBot", bot=True),
        "dave": fake.dm_user("Dave"),
    }


@pytest.fixture
async def make_bot(
    fake: FakeDiscord, qwen: FakeQwen, make_settings: Callable[..., Settings]
) -> AsyncIterator[Callable[..., Any]]:
    bots: list[Bot] = []

    async def make(core: dict[str, Any] | None = None, **discord_settings: Any) -> Bot:
        bot = Bot(fake, qwen, make_settings)
        bots.append(bot)
        return await bot.start(core, **discord_settings)

    yield make
    for bot in bots:
        await bot.stop(grace=0)


@pytest.fixture
async def bot(world: dict[str, Any], make_bot: Callable[..., Any]) -> Bot:
    return await make_bot()


def at(fake: FakeDiscord) -> str:
    """How a user's message mentions the bot."""
    return f"<@{fake.app_id}>"


def reply_texts(fake: FakeDiscord, message: dict[str, Any]) -> list[str]:
    return [m["content"] for m in fake.replies_to(int(message["id"]))]


async def answer_to(fake: FakeDiscord, message: dict[str, Any], text: str, within: float = 10.0) -> list[str]:
    """Wait until the bot's reply to `message` shows exactly `text` (split as Discord messages)."""
    from adapters.discord import render

    expected = render.messages(text)
    await fake.wait_for(lambda: reply_texts(fake, message) == expected, within=within)
    return expected


def prompts(qwen: FakeQwen) -> list[str]:
    """Every user-side text the model was sent, across all chat requests."""
    out = []
    for body in qwen.chat_requests:
        for item in body["messages"]:
            content = item["content"]
            if isinstance(content, list):
                content = " ".join(p.get("text", "") for p in content if p.get("type") == "text")
            out.append(content)
    return out
