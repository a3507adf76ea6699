"""Slack's agent view end to end: events posted signed (or over Socket Mode) to the real bolt app."""

from __future__ import annotations

import pytest

from adapters.slack.config import DEFAULT_PROMPTS, parse_prompts
from bot import sentences
from tests.adapters.slack.conftest import ALICE, BOB, DM, GENERAL, RANDOM, eventually
from tests.fakes.qwen import Script

MODES = ["http", "socket"]
SECRET = "C0SECRET"


def system_texts(body) -> list[str]:  # type: ignore[no-untyped-def]
    return [m["content"] for m in body["messages"] if m["role"] == "system"]


@pytest.mark.parametrize("mode", MODES)
async def test_opening_the_messages_tab_greets_once_and_suggests_prompts(slack, start_bot, mode) -> None:
    run = await start_bot(mode)
    await slack.deliver(slack.home_opened(ALICE, DM), via=mode)
    await slack.deliver(slack.home_opened(ALICE, DM), via=mode)
    await run.idle()
    assert slack.texts(DM, None) == [sentences.SLACK_AGENT_GREETING]
    assert len(slack.suggested_prompts) == 2
    call = slack.suggested_prompts[0]
    assert call["channel_id"] == DM and "thread_ts" not in call
    assert call["prompts"] == parse_prompts(DEFAULT_PROMPTS)
    assert call["title"] == sentences.SLACK_PROMPTS_TITLE


async def test_the_home_tab_gets_neither_greeting_nor_prompts(slack, start_bot) -> None:
    run = await start_bot()
    await slack.deliver(slack.home_opened(ALICE, DM, tab="home"))
    await run.idle()
    assert slack.bot_messages() == [] and slack.suggested_prompts == []


async def test_suggested_prompts_come_from_the_setting(slack, start_bot) -> None:
    run = await start_bot(slack_suggested_prompts="Plan my day | Plan my day in three steps; Tell a joke")
    await slack.deliver(slack.home_opened(ALICE, DM))
    await run.idle()
    assert slack.suggested_prompts[0]["prompts"] == [
        {"title": "Plan my day", "message": "Plan my day in three steps"},
        {"title": "Tell a joke", "message": "Tell a joke"},
    ]


def test_more_than_four_prompts_are_refused_at_start() -> None:
    with pytest.raises(ValueError, match="at most 4"):
        parse_prompts("a; b; c; d; e")


@pytest.mark.parametrize("mode", MODES)
async def test_summarise_this_channel_reads_the_channel_in_view(slack, qwen, start_bot, mode) -> None:
    slack.said(GENERAL, BOB, "We ship on Friday.")
    slack.said(GENERAL, ALICE, "Then <@U0BOB> writes the notes.")
    slack.said(GENERAL, BOB, "joined", subtype="channel_join")
    qwen.queue(Script(text="Shipping Friday; Bob writes notes."))
    run = await start_bot(mode)
    await slack.deliver(slack.context_changed(GENERAL, user=ALICE), via=mode)
    await run.idle()
    await slack.deliver(slack.message("Summarise this channel", channel=DM), via=mode)
    await run.idle()
    assert slack.texts(DM, None) == ["Shipping Friday; Bob writes notes."]
    briefing = system_texts(qwen.chat_requests[0])[-1]
    assert "#c0general" in briefing
    assert briefing.endswith("Bob: We ship on Friday.\nAlice: Then @Bob writes the notes.")
    assert "joined" not in briefing


async def test_the_channel_is_context_for_that_answer_only(slack, qwen, start_bot) -> None:
    slack.said(GENERAL, BOB, "The launch code is tulip.")
    run = await start_bot()
    await slack.deliver(slack.context_changed(GENERAL, user=ALICE))
    await run.idle()
    await slack.deliver(slack.message("what happened in this channel?", channel=DM))
    await run.idle()
    await slack.deliver(slack.message("thanks", channel=DM))
    await run.idle()
    follow_up = str(qwen.chat_requests[1]["messages"])
    assert "tulip" not in follow_up  # not stored as a turn
    assert "what happened in this channel?" in follow_up  # the question is


async def test_the_latest_context_wins_and_replicas_share_it(slack, qwen, start_bot) -> None:
    slack.said(RANDOM, BOB, "random talk")
    first = await start_bot()
    await slack.deliver(slack.context_changed(GENERAL, user=ALICE))
    await first.idle()
    await slack.deliver(slack.context_changed(RANDOM, user=ALICE))
    await first.idle()
    await first.stop()
    second = await start_bot()  # another process on the same database
    await slack.deliver(slack.message("summarise this channel", channel=DM))
    await second.idle()
    assert "random talk" in system_texts(qwen.chat_requests[0])[-1]


