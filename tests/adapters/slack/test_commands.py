"""`/qwen` and each of its subcommands, and who may change a channel's settings."""

from __future__ import annotations

import pytest

from tests.adapters.slack.conftest import ADMIN, ALICE, BOB, DM, GENERAL, RANDOM
from tests.fakes.qwen import Script, last_user_text


def system_prompt(body) -> str:  # type: ignore[no-untyped-def]
    return str(body["messages"][0]["content"])


async def ask_by_mention(slack, run, text: str, channel: str = GENERAL) -> str:  # type: ignore[no-untyped-def]
    events = slack.mention(text, channel=channel)
    await slack.deliver_all(events)
    await run.idle()
    return events[0]["ts"]


@pytest.mark.parametrize("mode", ["http", "socket"])
async def test_question_is_posted_and_answered_in_its_thread(slack, qwen, start_bot, mode) -> None:
    qwen.queue(Script("It is 4."), Script("And 5 after that."))
    run = await start_bot(mode)
    ack = await slack.command("what is 2+2?", channel=GENERAL, user=ALICE, via=mode)
    await run.idle()
    assert not ack.body
    (question,) = slack.bot_messages(GENERAL, None)
    assert question.text == "*Alice* asked: what is 2+2?"
    assert slack.texts(GENERAL, question.ts) == ["It is 4."]
    await slack.deliver(slack.message("and plus one?", thread_ts=question.ts), via=mode)
    await run.idle()
    assert slack.texts(GENERAL, question.ts) == ["It is 4.", "And 5 after that."]
    assert "Alice: what is 2+2?" in str(qwen.chat_requests[-1]["messages"])


@pytest.mark.parametrize("text", ["", "help"])
async def test_help_lists_the_subcommands_privately(slack, start_bot, text) -> None:
    await start_bot()
    ack = await slack.command(text)
    assert ack.body["response_type"] == "ephemeral"
    for name in ("reset", "persona", "model", "memory", "usage", "forget-me", "channel-mode"):
        assert f"/qwen {name}" in ack.body["text"]


async def test_persona_is_set_shown_and_used_by_new_threads(slack, qwen, start_bot) -> None:
    run = await start_bot()
    set_answer = await slack.command_answer("persona You are a terse pirate.", user=BOB)
    shown = await slack.command_answer("persona", user=ALICE)
    assert set_answer["response_type"] == "ephemeral" and "Persona set" in set_answer["text"]
    assert "terse pirate" in shown["text"]
    await ask_by_mention(slack, run, "hello")
    assert system_prompt(qwen.chat_requests[-1]) == "You are a terse pirate."
    cleared = await slack.command_answer("persona clear", user=BOB)
    assert "cleared" in cleared["text"]
    await ask_by_mention(slack, run, "hello again")
    assert "terse pirate" not in system_prompt(qwen.chat_requests[-1])


async def test_model_is_shown_chosen_and_used(slack, qwen, start_bot) -> None:
    run = await start_bot()
    shown = await slack.command_answer("model", user=ALICE)
    assert "qwen-max" in shown["text"] and "qwen-plus" in shown["text"]
    unknown = await slack.command_answer("model gpt-5", user=BOB)
    assert "Unknown model" in unknown["text"]
    chosen = await slack.command_answer("model qwen-plus", user=BOB)
    assert "qwen-plus" in chosen["text"]
    await ask_by_mention(slack, run, "hello")
    assert qwen.chat_requests[-1]["model"] == "qwen-plus"


async def test_reset_forgets_the_channel_conversation(slack, qwen, start_bot) -> None:
    run = await start_bot()
    await slack.command_answer("channel-mode always", channel=RANDOM, user=ALICE)
    await slack.deliver(slack.message("my secret is 42", channel=RANDOM))
    await run.idle()
    answer = await slack.command_answer("reset", channel=RANDOM, user=ALICE)
    assert "forgot" in answer["text"]
    await slack.deliver(slack.message("what was my secret?", channel=RANDOM))
    await run.idle()
    assert "42" not in str(qwen.chat_requests[-1]["messages"])


async def test_memory_reports_what_is_remembered(slack, start_bot) -> None:
    run = await start_bot()
    empty = await slack.command_answer("memory", channel=DM)
    assert "nothing" in empty["text"]
    await slack.deliver(slack.message("remember me", channel=DM))
    await run.idle()
    full = await slack.command_answer("memory", channel=DM)
    assert full["response_type"] == "ephemeral"
    assert "I remember 2 messages" in full["text"]


