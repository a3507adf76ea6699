"""Thread mode: a question at the top of a channel opens a thread, answered there and ever after."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.discord import render
from adapters.discord.client import PERMISSIONS, invite_url
from bot.sentences import EMPTY_MENTION, MODE_MENTION, MODE_THREAD, THREAD_NEEDS_PERMISSION
from tests.adapters.discord.conftest import answer_to, at, prompts, reply_texts
from tests.fakes.discord import MANAGE_CHANNELS
from tests.fakes.qwen import Script, last_user_text

CREATE_PUBLIC_THREADS = 1 << 35
SEND_MESSAGES_IN_THREADS = 1 << 38


@pytest.fixture(autouse=True)
def echo(qwen: Any) -> None:
    qwen.responder = lambda body: Script("echo: " + last_user_text(body).split(": ", 1)[-1])


async def thread_mode(fake: Any, world: dict[str, Any],
                      mode: str = "thread", said: str = MODE_THREAD) -> None:
    await fake.interact(world["bob"], "channel-mode", {"mode": mode}, channel_id=world["general"],
                        permissions=MANAGE_CHANNELS)
    await fake.wait_for(lambda: any(said in (m["content"] or "") for m in fake.bot_messages()))


async def opened_thread(fake: Any, question: dict[str, Any]) -> dict[str, Any]:
    """The thread the bot opened from `question`, once its answer is complete there."""
    return await fake.wait_for(
        lambda: next((t for t in fake.threads_opened() if t["id"] == question["id"]), None))


def last_context(qwen: Any) -> str:
    return " ".join(str(m["content"]) for m in qwen.chat_requests[-1]["messages"])


async def answer_in(fake: Any, thread: int, text: str) -> None:
    """Wait until the bot's messages in `thread` end with `text`."""
    expected = render.messages(text)
    shown = lambda: [m["content"] for m in fake.bot_messages(thread)]  # noqa: E731
    await fake.wait_for(lambda: shown()[-len(expected):] == expected)


async def test_a_mention_opens_a_thread_named_after_the_question_and_is_answered_there(
    bot, fake, world
) -> None:
    await thread_mode(fake, world)
    question = await fake.say(world["alice"], f"{at(fake)} what is   a monad, <@&{world['mods']}>?",
                              channel_id=world["general"])
    thread = await opened_thread(fake, question)
    assert thread["name"] == "what is a monad, ?"
    assert int(thread["parent_id"]) == world["general"]
    await answer_in(fake, int(thread["id"]), "echo: what is   a monad, @Moderators?")
    assert reply_texts(fake, question) == []  # nothing beside the question in the channel
    assert fake.pings == []


async def test_every_message_in_the_opened_thread_is_answered_without_a_mention(bot, fake, world) -> None:
    await thread_mode(fake, world)
    question = await fake.say(world["alice"], f"{at(fake)} first question", channel_id=world["general"])
    thread = int((await opened_thread(fake, question))["id"])
    await answer_in(fake, thread, "echo: first question")
    follow = await fake.say(world["bob"], "and a follow-up", channel_id=thread)
    await answer_to(fake, follow, "echo: and a follow-up")


async def test_the_threads_conversation_starts_with_the_question_that_opened_it(
    bot, fake, world, qwen
) -> None:
    before = await fake.say(world["alice"], f"{at(fake)} said before", channel_id=world["general"])
    await answer_to(fake, before, "echo: said before")
    await thread_mode(fake, world)
    question = await fake.say(world["alice"], f"{at(fake)} my cat is Tom", channel_id=world["general"])
    thread = int((await opened_thread(fake, question))["id"])
    await answer_in(fake, thread, "echo: my cat is Tom")
    follow = await fake.say(world["alice"], "what is my cat called?", channel_id=thread)
    await answer_to(fake, follow, "echo: what is my cat called?")
    context = last_context(qwen)
    assert "my cat is Tom" in context
    assert "said before" not in context


async def test_each_question_opens_its_own_thread(bot, fake, world) -> None:
    await thread_mode(fake, world)
    first = await fake.say(world["alice"], f"{at(fake)} one", channel_id=world["general"])
    second = await fake.say(world["bob"], f"{at(fake)} two", channel_id=world["general"])
    for question, text in ((first, "echo: one"), (second, "echo: two")):
        await answer_in(fake, int((await opened_thread(fake, question))["id"]), text)


