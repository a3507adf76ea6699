"""RETENTION_DAYS: the background sweep that deletes what is older, without holding up answers."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import pytest

from bot.core import ConversationCore
from bot.memory import MemoryStore, Turn, open_store
from bot.memory.retention import Purged
from bot.retention import DAY, Sweeper, cutoff
from bot.types import Author, ConversationKey, Incoming
from tests.conftest import RecordingReply
from tests.fakes.qwen import FakeQwen, Script
from tests.waiting import until

KEY = ConversationKey("discord", "g1", "c1")


@pytest.fixture
async def store(tmp_path) -> AsyncIterator[MemoryStore]:
    opened = await open_store(f"sqlite:///{tmp_path / 'memory.db'}")
    yield opened
    await opened.close()


def turn(text: str, age_days: float) -> Turn:
    return Turn("user", "u1", "Ann", text, 2, text, time.time() - age_days * DAY)


def test_the_cutoff_is_that_many_days_before_now():
    assert cutoff(30, now=100 * DAY) == 70 * DAY


def test_no_retention_setting_starts_no_sweeper(store: MemoryStore):
    assert Sweeper.start(store, None) is None


async def test_the_sweeper_deletes_turns_older_than_the_retention(store: MemoryStore):
    await store.add_turn(KEY, turn("old", 31))
    await store.add_turn(KEY, turn("new", 29))

    async def only_the_new_turn_is_left() -> bool:
        return [t.text for t in await store.turns_after(KEY, 0)] == ["new"]

    sweeper = Sweeper.start(store, 30, first=0, every=3600, pause=0)
    assert sweeper is not None
    try:
        await until(only_the_new_turn_is_left, message="the old turn to be deleted")
    finally:
        await sweeper.close()


class FailingOnce:
    """A store whose first purge fails, as a database that went away for a moment would."""

    def __init__(self) -> None:
        self.calls = 0

    async def purge(self, before: float, **_: object) -> Purged:
        self.calls += 1
        if self.calls == 1:
            raise ConnectionResetError("database went away")
        return Purged(messages=3)


async def test_a_failed_sweep_is_logged_and_the_next_one_still_runs(caplog: pytest.LogCaptureFixture):
    failing = FailingOnce()
    with caplog.at_level(logging.INFO, logger="bot.retention"):
        sweeper = Sweeper.start(failing, 30, first=0, every=0.01, pause=0)  # type: ignore[arg-type]
        assert sweeper is not None
        try:
            await until(lambda: failing.calls >= 2, message="a second sweep")
        finally:
            await sweeper.close()
    assert "retention sweep failed" in caplog.text
    assert "removed messages: 3" in caplog.text


async def test_a_sweep_says_how_much_it_removed(store: MemoryStore, caplog: pytest.LogCaptureFixture):
    await store.add_turn(KEY, turn("old", 40))
    with caplog.at_level(logging.INFO, logger="bot.retention"):
        purged = await Sweeper(store, 30, pause=0).sweep()
    assert purged.messages == 1
    assert "retention of 30 days: removed messages: 1" in caplog.text


class HeldReply(RecordingReply):
    """A reply whose first shown text waits for `go`: the answer is under way until the test says."""

    def __init__(self) -> None:
        super().__init__()
        self.showing = asyncio.Event()
        self.go = asyncio.Event()

    async def partial(self, text: str) -> None:
        self.showing.set()
        await self.go.wait()
        await super().partial(text)


async def test_a_purge_while_an_answer_streams_keeps_its_journal_and_its_turns(make_settings, qwen: FakeQwen):
    core = await ConversationCore.start(make_settings(retention_days=1))
    await core.store.add_turn(KEY, turn("old", 2))
    qwen.queue(Script(text="a slow answer"))
    reply = HeldReply()
    try:
        answering = asyncio.create_task(core.handle(Incoming(KEY, "m1", Author("u1", "Ann"), "hi"), reply))
        await reply.showing.wait()
        purged = await core.store.purge(cutoff(1))
        under_way = await core.store.unfinished("discord", not_owner="")
        reply.go.set()
        await answering
        kept = [t.text for t in await core.store.turns_after(KEY, 0)]
    finally:
        await core.close()
    assert (purged.messages, purged.journal) == (1, 0)
    assert [entry.message_id for entry in under_way] == ["m1"]
    assert kept == ["hi", "a slow answer"]
