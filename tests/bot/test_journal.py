"""The journal of answers in progress, as the core keeps it, and recovery from a killed process."""

from __future__ import annotations

import asyncio
import json

from bot import journal
from bot.core import ConversationCore, Outcome
from bot.memory import Unfinished
from bot.types import Author, ConversationKey, Incoming
from tests.bot.memory.backends import postgres_backend
from tests.conftest import RecordingReply
from tests.fakes.qwen import FakeQwen, Script
from tests.waiting import until

KEY = ConversationKey("slack", "T1", "C1", "100.1")
ANN = Author("u1", "Ann")


def question(text: str = "hello", message_id: str = "100.2") -> Incoming:
    return Incoming(KEY, message_id, ANN, text)


class PlacedReply(RecordingReply):
    """A reply that, like the platform adapters, reports where it is once its text is visible."""

    def where(self) -> dict[str, object]:
        return {"channel": "C1", "shown": bool(self.partials)}

    async def partial(self, text: str) -> None:
        first = not self.partials
        await super().partial(text)
        if first:
            await self.moved()


async def entries(core: ConversationCore) -> list[Unfinished]:
    return await core.store.unfinished("slack", not_owner="")


async def test_an_answer_under_way_is_journaled_with_where_it_is_shown(core, qwen: FakeQwen):
    qwen.queue(Script(text="one two three four", delay=0.3))
    task = asyncio.create_task(core.handle(question(), PlacedReply()))
    await until(lambda: _visible(core), 5, "the answer to be shown")
    [entry] = await entries(core)
    assert (entry.key, entry.message_id, entry.owner) == (KEY, "100.2", core.owner)
    assert json.loads(entry.place) == {"channel": "C1", "shown": True} and entry.text.startswith("one")
    assert await task is Outcome.ANSWERED


async def _visible(core: ConversationCore) -> bool:
    return any(e.visible for e in await entries(core))


async def test_the_journal_entry_is_gone_once_the_answer_ends(core, qwen: FakeQwen):
    await core.handle(question(), PlacedReply())
    assert await entries(core) == []


async def test_a_failed_answer_leaves_no_journal_entry(core, qwen: FakeQwen):
    qwen.queue(Script(status=500, error_code="internal"))
    reply = PlacedReply()
    assert await core.handle(question(), reply) is Outcome.FAILED
    assert await entries(core) == []


async def test_an_unfinished_answer_is_finished_and_its_text_remembered(make_settings, qwen: FakeQwen):
    dead = await ConversationCore.start(make_settings())
    await dead.store.add_turn(KEY, dead._user_turn(question(), "hello"))
    entry_id = await dead.store.begin_answer(KEY, "100.2", dead.owner, 0, '{"channel":"C1"}')
    await dead.store.save_answer(entry_id, place='{"ts":"9"}', text="Half an ans")
    await dead.close()

    core = await ConversationCore.start(make_settings())
    finished: list[Unfinished] = []

    async def finish(entry: Unfinished) -> None:
        finished.append(entry)

    assert await core.recover("slack", finish) == 1
    assert [(e.place, e.text, e.visible) for e in finished] == [('{"ts":"9"}', "Half an ans", True)]
    turns = (await core.store.load(KEY)).turns
    assert [(t.role, t.text) for t in turns] == [("user", "hello"), ("assistant", "Half an ans")]
    assert await entries(core) == []
    await core.close()


async def test_an_answer_the_platform_could_not_finish_is_kept_for_the_next_start(make_settings):
    core = await ConversationCore.start(make_settings())
    await core.store.begin_answer(KEY, "100.2", "a dead process", 0)

    async def unreachable(entry: Unfinished) -> None:
        raise ConnectionError("Slack is down")

    assert await core.recover("slack", unreachable) == 0
    assert len(await entries(core)) == 1
    await core.close()


async def test_a_process_does_not_recover_its_own_answers(core, qwen: FakeQwen):
    await core.store.begin_answer(KEY, "100.2", core.owner, 0)
    called: list[Unfinished] = []

    async def finish(entry: Unfinished) -> None:
        called.append(entry)

    assert await core.recover("slack", finish) == 0
    assert called == []


async def test_a_live_replica_s_answer_is_never_taken_over(make_settings, qwen: FakeQwen):
    async with postgres_backend() as pg:
        live = await ConversationCore.start(make_settings(database_url=pg.url))
        other = await ConversationCore.start(make_settings(database_url=pg.url))
        qwen.queue(Script(text="a slow but living answer", delay=0.2))
        answering = asyncio.create_task(live.handle(question(), PlacedReply()))
        await until(lambda: _visible(live), 5, "the live answer to be shown")
        taken: list[Unfinished] = []

        async def finish(entry: Unfinished) -> None:
            taken.append(entry)

        # The other replica waits for the conversation, finds the answer finished by its owner.
        assert await other.recover("slack", finish) == 0
        assert taken == [] and await answering is Outcome.ANSWERED
        turns = (await other.store.load(KEY)).turns
        assert [t.text for t in turns] == ["hello", "a slow but living answer"]
        for core in (live, other):
            await core.close()


class HangingFinishReply(PlacedReply):
    """A platform whose last write hangs (say, a final edit rate-limited for minutes)."""

    async def finish(self, text: str) -> None:
        await asyncio.sleep(3600)


async def test_an_answer_whose_last_write_hangs_at_shutdown_is_remembered_and_left_to_recover(
    core, qwen: FakeQwen
):
    qwen.queue(Script(text=" ".join(f"w{i}" for i in range(20))))
    reply = HangingFinishReply()
    task = asyncio.create_task(core.handle(question(), reply))
    await until(lambda: bool(reply.partials), 5, "the answer to be shown")
    await asyncio.sleep(0.3)  # the model is done; the final write hangs
    await core.stop(grace=0)
    assert task.done()
    turns = (await core.store.load(KEY)).turns
    assert [t.role for t in turns] == ["user", "assistant"] and turns[1].text.startswith("w0")
    [entry] = await entries(core)  # for the next start to close the message left open
    assert entry.text == turns[1].text


async def test_a_process_killed_after_its_final_write_leaves_the_whole_text(
    core, qwen: FakeQwen, monkeypatch
):
    full = " ".join(f"w{i}" for i in range(40))
    qwen.queue(Script(text=full, delay=0.02))

    async def killed_before_the_entry_ends(entry_id: int) -> None:
        return None

    monkeypatch.setattr(core.store, "end_answer", killed_before_the_entry_ends)
    assert await core.handle(question(), PlacedReply()) is Outcome.ANSWERED
    [entry] = await entries(core)
    assert entry.text == full


async def test_recovery_leaves_an_answer_a_live_process_is_still_giving(core, monkeypatch):
    monkeypatch.setattr(journal, "LOCK_WAIT", 0.2)
    entry_id = await core.store.begin_answer(KEY, "100.2", "another-process", 0, "")
    finished: list[int] = []

    async def finish(entry: Unfinished) -> None:
        finished.append(entry.id)

    async with core.conversation(KEY):  # as the live owner does while it answers
        assert await core.recover("slack", finish) == 0
    assert finished == [] and [e.id for e in await entries(core)] == [entry_id]