async def test_slacks_own_context_example_names_the_user_in_authorizations(slack, qwen, start_bot) -> None:
    slack.said(GENERAL, BOB, "hello from general")
    run = await start_bot()
    await slack.deliver(slack.context_changed(GENERAL), authorizations=[
        {"team_id": slack.team, "user_id": ALICE, "is_bot": False, "is_enterprise_install": False}])
    await run.idle()
    await slack.deliver(slack.message("summarise this channel", channel=DM))
    await run.idle()
    assert "hello from general" in system_texts(qwen.chat_requests[0])[-1]


async def test_without_a_known_channel_it_says_so_and_asks_no_model(slack, qwen, start_bot) -> None:
    run = await start_bot()
    await slack.deliver(slack.message("summarise this channel", channel=DM))
    await run.idle()
    assert slack.texts(DM, None) == [sentences.SLACK_VIEWING_UNKNOWN]
    assert qwen.chat_requests == []


async def test_an_empty_context_forgets_the_channel(slack, qwen, start_bot) -> None:
    run = await start_bot()
    await slack.deliver(slack.context_changed(GENERAL, user=ALICE))
    await run.idle()
    await slack.deliver(slack.context_changed(None, user=ALICE))
    await run.idle()
    await slack.deliver(slack.message("summarise this channel", channel=DM))
    await run.idle()
    assert slack.texts(DM, None) == [sentences.SLACK_VIEWING_UNKNOWN]


async def test_a_channel_the_bot_is_not_in_is_not_read(slack, qwen, start_bot) -> None:
    slack.add_channel(SECRET, creator=BOB, members=[ALICE, BOB], private=True)
    slack.said(SECRET, BOB, "private plans")
    run = await start_bot()
    await slack.deliver(slack.context_changed(SECRET, user=ALICE))
    await slack.deliver(slack.message("summarise this channel", channel=DM))
    await run.idle()
    assert slack.texts(DM, None) == [sentences.SLACK_VIEWING_BOT_OUT.format(name="c0secret", bot="Qwen")]
    assert qwen.chat_requests == [] and slack.count("conversations.history") == 0


async def test_a_channel_the_user_is_not_in_is_not_read_for_them(slack, qwen, start_bot) -> None:
    slack.add_channel(SECRET, creator=BOB, members=[BOB, slack.bot_user], private=True)
    slack.said(SECRET, BOB, "private plans")
    run = await start_bot()
    await slack.deliver(slack.context_changed(SECRET, user=ALICE))
    await slack.deliver(slack.message("summarise this channel", channel=DM))
    await run.idle()
    assert slack.texts(DM, None) == [sentences.SLACK_VIEWING_USER_OUT.format(name="c0secret")]
    assert qwen.chat_requests == [] and slack.count("conversations.history") == 0


async def test_membership_is_found_past_the_first_page(slack, qwen, start_bot) -> None:
    crowd = [f"U{i:07d}" for i in range(1500)]
    slack.add_channel(SECRET, creator=BOB, members=[*crowd, slack.bot_user, ALICE])
    slack.said(SECRET, BOB, "big room news")
    run = await start_bot()
    await slack.deliver(slack.context_changed(SECRET, user=ALICE))
    await slack.deliver(slack.message("summarise this channel", channel=DM))
    await run.idle()
    assert "big room news" in system_texts(qwen.chat_requests[0])[-1]
    assert slack.count("conversations.members") == 2


async def test_a_dm_between_people_is_never_read(slack, qwen, start_bot) -> None:
    slack.add_channel("D0BOBALICE", creator=BOB, kind="im")
    run = await start_bot()
    await slack.deliver(slack.context_changed("D0BOBALICE", user=ALICE))
    await slack.deliver(slack.message("summarise this channel", channel=DM))
    await run.idle()
    assert slack.texts(DM, None) == [sentences.SLACK_VIEWING_PRIVATE]


async def test_a_blocked_channel_is_not_read(slack, qwen, start_bot) -> None:
    slack.said(GENERAL, BOB, "words")
    run = await start_bot(slack_blocked_channels=GENERAL)
    await slack.deliver(slack.context_changed(GENERAL, user=ALICE))
    await slack.deliver(slack.message("summarise this channel", channel=DM))
    await run.idle()
    assert slack.texts(DM, None) == [sentences.SLACK_VIEWING_NOT_ALLOWED.format(name="c0general")]