async def test_usage_reports_tokens_for_conversation_workspace_and_user(slack, start_bot) -> None:
    run = await start_bot()
    await slack.deliver(slack.message("count me", channel=DM))
    await run.idle()
    answer = await slack.command_answer("usage", channel=DM)
    text = answer["text"]
    assert "This conversation" in text and "This workspace" in text and "You:" in text
    assert "0 tokens" not in text.split("\n")[0]


async def test_forget_me_deletes_the_users_messages_everywhere(slack, qwen, start_bot) -> None:
    run = await start_bot()
    await slack.deliver(slack.message("my password is hunter2", channel=DM))
    await run.idle()
    answer = await slack.command_answer("forget-me", channel=GENERAL, user=ALICE)
    assert "Deleted 1 message of yours" in answer["text"]
    await slack.deliver(slack.message("what did I say?", channel=DM))
    await run.idle()
    assert "hunter2" not in str(qwen.chat_requests[-1]["messages"])
    assert last_user_text(qwen.chat_requests[-1]).endswith("what did I say?")


async def test_channel_mode_is_shown_and_switched_back(slack, qwen, start_bot) -> None:
    run = await start_bot()
    await slack.command_answer("channel-mode always", channel=RANDOM, user=ALICE)
    shown = await slack.command_answer("channel-mode", channel=RANDOM, user=BOB)
    assert "always" in shown["text"]
    back = await slack.command_answer("channel-mode mention", channel=RANDOM, user=ALICE)
    assert "only when addressed" in back["text"]
    await slack.deliver(slack.message("quiet please", channel=RANDOM))
    await run.idle()
    assert qwen.requests == []


async def test_thread_mode_answers_a_mention_in_its_thread_and_that_thread_without_mentions(
    slack, qwen, start_bot
) -> None:
    qwen.responder = lambda body: Script("re: " + last_user_text(body).split(": ", 1)[-1])
    run = await start_bot()
    chosen = await slack.command_answer("channel-mode thread", channel=RANDOM, user=ALICE)
    assert "thread of its own" in chosen["text"]
    await slack.deliver(slack.message("chatter", channel=RANDOM))
    question = await ask_by_mention(slack, run, "open one", channel=RANDOM)
    await slack.deliver(slack.message("and then?", channel=RANDOM, thread_ts=question))
    await run.idle()
    assert slack.texts(RANDOM, question) == ["re: open one", "re: and then?"]
    assert "chatter" not in str(qwen.chat_requests)


@pytest.mark.parametrize(("access", "user", "allowed"), [
    ("creator", BOB, True),
    ("creator", ADMIN, True),
    ("creator", ALICE, False),
    ("admin", BOB, False),
    ("admin", ADMIN, True),
    ("anyone", ALICE, True),
])
async def test_who_may_change_channel_settings(slack, start_bot, access, user, allowed) -> None:
    await start_bot(slack_settings_access=access)
    answer = await slack.command_answer("channel-mode always", channel=GENERAL, user=user)
    shown = await slack.command_answer("channel-mode", channel=GENERAL, user=user)
    assert answer["response_type"] == "ephemeral"
    assert ("always" in shown["text"]) is allowed
    if not allowed:
        assert "Only workspace admins" in answer["text"]


async def test_anyone_may_change_settings_in_their_own_dm(slack, start_bot) -> None:
    await start_bot(slack_settings_access="admin")
    answer = await slack.command_answer("persona Speak French.", channel=DM, user=ALICE)
    assert "Persona set" in answer["text"]


async def test_viewing_settings_needs_no_permission(slack, start_bot) -> None:
    await start_bot(slack_settings_access="admin")
    answer = await slack.command_answer("persona", channel=GENERAL, user=ALICE)
    assert "default persona" in answer["text"]


async def test_question_where_the_bot_cannot_post_is_answered_privately(slack, qwen, start_bot) -> None:
    slack.gone_channels.add("C0PRIVATE")
    run = await start_bot()
    ack = await slack.command("what is 2+2?", channel="C0PRIVATE", user=ALICE)
    answer = await slack.response(ack)
    await run.idle()
    assert answer["response_type"] == "ephemeral"
    assert "/invite @Qwen" in answer["text"]
    assert qwen.requests == []


