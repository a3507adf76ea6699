"""Buttons on Slack answers: 👍/👎 on finished ones, Stop on posted ones, and `stop` by command or mention."""

from __future__ import annotations

import json

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import controls
from adapters.slack.recovery import finish
from bot.memory import Unfinished
from bot.sentences import STOP_DONE, STOP_NOT_YOURS, STOPPED_BEFORE_ANSWER, USAGE_FEEDBACK
from bot.types import ConversationKey
from tests.adapters.slack.conftest import ALICE, BOB, GENERAL, eventually
from tests.fakes.qwen import Script
from tests.fakes.slack import FakeMessage, FakeSlack

SLOW = Script("one two three four five six seven eight nine ten eleven twelve", delay=0.3)
STOPPED = "(stopped)"


def answer_in(slack: FakeSlack, thread: str) -> FakeMessage | None:
    found = slack.bot_messages(GENERAL, thread)
    return found[-1] if found else None


def actions(message: FakeMessage | None) -> list[str]:
    return [e["action_id"] for e in message.buttons()] if message else []


async def mention(slack: FakeSlack, text: str, user: str = ALICE, via: str = "http") -> str:
    """A channel mention the bot answers in its thread; the thread's ts."""
    events = slack.mention(text, channel=GENERAL, user=user)
    for event in events:
        await slack.deliver(event, via=via)
    return str(events[0]["ts"])


@pytest.mark.parametrize("via", ["http", "socket"])
async def test_a_streamed_answer_ends_with_feedback_buttons_whose_votes_count_once_each(
        slack, qwen, start_bot, via) -> None:
    run = await start_bot(via)
    thread = await mention(slack, "hello", via=via)
    await run.idle()
    answer = answer_in(slack, thread)
    assert answer is not None and answer.markdown == "Hello from fake Qwen."
    assert actions(answer) == [controls.FEEDBACK_ACTION]
    assert slack.params("chat.stopStream")[-1]["blocks"][0]["type"] == "context_actions"

    await slack.click(answer, controls.FEEDBACK_ACTION, user=ALICE, positive=True, via=via)
    await slack.click(answer, controls.FEEDBACK_ACTION, user=BOB, positive=True, via=via)
    await slack.click(answer, controls.FEEDBACK_ACTION, user=ALICE, positive=False, via=via)
    await run.idle()
    key = ConversationKey("slack", slack.team, GENERAL, thread)
    assert await run.core.store.votes(key) == (1, 1)
    usage = await slack.command_answer("usage", channel=GENERAL, user=ALICE, via=via)
    assert USAGE_FEEDBACK.format(up=1, down=1) in usage["text"]


async def test_a_posted_answer_shows_stop_while_written_and_the_asker_stops_it(
        slack, qwen, start_bot) -> None:
    qwen.queue(SLOW)
    run = await start_bot(slack_streaming=False)
    thread = await mention(slack, "count")
    answer = await eventually(lambda: actions(answer_in(slack, thread)) == [controls.STOP_ACTION]
                              and answer_in(slack, thread))
    assert answer.blocks[0] == {"type": "section", "text": {"type": "mrkdwn", "text": answer.text}}
    await slack.click(answer, controls.STOP_ACTION, user=ALICE)
    await run.idle()
    assert answer.text.endswith(STOPPED + "_") and "twelve" not in answer.text
    assert actions(answer) == [controls.FEEDBACK_ACTION]
    turns = (await run.core.store.load(ConversationKey("slack", slack.team, GENERAL, thread))).turns
    assert turns[-1].text.endswith(f"*{STOPPED}*")


async def test_someone_who_may_not_change_settings_cannot_stop_anothers_answer(
        slack, qwen, start_bot) -> None:
    qwen.queue(SLOW)
    run = await start_bot(slack_streaming=False)
    thread = await mention(slack, "count", user=BOB)
    answer = await eventually(lambda: actions(answer_in(slack, thread)) and answer_in(slack, thread))
    await slack.click(answer, controls.STOP_ACTION, user=ALICE)  # GENERAL is Bob's channel
    await run.idle()
    assert slack.ephemerals[-1]["user"] == ALICE and slack.ephemerals[-1]["text"] == STOP_NOT_YOURS
    assert answer.text.endswith("twelve")


async def test_qwen_stop_in_a_channel_stops_the_callers_answers_in_its_threads(
        slack, qwen, start_bot) -> None:
    qwen.queue(SLOW)
    run = await start_bot()
    thread = await mention(slack, "count")
    await eventually(lambda: answer_in(slack, thread) and answer_in(slack, thread).markdown)
    said = await slack.command_answer("stop", channel=GENERAL, user=ALICE)
    assert said["text"] == STOP_DONE.format(count="1 answer")
    await run.idle()
    answer = answer_in(slack, thread)
    assert answer is not None and answer.markdown.endswith(f"*{STOPPED}*")


async def test_a_thread_mention_stop_does_not_wait_behind_the_answer_it_stops(
        slack, qwen, start_bot) -> None:
    qwen.queue(SLOW)
    run = await start_bot()
    thread = await mention(slack, "count")
    await eventually(lambda: answer_in(slack, thread) and answer_in(slack, thread).markdown)
    for event in slack.mention("stop", channel=GENERAL, user=ALICE, thread_ts=thread):
        await slack.deliver(event)
    await eventually(lambda: slack.ephemerals)
    assert [e["text"] for e in slack.ephemerals] == [STOP_DONE.format(count="1 answer")]
    await run.idle()
    answer = answer_in(slack, thread)
    assert answer is not None and answer.markdown.endswith(f"*{STOPPED}*")
    assert len(qwen.chat_requests) == 1  # "stop" was not a question


async def test_a_recovered_posted_answer_loses_its_stop_button(slack) -> None:
    posted = slack._new({"channel": GENERAL, "thread_ts": "1.0"}, text="half an ans")
    posted.blocks = [controls.stop(controls.ref(ConversationKey("slack", slack.team, GENERAL, "1.0"), "1.0"))]
    place = {"channel": GENERAL, "thread_ts": "1.0", "messages": [{"ts": posted.ts, "open": False}]}
    entry = Unfinished(1, ConversationKey("slack", slack.team, GENERAL, "1.0"), "1.0", "gone", 0,
                       visible=True, place=json.dumps(place), text="half an answer")
    await finish(AsyncWebClient(token=slack.bot_token, base_url=slack.api_url), entry)
    assert posted.text.startswith("half an answer") and posted.blocks == []


async def test_a_recovered_status_line_loses_its_stop_button_and_says_it_stopped(slack) -> None:
    key = ConversationKey("slack", slack.team, GENERAL, "1.0")
    status = slack._new({"channel": GENERAL, "thread_ts": "1.0"}, text="Searching the web… 3 s")
    status.blocks = [controls.stop(controls.ref(key, "1.0"))]
    place = {"channel": GENERAL, "thread_ts": "1.0", "messages": [{"ts": status.ts, "open": False}]}
    entry = Unfinished(1, key, "1.0", "gone", 0, visible=True, place=json.dumps(place), text="")
    await finish(AsyncWebClient(token=slack.bot_token, base_url=slack.api_url), entry)
    assert STOPPED_BEFORE_ANSWER in status.text and status.blocks == []
