"""Crash recovery: the bot as a real process, killed with SIGKILL mid-answer, then started again.

The fakes (Qwen, Slack, Discord) run in this test process on 127.0.0.1; the bot is
`python -m bot slack|discord` pointed at them through its environment, on SQLite and PostgreSQL.
Whatever the killed process left is finished by the next one: a half-written answer ends with
the interrupted mark and its text is remembered as the answer; a question killed before any text
was shown gets the "stopped before I could answer" sentence.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot import sentences
from bot.memory import MemoryStore, Unfinished
from tests.bot.memory.backends import Backend, backend_named
from tests.fakes.discord import FakeDiscord
from tests.fakes.qwen import FakeQwen, Script
from tests.fakes.slack import FakeSlack
from tests.processes import BotProcess
from tests.waiting import until

#: Long and slow enough to be mid-way whenever the test kills the bot.
LONG = " ".join(f"word{i}" for i in range(400))
SLOW = Script(text=LONG, delay=0.05)
NEVER = Script(text="too late", first_delay=120)
MARK = "(reply interrupted)"


@pytest.fixture(params=["sqlite", "postgres"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    async with backend_named(request.param, tmp_path) as backend:
        yield backend


@pytest.fixture
async def store(database: Backend) -> MemoryStore:
    return await database.open()


async def journal(store: MemoryStore, platform: str) -> list[Unfinished]:
    return await store.unfinished(platform, not_owner="")


async def finished(store: MemoryStore, platform: str) -> bool:
    """Whether the journal is empty: the recovery is over, answer remembered."""
    return await journal(store, platform) == []


async def shown_with_text(store: MemoryStore, platform: str) -> Unfinished:
    """The journal entry of an answer once some of it is shown and its text saved."""
    found: list[Unfinished] = []

    async def check() -> bool:
        found[:] = [e for e in await journal(store, platform) if e.visible and e.text]
        return bool(found)

    await until(check, 20, "an answer shown and journaled")
    return found[0]


def roles(body: dict[str, Any]) -> list[str]:
    return [m["role"] for m in body["messages"] if m["role"] != "system"]


# -- Slack ------------------------------------------------------------------------------------


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = await FakeSlack().start()
    fake.add_user("U0ALICE", "Alice")
    fake.add_channel("C0GENERAL", creator="U0ALICE")
    yield fake
    await fake.stop()


@pytest.fixture
def slack_bot(slack: FakeSlack, qwen: FakeQwen, database: Backend, tmp_path: Path,
              processes: list[BotProcess]) -> BotProcess:
    bot = BotProcess("slack", tmp_path, {
        "QWEN_API_KEY": "sk-test", "QWEN_BASE_URL": qwen.base_url, "QWEN_MAX_RETRIES": "0",
        "DATABASE_URL": database.url, "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_APP_TOKEN": slack.app_token, "SLACK_API_URL": slack.api_url,
    })
    processes.append(bot)
    return bot


async def start_slack(bot: BotProcess, slack: FakeSlack) -> None:
    await until(lambda: not slack.socket_connected.is_set(), 10, "the old connection to close")
    await bot.start()
    await until(slack.socket_connected.is_set, 20, f"the bot to connect:\n{bot.output()}")


async def test_a_slack_answer_killed_mid_stream_is_closed_remembered_and_followed(
        slack: FakeSlack, qwen: FakeQwen, store: MemoryStore, slack_bot: BotProcess):
    await start_slack(slack_bot, slack)
    qwen.queue(SLOW)
    mention = slack.mention("tell me everything")
    thread = mention[0]["ts"]
    await slack.deliver_all(mention, via="socket")
    entry = await shown_with_text(store, "slack")
    await slack_bot.kill()
    [streamed] = slack.bot_messages("C0GENERAL", thread)
    assert streamed.streaming and MARK not in streamed.markdown  # what a crash used to leave behind

    await start_slack(slack_bot, slack)
    await until(lambda: not streamed.streaming, 10, f"the stream to be stopped:\n{slack_bot.output()}")
    assert streamed.markdown.endswith(sentences.INTERRUPTED_MARK)
    await until(lambda: finished(store, "slack"), 10, "the journal entry to be finished")
    turns = (await store.load(entry.key)).turns
    assert [t.role for t in turns] == ["user", "assistant"]
    assert turns[1].text and LONG.startswith(turns[1].text) and len(turns[1].text) >= len(entry.text)

    await slack.deliver_all(slack.mention("and then?", thread_ts=thread), via="socket")
    await until(lambda: len(slack.bot_messages("C0GENERAL", thread)) == 2, 10, "the next answer")
    assert roles(qwen.chat_requests[-1]) == ["user", "assistant", "user"]


async def test_a_slack_question_killed_before_any_text_gets_the_stopped_sentence(
        slack: FakeSlack, qwen: FakeQwen, store: MemoryStore, slack_bot: BotProcess):
    await start_slack(slack_bot, slack)
    qwen.queue(NEVER)
    mention = slack.mention("are you there?")
    thread = mention[0]["ts"]
    await slack.deliver_all(mention, via="socket")
    await until(lambda: len(qwen.chat_requests) == 1, 20, "the model call")
    [entry] = await journal(store, "slack")
    assert not entry.visible
    await slack_bot.kill()

    await start_slack(slack_bot, slack)
    await until(lambda: bool(slack.texts("C0GENERAL", thread)), 10, f"the sentence:\n{slack_bot.output()}")
    [text] = slack.texts("C0GENERAL", thread)
    assert sentences.STOPPED_BEFORE_ANSWER.split(";")[0] in text
    await until(lambda: finished(store, "slack"), 10, "the journal entry to be finished")
    assert [t.role for t in (await store.load(entry.key)).turns] == ["user"]


async def test_a_slack_answer_killed_while_thinking_turns_its_status_line_into_the_stopped_sentence(
        slack: FakeSlack, qwen: FakeQwen, store: MemoryStore, slack_bot: BotProcess):
    slack.status_error = "not_allowed"  # a channel thread: the status goes in the message
    slack_bot.env.update(QWEN_MODEL="qwen3-max", QWEN_THINKING="true")
    await start_slack(slack_bot, slack)
    qwen.queue(Script(reasoning="hmm " * 400, reasoning_delay=0.05, text="never shown"))
    mention = slack.mention("think hard")
    thread = mention[0]["ts"]
    await slack.deliver_all(mention, via="socket")
    await until(lambda: bool(slack.texts("C0GENERAL", thread)), 20, "the status line")

    async def visible() -> bool:
        return any(entry.visible for entry in await journal(store, "slack"))

    await until(visible, 10, "the journal to know the status line is shown")
    await slack_bot.kill()
    assert "Thinking…" in slack.texts("C0GENERAL", thread)[0]

    await start_slack(slack_bot, slack)
    await until(lambda: sentences.STOPPED_BEFORE_ANSWER.split(";")[0] in slack.texts("C0GENERAL", thread)[0],
                10, f"the sentence in place of the status:\n{slack_bot.output()}")
    assert len(slack.texts("C0GENERAL", thread)) == 1


# -- Discord ----------------------------------------------------------------------------------


@pytest.fixture
async def discord_world() -> AsyncIterator[dict[str, Any]]:
    fake = await FakeDiscord().start()
    guild = fake.add_guild()
    general, alice = fake.add_channel(guild, "general"), fake.add_member(guild, "Alice")
    yield {"fake": fake, "general": general, "alice": alice}
    await fake.stop()


@pytest.fixture
def discord_bot(discord_world: dict[str, Any], qwen: FakeQwen, database: Backend, tmp_path: Path,
                processes: list[BotProcess]) -> BotProcess:
    fake: FakeDiscord = discord_world["fake"]
    bot = BotProcess("discord", tmp_path, {
        "QWEN_API_KEY": "sk-test", "QWEN_BASE_URL": qwen.base_url, "QWEN_MAX_RETRIES": "0",
        "DATABASE_URL": database.url, "DISCORD_TOKEN": fake.token, "DISCORD_API_URL": fake.api_url,
        "DISCORD_GATEWAY_URL": fake.gateway_url, "DISCORD_EDIT_INTERVAL": "0.2",
    })
    processes.append(bot)
    return bot


async def start_discord(bot: BotProcess, fake: FakeDiscord) -> None:
    await until(lambda: not fake.connections, 10, "the old gateway connection to close")
    await bot.start()
    await until(lambda: bool(fake.connections), 20, f"the bot to connect:\n{bot.output()}")


async def test_a_discord_answer_killed_mid_edit_is_closed_remembered_and_followed(
        discord_world: dict[str, Any], qwen: FakeQwen, store: MemoryStore, discord_bot: BotProcess):
    fake: FakeDiscord = discord_world["fake"]
    await start_discord(discord_bot, fake)
    qwen.queue(SLOW)
    question = await fake.say(discord_world["alice"], f"<@{fake.app_id}> tell me everything",
                              channel_id=discord_world["general"])
    entry = await shown_with_text(store, "discord")
    await discord_bot.kill()
    [reply] = fake.replies_to(int(question["id"]))
    assert MARK not in reply["content"]
    assert reply["components"], "a streaming answer shows its Stop button"

    await start_discord(discord_bot, fake)
    await until(lambda: MARK in fake.replies_to(int(question["id"]))[0]["content"], 10,
                f"the mark:\n{discord_bot.output()}")
    [reply] = fake.replies_to(int(question["id"]))
    assert reply["components"] == []  # a Stop button would stop nothing now
    await until(lambda: finished(store, "discord"), 10, "the journal entry to be finished")
    turns = (await store.load(entry.key)).turns
    assert [t.role for t in turns] == ["user", "assistant"]
    assert turns[1].text and LONG.startswith(turns[1].text)
    assert reply["content"].startswith(turns[1].text)

    await fake.say(discord_world["alice"], f"<@{fake.app_id}> and then?", channel_id=discord_world["general"])
    await until(lambda: len(qwen.chat_requests) == 2, 10, "the next question")
    assert roles(qwen.chat_requests[-1]) == ["user", "assistant", "user"]


async def test_a_slash_ask_killed_mid_answer_is_closed_through_its_interaction(
        discord_world: dict[str, Any], qwen: FakeQwen, store: MemoryStore, discord_bot: BotProcess):
    fake: FakeDiscord = discord_world["fake"]
    await start_discord(discord_bot, fake)
    qwen.queue(SLOW)
    interaction = await fake.interact(discord_world["alice"], "ask", {"prompt": "tell me everything"},
                                      channel_id=discord_world["general"])
    entry = await shown_with_text(store, "discord")
    await discord_bot.kill()

    def shown() -> str:
        ids = fake.interaction_messages[f"itoken-{interaction}"]
        return "".join(fake.messages[m]["content"] for m in ids if m not in fake.deleted)

    assert MARK not in shown()
    await start_discord(discord_bot, fake)
    await until(lambda: MARK in shown(), 10, f"the mark:\n{discord_bot.output()}")
    ids = fake.interaction_messages[f"itoken-{interaction}"]
    assert all(fake.messages[m]["components"] == [] for m in ids)  # the Stop button went with recovery
    await until(lambda: finished(store, "discord"), 10, "the journal entry to be finished")
    [_, answer] = (await store.load(entry.key)).turns
    assert answer.text and shown().startswith(answer.text)


async def test_a_discord_question_killed_before_any_text_gets_the_stopped_sentence(
        discord_world: dict[str, Any], qwen: FakeQwen, store: MemoryStore, discord_bot: BotProcess):
    fake: FakeDiscord = discord_world["fake"]
    await start_discord(discord_bot, fake)
    qwen.queue(NEVER)
    question = await fake.say(discord_world["alice"], f"<@{fake.app_id}> are you there?",
                              channel_id=discord_world["general"])
    await until(lambda: len(qwen.chat_requests) == 1, 20, "the model call")
    [entry] = await journal(store, "discord")
    assert not entry.visible
    await discord_bot.kill()

    await start_discord(discord_bot, fake)
    await until(lambda: bool(fake.replies_to(int(question["id"]))), 10,
                f"the sentence:\n{discord_bot.output()}")
    [reply] = fake.replies_to(int(question["id"]))
    assert sentences.STOPPED_BEFORE_ANSWER in reply["content"]
    await until(lambda: finished(store, "discord"), 10, "the journal entry to be finished")


async def test_a_discord_answer_killed_while_thinking_turns_its_status_line_into_the_stopped_sentence(
        discord_world: dict[str, Any], qwen: FakeQwen, store: MemoryStore, discord_bot: BotProcess):
    fake: FakeDiscord = discord_world["fake"]
    discord_bot.env.update(QWEN_MODEL="qwen3-max", QWEN_THINKING="true")
    await start_discord(discord_bot, fake)
    qwen.queue(Script(reasoning="hmm " * 400, reasoning_delay=0.05, text="never shown"))
    question = await fake.say(discord_world["alice"], f"<@{fake.app_id}> think hard",
                              channel_id=discord_world["general"])
    await until(lambda: bool(fake.replies_to(int(question["id"]))), 20, "the status line")

    async def visible() -> bool:
        return any(entry.visible for entry in await journal(store, "discord"))

    await until(visible, 10, "the journal to know the status line is shown")
    await discord_bot.kill()
    assert fake.replies_to(int(question["id"]))[0]["content"].startswith("-# Thinking…")

    await start_discord(discord_bot, fake)
    stopped = "⚠️ " + sentences.STOPPED_BEFORE_ANSWER
    await until(lambda: [m["content"] for m in fake.replies_to(int(question["id"]))] == [stopped], 10,
                f"the stopped sentence in place of the status:\n{discord_bot.output()}")
