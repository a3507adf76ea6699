"""Daily token budgets: refused with one sentence naming the budget and its reset, no model call."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest

from bot import sentences
from bot.budgets import duration, until_reset
from bot.commands import find
from bot.config import Settings
from bot.core import ConversationCore, Outcome
from bot.types import Author, ConversationKey, Incoming
from bot.usage import today
from tests.conftest import RecordingReply
from tests.fakes.qwen import FakeQwen

KEY = ConversationKey("discord", "guild1", "general")
OTHER_CHANNEL = ConversationKey("discord", "guild1", "random")
SLACK = ConversationKey("slack", "T1", "C1")
DM = ConversationKey("discord", "dm", "d1")
ANN = Author("u1", "Ann")
BO = Author("u2", "Bo")

_ids = iter(range(1, 1_000_000))


def message(text: str = "hello", key: ConversationKey = KEY, author: Author = ANN) -> Incoming:
    return Incoming(key, f"m{next(_ids)}", author, text)


@pytest.fixture
async def capped(make_settings: Callable[..., Settings]) -> AsyncIterator[Callable[..., ConversationCore]]:
    """Cores with the given caps (e.g. daily_tokens_per_user=1000), closed afterwards."""
    started: list[ConversationCore] = []

    async def start(**caps: object) -> ConversationCore:
        core = await ConversationCore.start(make_settings(**caps))
        started.append(core)
        return core

    yield start  # type: ignore[misc]
    for core in started:
        await core.close()


async def spend(
    core: ConversationCore, key: ConversationKey, author: Author, tokens: int, day: str = ""
) -> None:
    await core.store.add_usage(key, author.id, tokens // 2, tokens - tokens // 2, day or today())


def refused(sentence: str, **fields: object) -> str:
    """The sentence up to the reset time, which depends on the clock."""
    return sentence.format(wait="", **fields).rstrip(".")


async def test_a_user_over_their_budget_is_told_so_and_no_model_is_called(capped, qwen: FakeQwen):
    core = await capped(daily_tokens_per_user=1000)
    await spend(core, OTHER_CHANNEL, ANN, 1000)
    reply = RecordingReply()

    assert await core.handle(message(), reply) is Outcome.OVER_BUDGET

    assert reply.failure is not None
    assert reply.failure.startswith(refused(sentences.OVER_USER_BUDGET, limit=1000))
    assert qwen.chat_requests == []


async def test_a_refused_message_is_still_remembered(capped):
    core = await capped(daily_tokens_per_user=10)
    await spend(core, KEY, ANN, 10)

    await core.handle(message("remember me"), RecordingReply())

    assert [t.text for t in (await core.store.load(KEY)).turns] == ["remember me"]


async def test_under_the_budget_the_message_is_answered(capped):
    core = await capped(daily_tokens_per_user=1000)
    await spend(core, KEY, ANN, 999)

    assert await core.handle(message(), RecordingReply()) is Outcome.ANSWERED


async def test_the_answers_own_usage_counts_against_the_budget(capped, qwen: FakeQwen):
    core = await capped(daily_tokens_per_conversation=5)
    assert await core.handle(message(), RecordingReply()) is Outcome.ANSWERED
    reply = RecordingReply()

    assert await core.handle(message(author=BO), reply) is Outcome.OVER_BUDGET
    assert reply.failure is not None
    assert reply.failure.startswith(refused(sentences.OVER_CONVERSATION_BUDGET, limit=5))
    assert len(qwen.chat_requests) == 1


async def test_the_conversation_budget_leaves_other_conversations_alone(capped):
    core = await capped(daily_tokens_per_conversation=100)
    await spend(core, KEY, BO, 100)

    assert await core.handle(message(key=OTHER_CHANNEL), RecordingReply()) is Outcome.ANSWERED
    assert await core.handle(message(key=KEY), RecordingReply()) is Outcome.OVER_BUDGET


async def test_a_servers_budget_counts_every_channel_and_user_in_it(capped):
    core = await capped(daily_tokens_per_space=100)
    await spend(core, OTHER_CHANNEL, BO, 100)
    reply = RecordingReply()

    assert await core.handle(message(), reply) is Outcome.OVER_BUDGET
    assert reply.failure is not None
    assert reply.failure.startswith(refused(sentences.OVER_SPACE_BUDGET, limit=100, space="server"))


async def test_on_slack_the_space_is_called_a_workspace(capped):
    core = await capped(daily_tokens_per_space=100)
    await spend(core, SLACK, BO, 100)
    reply = RecordingReply()

    await core.handle(message(key=SLACK), reply)

    assert reply.failure is not None
    assert reply.failure.startswith("This workspace has used its daily budget of 100 tokens")


async def test_direct_messages_belong_to_no_servers_budget(capped):
    core = await capped(daily_tokens_per_space=100)
    await spend(core, ConversationKey("discord", "dm", "d2"), BO, 100)

    assert await core.handle(message(key=DM), RecordingReply()) is Outcome.ANSWERED


async def test_the_askers_own_budget_is_named_first(capped):
    core = await capped(daily_tokens_per_user=10, daily_tokens_per_conversation=10, daily_tokens_per_space=10)
    await spend(core, KEY, ANN, 10)
    reply = RecordingReply()

    await core.handle(message(), reply)

    assert reply.failure is not None
    assert reply.failure.startswith(refused(sentences.OVER_USER_BUDGET, limit=10))


async def test_yesterdays_usage_does_not_count(capped):
    core = await capped(daily_tokens_per_user=10)
    await spend(core, KEY, ANN, 1000, day="2000-01-01")

    assert await core.handle(message(), RecordingReply()) is Outcome.ANSWERED


async def test_a_refusal_just_before_midnight_counts_that_days_usage_and_says_the_reset_is_near(capped):
    # The day read and the time to the reset come from one instant: read apart, a message
    # refused on the day's last usage could be told the reset is 24 h away.
    core = await capped(daily_tokens_per_user=10)
    await spend(core, KEY, ANN, 10, day="2026-03-01")
    core.commands.budgets.clock = lambda: datetime(2026, 3, 1, 23, 59, 30, tzinfo=UTC)
    reply = RecordingReply()

    assert await core.handle(message(), reply) is Outcome.OVER_BUDGET
    assert reply.failure == sentences.OVER_USER_BUDGET.format(limit=10, wait="1 min")


async def test_past_midnight_the_previous_days_usage_no_longer_counts(capped):
    core = await capped(daily_tokens_per_user=10)
    await spend(core, KEY, ANN, 10, day="2026-03-01")
    core.commands.budgets.clock = lambda: datetime(2026, 3, 2, 0, 0, 1, tzinfo=UTC)

    assert await core.handle(message(), RecordingReply()) is Outcome.ANSWERED


async def test_without_caps_nothing_is_refused(capped):
    core = await capped()
    await spend(core, KEY, ANN, 10_000_000)

    assert await core.handle(message(), RecordingReply()) is Outcome.ANSWERED


async def test_a_budget_holds_across_a_restart(capped):
    first = await capped(daily_tokens_per_user=5)
    assert await first.handle(message(), RecordingReply()) is Outcome.ANSWERED
    await first.close()

    second = await capped(daily_tokens_per_user=5)
    assert await second.handle(message(), RecordingReply()) is Outcome.OVER_BUDGET


async def test_usage_shows_what_is_left_of_each_budget(capped):
    core = await capped(daily_tokens_per_user=1000, daily_tokens_per_space=50_000)
    await spend(core, KEY, ANN, 400)
    usage = find("usage")
    assert usage is not None

    text = await core.commands.run(usage, "", KEY, ANN.id)

    last = text.splitlines()[-1]
    assert last.startswith("Daily budgets left: yours 600 of 1,000 tokens; this server's 49,600 of 50,000;")
    assert "conversation's" not in last


async def test_usage_without_caps_shows_no_budgets(capped):
    core = await capped()
    usage = find("usage")
    assert usage is not None

    text = await core.commands.run(usage, "", KEY, ANN.id)

    assert "budget" not in text.lower()


def test_budgets_reset_at_the_next_utc_midnight():
    left = until_reset(datetime(2026, 3, 1, 18, 48, 0, tzinfo=UTC))

    assert duration(left) == "5 h 12 min"


def test_the_time_to_the_reset_is_rounded_up_to_a_minute():
    assert duration(until_reset(datetime(2026, 3, 1, 23, 59, 30, tzinfo=UTC))) == "1 min"
    assert duration(until_reset(datetime(2026, 3, 1, 23, 20, 0, tzinfo=UTC))) == "40 min"
    assert duration(until_reset(datetime(2026, 3, 1, 0, 0, 0, tzinfo=UTC))) == "24 h"


@pytest.mark.parametrize("value", ["0", "-5", "many"])
def test_a_budget_must_be_a_positive_number_of_tokens(make_settings, value: str):
    with pytest.raises(ValueError, match="daily_tokens_per_user"):
        make_settings(daily_tokens_per_user=value)


def test_an_empty_budget_setting_means_no_cap(make_settings):
    assert make_settings(daily_tokens_per_user="").daily_tokens_per_user is None
