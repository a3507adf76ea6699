"""Two `qwenbot slack` processes in HTTP mode on one PostgreSQL database, as behind a load balancer.

Slack retries an event it thinks went unanswered, and a load balancer may hand the retry to the
other replica while the first is still answering: whichever replica gets an event, each message
is answered once, with one model call, and a conversation whose messages land on different
replicas in turn keeps its order and context.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.fakes.qwen import FakeQwen, Script
from tests.fakes.slack import FakeSlack
from tests.replicas.conftest import DM, GENERAL, SlackReplica
from tests.waiting import until


def numbered_answers(qwen: FakeQwen) -> None:
    """The model answers "answer N" to the Nth question it is asked."""
    qwen.responder = lambda body: Script(text=f"answer {len(qwen.chat_requests)}", delay=0.01)


def conversation(body: dict[str, Any]) -> list[str]:
    """What the model was sent, persona left out: the remembered turns, then the question."""
    return [m["content"] for m in body["messages"] if m["role"] != "system"]


async def answered(slack: FakeSlack, channel: str, thread: str | None, count: int) -> None:
    """Wait until the bot's `count`th message there shows "answer {count}" in full."""
    def shown() -> bool:
        messages = slack.bot_messages(channel, thread)
        return len(messages) >= count and messages[count - 1].visible == f"answer {count}"

    await until(shown, 20, lambda: f"answer {count}; the bot wrote {slack.texts(channel, thread)}")


async def test_a_mention_delivered_to_both_replicas_gets_one_reply_and_one_model_call(
        slack: FakeSlack, qwen: FakeQwen, slack_replicas: list[SlackReplica]):
    numbered_answers(qwen)
    mention = slack.mention("hello")  # Slack sends app_mention and message for one mention
    thread = mention[0]["ts"]
    deliveries = await asyncio.gather(*(
        slack.deliver(event, event_id=f"Ev{n}", to=replica.url, retry_num=r or None)
        for n, event in enumerate(mention) for r, replica in enumerate(slack_replicas)))
    assert [d.status for d in deliveries] == [200] * 4
    await answered(slack, GENERAL, thread, 1)

    # Each replica takes a conversation's events in arrival order: once it has answered a later
    # message in the thread, it is done with the duplicates, and any second answer would be there.
    for n, replica in enumerate(slack_replicas, start=2):
        await slack.deliver(slack.message(f"next {n}", thread_ts=thread), to=replica.url)
        await answered(slack, GENERAL, thread, n)

    assert slack.texts(GENERAL, thread) == ["answer 1", "answer 2", "answer 3"]
    assert [conversation(body)[-1] for body in qwen.chat_requests] == ["Alice: hello", "Alice: next 2",
                                                                       "Alice: next 3"]


async def test_a_dm_sent_to_each_replica_in_turn_keeps_order_and_context(
        slack: FakeSlack, qwen: FakeQwen, slack_replicas: list[SlackReplica]):
    numbered_answers(qwen)
    questions = ["one", "two", "three", "four"]
    for n, question in enumerate(questions, start=1):
        replica = slack_replicas[(n - 1) % 2]  # A, B, A, B
        await slack.deliver(slack.message(question, channel=DM), to=replica.url)
        await answered(slack, DM, None, n)

    # Each replica's model call carried every earlier question and answer, whichever replica
    # handled them, in the order they happened.
    seen: list[str] = []
    for n, (question, body) in enumerate(zip(questions, qwen.chat_requests, strict=True), start=1):
        assert conversation(body) == [*seen, f"Alice: {question}"]
        seen += [f"Alice: {question}", f"answer {n}"]
    assert slack.texts(DM, None) == ["answer 1", "answer 2", "answer 3", "answer 4"]


async def test_a_dm_reaching_one_replica_while_the_other_answers_waits_for_that_answer(
        slack: FakeSlack, qwen: FakeQwen, slack_replicas: list[SlackReplica]):
    slow = " ".join(f"w{i}" for i in range(40))
    qwen.queue(Script(text=slow, delay=0.02), Script(text="answer 2"))
    a, b = slack_replicas
    await slack.deliver(slack.message("one", channel=DM), to=a.url)
    await until(lambda: len(qwen.chat_requests) == 1, 20, "A's model call")
    await slack.deliver(slack.message("two", channel=DM), to=b.url)  # while A is still streaming

    await answered(slack, DM, None, 2)
    _, second = qwen.chat_requests
    assert conversation(second) == ["Alice: one", slow, "Alice: two"]
    assert slack.texts(DM, None) == [slow, "answer 2"]