async def test_command_is_acknowledged_before_its_rate_limited_lookups_are_answered(slack, start_bot) -> None:
    await start_bot()
    slack.retry_after = 0
    slack.forced_429.update({"users.info": 1, "conversations.info": 1})
    lookups = slack.hold("users.info")
    ack = await slack.command("channel-mode always", channel=GENERAL, user=BOB)
    assert ack.status == 200 and not ack.body
    assert slack.responses == {}  # acked while the permission lookup is still unanswered
    lookups.set()
    answer = await slack.response(ack)
    assert answer["response_type"] == "ephemeral" and "every message" in answer["text"]
    assert slack.rate_limited == ["users.info", "conversations.info"]


async def start_thread(slack, run, text: str = "the password is swordfish") -> str:  # type: ignore[no-untyped-def]
    return await ask_by_mention(slack, run, text)


async def in_thread(slack, run, thread: str, text: str, user: str = ALICE) -> None:  # type: ignore[no-untyped-def]
    await slack.deliver_all(slack.mention(text, thread_ts=thread, user=user))
    await run.idle()


async def test_mention_reset_in_a_thread_forgets_that_thread(slack, qwen, start_bot) -> None:
    run = await start_bot()
    thread = await start_thread(slack, run)
    await in_thread(slack, run, thread, "reset", user=BOB)
    (answer,) = slack.ephemerals
    assert "forgot" in answer["text"] and answer["thread_ts"] == thread
    assert len(qwen.chat_requests) == 1  # the command is not a question for the model
    await in_thread(slack, run, thread, "what was the password?")
    assert "swordfish" not in str(qwen.chat_requests[-1]["messages"])


async def test_mention_memory_in_a_thread_reports_that_thread(slack, qwen, start_bot) -> None:
    run = await start_bot()
    thread = await start_thread(slack, run)
    await ask_by_mention(slack, run, "another thread")
    await in_thread(slack, run, thread, "memory")
    (answer,) = slack.ephemerals
    assert "I remember 2 messages" in answer["text"] and answer["thread_ts"] == thread
    assert answer["user"] == ALICE


async def test_mention_persona_in_a_thread_applies_to_that_thread_only(slack, qwen, start_bot) -> None:
    run = await start_bot()
    thread = await start_thread(slack, run)
    await in_thread(slack, run, thread, "persona You are a terse pirate.", user=BOB)
    await in_thread(slack, run, thread, "hello")
    assert system_prompt(qwen.chat_requests[-1]) == "You are a terse pirate."
    await ask_by_mention(slack, run, "a new thread")
    assert "terse pirate" not in system_prompt(qwen.chat_requests[-1])


async def test_mention_persona_in_a_thread_needs_permission(slack, qwen, start_bot) -> None:
    run = await start_bot()
    thread = await start_thread(slack, run)
    await in_thread(slack, run, thread, "persona You are a terse pirate.", user=ALICE)
    assert "Only workspace admins" in slack.ephemerals[-1]["text"]
    await in_thread(slack, run, thread, "hello")
    assert "terse pirate" not in system_prompt(qwen.chat_requests[-1])


async def test_mention_that_only_starts_with_a_command_word_is_a_question(slack, qwen, start_bot) -> None:
    run = await start_bot()
    thread = await start_thread(slack, run)
    await in_thread(slack, run, thread, "model this as a graph")
    assert slack.ephemerals == []
    assert last_user_text(qwen.chat_requests[-1]) == "Alice: model this as a graph"


async def test_a_very_long_question_is_posted_shortened_and_answered_in_its_thread(
    slack, qwen, start_bot
) -> None:
    run = await start_bot()
    question = "why " * 50_000
    ack = await slack.command(question, channel=GENERAL, user=ALICE)
    await run.idle()
    assert not ack.body
    (posted,) = slack.bot_messages(GENERAL, None)
    assert posted.text.startswith("*Alice* asked: why why") and posted.text.endswith("…")
    *notes, answer = slack.texts(GENERAL, posted.ts)
    assert answer == "Hello from fake Qwen." and "memory budget" in notes[0]
    assert not slack.responses.get(ack.command_id), "no invitation to invite the bot"
