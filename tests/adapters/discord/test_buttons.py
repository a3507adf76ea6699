"""Buttons on answers: Stop while streaming, 👍/👎 once finished, read back from raw interactions."""

from __future__ import annotations

from typing import Any

from adapters.discord.parse import key_for
from bot.sentences import FEEDBACK_THANKS, STOP_DONE, STOP_ENDED, STOP_NOT_YOURS, STOPPED_MARK, USAGE_FEEDBACK
from bot.types import ConversationKey
from tests.adapters.discord.conftest import answer_to, at
from tests.adapters.discord.test_commands import private_answer
from tests.fakes.discord import MANAGE_MESSAGES, FakeDiscord
from tests.fakes.qwen import Script

SLOW = "one two three four five six seven eight nine ten eleven twelve"


def custom_ids(message: dict[str, Any]) -> list[str]:
    return [button["custom_id"] for row in message.get("components") or [] for button in row["components"]]


async def streaming_reply(fake: FakeDiscord, world: dict[str, Any], qwen: Any) -> tuple[dict, dict]:
    """Alice's question and the bot's reply while it streams, its Stop button showing."""
    qwen.queue(Script(SLOW, delay=0.3))
    question = await fake.say(world["alice"], f"{at(fake)} count", channel_id=world["general"])
    reply = await fake.wait_for(lambda: next(
        (m for m in fake.replies_to(int(question["id"])) if custom_ids(m)), None))
    return question, reply


def general(world: dict[str, Any]) -> ConversationKey:
    return ConversationKey("discord", str(world["guild"]), str(world["general"]))


async def test_a_streaming_answer_has_stop_and_the_finished_one_feedback_buttons(bot, fake, world, qwen):
    question, reply = await streaming_reply(fake, world, qwen)
    assert custom_ids(reply) == [f"stop:{question['id']}"]
    await answer_to(fake, question, SLOW)
    feedback = [f"fb:up:{question['id']}", f"fb:down:{question['id']}"]
    await fake.wait_for(lambda: custom_ids(fake.messages[int(reply["id"])]) == feedback)


async def test_the_asker_stops_the_answer_and_it_is_remembered_as_shown(bot, fake, world, qwen):
    question, reply = await streaming_reply(fake, world, qwen)
    click = await fake.click(world["alice"], int(reply["id"]), f"stop:{question['id']}")
    await fake.wait_for(lambda: STOPPED_MARK.strip() in fake.messages[int(reply["id"])]["content"])
    assert fake.callbacks[click][0]["type"] == 6  # acknowledged; the answer's own edit shows the stop
    shown = fake.messages[int(reply["id"])]
    assert "twelve" not in shown["content"]
    assert custom_ids(shown) == [f"fb:up:{question['id']}", f"fb:down:{question['id']}"]  # one edit
    await bot.core.idle()
    turns = (await bot.core.store.load(general(world))).turns
    assert turns[-1].text.endswith(STOPPED_MARK)


async def test_someone_else_without_manage_messages_cannot_stop_it(bot, fake, world, qwen):
    question, reply = await streaming_reply(fake, world, qwen)
    click = await fake.click(world["bob"], int(reply["id"]), f"stop:{question['id']}")
    assert await private_answer(fake, click) == STOP_NOT_YOURS
    await fake.wait_for(lambda: fake.messages[int(reply["id"])]["content"] == SLOW)


async def test_a_member_with_manage_messages_can_stop_it(bot, fake, world, qwen):
    question, reply = await streaming_reply(fake, world, qwen)
    await fake.click(world["bob"], int(reply["id"]), f"stop:{question['id']}", permissions=MANAGE_MESSAGES)
    await fake.wait_for(lambda: STOPPED_MARK.strip() in fake.messages[int(reply["id"])]["content"])


async def test_stop_on_an_answer_that_has_ended_says_so(bot, fake, world, qwen):
    qwen.queue(Script("done"))
    question = await fake.say(world["alice"], f"{at(fake)} hi", channel_id=world["general"])
    await answer_to(fake, question, "done")
    reply = fake.replies_to(int(question["id"]))[0]
    click = await fake.click(world["alice"], int(reply["id"]), f"stop:{question['id']}")
    assert await private_answer(fake, click) == STOP_ENDED


async def test_the_stop_command_stops_the_callers_answer_here(bot, fake, world, qwen):
    _question, reply = await streaming_reply(fake, world, qwen)
    command = await fake.interact(world["alice"], "stop", channel_id=world["general"])
    assert await private_answer(fake, command) == STOP_DONE.format(count="1 answer")
    await fake.wait_for(lambda: STOPPED_MARK.strip() in fake.messages[int(reply["id"])]["content"])


async def test_feedback_is_stored_once_per_person_counted_in_usage_and_works_after_a_restart(
        bot, fake, world, qwen):
    qwen.queue(Script("an answer"))
    question = await fake.say(world["alice"], f"{at(fake)} hi", channel_id=world["general"])
    await answer_to(fake, question, "an answer")
    reply = int(fake.replies_to(int(question["id"]))[0]["id"])
    assert await private_answer(fake, await fake.click(world["alice"], reply, f"fb:down:{question['id']}")) \
        == FEEDBACK_THANKS
    await bot.restart()
    await private_answer(fake, await fake.click(world["alice"], reply, f"fb:up:{question['id']}"))
    await private_answer(fake, await fake.click(world["bob"], reply, f"fb:up:{question['id']}"))
    assert await bot.core.store.votes(general(world)) == (2, 0)
    asked = await fake.interact(world["alice"], "usage", channel_id=world["general"])
    usage = await private_answer(fake, asked)
    assert USAGE_FEEDBACK.format(up=2, down=0) in usage


async def test_feedback_in_a_thread_is_kept_with_the_threads_conversation(bot, fake, world, qwen):
    thread = await fake.add_thread(world["guild"], world["general"], int(world["alice"]["user"]["id"]))
    qwen.queue(Script("in a thread"))
    question = await fake.say(world["alice"], f"{at(fake)} hi", channel_id=thread)
    await answer_to(fake, question, "in a thread")
    reply = int(fake.replies_to(int(question["id"]))[0]["id"])
    await private_answer(fake, await fake.click(world["alice"], reply, f"fb:up:{question['id']}"))
    key = key_for(bot.client.get_channel(thread), world["guild"])
    assert key.thread == str(thread)
    assert await bot.core.store.votes(key) == (1, 0)


async def test_an_ask_answer_has_a_stop_button_that_stops_it(bot, fake, world, qwen):
    qwen.queue(Script(SLOW, delay=0.3))
    interaction = await fake.interact(world["alice"], "ask", {"prompt": "count"}, channel_id=world["general"])

    def response() -> dict[str, Any] | None:
        ids = fake.interaction_messages.get(f"itoken-{interaction}") or []
        return fake.messages[ids[0]] if ids and custom_ids(fake.messages[ids[0]]) else None

    shown = await fake.wait_for(response)
    assert custom_ids(shown) == [f"stop:interaction-{interaction}"]
    await fake.click(world["alice"], int(shown["id"]), f"stop:interaction-{interaction}")
    await fake.wait_for(lambda: STOPPED_MARK.strip() in fake.messages[int(shown["id"])]["content"])
