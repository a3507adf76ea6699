"""Several `qwenbot discord` processes on one PostgreSQL database.

Discord sends each shard the events of its own guilds ((guild id >> 22) % shard count) and every
direct message to shard 0, and sends them to every session open on that shard; the fake gateway
does the same. Each process has its own persona here, so the model's request shows which
process answered.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.discord import FakeDiscord
from tests.fakes.qwen import FakeQwen, Script
from tests.processes import BotProcess
from tests.replicas.conftest import StartDiscord
from tests.waiting import until


def persona(body: dict[str, Any]) -> str:
    return str(body["messages"][0]["content"])


async def answered(discord: FakeDiscord, message: dict[str, Any], bots: list[BotProcess]) -> None:
    """Wait until the bot's one reply to `message` is written in full."""
    def written() -> bool:
        replies = discord.replies_to(int(message["id"]))
        return len(replies) == 1 and replies[0]["content"] == "hello"

    await until(written, 20, lambda: "the reply:\n" + "\n".join(b.output() for b in bots))


async def test_each_shard_process_answers_only_the_guilds_of_its_shard(
        discord: FakeDiscord, discord_world: list[dict[str, Any]], qwen: FakeQwen,
        start_discord: StartDiscord):
    qwen.responder = lambda body: Script(text="hello")
    bots = await start_discord(["0", "1"])
    assert sorted(i["shard"] for i in discord.identifies) == [[0, 2], [1, 2]]
    for shard, place in enumerate(discord_world):
        asked = len(qwen.chat_requests)
        message = await discord.say(place["member"], f"<@{discord.app_id}> who are you?",
                                    channel_id=place["channel"])
        await answered(discord, message, bots)
        [body] = qwen.chat_requests[asked:]
        assert persona(body) == f"You are process {shard}."


async def test_direct_messages_are_answered_by_the_shard_zero_process(
        discord: FakeDiscord, qwen: FakeQwen, start_discord: StartDiscord):
    qwen.responder = lambda body: Script(text="hello")
    bots = await start_discord(["0", "1"])
    message = await discord.say(discord.dm_user("Bob"), "hi there")
    await answered(discord, message, bots)
    [body] = qwen.chat_requests
    assert persona(body) == "You are process 0."


async def test_a_message_two_sessions_of_one_shard_receive_is_answered_once(
        discord: FakeDiscord, discord_world: list[dict[str, Any]], qwen: FakeQwen,
        start_discord: StartDiscord):
    # A rolling deploy: the new process connects before the old one has gone, and Discord sends
    # every event to both.
    qwen.responder = lambda body: Script(text="hello")
    bots = await start_discord([None, None])
    place = discord_world[0]
    message = await discord.say(place["member"], f"<@{discord.app_id}> hi", channel_id=place["channel"])
    await answered(discord, message, bots)

    # Each process takes a conversation's messages in arrival order: once each has answered a
    # later message of its own, it is done with the shared one, and a second answer would be there.
    for session in list(discord.connections):
        later = await discord.say(place["member"], f"<@{discord.app_id}> and you?",
                                  channel_id=place["channel"], only=session)
        await answered(discord, later, bots)
    assert [m["content"] for m in discord.bot_messages(place["channel"])] == ["hello"] * 3
    assert sorted(persona(body) for body in qwen.chat_requests[1:]) == ["You are process 0.",
                                                                        "You are process 1."]
    assert len(qwen.chat_requests) == 3
