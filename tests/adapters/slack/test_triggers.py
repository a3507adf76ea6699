"""When the bot answers on Slack, where, and when it stays quiet (over HTTP and Socket Mode)."""

from __future__ import annotations

import pytest

from tests.adapters.slack.conftest import ALICE, BOB, DM, GENERAL, RANDOM, eventually
from tests.fakes.qwen import Script, last_user_text

MODES = ["http", "socket"]


def echo(body):  # type: ignore[no-untyped-def]
    return Script(f"Answer to: {last_user_text(body).split(': ', 1)[-1]}")


@pytest.mark.parametrize("mode", MODES)
async def test_mention_is_answered_once_in_its_thread(slack, qwen, start_bot, mode) -> None:
    qwen.responder = echo
    run = await start_bot(mode)
    events = slack.mention("what is 2+2?")
    deliveries = await slack.deliver_all(events, via=mode)
    assert [d.status for d in deliveries] == [200, 200]
    await run.idle()
    ts = events[0]["ts"]
    assert slack.texts(GENERAL, ts) == ["Answer to: what is 2+2?"]
    assert len(qwen.chat_requests) == 1
    assert last_user_text(qwen.chat_requests[0]) == "Alice: what is 2+2?"


@pytest.mark.parametrize("mode", MODES)
async def test_direct_message_is_answered_without_a_mention(slack, qwen, start_bot, mode) -> None:
    qwen.responder = echo
    run = await start_bot(mode)
    await slack.deliver(slack.message("hello there", channel=DM), via=mode)
    await run.idle()
    assert slack.texts(DM, None) == ["Answer to: hello there"]


async def test_thread_the_bot_takes_part_in_is_answered_without_a_mention(slack, qwen, start_bot) -> None:
    qwen.responder = echo
    run = await start_bot()
    first = slack.mention("start")
    await slack.deliver_all(first)
    await run.idle()
    thread = first[0]["ts"]
    await slack.deliver(slack.message("and then?", user=BOB, thread_ts=thread))
    await run.idle()
    assert slack.texts(GENERAL, thread) == ["Answer to: start", "Answer to: and then?"]


async def test_threads_without_the_bot_are_left_alone(slack, qwen, start_bot) -> None:
    run = await start_bot()
    await slack.deliver(slack.message("people talking", thread_ts="1699999999.000001"))
    await slack.deliver(slack.message("top-level chatter"))
    await run.idle()
    assert slack.bot_messages() == []
    assert qwen.requests == []


async def test_thread_message_to_a_colleague_is_remembered_not_answered(slack, qwen, start_bot) -> None:
    qwen.responder = echo
    run = await start_bot()
    first = slack.mention("start")
    await slack.deliver_all(first)
    await run.idle()
    thread = first[0]["ts"]
    await slack.deliver(slack.message(f"<@{ALICE}> did you see that?", user=BOB, thread_ts=thread))
    await slack.deliver(slack.message("so what now?", thread_ts=thread))
    await run.idle()
    assert len(slack.texts(GENERAL, thread)) == 2
    prompt = str(qwen.chat_requests[-1]["messages"])
    assert "Bob: @Alice did you see that?" in prompt


async def test_always_mode_channel_answers_every_message_at_the_top_level(slack, qwen, start_bot) -> None:
    qwen.responder = echo
    run = await start_bot()
    answer = await slack.command_answer("channel-mode always", channel=RANDOM, user=ALICE)
    assert "every message" in answer["text"]
    await slack.deliver(slack.message("no mention here", channel=RANDOM))
    await slack.deliver(slack.message("nor here", channel=GENERAL))
    await run.idle()
    assert slack.texts(RANDOM, None) == ["Answer to: no mention here"]
    assert slack.texts(GENERAL) == []


async def test_own_messages_are_ignored(slack, qwen, start_bot) -> None:
    run = await start_bot()
    own = slack.message(f"<@{slack.bot_user}> echo", user=slack.bot_user, bot_id=slack.bot_id, channel=DM)
    await slack.deliver(own)
    await run.idle()
    assert qwen.requests == []


async def test_other_bots_are_ignored_by_default(slack, qwen, start_bot) -> None:
    run = await start_bot()
    await slack.deliver(slack.message(f"<@{slack.bot_user}> deploy failed", user="U0CIBOT", bot_id="B0CI"))
    await run.idle()
    assert qwen.requests == []


async def test_other_bots_are_answered_when_configured(slack, qwen, start_bot) -> None:
    qwen.responder = echo
    run = await start_bot(answer_bots=True)
    events = slack.mention("deploy failed", user="U0CIBOT", bot_id="B0CI")
    await slack.deliver_all(events)
    await run.idle()
    assert slack.texts(GENERAL, events[0]["ts"]) == ["Answer to: deploy failed"]


@pytest.mark.parametrize("subtype", ["message_changed", "message_deleted", "channel_join"])
async def test_edits_deletions_and_joins_are_ignored(slack, qwen, start_bot, subtype) -> None:
    run = await start_bot()
    event = slack.message(f"<@{slack.bot_user}> edited", channel=DM, subtype=subtype)
    await slack.deliver(event)
    await run.idle()
    assert qwen.requests == []
    assert slack.bot_messages() == []


async def test_a_bare_mention_gets_a_hint_without_a_model_call(slack, qwen, start_bot) -> None:
    run = await start_bot()
    events = slack.mention("")
    await slack.deliver_all(events)
    await run.idle()
    assert qwen.requests == []
    assert "Ask me anything" in slack.texts(GENERAL, events[0]["ts"])[0]


async def test_status_shows_the_bot_is_thinking(slack, qwen, start_bot) -> None:
    run = await start_bot()
    events = slack.mention("hi")
    await slack.deliver_all(events)
    await run.idle()
    await eventually(lambda: slack.statuses)
    assert slack.statuses[0]["thread_ts"] == events[0]["ts"]
    assert slack.statuses[0]["status"] == "is thinking…"


async def test_other_bots_in_the_bots_thread_are_answered_only_when_they_mention_it(slack, qwen, start_bot):
    qwen.responder = echo
    run = await start_bot(answer_bots=True)
    first = slack.mention("start")
    await slack.deliver_all(first)
    await run.idle()
    thread = first[0]["ts"]
    await slack.deliver(slack.message("build passed", user="U0CIBOT", bot_id="B0CI", thread_ts=thread))
    await run.idle()
    assert slack.texts(GENERAL, thread) == ["Answer to: start"]
    await slack.deliver_all(slack.mention("summarise", user="U0CIBOT", bot_id="B0CI", thread_ts=thread))
    await run.idle()
    assert slack.texts(GENERAL, thread) == ["Answer to: start", "Answer to: summarise"]
    assert "build passed" in str(qwen.chat_requests[-1]["messages"])  # kept as context


async def test_a_refused_status_line_is_not_asked_for_again(slack, qwen, start_bot) -> None:
    slack.status_error = "not_allowed"
    run = await start_bot()
    for text in ("one", "two"):
        events = slack.mention(text)
        await slack.deliver_all(events)
        await run.idle()
        assert slack.texts(GENERAL, events[0]["ts"]) == ["Hello from fake Qwen."]
    assert slack.count("assistant.threads.setStatus") == 1
