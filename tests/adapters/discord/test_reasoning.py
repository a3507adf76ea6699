"""Thinking on Discord: a status line in the answer's message, and the "Show reasoning" button."""

from __future__ import annotations

from typing import Any

from bot import sentences
from tests.adapters.discord.conftest import answer_to, at
from tests.fakes.discord import EPHEMERAL
from tests.fakes.qwen import Script

THINKING = {"qwen_model": "qwen3-max", "qwen_thinking": True}


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The message's "Show reasoning" buttons (it also carries Stop, then 👍/👎)."""
    return [item for row in message.get("components") or [] for item in row.get("components", [])
            if str(item.get("custom_id", "")).startswith("reasoning:")]


async def test_while_the_model_thinks_the_answer_message_says_so_then_becomes_the_answer(
    make_bot, fake, world, qwen
):
    await make_bot(THINKING)
    qwen.queue(Script(reasoning="hmm " * 8, reasoning_delay=0.2, text="The answer."))
    msg = await fake.say(world["alice"], f"{at(fake)} think", channel_id=world["general"])
    await answer_to(fake, msg, "The answer.")
    first = fake.replies_to(int(msg["id"]))[0]
    shown = [edit.content for edit in fake.edits_of(int(first["id"]))]
    # Sent as "Thinking… 0 s", edited as the seconds go by, then edited into the answer.
    assert "-# Thinking… 1 s" in shown
    assert shown[-1] == "The answer."
    assert qwen.flags == [{"enable_thinking": True}]


async def test_an_answer_that_thought_gets_a_show_reasoning_button_whose_click_shows_it_privately(
    make_bot, fake, world, qwen
):
    await make_bot(THINKING)
    qwen.queue(Script(reasoning="because " * 3, text="Yes."))
    msg = await fake.say(world["alice"], f"{at(fake)} really?", channel_id=world["general"])
    await answer_to(fake, msg, "Yes.")
    answer = fake.replies_to(int(msg["id"]))[-1]
    await fake.wait_for(lambda: buttons(answer))
    [button] = buttons(answer)
    assert (button["label"], button["custom_id"]) == (sentences.SHOW_REASONING, f"reasoning:{msg['id']}")

    click = await fake.click(world["bob"], int(answer["id"]), button["custom_id"])
    await fake.wait_for(lambda: fake.callbacks[click])
    [response] = fake.callbacks[click]
    assert response["data"]["content"] == sentences.REASONING_SHOWN.format(text="because" * 3)
    assert response["data"]["flags"] & EPHEMERAL


async def test_long_reasoning_is_shown_in_several_private_messages(make_bot, fake, world, qwen):
    await make_bot(THINKING)
    qwen.queue(Script(reasoning=" ".join(["Athought.\n"] * 800), text="Done."))
    msg = await fake.say(world["alice"], f"{at(fake)} ponder", channel_id=world["general"])
    await answer_to(fake, msg, "Done.")
    answer = fake.replies_to(int(msg["id"]))[-1]
    await fake.wait_for(lambda: buttons(answer))
    click = await fake.click(world["alice"], int(answer["id"]), buttons(answer)[0]["custom_id"])
    token = f"itoken-{click}"

    def parts() -> list[str]:
        return [fake.messages[mid]["content"] for mid in fake.interaction_messages[token]]

    await fake.wait_for(lambda: "".join(parts()).count("Athought.") == 800)
    assert len(parts()) > 1 and all(len(part) <= 2000 for part in parts())
    assert all(fake.messages[mid]["flags"] & EPHEMERAL for mid in fake.interaction_messages[token])


async def test_a_click_on_an_older_answers_button_says_its_reasoning_is_gone(make_bot, fake, world, qwen):
    await make_bot(THINKING)
    qwen.queue(Script(reasoning="first", text="One."), Script(reasoning="second", text="Two."))
    first = await fake.say(world["alice"], f"{at(fake)} one", channel_id=world["general"])
    await answer_to(fake, first, "One.")
    older = fake.replies_to(int(first["id"]))[-1]
    await fake.wait_for(lambda: buttons(older))
    second = await fake.say(world["alice"], f"{at(fake)} two", channel_id=world["general"])
    await answer_to(fake, second, "Two.")
    await fake.wait_for(lambda: buttons(fake.replies_to(int(second["id"]))[-1]))  # its reasoning is kept
    click = await fake.click(world["alice"], int(older["id"]), buttons(older)[0]["custom_id"])
    await fake.wait_for(lambda: fake.callbacks[click])
    assert fake.callbacks[click][0]["data"]["content"] == sentences.REASONING_GONE


async def test_an_answer_without_reasoning_has_no_button(make_bot, fake, world, qwen):
    await make_bot()
    msg = await fake.say(world["alice"], f"{at(fake)} hi", channel_id=world["general"])
    await answer_to(fake, msg, "Hello from fake Qwen.")
    assert buttons(fake.replies_to(int(msg["id"]))[-1]) == []


async def test_the_reasoning_command_answers_privately(make_bot, fake, world, qwen):
    await make_bot(THINKING)
    qwen.queue(Script(reasoning="deliberation", text="Sure."))
    msg = await fake.say(world["alice"], f"{at(fake)} ok?", channel_id=world["general"])
    await answer_to(fake, msg, "Sure.")
    await fake.wait_for(lambda: buttons(fake.replies_to(int(msg["id"]))[-1]))
    command = await fake.interact(world["bob"], "reasoning", channel_id=world["general"])
    await fake.wait_for(lambda: fake.callbacks[command])
    response = fake.callbacks[command][0]["data"]
    assert response["content"] == sentences.REASONING_SHOWN.format(text="deliberation")
    assert response["flags"] & EPHEMERAL
