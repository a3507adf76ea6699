"""The rolling summary: which turns fold, what the model is asked, and the background job end to end."""

import time

from bot.core import ConversationCore
from bot.memory import Turn
from bot.summary import summary_request, turns_to_fold
from bot.tokens import TokenCounter
from bot.types import Author, ConversationKey, Incoming
from tests.conftest import RecordingReply
from tests.fakes.qwen import FakeQwen, Script
from tests.waiting import until

counter = TokenCounter()
KEY = ConversationKey("discord", "guild1", "general")
ANN = Author("u1", "Ann")
_ids = iter(range(1, 1_000_000))


def message(text: str) -> Incoming:
    return Incoming(KEY, f"m{next(_ids)}", ANN, text)


def turn(i: int, text: str, role: str = "user", name: str = "Ann") -> Turn:
    return Turn(role, "u1" if role == "user" else "assistant", name, text, counter.count(text), id=i)  # type: ignore[arg-type]




def test_folding_keeps_about_half_the_budget_of_newest_turns():
    turns = [turn(i, "word " * 50) for i in range(1, 31)]
    fold = turns_to_fold(turns, budget=1000)
    kept = turns[len(fold):]
    assert fold and fold == turns[: len(fold)]
    kept_cost = sum(t.tokens for t in kept)
    assert 250 <= kept_cost <= 500


def test_nothing_to_fold_when_the_turns_fit_in_half_the_budget():
    assert turns_to_fold([turn(1, "hi"), turn(2, "there")], budget=1000) == []


def test_summary_request_carries_the_previous_summary_and_the_transcript():
    transcript = [turn(1, "I like dogs", name="Bo"), turn(2, "Noted", "assistant")]
    messages = summary_request("Earlier: cats.", transcript)
    assert "Earlier: cats." in messages[1]["content"]
    assert "Bo: I like dogs" in messages[1]["content"]
    assert "assistant: Noted" in messages[1]["content"]


async def test_an_outgrown_conversation_is_summarised_in_the_background(make_settings, qwen: FakeQwen):
    core = await ConversationCore.start(make_settings(max_context_tokens=400))
    qwen.responder = lambda body: (Script(text="SUMMARY: Ann likes kites.") if not body.get("stream")
                                   else Script(text="ok " * 20))
    try:
        for i in range(12):
            await core.handle(message(f"fact {i}: " + "kite " * 30), RecordingReply())
        await until(lambda: any(not r.get("stream") for r in qwen.requests), message="a summary request")
        await core.summaries.idle()
        summary = await core.store.summary(KEY)
        assert summary.text == "SUMMARY: Ann likes kites."
        await core.handle(message("what do I like?"), RecordingReply())
    finally:
        await core.close()
    last = qwen.chat_requests[-1]["messages"]
    assert last[1]["content"].endswith("SUMMARY: Ann likes kites.")
    assert not any("fact 0:" in str(m["content"]) for m in last)


async def test_a_failed_summary_leaves_the_turns_as_they_were(make_settings, qwen: FakeQwen):
    core = await ConversationCore.start(make_settings(max_context_tokens=400))
    qwen.responder = lambda body: Script(status=500) if not body.get("stream") else Script(text="ok")
    try:
        for i in range(12):
            await core.handle(message(f"fact {i}: " + "kite " * 30), RecordingReply())
        await until(lambda: any(not r.get("stream") for r in qwen.requests), message="a summary request")
        await core.summaries.idle()
        stats = await core.store.stats(KEY)
        summary = await core.store.summary(KEY)
    finally:
        await core.close()
    assert summary.text == "" and summary.upto_turn_id == 0
    assert stats.turns == 24 and stats.summarised_turns == 0


async def test_a_reset_during_a_summary_keeps_old_words_out_of_memory(make_settings, qwen: FakeQwen):
    core = await ConversationCore.start(make_settings(max_context_tokens=400))
    qwen.responder = lambda body: (Script(text="SUMMARY", first_delay=0.3) if not body.get("stream")
                                   else Script(text="ok"))
    try:
        for i in range(12):
            await core.handle(message(f"fact {i}: " + "kite " * 30), RecordingReply())
        await until(lambda: any(not r.get("stream") for r in qwen.requests), message="a summary request")
        await core.commands.reset(KEY)
        await core.summaries.idle()
        summary = await core.store.summary(KEY)
    finally:
        await core.close()
    assert summary.text == ""




async def test_a_summary_rolled_from_one_of_old_turns_still_dates_from_them(make_settings, qwen: FakeQwen):
    core = await ConversationCore.start(make_settings(max_context_tokens=400))
    qwen.responder = lambda body: Script(text=f"SUMMARY {len(qwen.requests)}")
    old, recent = time.time() - 400 * 24 * 3600, time.time() - 3600

    async def add(*times: float) -> None:
        text = "kite " * 30
        for at in times:
            added = Turn("user", "u1", "Ann", text, counter.count(text), f"m{next(_ids)}", at)
            await core.store.add_turn(KEY, added)

    try:
        await add(old, *[recent] * 11)
        core.summaries.later(KEY)
        await core.summaries.idle()
        rolled_from = await core.store.summary(KEY)
        await add(*[recent] * 12)  # the next summary folds none of the old turns itself
        core.summaries.later(KEY)
        await core.summaries.idle()
        rolled = await core.store.summary(KEY)
    finally:
        await core.close()
    assert rolled_from.oldest_at == old
    assert rolled.upto_turn_id > rolled_from.upto_turn_id and rolled.text != rolled_from.text
    assert rolled.oldest_at == old