async def test_a_rate_limited_history_read_says_so_without_waiting(slack, qwen, start_bot) -> None:
    slack.said(GENERAL, BOB, "words")
    slack.forced_429["conversations.history"] = 1
    slack.retry_after = 60
    run = await start_bot()
    await slack.deliver(slack.context_changed(GENERAL, user=ALICE))
    await slack.deliver(slack.message("summarise this channel", channel=DM))
    await run.idle()
    assert slack.texts(DM, None) == [sentences.SLACK_VIEWING_RATE_LIMITED]
    assert qwen.chat_requests == []


async def test_only_the_newest_messages_that_fit_half_the_budget_are_sent(slack, qwen, start_bot) -> None:
    for i in range(60):
        slack.said(GENERAL, BOB, f"message {i} " + "lorem ipsum dolor " * 8)
    run = await start_bot(core_settings={"max_context_tokens": 1000})
    await slack.deliver(slack.context_changed(GENERAL, user=ALICE))
    await slack.deliver(slack.message("summarise this channel", channel=DM))
    await run.idle()
    briefing = system_texts(qwen.chat_requests[0])[-1]
    assert "message 59 " in briefing and "message 0 " not in briefing
    assert "older messages did not fit" in briefing
    assert run.core.counter.count(briefing) <= 500 + 100  # half the budget, and the header


async def test_questions_not_about_this_channel_read_nothing(slack, qwen, start_bot) -> None:
    run = await start_bot()
    await slack.deliver(slack.context_changed(GENERAL, user=ALICE))
    await slack.deliver(slack.message("what is a channel in Go?", channel=DM))
    await run.idle()
    assert slack.count("conversations.history") == 0
    assert len(system_texts(qwen.chat_requests[0])) == 1


async def test_this_channel_in_a_channel_mention_reads_nothing_extra(slack, qwen, start_bot) -> None:
    run = await start_bot()
    await slack.deliver(slack.context_changed(RANDOM, user=ALICE))
    await slack.deliver_all(slack.mention("summarise this channel"))
    await run.idle()
    assert slack.count("conversations.history") == 0


@pytest.mark.parametrize("mode", MODES)
async def test_the_older_assistant_thread_events_work_the_same(slack, qwen, start_bot, mode) -> None:
    slack.agent_view = False  # an app still on assistant_view: prompts belong to the thread
    slack.said(RANDOM, BOB, "random news")
    run = await start_bot(mode)
    thread = "1700000001.000001"
    await slack.deliver(slack.assistant_thread("started", ALICE, DM, thread, viewing=GENERAL), via=mode)
    await run.idle()
    assert slack.texts(DM, thread) == [sentences.SLACK_AGENT_GREETING]
    assert slack.suggested_prompts[0]["thread_ts"] == thread
    moved = slack.assistant_thread("context_changed", ALICE, DM, thread, viewing=RANDOM)
    await slack.deliver(moved, via=mode)
    await run.idle()
    await slack.deliver(slack.message("summarise this channel", channel=DM, thread_ts=thread), via=mode)
    await run.idle()
    assert "random news" in system_texts(qwen.chat_requests[0])[-1]
    await eventually(lambda: len(slack.texts(DM, thread)) == 2)


async def test_a_blocked_user_gets_no_greeting_and_no_context_kept(slack, start_bot) -> None:
    run = await start_bot(slack_blocked_users=ALICE)
    await slack.deliver(slack.home_opened(ALICE, DM, viewing=GENERAL))
    await run.idle()
    assert slack.bot_messages() == [] and slack.suggested_prompts == []
    assert await run.core.store.viewing("slack", slack.team, ALICE) == ""


def test_manifest_subscribes_to_the_agent_view_events() -> None:
    from adapters.slack.agent import AGENT_EVENTS
    from tests.adapters.slack.test_startup import MANIFEST

    text = MANIFEST.read_text()
    assert "agent_view:" in text
    for event in AGENT_EVENTS:
        assert f"- {event} " in text or f"- {event}\n" in text
    for scope in ("assistant:write", "channels:history", "groups:history", "channels:read", "groups:read"):
        assert f"- {scope}" in text


async def test_someone_already_talking_with_qwen_is_not_greeted(slack, qwen, start_bot) -> None:
    run = await start_bot()
    await slack.deliver(slack.message("hello", channel=DM))
    await run.idle()
    await slack.deliver(slack.home_opened(ALICE, DM))
    await run.idle()
    assert slack.texts(DM, None) == ["Hello from fake Qwen."]
    assert len(slack.suggested_prompts) == 1  # the suggestions are still offered