async def test_the_opened_thread_is_still_answered_after_a_restart(world, fake, make_bot) -> None:
    bot = await make_bot()
    await thread_mode(fake, world)
    question = await fake.say(world["alice"], f"{at(fake)} remember 42", channel_id=world["general"])
    thread = int((await opened_thread(fake, question))["id"])
    await answer_in(fake, thread, "echo: remember 42")
    await bot.restart()
    follow = await fake.say(world["alice"], "still there?", channel_id=thread)
    await answer_to(fake, follow, "echo: still there?")


async def test_a_thread_the_cache_no_longer_holds_is_answered_from_memory_after_a_restart(
    world, fake, make_bot, qwen
) -> None:
    bot = await make_bot()
    await thread_mode(fake, world)
    question = await fake.say(world["alice"], f"{at(fake)} the code is 7", channel_id=world["general"])
    thread = int((await opened_thread(fake, question))["id"])
    await answer_in(fake, thread, "echo: the code is 7")
    await bot.stop()
    await fake.archive_thread(thread)  # the next GUILD_CREATE leaves it out
    await bot.start()
    follow = await fake.say(world["alice"], "what was the code?", channel_id=thread)
    await answer_to(fake, follow, "echo: what was the code?")
    assert "the code is 7" in last_context(qwen)  # the thread's own conversation


async def test_without_the_thread_permission_one_sentence_says_so_and_the_question_is_kept(
    bot, fake, world, qwen
) -> None:
    await thread_mode(fake, world)
    fake.fail_next("POST", r"/messages/\d+/threads$", 403, code=50013, message="Missing Permissions")
    question = await fake.say(world["alice"], f"{at(fake)} lost in space", channel_id=world["general"])
    await fake.wait_for(lambda: reply_texts(fake, question) == [THREAD_NEEDS_PERMISSION])
    assert fake.threads_opened() == []
    await thread_mode(fake, world, "mention", MODE_MENTION)
    later = await fake.say(world["alice"], f"{at(fake)} what did I say?", channel_id=world["general"])
    await answer_to(fake, later, "echo: what did I say?")
    assert "lost in space" in " ".join(prompts(qwen))


async def test_a_thread_that_cannot_be_opened_otherwise_leaves_the_answer_in_place(bot, fake, world) -> None:
    await thread_mode(fake, world)
    fake.fail_next("POST", r"/messages/\d+/threads$", 400, code=160004,
                   message="A thread has already been created for this message")
    question = await fake.say(world["alice"], f"{at(fake)} answer anyway", channel_id=world["general"])
    await answer_to(fake, question, "echo: answer anyway")


async def test_chatter_in_a_thread_mode_channel_is_not_answered(bot, fake, world, qwen) -> None:
    await thread_mode(fake, world)
    await fake.say(world["alice"], "lunch anyone?", channel_id=world["general"])
    question = await fake.say(world["alice"], f"{at(fake)} barrier", channel_id=world["general"])
    await answer_in(fake, int((await opened_thread(fake, question))["id"]), "echo: barrier")
    assert "lunch anyone?" not in " ".join(prompts(qwen))
    assert len(fake.threads_opened()) == 1


async def test_a_bare_mention_gets_its_hint_in_place_without_a_thread(bot, fake, world) -> None:
    await thread_mode(fake, world)
    question = await fake.say(world["alice"], at(fake), channel_id=world["general"])
    await fake.wait_for(lambda: reply_texts(fake, question) == [EMPTY_MENTION])
    assert fake.threads_opened() == []


async def test_the_channel_mode_command_offers_thread(bot, fake) -> None:
    command = next(c for c in fake.command_syncs[0][1] if c["name"] == "channel-mode")
    assert [choice["value"] for choice in command["options"][0]["choices"]] == ["mention", "always", "thread"]


def test_the_invite_asks_for_opening_threads_and_posting_in_them() -> None:
    assert PERMISSIONS.create_public_threads and PERMISSIONS.send_messages_in_threads
    permissions = int(invite_url(1).split("permissions=")[1].split("&")[0])
    assert permissions & CREATE_PUBLIC_THREADS and permissions & SEND_MESSAGES_IN_THREADS
