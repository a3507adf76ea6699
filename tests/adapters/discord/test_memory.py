"""Each channel, thread and DM is its own conversation, remembered across restarts, with names."""

from __future__ import annotations

from typing import Any

import pytest

from tests.adapters.discord.conftest import answer_to, at
from tests.fakes.qwen import Script, last_user_text


@pytest.fixture(autouse=True)
def echo(qwen: Any) -> None:
    qwen.responder = lambda body: Script("noted: " + last_user_text(body).split(": ", 1)[-1])


def sent_texts(qwen: Any) -> list[str]:
    """The conversation texts (user and assistant) in the latest model request."""
    return [m["content"] for m in qwen.chat_requests[-1]["messages"] if m["role"] != "system"]


async def test_a_channel_remembers_earlier_turns_with_each_authors_name(bot, fake, world, qwen) -> None:
    first = await fake.say(world["alice"], f"{at(fake)} my cat is Tom", channel_id=world["general"])
    await answer_to(fake, first, "noted: my cat is Tom")
    second = await fake.say(world["bob"], f"{at(fake)} what is her cat called?", channel_id=world["general"])
    await answer_to(fake, second, "noted: what is her cat called?")
    texts = sent_texts(qwen)
    assert texts[0] == "Ali: my cat is Tom"
    assert texts[1] == "noted: my cat is Tom"
    assert texts[2] == "Bob: what is her cat called?"


async def test_mentions_in_user_text_become_readable_names(bot, fake, world, qwen) -> None:
    bob = world["bob"]["user"]["id"]
    text = f"{at(fake)} ask <@{bob}> and <@&{world['mods']}> in <#{world['random']}>"
    msg = await fake.say(world["alice"], text, channel_id=world["general"])
    await answer_to(fake, msg, "noted: ask @Bob and @Moderators in #random")


async def test_channels_threads_and_dms_are_separate_conversations(bot, fake, world, qwen) -> None:
    secret = await fake.say(
        world["alice"], f"{at(fake)} the password is swordfish", channel_id=world["general"]
    )
    await answer_to(fake, secret, "noted: the password is swordfish")
    thread = await fake.add_thread(world["guild"], world["general"], fake.app_id)
    places = [
        await fake.say(world["alice"], f"{at(fake)} what is the password?", channel_id=world["random"]),
        await fake.say(world["alice"], "what is the password?", channel_id=thread),
        await fake.say(world["dave"], "what is the password?"),
    ]
    for msg in places:
        await answer_to(fake, msg, "noted: what is the password?")
    for body in qwen.chat_requests[1:]:
        assert "swordfish" not in str(body["messages"])
    same = await fake.say(world["bob"], f"{at(fake)} remind me", channel_id=world["general"])
    await answer_to(fake, same, "noted: remind me")
    assert "swordfish" in str(qwen.chat_requests[-1]["messages"])


async def test_memory_survives_a_restart(world, fake, make_bot, qwen) -> None:
    bot = await make_bot()
    first = await fake.say(world["alice"], f"{at(fake)} remember 42", channel_id=world["general"])
    await answer_to(fake, first, "noted: remember 42")
    await bot.restart()
    later = await fake.say(world["alice"], f"{at(fake)} what number?", channel_id=world["general"])
    await answer_to(fake, later, "noted: what number?")
    assert sent_texts(qwen)[:2] == ["Ali: remember 42", "noted: remember 42"]
