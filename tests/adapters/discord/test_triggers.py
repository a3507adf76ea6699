"""Who the bot answers, end to end: every trigger, every non-trigger, access lists and rate limits."""

from __future__ import annotations

from typing import Any

import pytest

from bot.sentences import RATE_LIMITED
from tests.adapters.discord.conftest import answer_to, at, prompts, reply_texts
from tests.fakes.discord import MANAGE_CHANNELS
from tests.fakes.qwen import Script, last_user_text


@pytest.fixture(autouse=True)
def echo(qwen: Any) -> None:
    qwen.responder = lambda body: Script("echo: " + last_user_text(body).split(": ", 1)[-1])


async def barrier(fake: Any, world: dict[str, Any], channel: str = "general") -> None:
    """A mention answered after the messages under test: everything sent before it was handled."""
    msg = await fake.say(world["bob"], f"{at(fake)} barrier", channel_id=world[channel])
    await answer_to(fake, msg, "echo: barrier")


async def test_a_mention_is_answered_in_a_reply_that_pings_nobody(bot, fake, world) -> None:
    msg = await fake.say(world["alice"], f"{at(fake)} hello", channel_id=world["general"])
    await answer_to(fake, msg, "echo: hello")
    reply = fake.replies_to(int(msg["id"]))[0]
    assert reply["message_reference"]["message_id"] == msg["id"]
    assert fake.pings == []


async def test_a_mention_of_the_bots_managed_role_is_answered(bot, fake, world) -> None:
    role = next(int(r["id"]) for r in fake.guilds[world["guild"]]["roles"] if r.get("tags"))
    msg = await fake.say(world["alice"], f"<@&{role}> hello role", channel_id=world["general"])
    await answer_to(fake, msg, "echo: hello role")


async def test_a_dm_is_answered(bot, fake, world) -> None:
    msg = await fake.say(world["dave"], "hello in private")
    await answer_to(fake, msg, "echo: hello in private")


async def test_a_reply_to_the_bots_message_is_answered(bot, fake, world) -> None:
    first = await fake.say(world["alice"], f"{at(fake)} one", channel_id=world["general"])
    await answer_to(fake, first, "echo: one")
    answer_id = int(fake.replies_to(int(first["id"]))[0]["id"])
    follow = await fake.say(world["alice"], "two", channel_id=world["general"], reply_to=answer_id)
    await answer_to(fake, follow, "echo: two")


async def test_a_reply_to_someone_else_is_not_answered(bot, fake, world, qwen) -> None:
    first = await fake.say(world["bob"], "my own words", channel_id=world["general"])
    await fake.say(world["alice"], "replying to bob", channel_id=world["general"], reply_to=int(first["id"]))
    await barrier(fake, world)
    assert "replying to bob" not in " ".join(prompts(qwen))


async def test_every_message_in_a_thread_the_bot_created_is_answered(bot, fake, world) -> None:
    thread = await fake.add_thread(world["guild"], world["general"], fake.app_id, "Qwen's thread")
    msg = await fake.say(world["alice"], "no mention needed", channel_id=thread)
    await answer_to(fake, msg, "echo: no mention needed")


async def test_someone_elses_thread_needs_a_mention(bot, fake, world, qwen) -> None:
    owner = int(world["alice"]["user"]["id"])
    thread = await fake.add_thread(world["guild"], world["general"], owner, "Alice's thread")
    await fake.say(world["alice"], "chatting among us", channel_id=thread)
    msg = await fake.say(world["alice"], f"{at(fake)} now you", channel_id=thread)
    await answer_to(fake, msg, "echo: now you")
    assert "chatting among us" not in " ".join(prompts(qwen))


async def test_a_plain_message_gets_no_model_call_no_reply_and_is_not_remembered(
    bot, fake, world, qwen
) -> None:
    plain = await fake.say(world["alice"], "lunch anyone?", channel_id=world["general"])
    await barrier(fake, world)
    assert reply_texts(fake, plain) == []
    assert "lunch anyone?" not in " ".join(prompts(qwen))
    assert len(qwen.chat_requests) == 1


async def test_a_channel_set_to_always_answers_every_message_there_only(bot, fake, world, qwen) -> None:
    await fake.interact(
        world["bob"],
        "channel-mode",
        {"mode": "always"},
        channel_id=world["general"],
        permissions=MANAGE_CHANNELS,
    )
    await fake.wait_for(lambda: any("every message" in (m["content"] or "") for m in fake.bot_messages()))
    msg = await fake.say(world["alice"], "anyone there?", channel_id=world["general"])
    await answer_to(fake, msg, "echo: anyone there?")
    other = await fake.say(world["alice"], "quiet here", channel_id=world["random"])
    await barrier(fake, world, "random")
    assert reply_texts(fake, other) == []


