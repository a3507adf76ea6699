"""Conversations on Slack: each thread and each DM remembers itself, from the bot's own store."""

from __future__ import annotations

from bot.locks import KeyedLocks
from tests.adapters.slack.conftest import ADMIN, ALICE, BOB, DM, GENERAL, eventually
from tests.fakes.qwen import Script, last_user_text


def prompt(body) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(str(m["content"]) for m in body["messages"])


async def mention(slack, run, text: str, **options) -> str:  # type: ignore[no-untyped-def]
    events = slack.mention(text, **options)
    await slack.deliver_all(events)
    await run.idle()
    return events[0]["ts"]


async def test_each_thread_is_its_own_conversation(slack, qwen, start_bot) -> None:
    run = await start_bot()
    first = await mention(slack, run, "the cat is called Tom")
    await mention(slack, run, "what is the cat called?")
    assert "Tom" not in prompt(qwen.chat_requests[-1])
    await slack.deliver(slack.message("what is the cat called?", thread_ts=first))
    await run.idle()
    assert "Alice: the cat is called Tom" in prompt(qwen.chat_requests[-1])


async def test_thread_remembers_who_said_what_and_the_answers(slack, qwen, start_bot) -> None:
    qwen.queue(Script("Noted, Tom."), Script("Tom."))
    run = await start_bot()
    thread = await mention(slack, run, "the cat is called Tom")
    await slack.deliver(slack.message("remind me?", user=BOB, thread_ts=thread))
    await run.idle()
    messages = qwen.chat_requests[-1]["messages"]
    assert [m["role"] for m in messages[1:]] == ["user", "assistant", "user"]
    assert messages[2]["content"] == "Noted, Tom."
    assert messages[3]["content"] == "Bob: remind me?"


async def test_dm_is_one_conversation_and_a_dm_thread_another(slack, qwen, start_bot) -> None:
    run = await start_bot()
    await slack.deliver(slack.message("my name is Alice", channel=DM))
    await run.idle()
    top = slack.message("what is my name?", channel=DM)
    await slack.deliver(top)
    await run.idle()
    assert "my name is Alice" in prompt(qwen.chat_requests[-1])
    await slack.deliver(slack.message("a side question", channel=DM, thread_ts=top["ts"]))
    await run.idle()
    assert "my name is Alice" not in prompt(qwen.chat_requests[-1])
    assert slack.texts(DM, top["ts"]) == ["Hello from fake Qwen."]


async def test_memory_and_thread_membership_survive_a_restart(slack, qwen, start_bot) -> None:
    first = await start_bot()
    thread = await mention(slack, first, "the password is swordfish")
    await first.stop()
    second = await start_bot()
    await slack.deliver(slack.message("what was the password?", thread_ts=thread))
    await second.idle()
    assert len(slack.texts(GENERAL, thread)) == 2
    assert "swordfish" in prompt(qwen.chat_requests[-1])


async def test_history_is_never_reread_in_a_thread_the_bot_knows(slack, qwen, start_bot) -> None:
    run = await start_bot()
    thread = await mention(slack, run, "one")
    for text in ("two", "three"):
        await slack.deliver(slack.message(text, thread_ts=thread))
        await run.idle()
    assert slack.count("conversations.replies") == 0
    assert len(slack.texts(GENERAL, thread)) == 3


async def test_mention_in_an_unseen_thread_reads_it_once(slack, qwen, start_bot) -> None:
    parent = slack.message("we need a name for the project", user=BOB)
    earlier = slack.message("how about Falcon?", thread_ts=parent["ts"])
    slack.history[(GENERAL, parent["ts"])] = [parent, earlier]
    run = await start_bot()
    await mention(slack, run, "what do you think?", thread_ts=parent["ts"])
    text = prompt(qwen.chat_requests[-1])
    assert "Bob: we need a name for the project" in text
    assert "Alice: how about Falcon?" in text
    await mention(slack, run, "and another?", thread_ts=parent["ts"])
    assert slack.count("conversations.replies") == 1
    assert slack.texts(GENERAL, parent["ts"]) == ["Hello from fake Qwen."] * 2


