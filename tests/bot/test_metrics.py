"""What the core counts and times: outcomes, latencies, model calls, tokens, summaries, duplicates."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator

from bot.core import ConversationCore, Outcome
from bot.metrics import MeteredReply
from bot.slots import CallSlots
from bot.types import Author, ConversationKey, Incoming
from tests.conftest import RecordingReply
from tests.fakes.qwen import FakeQwen, Script
from tests.scrape import now
from tests.waiting import until

KEY = ConversationKey("discord", "guild1", "general")
_ids = iter(range(1, 1_000_000))


def message(text: str, message_id: str | None = None) -> Incoming:
    return Incoming(KEY, message_id or f"metrics-{next(_ids)}", Author("u1", "Ann"), text)


@contextlib.contextmanager
def growth(name: str, **labels: str) -> Iterator[Callable[[], float]]:
    """How much one sample grows within the block (the registry is shared by every test)."""
    start = now(name, **labels)
    yield lambda: now(name, **labels) - start


async def test_an_answer_is_counted_by_platform_and_outcome(core: ConversationCore):
    with growth("qwenbot_answers_total", platform="discord", outcome="answered") as answered:
        assert await core.handle(message("hello"), RecordingReply()) is Outcome.ANSWERED
    assert answered() == 1


async def test_an_answers_tokens_are_counted_by_model(core: ConversationCore, qwen: FakeQwen):
    qwen.queue(Script(text="one two three", prompt_tokens=42))
    with growth("qwenbot_tokens_total", model="qwen-max", kind="prompt") as prompt, \
            growth("qwenbot_tokens_total", model="qwen-max", kind="completion") as completion:
        await core.handle(message("hello"), RecordingReply())
    assert (prompt(), completion()) == (42, 3)


async def test_an_answer_records_its_first_and_final_text_and_the_models_first_token(core: ConversationCore):
    with growth("qwenbot_first_text_seconds_count", platform="discord") as first, \
            growth("qwenbot_final_text_seconds_count", platform="discord") as final, \
            growth("qwenbot_model_first_token_seconds_count", model="qwen-max") as token:
        await core.handle(message("hello"), RecordingReply())
    assert (first(), final(), token()) == (1, 1, 1)


async def test_a_model_failure_is_counted_by_kind_and_shows_no_answer_text(core: ConversationCore,
                                                                          qwen: FakeQwen):
    qwen.queue(Script(status=429, error_code="Throttling"))
    with growth("qwenbot_model_errors_total", model="qwen-max", kind="rate_limited") as errors, \
            growth("qwenbot_answers_total", platform="discord", outcome="failed") as failed, \
            growth("qwenbot_final_text_seconds_count", platform="discord") as final:
        assert await core.handle(message("hello"), RecordingReply()) is Outcome.FAILED
    assert (errors(), failed(), final()) == (1, 1, 0)


async def test_a_stream_broken_after_some_text_is_counted_as_interrupted(core: ConversationCore,
                                                                        qwen: FakeQwen):
    qwen.queue(Script(text="one two three four", cut_after=2))
    with growth("qwenbot_model_errors_total", model="qwen-max", kind="interrupted") as interrupted:
        assert await core.handle(message("hello"), RecordingReply()) is Outcome.ANSWERED
    assert interrupted() == 1


async def test_a_message_stored_already_is_counted_as_a_dropped_duplicate(core: ConversationCore):
    await core.handle(message("hello", message_id="same"), RecordingReply())
    with growth("qwenbot_duplicate_events_total", platform="discord") as duplicates, \
            growth("qwenbot_answers_total", platform="discord", outcome="duplicate") as outcome:
        assert await core.handle(message("hello", message_id="same"), RecordingReply()) is Outcome.DUPLICATE
    assert (duplicates(), outcome()) == (1, 1)


class LateWriter(RecordingReply):
    """Like Discord: `partial` only records the text; a writer shows it later and reports the write."""

    async def write(self) -> None:
        await self.moved()


class Clock:
    def __init__(self) -> None:
        self.time = 100.0

    def __call__(self) -> float:
        return self.time


async def test_first_text_is_timed_at_the_adapters_first_write_when_it_reports_writes():
    clock, inner = Clock(), LateWriter()
    reply = MeteredReply(inner, "timing-late", clock=clock)
    with growth("qwenbot_first_text_seconds_sum", platform="timing-late") as first, \
            growth("qwenbot_final_text_seconds_sum", platform="timing-late") as final:
        clock.time += 1
        await reply.partial("one")  # handed over, not yet shown
        clock.time += 2
        await inner.write()  # shown
        clock.time += 4
        await reply.finish("one two")
        reply.settle(Outcome.ANSWERED)
    assert (first(), final()) == (3, 7)


async def test_first_text_is_timed_when_partial_returns_for_an_adapter_that_reports_no_writes():
    clock, inner = Clock(), RecordingReply()
    reply = MeteredReply(inner, "timing-direct", clock=clock)
    with growth("qwenbot_first_text_seconds_sum", platform="timing-direct") as first:
        clock.time += 1.5
        await reply.partial("one")
        clock.time += 1
        await reply.finish("one two")
        reply.settle(Outcome.ANSWERED)
    assert first() == 1.5


async def test_a_failure_sentence_is_not_timed_as_answer_text():
    inner = LateWriter()
    reply = MeteredReply(inner, "timing-failed")
    with growth("qwenbot_first_text_seconds_count", platform="timing-failed") as first:
        await reply.fail("the model is down")
        await inner.write()
        reply.settle(Outcome.FAILED)
    assert first() == 0


async def test_the_journal_still_hears_of_every_write_through_the_metered_reply():
    inner, heard = LateWriter(), []
    reply = MeteredReply(inner, "timing-watch")

    async def watcher() -> None:
        heard.append(True)

    reply.watch(watcher)
    await reply.partial("one")
    await inner.write()
    assert heard == [True]


async def test_slot_gauges_show_calls_in_flight_and_waiting():
    slots = CallSlots(limit=1, stall_grace=60)
    with growth("qwenbot_model_calls_in_flight") as in_flight, \
            growth("qwenbot_model_calls_waiting") as waiting:
        async with slots.call():
            queued = asyncio.create_task(_take(slots))
            await until(lambda: slots.waiting == 1, message="a waiting call")
            assert (in_flight(), waiting()) == (1, 1)
        await queued
        assert (in_flight(), waiting()) == (0, 0)


async def _take(slots: CallSlots) -> None:
    async with slots.call():
        pass


async def test_a_summary_run_is_counted_as_done(make_settings, qwen: FakeQwen):
    with growth("qwenbot_summaries_total", outcome="done") as done:
        await _outgrow(make_settings, qwen, summary=Script(text="SUMMARY: Ann likes kites."))
    assert done() >= 1


async def test_a_failed_summary_is_counted_as_failed(make_settings, qwen: FakeQwen):
    with growth("qwenbot_summaries_total", outcome="failed") as failed:
        await _outgrow(make_settings, qwen, summary=Script(status=500))
    assert failed() >= 1


async def _outgrow(make_settings: Callable[..., object], qwen: FakeQwen, summary: Script) -> None:
    """Talk until the conversation outgrows a small budget and a summary has been tried."""
    core = await ConversationCore.start(make_settings(max_context_tokens=400))  # type: ignore[arg-type]
    qwen.responder = lambda body: summary if not body.get("stream") else Script(text="ok " * 20)
    try:
        for i in range(12):
            await core.handle(message(f"fact {i}: " + "kite " * 30), RecordingReply())
        await until(lambda: any(not r.get("stream") for r in qwen.requests), message="a summary request")
        await core.summaries.idle()
    finally:
        await core.close()