async def test_other_bots_are_ignored_by_default(bot, fake, world, qwen) -> None:
    await fake.say(world["robot"], f"{at(fake)} beep", channel_id=world["general"])
    await barrier(fake, world)
    assert "beep" not in " ".join(prompts(qwen))


async def test_other_bots_are_answered_when_configured(world, fake, make_bot) -> None:
    await make_bot(answer_bots=True)
    msg = await fake.say(world["robot"], f"{at(fake)} beep", channel_id=world["general"])
    await answer_to(fake, msg, "echo: beep")


@pytest.mark.parametrize(
    ("setting", "value", "speaker"),
    [
        ("discord_blocked_users", "alice", "alice"),
        ("discord_allowed_users", "bob", "alice"),
        ("discord_blocked_channels", "general", "alice"),
        ("discord_allowed_channels", "random", "alice"),
        ("discord_blocked_roles", "mods", "bob"),
        ("discord_allowed_roles", "mods", "alice"),
        ("discord_allowed_guilds", "other", "alice"),
        ("discord_blocked_guilds", "guild", "alice"),
    ],
)
async def test_access_lists_refuse_silently(world, fake, make_bot, qwen, setting, value, speaker) -> None:
    ids = {
        "alice": world["alice"]["user"]["id"],
        "bob": world["bob"]["user"]["id"],
        "general": world["general"],
        "random": world["random"],
        "mods": world["mods"],
        "guild": world["guild"],
        "other": "1",
    }
    await make_bot(**{setting: str(ids[value])})
    refused = await fake.say(world[speaker], f"{at(fake)} let me in", channel_id=world["general"])
    if setting == "discord_allowed_users":
        barrier_msg = await fake.say(world["bob"], f"{at(fake)} barrier", channel_id=world["general"])
    else:
        barrier_msg = await fake.say(world["dave"], "barrier")  # DMs pass guild, channel and role lists
    await answer_to(fake, barrier_msg, "echo: barrier")
    assert reply_texts(fake, refused) == []
    assert "let me in" not in " ".join(prompts(qwen))


async def test_an_allow_list_admits_who_it_lists(world, fake, make_bot) -> None:
    await make_bot(discord_allowed_roles=str(world["mods"]), discord_allowed_channels=str(world["general"]))
    msg = await fake.say(world["bob"], f"{at(fake)} let me in", channel_id=world["general"])
    await answer_to(fake, msg, "echo: let me in")


async def test_dms_can_be_turned_off(world, fake, make_bot, qwen) -> None:
    await make_bot(discord_allow_dms=False)
    await fake.say(world["dave"], "hello?")
    await barrier(fake, world)
    assert "hello?" not in " ".join(prompts(qwen))


async def test_the_rate_limit_is_explained_once_and_never_reaches_the_model(
    world, fake, make_bot, qwen
) -> None:
    await make_bot({"user_rate_limit": 2})
    for n in range(2):
        msg = await fake.say(world["alice"], f"{at(fake)} q{n}", channel_id=world["general"])
        await answer_to(fake, msg, f"echo: q{n}")
    third = await fake.say(world["alice"], f"{at(fake)} q2", channel_id=world["general"])
    await fake.wait_for(lambda: reply_texts(fake, third) == [RATE_LIMITED])
    fourth = await fake.say(world["alice"], f"{at(fake)} q3", channel_id=world["general"])
    await barrier(fake, world)
    assert reply_texts(fake, fourth) == []
    assert len(qwen.chat_requests) == 3  # q0, q1 and the barrier from another user


async def test_a_user_over_their_daily_budget_is_told_so_and_never_reaches_the_model(
    world, fake, make_bot, qwen
) -> None:
    await make_bot({"daily_tokens_per_user": 5})
    first = await fake.say(world["alice"], f"{at(fake)} q0", channel_id=world["general"])
    await answer_to(fake, first, "echo: q0")
    second = await fake.say(world["alice"], f"{at(fake)} q1", channel_id=world["general"])

    await fake.wait_for(lambda: bool(reply_texts(fake, second)))

    (text,) = reply_texts(fake, second)
    assert "You've used your daily budget of 5 tokens; it resets at 00:00 UTC, in " in text
    assert len(qwen.chat_requests) == 1
