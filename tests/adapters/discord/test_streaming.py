"""How answers reach Discord: streamed edits under the limits, splits, no pings, failures explained."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from adapters.discord import render
from bot.llm import MESSAGES
from bot.sentences import INTERRUPTED_MARK
from tests.adapters.discord.conftest import answer_to, at, reply_texts
from tests.fakes.qwen import Script


def fences_balanced(text: str) -> bool:
    return sum(1 for line in text.split("\n") if line.lstrip().startswith("```")) % 2 == 0


def long_code_answer() -> str:
    code = "\n".join(f"    total += values[{i}] * weights[{i}]  # step {i}" for i in range(120))
    prose = "\n\n".join(
        f"Paragraph {i} explains the next part of the approach in plain words." for i in range(8)
    )
    body = f"def score(values, weights):\n    total = 0\n{code}\n    return total"
    return f"{prose}\n\n```python\n{body}\n```\n\nDone."


async def test_a_long_answer_with_code_continues_in_new_messages_with_balanced_fences(bot, fake, world, qwen):
    answer = long_code_answer()
    qwen.queue(Script(answer, chunks=60, delay=0.005))
    msg = await fake.say(world["alice"], f"{at(fake)} write code", channel_id=world["general"])
    shown = await answer_to(fake, msg, answer)
    assert len(shown) >= 3
    assert all(len(part) <= 2000 and fences_balanced(part) for part in shown)
    assert all(part.startswith("```python") for part in shown[2:-1])
    assert [r for r in fake.rejections if r[0] == 400] == []
    continuation = fake.replies_to(int(msg["id"]))[1]
    assert "message_reference" not in continuation or continuation["message_reference"] is None


async def test_the_final_messages_read_back_as_the_model_answer(bot, fake, world, qwen):
    answer = "\n".join(f"Line {i}: " + "lorem ipsum " * 8 for i in range(60))
    qwen.queue(Script(answer, chunks=30))
    msg = await fake.say(world["alice"], f"{at(fake)} talk", channel_id=world["general"])
    shown = await answer_to(fake, msg, answer)
    assert "\n".join(shown) == answer


async def test_model_output_pings_nobody(bot, fake, world, qwen):
    alice = world["alice"]["user"]["id"]
    answer = f"@everyone @here hey <@{alice}> and <@&{world['mods']}>!"
    qwen.queue(Script(answer))
    msg = await fake.say(world["bob"], f"{at(fake)} ping them all", channel_id=world["general"])
    await answer_to(fake, msg, answer)
    assert fake.pings == []
    writes = [
        body for method, path, body in fake.requests if method in ("POST", "PATCH") and "/messages" in path
    ]
    assert writes and all(body["allowed_mentions"]["parse"] == [] for body in writes)


async def test_typing_shows_before_the_first_text(bot, fake, world, qwen):
    qwen.queue(Script("Thinking done.", first_delay=0.3))
    msg = await fake.say(world["alice"], f"{at(fake)} think", channel_id=world["general"])
    await answer_to(fake, msg, "Thinking done.")
    calls = [(method, path) for method, path, _ in fake.requests]
    typing_at = calls.index(("POST", f"/channels/{world['general']}/typing"))
    first_post = calls.index(("POST", f"/channels/{world['general']}/messages"))
    assert typing_at < first_post


class TestRealCadence:
    """Discord's pacing as configured for production, against a fake that enforces 5 edits per 5 s."""

    @pytest.fixture
    def fake_limits(self) -> dict[str, Any]:
        return {"edit_limit": 5, "edit_window": 5.0}

    async def test_a_streamed_answer_is_edited_in_place_without_a_single_429(
        self, world, fake, make_bot, qwen
    ):
        await make_bot(discord_edit_interval=1.2, discord_channel_edits=4, discord_edit_window=5.0)
        answer = " ".join(f"word{i}" for i in range(70))
        qwen.queue(Script(answer, delay=0.05))
        msg = await fake.say(world["alice"], f"{at(fake)} stream please", channel_id=world["general"])
        await answer_to(fake, msg, answer, within=20)
        reply_id = int(fake.replies_to(int(msg["id"]))[0]["id"])
        edits = fake.edits_of(reply_id)
        assert len(edits) >= 2, "the answer should appear progressively"
        assert len(edits) < 10, "pending text is coalesced, not edited token by token"
        assert fake.rate_limited() == []


@pytest.mark.parametrize(
    ("script", "kind"),
    [
        (
            Script(status=400, error_code="data_inspection_failed", error_message="Input inappropriate"),
            "content_refused",
        ),
        (Script(status=429, error_code="Throttling", error_message="slow down"), "rate_limited"),
    ],
)
async def test_a_model_failure_is_explained_in_place_of_the_answer(bot, fake, world, qwen, script, kind):
    qwen.queue(script)
    msg = await fake.say(world["alice"], f"{at(fake)} hello", channel_id=world["general"])
    await fake.wait_for(lambda: reply_texts(fake, msg) == [render.failure(MESSAGES[kind])])


