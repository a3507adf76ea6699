"""Rate limits, allow and block lists, and many channels at once."""

from __future__ import annotations

import asyncio

from bot.sentences import RATE_LIMITED
from tests.adapters.slack.conftest import ALICE, BOB, DM, GENERAL, RANDOM
from tests.fakes.qwen import Script, last_user_text


async def test_rate_limited_user_is_told_once_and_costs_no_model_call(slack, qwen, start_bot) -> None:
    run = await start_bot(core_settings={"user_rate_limit": 2})
    for n in range(5):
        await slack.deliver(slack.message(f"message {n}", channel=DM))
        await run.idle()
    assert len(qwen.chat_requests) == 2
    assert len(slack.texts(DM)) == 2
    assert [e["text"] for e in slack.ephemerals] == [RATE_LIMITED]
    assert slack.ephemerals[0]["user"] == ALICE


async def test_rate_limit_is_per_user(slack, qwen, start_bot) -> None:
    run = await start_bot(core_settings={"user_rate_limit": 1})
    await slack.deliver(slack.message("first", channel=DM, user=ALICE))
    await slack.deliver(slack.message("first", channel="D0BOB", user=BOB))
    await run.idle()
    assert len(qwen.chat_requests) == 2


async def test_rate_limited_slash_question_is_refused_privately(slack, qwen, start_bot) -> None:
    run = await start_bot(core_settings={"user_rate_limit": 1})
    await slack.command("first question")
    await run.idle()
    second = await slack.command("second question")
    assert await slack.response(second) == {"text": RATE_LIMITED, "response_type": "ephemeral"}
    await run.idle()
    questions = [m.text for m in slack.bot_messages(GENERAL) if "asked:" in m.text]
    assert questions == ["*Alice* asked: first question"]
    assert len(qwen.chat_requests) == 1


async def test_channels_outside_the_allow_list_are_ignored(slack, qwen, start_bot) -> None:
    run = await start_bot(slack_allowed_channels=RANDOM)
    await slack.deliver_all(slack.mention("in general", channel=GENERAL))
    await slack.deliver_all(slack.mention("in random", channel=RANDOM))
    await run.idle()
    assert [last_user_text(r) for r in qwen.chat_requests] == ["Alice: in random"]


async def test_blocked_users_are_ignored_and_refused_commands(slack, qwen, start_bot) -> None:
    run = await start_bot(slack_blocked_users=f"{BOB},U0OTHER")
    await slack.deliver(slack.message("hello", channel="D0BOB", user=BOB))
    await run.idle()
    ack = await slack.command("usage", user=BOB)
    assert qwen.requests == []
    assert "not available" in ack.body["text"]


async def test_ten_channels_at_once_each_get_their_own_answer(slack, qwen, start_bot) -> None:
    qwen.responder = lambda body: Script(f"re: {last_user_text(body)}", delay=0.02)
    run = await start_bot()
    batches = [slack.mention(f"question {n}", channel=f"C0CHAN{n}") for n in range(10)]
    deliveries = await asyncio.gather(*(slack.deliver_all(events) for events in batches))
    await run.idle()
    assert all(d.status == 200 for batch in deliveries for d in batch)
    for n, events in enumerate(batches):
        assert slack.texts(f"C0CHAN{n}", events[0]["ts"]) == [f"re: Alice: question {n}"]
    assert len(qwen.chat_requests) == 10


async def test_a_workspace_over_its_daily_budget_is_told_so_in_the_thread(slack, qwen, start_bot) -> None:
    run = await start_bot(core_settings={"daily_tokens_per_space": 5})
    await slack.deliver(slack.message("first", channel=DM))
    await run.idle()
    await slack.deliver(slack.message("second", channel=DM))
    await run.idle()

    texts = slack.texts(DM)
    assert len(texts) == 2
    assert "This workspace has used its daily budget of 5 tokens; it resets at 00:00 UTC, in " in texts[1]
    assert len(qwen.chat_requests) == 1
