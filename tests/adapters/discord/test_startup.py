"""Starting the adapter: credentials, the invite link, and one-line errors for bad settings."""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

import discord
import pytest
import yarl

from adapters.discord import DiscordAdapter, DiscordSettings
from bot.config import ConfigError
from bot.sentences import INTERRUPTED_MARK
from tests.adapters.discord.conftest import answer_to, at, reply_texts
from tests.fakes.qwen import Script


def test_missing_names_the_token_when_unset() -> None:
    assert DiscordAdapter().missing() == "DISCORD_TOKEN is not set"


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "abc")
    monkeypatch.setenv("DISCORD_API_URL", "http://proxy.internal:8080/api/v10/")
    monkeypatch.setenv("DISCORD_BLOCKED_USERS", "1, 2")
    adapter = DiscordAdapter()
    assert adapter.missing() is None
    assert adapter.settings.discord_api_url == "http://proxy.internal:8080/api/v10"
    assert adapter.settings.discord_blocked_users == ["1", "2"]
    assert "abc" not in repr(adapter.settings)


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("SHARD_IDS", "0,1", "SHARD_IDS needs SHARD_COUNT"),
        ("DISCORD_ALLOWED_USERS", "alice", "DISCORD_ALLOWED_USERS"),
        ("DISCORD_API_URL", "discord.com", "DISCORD_API_URL"),
    ],
)
def test_bad_settings_are_named(monkeypatch: pytest.MonkeyPatch, name: str, value: str, named: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=named):
        DiscordAdapter().missing()


async def test_a_bad_token_is_one_line(fake, core) -> None:
    adapter = DiscordAdapter(DiscordSettings(discord_token="wrong", discord_api_url=fake.api_url))
    with pytest.raises(ConfigError) as raised:
        await adapter.serve(core)
    assert "DISCORD_TOKEN" in str(raised.value) and "\n" not in str(raised.value)
    assert "wrong" not in str(raised.value)


async def test_the_invite_url_is_logged_with_the_permissions_it_needs(world, fake, make_bot, caplog) -> None:
    caplog.set_level(logging.INFO, logger="adapters.discord")
    await make_bot()
    invite = next(r.getMessage() for r in caplog.records if "invite" in r.getMessage().lower())
    assert f"client_id={fake.app_id}" in invite
    assert "scope=bot+applications.commands" in invite
    assert "permissions=" in invite


async def test_the_rest_base_url_follows_discord_api_url(world, fake, make_bot, qwen: Any) -> None:
    qwen.responder = lambda body: Script("via the proxy")
    bot = await make_bot(discord_api_url=fake.api_url)
    msg = await fake.say(world["alice"], f"{at(fake)} hi", channel_id=world["general"])
    await answer_to(fake, msg, "via the proxy")
    assert bot.client.http.token == fake.token


@pytest.mark.parametrize(
    ("code", "named"),
    [
        (4004, "DISCORD_TOKEN"),
        (4010, "SHARD_IDS"),
        (4011, "set SHARD_COUNT"),
        (4012, "API version"),
        (4013, "intents"),
    ],
)
async def test_a_fatal_gateway_close_is_one_line(fake, world, core, code: int, named: str) -> None:
    fake.close_identify_with = code
    adapter = DiscordAdapter(DiscordSettings(discord_token=fake.token, discord_api_url=fake.api_url))
    with pytest.raises(ConfigError) as raised:
        await adapter.serve(core)
    assert named in str(raised.value) and "\n" not in str(raised.value)


async def test_an_unreachable_gateway_at_start_is_one_line(fake, world, core, monkeypatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(f"ws://127.0.0.1:{closed}/"))
    adapter = DiscordAdapter(DiscordSettings(discord_token=fake.token, discord_api_url=fake.api_url))
    with pytest.raises(ConfigError) as raised:
        await asyncio.wait_for(adapter.serve(core), 60)
    assert "Could not connect to Discord" in str(raised.value) and "\n" not in str(raised.value)


async def test_an_answer_cut_by_shutdown_ends_with_the_interrupted_mark(world, fake, make_bot, qwen) -> None:
    qwen.queue(Script(" ".join(f"word{i}" for i in range(200)), delay=0.05))
    bot = await make_bot()
    msg = await fake.say(world["alice"], f"{at(fake)} tell me a long story", channel_id=world["general"])
    await fake.wait_for(lambda: any("word0" in text for text in reply_texts(fake, msg)))
    await bot.stop(grace=0.2)
    texts = reply_texts(fake, msg)
    assert texts[-1].endswith(INTERRUPTED_MARK.strip())
    assert "word199" not in "".join(texts)


async def test_an_answer_cut_by_shutdown_is_remembered_as_the_answer(world, fake, make_bot, qwen) -> None:
    qwen.queue(Script(" ".join(f"word{i}" for i in range(200)), delay=0.05))
    bot = await make_bot()
    msg = await fake.say(world["alice"], f"{at(fake)} tell me a long story", channel_id=world["general"])
    await fake.wait_for(lambda: any("word0" in text for text in reply_texts(fake, msg)))
    await bot.stop(grace=0)
    await make_bot()
    follow = await fake.say(world["alice"], f"{at(fake)} go on", channel_id=world["general"])
    await fake.wait_for(lambda: bool(reply_texts(fake, follow)))
    roles = [(m["role"], m["content"]) for m in qwen.chat_requests[-1]["messages"] if m["role"] != "system"]
    assert [role for role, _ in roles] == ["user", "assistant", "user"]
    assert roles[1][1].startswith("word0") and "word199" not in roles[1][1]


async def test_a_slash_ask_cut_by_shutdown_ends_with_the_interrupted_mark(
    world, fake, make_bot, qwen
) -> None:
    qwen.queue(Script(" ".join(f"word{i}" for i in range(200)), delay=0.05))
    bot = await make_bot()
    iid = await fake.interact(world["alice"], "ask", {"prompt": "a long story"}, channel_id=world["general"])
    token = f"itoken-{iid}"

    def shown() -> str:
        ids = fake.interaction_messages[token]
        return "".join(fake.messages[m]["content"] for m in ids if m not in fake.deleted)

    await fake.wait_for(lambda: "word0" in shown())
    await bot.stop(grace=0)
    assert shown().endswith(INTERRUPTED_MARK.strip())
    assert "word199" not in shown()