async def test_a_reset_thread_is_not_read_again_from_slack(slack, qwen, start_bot) -> None:
    run = await start_bot()
    thread = await mention(slack, run, "my locker code is 4711")
    slack.history[(GENERAL, thread)] = [slack.message("my locker code is 4711", ts=thread)]
    await mention(slack, run, "reset", thread_ts=thread, user=ADMIN)
    await mention(slack, run, "what is my locker code?", thread_ts=thread)
    assert "4711" not in prompt(qwen.chat_requests[-1])
    assert slack.count("conversations.replies") == 0


async def test_a_thread_read_once_is_not_read_again_after_a_reset(slack, qwen, start_bot) -> None:
    parent = slack.message("the code is 1234", user=BOB)
    slack.history[(GENERAL, parent["ts"])] = [parent]
    run = await start_bot()
    await mention(slack, run, "what is the code?", thread_ts=parent["ts"])
    await mention(slack, run, "reset", thread_ts=parent["ts"], user=ADMIN)
    await mention(slack, run, "what is the code now?", thread_ts=parent["ts"])
    assert "1234" not in prompt(qwen.chat_requests[-1])
    assert slack.count("conversations.replies") == 1


async def test_display_names_are_looked_up_once(slack, qwen, start_bot) -> None:
    run = await start_bot()
    for text in ("one", "two", "three"):
        await slack.deliver(slack.message(text, channel=DM, user=ALICE))
        await run.idle()
    asked = [p["user"] for p in slack.params("users.info")]
    assert asked.count(ALICE) == 1


async def test_mentions_of_people_reach_the_model_as_names(slack, qwen, start_bot) -> None:
    run = await start_bot()
    await mention(slack, run, f"what did <@{BOB}> say?")
    assert "Alice: what did @Bob say?" in prompt(qwen.chat_requests[-1])


async def test_a_rate_limited_thread_read_is_skipped_not_waited_out(slack, qwen, start_bot) -> None:
    parent = slack.message("we need a name for the project", user=BOB)
    slack.history[(GENERAL, parent["ts"])] = [parent]
    slack.forced_429["conversations.replies"] = 3
    run = await start_bot()
    await mention(slack, run, "what do you think?", thread_ts=parent["ts"])
    assert slack.count("conversations.replies") == 1
    assert slack.texts(GENERAL, parent["ts"]) == ["Hello from fake Qwen."]
    assert "we need a name" not in prompt(qwen.chat_requests[-1])


class WatchedLocks(KeyedLocks):
    """The bot's real per-conversation locks, noting each request for one."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[object] = []

    def hold(self, key):  # type: ignore[no-untyped-def]
        self.requests.append(key)
        return super().hold(key)


async def test_a_message_waiting_for_its_file_is_not_overtaken_by_the_next(slack, qwen, start_bot) -> None:
    run = await start_bot()
    thread = await mention(slack, run, "start")
    run.bot.locks = locks = WatchedLocks()
    downloads = slack.hold("files")
    notes = slack.add_file("F0NOTES", "notes.txt", "text/plain", b"first the notes")
    await slack.deliver(slack.message("read my notes", thread_ts=thread, files=[notes]))
    await eventually(lambda: slack.file_requests)
    await slack.deliver(slack.message("and then answer this", thread_ts=thread))
    # The download is released once the second message is either queued or already at the model.
    await eventually(lambda: len(locks.requests) == 2 or len(qwen.chat_requests) == 2)
    downloads.set()
    await run.idle()
    asked = [last_user_text(r).split("\n")[0] for r in qwen.chat_requests[1:]]
    assert asked == ["Alice: read my notes", "Alice: and then answer this"]


async def test_a_lone_surrogate_escaped_in_the_event_json_is_answered_and_remembered(
    slack, qwen, start_bot
) -> None:
    run = await start_bot()
    await slack.deliver(slack.message("broken \ud800 text", channel=DM))
    await run.idle()
    assert slack.texts(DM) == ["Hello from fake Qwen."]
    assert last_user_text(qwen.chat_requests[-1]).endswith("broken  text")