async def test_an_interrupted_stream_keeps_the_text_and_says_so(bot, fake, world, qwen):
    script = Script("one two three four five six", cut_after=3)
    qwen.queue(script)
    msg = await fake.say(world["alice"], f"{at(fake)} go", channel_id=world["general"])
    await answer_to(fake, msg, "".join(script.pieces()[:3]) + INTERRUPTED_MARK)


async def test_missing_permission_to_post_is_survived(bot, fake, world, qwen):
    fake.fail_next(
        "POST", rf"/channels/{world['general']}/messages$", 403, code=50013, message="Missing Permissions"
    )
    refused = await fake.say(world["alice"], f"{at(fake)} first", channel_id=world["general"])
    await fake.wait_for(lambda: any(r[0] == 403 for r in fake.rejections))
    qwen.queue(Script("Second answer."))
    later = await fake.say(world["alice"], f"{at(fake)} second", channel_id=world["general"])
    await answer_to(fake, later, "Second answer.")
    assert reply_texts(fake, refused) == []


async def test_a_discord_server_error_is_retried_and_the_answer_arrives(bot, fake, world, qwen):
    fake.fail_next("POST", rf"/channels/{world['general']}/messages$", 500, message="Internal Server Error")
    qwen.queue(Script("Made it."))
    msg = await fake.say(world["alice"], f"{at(fake)} hi", channel_id=world["general"])
    await answer_to(fake, msg, "Made it.")


async def test_an_answer_deleted_mid_stream_stops_quietly_and_the_conversation_goes_on(
    bot, fake, world, qwen
):
    long = " ".join(f"w{i}" for i in range(60))
    qwen.queue(Script(long, delay=0.02))
    msg = await fake.say(world["alice"], f"{at(fake)} tell me", channel_id=world["general"])
    first = await fake.wait_for(lambda: fake.replies_to(int(msg["id"])))
    await fake.delete_message(int(first[0]["id"]))
    await fake.wait_for(lambda: any(r[0] == 404 for r in fake.rejections) or len(qwen.chat_requests) > 1)
    qwen.queue(Script("Still here."))
    later = await fake.say(world["alice"], f"{at(fake)} still there?", channel_id=world["general"])
    await answer_to(fake, later, "Still here.")
    assert long in str(qwen.chat_requests[-1]["messages"]), "the full answer was remembered"


def typing_loops() -> list[asyncio.Task[Any]]:
    """discord.py's background tasks that keep a typing indicator alive."""
    return [t for t in asyncio.all_tasks() if t.get_coro().__qualname__ == "Typing.do_typing"]


async def test_a_connection_dropped_while_posting_the_answer_is_survived(bot, fake, world, qwen):
    fake.drop_next("POST", rf"/channels/{world['general']}/messages$")
    qwen.queue(Script("Made it anyway."))
    msg = await fake.say(world["alice"], f"{at(fake)} hi", channel_id=world["general"])
    await answer_to(fake, msg, "Made it anyway.")
    assert fake.dropped


async def test_typing_stops_when_the_answer_cannot_be_posted(bot, fake, world, qwen):
    fake.drop_next("POST", rf"/channels/{world['general']}/messages$", times=1000)
    qwen.queue(Script("Nobody will see this.", first_delay=0.2))
    await fake.say(world["alice"], f"{at(fake)} hi", channel_id=world["general"])
    await fake.wait_for(lambda: typing_loops())
    await fake.wait_for(lambda: fake.dropped and not typing_loops())


async def test_a_failed_edit_mid_stream_is_retried_and_the_answer_completes_in_place(bot, fake, world, qwen):
    fake.fail_next("PATCH", rf"/channels/{world['general']}/messages/\d+$", 503, message="Unavailable")
    answer = " ".join(f"word{i}" for i in range(40))
    qwen.queue(Script(answer, chunks=20, delay=0.02))
    msg = await fake.say(world["alice"], f"{at(fake)} stream", channel_id=world["general"])
    await answer_to(fake, msg, answer)
    assert any(r[0] == 503 for r in fake.rejections)


async def test_when_the_answer_can_no_longer_be_edited_the_final_text_arrives_as_a_new_message(
    bot, fake, world, qwen
):
    edits = rf"/channels/{world['general']}/messages/\d+$"
    fake.fail_next("PATCH", edits, 503, message="Unavailable", times=1000)
    answer = " ".join(f"word{i}" for i in range(40))
    qwen.queue(Script(answer, chunks=20, delay=0.02))
    msg = await fake.say(world["alice"], f"{at(fake)} stream", channel_id=world["general"])
    await fake.wait_for(lambda: reply_texts(fake, msg)[-1:] == [answer])
    assert any(r[0] == 503 for r in fake.rejections), "the answer was edited while streaming"
