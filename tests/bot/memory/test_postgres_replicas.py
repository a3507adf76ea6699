"""Several cores ("replicas") sharing one PostgreSQL database behave as one bot."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from bot.config import Settings
from bot.core import ConversationCore, Outcome
from bot.types import Author, ConversationKey, Incoming
from tests.bot.memory.backends import Backend
from tests.conftest import RecordingReply
from tests.fakes.qwen import FakeQwen, Script, last_user_text

KEY = ConversationKey("slack", "T1", "C1")
ANN = Author("U1", "Ann")


def sent_texts(body: dict) -> list[str]:
    return [m["content"] for m in body["messages"] if isinstance(m["content"], str)]


@pytest.fixture
async def replicas(
    pg: Backend, make_settings: Callable[..., Settings]
) -> AsyncIterator[list[ConversationCore]]:
    cores = [await ConversationCore.start(make_settings(database_url=pg.url)) for _ in range(2)]
    yield cores
    for core in cores:
        await core.close()


async def test_one_conversation_split_across_replicas_is_answered_in_turn(
    replicas: list[ConversationCore], qwen: FakeQwen
) -> None:
    qwen.responder = lambda body: Script(text=f"answer to {last_user_text(body)}", delay=0.01)
    messages = [Incoming(KEY, f"m{i}", ANN, f"q{i}") for i in range(6)]

    outcomes = await asyncio.gather(
        *(replicas[i % 2].handle(m, RecordingReply()) for i, m in enumerate(messages))
    )

    assert outcomes == [Outcome.ANSWERED] * len(messages)
    assert qwen.max_in_flight == 1
    # Whichever replica went next saw every earlier question and answer, in order.
    seen: list[str] = []
    for body in qwen.chat_requests:
        question = last_user_text(body)
        assert sent_texts(body)[1:] == [*seen, question]
        seen += [question, f"answer to {question}"]


async def test_a_message_delivered_to_two_replicas_is_answered_once(
    replicas: list[ConversationCore], qwen: FakeQwen
) -> None:
    qwen.responder = lambda body: Script(text="only once", delay=0.01)
    message = Incoming(KEY, "m1", ANN, "hello")

    outcomes = await asyncio.gather(*(core.handle(message, RecordingReply()) for core in replicas))

    assert sorted(outcomes) == sorted([Outcome.ANSWERED, Outcome.DUPLICATE])
    assert len(qwen.chat_requests) == 1


async def test_an_event_is_claimed_by_one_replica_only(replicas: list[ConversationCore]) -> None:
    claims = await asyncio.gather(*(core.claim_event("slack", "Ev1") for core in replicas))

    assert sorted(claims) == [False, True]


async def test_a_daily_budget_used_on_one_replica_refuses_on_the_other(
    pg: Backend, make_settings: Callable[..., Settings], qwen: FakeQwen
) -> None:
    cores = [await ConversationCore.start(make_settings(database_url=pg.url, daily_tokens_per_user=5))
             for _ in range(2)]
    try:
        assert await cores[0].handle(Incoming(KEY, "m1", ANN, "hello"), RecordingReply()) is Outcome.ANSWERED
        reply = RecordingReply()

        elsewhere = ConversationKey("slack", "T1", "C2")
        outcome = await cores[1].handle(Incoming(elsewhere, "m2", ANN, "hi"), reply)
    finally:
        for core in cores:
            await core.close()

    assert outcome is Outcome.OVER_BUDGET
    assert reply.failure is not None
    assert reply.failure.startswith("You've used your daily budget of 5 tokens; it resets at 00:00 UTC, in ")
    assert len(qwen.chat_requests) == 1


async def test_the_per_user_rate_limit_is_shared_and_told_once(
    pg: Backend, make_settings: Callable[..., Settings]
) -> None:
    cores = [await ConversationCore.start(make_settings(database_url=pg.url, user_rate_limit=1))
             for _ in range(2)]
    try:
        outcomes = [await cores[i % 2].handle(Incoming(KEY, f"m{i}", ANN, "hi"), RecordingReply())
                    for i in range(3)]
    finally:
        for core in cores:
            await core.close()

    assert outcomes == [Outcome.ANSWERED, Outcome.RATE_LIMITED, Outcome.RATE_LIMITED_AGAIN]


async def test_a_flood_from_one_user_across_replicas_is_answered_no_more_often_than_the_limit(
    pg: Backend, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(database_url=pg.url, user_rate_limit=6)
    cores = [await ConversationCore.start(settings) for _ in range(2)]
    try:
        # Each message in a channel of its own, so only the limit holds them back.
        messages = [Incoming(ConversationKey("slack", "T1", f"C{i}"), f"m{i}", ANN, "hi") for i in range(40)]

        outcomes = await asyncio.gather(
            *(cores[i % 2].handle(m, RecordingReply()) for i, m in enumerate(messages)))

        assert (outcomes.count(Outcome.ANSWERED), outcomes.count(Outcome.RATE_LIMITED)) == (6, 1)
    finally:
        for core in cores:
            await core.close()
