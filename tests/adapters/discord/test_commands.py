"""Slash commands: synced once at start, private settings answers, Manage Channels checked in servers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from adapters.discord.commands import ANSWER_WITHIN
from bot.sentences import ASK_HINT, NEEDS_MANAGE, RATE_LIMITED
from tests.adapters.discord.conftest import answer_to, at
from tests.fakes.discord import EPHEMERAL, MANAGE_CHANNELS
from tests.fakes.qwen import Script, last_user_text

NAMES = {"ask", "reset", "persona", "model", "memory", "usage", "forget-me", "channel-mode", "stop",
         "thinking", "search", "reasoning"}


@pytest.fixture(autouse=True)
def echo(qwen: Any) -> None:
    qwen.responder = lambda body: Script("re: " + last_user_text(body).split(": ", 1)[-1])


async def private_answer(fake: Any, interaction_id: int) -> str:
    body = await fake.wait_for(
        lambda: next((b for b in fake.callbacks.get(interaction_id, []) if b.get("type") == 4), None)
    )
    assert body["data"]["flags"] & EPHEMERAL, "settings answers are private"
    return body["data"]["content"]


async def run(
    fake: Any,
    who: dict[str, Any],
    command: str,
    options: dict[str, Any] | None = None,
    *,
    channel: int | None = None,
    manager: bool = False,
) -> str:
    iid = await fake.interact(
        who, command, options, channel_id=channel, permissions=MANAGE_CHANNELS if manager else 0
    )
    return await private_answer(fake, iid)


async def test_commands_are_synced_once_globally_at_start(bot, fake) -> None:
    assert [scope for scope, _ in fake.command_syncs] == ["global"]
    commands = {c["name"]: c for c in fake.command_syncs[0][1]}
    assert set(commands) == NAMES
    assert commands["reset"]["default_member_permissions"] == MANAGE_CHANNELS
    assert commands["model"]["options"][0]["autocomplete"] is True


async def test_commands_go_to_one_guild_when_configured(world, fake, make_bot) -> None:
    await make_bot(discord_guild_id=world["guild"])
    assert [scope for scope, _ in fake.command_syncs] == [f"guild:{world['guild']}"]


async def test_ask_answers_in_public(bot, fake, world, qwen) -> None:
    iid = await fake.interact(world["alice"], "ask", {"prompt": "what is up?"}, channel_id=world["general"])
    token = f"itoken-{iid}"
    await fake.wait_for(
        lambda: [fake.messages[m]["content"] for m in fake.interaction_messages[token]] == ["re: what is up?"]
    )
    assert fake.callbacks[iid][0]["type"] == 5  # deferred: Discord shows "thinking" at once
    original = fake.messages[fake.interaction_messages[token][0]]
    assert not original["flags"] & EPHEMERAL
    assert qwen.chat_requests[-1]["messages"][-1]["content"] == "Ali: what is up?"


async def test_ask_with_nothing_but_my_mention_gets_a_private_hint_and_no_model_call(
    bot, fake, world, qwen
) -> None:
    answer = await run(fake, world["alice"], "ask", {"prompt": f"<@{fake.app_id}>"}, channel=world["general"])
    assert answer == ASK_HINT
    assert qwen.chat_requests == []


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("reset", None),
        ("persona", {"text": "Talk like a pirate."}),
        ("model", {"name": "qwen-plus"}),
        ("channel-mode", {"mode": "always"}),
    ],
)
async def test_settings_need_manage_channels_in_a_server(bot, fake, world, qwen, command, options) -> None:
    answer = await run(fake, world["alice"], command, options, channel=world["general"])
    assert answer == NEEDS_MANAGE


async def test_reset_forgets_the_channel(bot, fake, world, qwen) -> None:
    first = await fake.say(world["alice"], f"{at(fake)} the code is 1234", channel_id=world["general"])
    await answer_to(fake, first, "re: the code is 1234")
    assert "forgot" in await run(fake, world["bob"], "reset", channel=world["general"], manager=True)
    later = await fake.say(world["alice"], f"{at(fake)} the code?", channel_id=world["general"])
    await answer_to(fake, later, "re: the code?")
    assert "1234" not in str(qwen.chat_requests[-1]["messages"])


async def test_persona_is_shown_to_anyone_and_set_by_managers(bot, fake, world, qwen) -> None:
    assert "default persona" in await run(fake, world["alice"], "persona", channel=world["general"])
    await run(
        fake, world["bob"], "persona", {"text": "Talk like a pirate."}, channel=world["general"], manager=True
    )
    assert "pirate" in await run(fake, world["alice"], "persona", channel=world["general"])
    msg = await fake.say(world["alice"], f"{at(fake)} hi", channel_id=world["general"])
    await answer_to(fake, msg, "re: hi")
    assert qwen.chat_requests[-1]["messages"][0]["content"].startswith("Talk like a pirate.")


async def test_model_autocompletes_from_the_configured_models(bot, fake, world) -> None:
    iid = await fake.interact(
        world["bob"],
        "model",
        {"name": "plu"},
        channel_id=world["general"],
        permissions=MANAGE_CHANNELS,
        autocomplete="name",
    )
    body = await fake.wait_for(lambda: fake.callbacks.get(iid))
    assert body[0]["type"] == 8
    assert [c["value"] for c in body[0]["data"]["choices"]] == ["qwen-plus"]


async def test_model_switches_the_channels_model(bot, fake, world, qwen) -> None:
    answer = await run(
        fake, world["bob"], "model", {"name": "qwen-plus"}, channel=world["general"], manager=True
    )
    assert "qwen-plus" in answer
    msg = await fake.say(world["alice"], f"{at(fake)} hi", channel_id=world["general"])
    await answer_to(fake, msg, "re: hi")
    assert qwen.chat_requests[-1]["model"] == "qwen-plus"


async def test_memory_and_usage_are_open_to_everyone(bot, fake, world) -> None:
    msg = await fake.say(world["alice"], f"{at(fake)} count me", channel_id=world["general"])
    await answer_to(fake, msg, "re: count me")
    await bot.core.idle()  # shown, then remembered
    assert "2 messages" in await run(fake, world["alice"], "memory", channel=world["general"])
    usage = await run(fake, world["alice"], "usage", channel=world["general"])
    assert "This server" in usage and "You:" in usage


async def test_forget_me_deletes_the_users_messages_everywhere(bot, fake, world, qwen) -> None:
    msg = await fake.say(world["alice"], f"{at(fake)} my secret is blue", channel_id=world["general"])
    await answer_to(fake, msg, "re: my secret is blue")
    assert "Deleted 1" in await run(fake, world["alice"], "forget-me", channel=world["random"])
    later = await fake.say(world["bob"], f"{at(fake)} secret?", channel_id=world["general"])
    await answer_to(fake, later, "re: secret?")
    assert "Ali: my secret is blue" not in str(qwen.chat_requests[-1]["messages"])


async def test_in_dms_settings_need_no_permission(bot, fake, world, qwen) -> None:
    answer = await run(fake, world["dave"], "persona", {"text": "Be brief."})
    assert answer == "Persona set for this conversation."
    assert "forgot" in await run(fake, world["dave"], "reset")


async def test_channel_mode_holds_for_the_next_message_even_if_one_arrived_during_the_change(
    bot, fake, world, qwen
) -> None:
    await fake.say(world["alice"], "just chatting", channel_id=world["general"])
    always = {"mode": "always"}
    answer = await run(fake, world["bob"], "channel-mode", always, channel=world["general"], manager=True)
    assert "every message" in answer
    later = await fake.say(world["alice"], "anyone there?", channel_id=world["general"])
    await answer_to(fake, later, "re: anyone there?")


async def test_a_slow_settings_command_is_deferred_then_answered(bot, fake, world, monkeypatch) -> None:
    async def slow_memory(key: Any) -> str:
        await asyncio.sleep(ANSWER_WITHIN + 0.3)
        return "remembered slowly"

    monkeypatch.setattr(bot.core.commands, "memory", slow_memory)
    iid = await fake.interact(world["alice"], "memory", channel_id=world["general"])
    deferred = await fake.wait_for(
        lambda: next((b for b in fake.callbacks.get(iid, []) if b.get("type") == 5), None)
    )
    assert deferred["data"]["flags"] & EPHEMERAL
    token = f"itoken-{iid}"
    answered = lambda: any(  # noqa: E731
        fake.messages[m]["content"] == "remembered slowly" for m in fake.interaction_messages[token]
    )
    await fake.wait_for(answered)


async def test_ask_over_the_rate_limit_is_told_privately_and_never_reaches_the_model(
    world, fake, make_bot, qwen
) -> None:
    await make_bot({"user_rate_limit": 1})
    first = await fake.interact(world["alice"], "ask", {"prompt": "one"}, channel_id=world["general"])
    shown = fake.interaction_messages[f"itoken-{first}"]
    await fake.wait_for(lambda: [fake.messages[m]["content"] for m in shown] == ["re: one"])
    second = await fake.interact(world["alice"], "ask", {"prompt": "two"}, channel_id=world["general"])
    token = f"itoken-{second}"

    def left() -> list[dict[str, Any]]:
        return [fake.messages[m] for m in fake.interaction_messages[token] if m not in fake.deleted]

    await fake.wait_for(lambda: any(m["flags"] & EPHEMERAL for m in left()))
    assert [m["content"] for m in left()] == [RATE_LIMITED]
    assert len(qwen.chat_requests) == 1
