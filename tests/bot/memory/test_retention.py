"""Deleting what is past the retention (`MemoryStore.purge`), on SQLite and PostgreSQL alike."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import cast

import pytest

from bot.memory import MemoryStore, Summary, Turn, places, postgres, sql, sqlite
from bot.memory.retention import usage_day
from bot.types import ConversationKey
from tests.bot.memory.backends import Backend

CHANNEL = ConversationKey("discord", "guild-1", "general")
OTHER = ConversationKey("slack", "T1", "C1")
DAY = 24 * 3600
NOW = time.time()
CUTOFF = NOW - 30 * DAY
OLD = NOW - 40 * DAY
RECENT = NOW - 1 * DAY


def turn(text: str, created_at: float, message_id: str | None = None) -> Turn:
    return Turn("user", "u1", "Ann", text, 3, message_id or text, created_at)


async def texts(store: MemoryStore, key: ConversationKey = CHANNEL) -> list[str]:
    return [t.text for t in await store.turns_after(key, 0)]


async def test_turns_older_than_the_cutoff_go_and_newer_ones_stay(store: MemoryStore):
    await store.add_turn(CHANNEL, turn("old", OLD))
    await store.add_turn(CHANNEL, turn("new", RECENT))
    await store.add_turn(OTHER, turn("old elsewhere", OLD))

    purged = await store.purge(CUTOFF)

    assert purged.messages == 2
    assert await texts(store) == ["new"]
    assert await texts(store, OTHER) == []


async def test_every_old_turn_goes_however_many_batches_it_takes(store: MemoryStore):
    for n in range(7):
        await store.add_turn(CHANNEL, turn(f"old {n}", OLD + n))
    await store.add_turn(CHANNEL, turn("new", RECENT))

    purged = await store.purge(CUTOFF, batch=2)

    assert purged.messages == 7
    assert await texts(store) == ["new"]


async def test_a_purge_with_nothing_to_remove_counts_zero_of_each_kind(store: MemoryStore):
    await store.add_turn(CHANNEL, turn("new", RECENT))
    purged = await store.purge(CUTOFF)
    assert purged.total == 0
    assert set(purged.counts()) == {"messages", "summaries", "usage rows", "event claims",
                                    "unfinished answers", "votes", "viewed channels"}


async def test_a_summary_of_old_turns_only_is_cleared_with_them(store: MemoryStore):
    first = await store.add_turn(CHANNEL, turn("old a", OLD))
    folded = await store.add_turn(CHANNEL, turn("old b", OLD + 1))
    assert first is not None and folded is not None
    assert await store.replace_summary(CHANNEL, Summary(), Summary("Ann likes tea.", folded.id, 0, OLD))
    await store.add_turn(CHANNEL, turn("new", RECENT))

    purged = await store.purge(CUTOFF)

    assert (purged.summaries, purged.messages) == (1, 2)
    snapshot = await store.load(CHANNEL)
    assert snapshot.summary.text == ""
    assert [t.text for t in snapshot.turns] == ["new"]


async def summarised(store: MemoryStore, *texts_and_times: tuple[str, float]) -> Summary:
    """The turns given, all folded into one summary dated from the oldest of them."""
    stored = [await store.add_turn(CHANNEL, turn(text, at)) for text, at in texts_and_times]
    assert all(stored)
    oldest = min(at for _, at in texts_and_times)
    written = Summary("They talked.", stored[-1].id, 0, oldest)  # type: ignore[union-attr]
    assert await store.replace_summary(CHANNEL, Summary(), written)
    return await store.summary(CHANNEL)


async def test_a_summary_holding_words_past_the_cutoff_is_cleared_however_recent_its_newest_turn(
        store: MemoryStore):
    await summarised(store, ("old", OLD), ("recent, folded", RECENT))
    await store.add_turn(CHANNEL, turn("newest", RECENT + 1))

    purged = await store.purge(CUTOFF)

    assert (purged.summaries, purged.messages) == (1, 1)
    assert (await store.summary(CHANNEL)).text == ""


async def test_a_summary_whose_every_source_is_within_the_retention_stays(store: MemoryStore):
    await store.add_turn(OTHER, turn("old elsewhere", OLD))
    kept = await summarised(store, ("recent a", RECENT), ("recent b", RECENT + 1))
    await store.add_turn(CHANNEL, turn("newest", RECENT + 2))

    purged = await store.purge(CUTOFF)

    assert (purged.summaries, purged.messages) == (0, 1)
    snapshot = await store.load(CHANNEL)
    assert snapshot.summary == kept
    assert [t.text for t in snapshot.turns] == ["newest"]


async def test_the_folded_turns_within_the_retention_are_read_again_once_their_summary_is_cleared(
        store: MemoryStore):
    await summarised(store, ("old", OLD), ("recent a", RECENT), ("recent b", RECENT + 1))
    await store.add_turn(CHANNEL, turn("newest", RECENT + 2))

    await store.purge(CUTOFF)

    snapshot = await store.load(CHANNEL)
    assert [t.text for t in snapshot.turns] == ["recent a", "recent b", "newest"]
    within_budget = await store.load(CHANNEL, budget=10_000)
    assert [t.text for t in within_budget.turns] == ["recent a", "recent b", "newest"]
    after = await store.turns_after(CHANNEL, snapshot.summary.upto_turn_id)
    assert [t.text for t in after] == ["recent a", "recent b", "newest"]
    assert (await store.stats(CHANNEL)).summarised_turns == 0


async def test_a_summary_being_written_from_one_the_sweep_cleared_is_refused(store: MemoryStore):
    read = await summarised(store, ("old", OLD), ("recent, folded", RECENT))
    newer = await store.add_turn(CHANNEL, turn("newest", RECENT + 1))
    assert newer is not None
    await store.purge(CUTOFF)  # while the model writes a summary of `read` and the newest turn

    rolled = Summary("Old and new.", newer.id, read.version, RECENT)
    assert not await store.replace_summary(CHANNEL, read, rolled)
    snapshot = await store.load(CHANNEL)
    assert snapshot.summary.text == ""
    assert [t.text for t in snapshot.turns] == ["recent, folded", "newest"]


async def test_a_summary_rolled_from_another_keeps_the_older_ones_oldest_time(store: MemoryStore):
    first = await summarised(store, ("old", OLD), ("recent", RECENT))
    newer = await store.add_turn(CHANNEL, turn("newest", RECENT + 1))
    assert newer is not None

    # A writer that dates the new summary from its new turns alone does not make it younger.
    assert await store.replace_summary(CHANNEL, first, Summary("More.", newer.id, first.version, RECENT + 1))

    assert (await store.summary(CHANNEL)).oldest_at == OLD
    assert (await store.purge(CUTOFF)).summaries == 1


async def test_a_summary_computed_from_a_cleared_one_is_refused(store: MemoryStore):
    folded = await store.add_turn(CHANNEL, turn("old", OLD))
    assert folded is not None
    assert await store.replace_summary(CHANNEL, Summary(), Summary("Old news.", folded.id, 0, OLD))
    read_before = await store.summary(CHANNEL)  # a summariser read it, then the sweep ran
    await store.purge(CUTOFF)
    newer = await store.add_turn(CHANNEL, turn("new", RECENT))
    assert newer is not None

    assert not await store.replace_summary(CHANNEL, read_before, Summary("Old news. New.", newer.id))
    assert (await store.summary(CHANNEL)).text == ""


async def test_a_conversation_keeps_working_after_its_turns_are_purged(store: MemoryStore):
    await store.add_turn(CHANNEL, turn("old", OLD, "m1"))
    await store.purge(CUTOFF)
    added = await store.add_turn(CHANNEL, turn("again", NOW, "m2"))
    assert added is not None
    assert await texts(store) == ["again"]


async def test_usage_days_before_the_cutoffs_day_go_and_that_day_stays(store: MemoryStore):
    cutoff_day = usage_day(CUTOFF)
    await store.add_usage(CHANNEL, "u1", 10, 5, usage_day(OLD))
    await store.add_usage(CHANNEL, "u1", 20, 7, cutoff_day)
    await store.add_usage(CHANNEL, "u1", 1, 1, usage_day(NOW))

    purged = await store.purge(CUTOFF)

    assert purged.usage == 1
    report = await store.usage(CHANNEL, "u1", cutoff_day)
    assert report.conversation_total.prompt == 21
    assert report.conversation_today.prompt == 20


async def test_old_event_claims_go_so_the_event_could_be_claimed_again(store: MemoryStore):
    assert await store.claim_event("slack", "Ev1")
    purged = await store.purge(time.time() + 1)  # everything so far is "old"
    assert purged.events == 1
    assert await store.claim_event("slack", "Ev1")


async def test_recent_event_claims_stay(store: MemoryStore):
    assert await store.claim_event("slack", "Ev1")
    await store.purge(CUTOFF)
    assert not await store.claim_event("slack", "Ev1")


async def test_journal_entries_left_long_ago_go_and_recent_ones_stay(store: MemoryStore):
    left = await store.begin_answer(OTHER, "m1", "dead-process", 0)
    purged = await store.purge(time.time() + 1)
    assert purged.journal == 1
    assert await store.unfinished_entry(left) is None

    recent = await store.begin_answer(OTHER, "m2", "live-process", 0)
    await store.purge(CUTOFF)
    assert await store.unfinished_entry(recent) is not None


async def test_a_summary_of_turns_a_purge_deleted_meanwhile_is_refused(store: MemoryStore):
    await store.add_turn(CHANNEL, turn("Ann likes tea", OLD))
    await store.add_turn(CHANNEL, turn("Ann lives in Oslo", OLD + 1))
    read = await store.summary(CHANNEL)  # a summariser folds both, then waits for the model
    folded = await store.turns_after(CHANNEL, read.upto_turn_id)
    await store.purge(CUTOFF)

    written = Summary("Ann likes tea and lives in Oslo.", folded[-1].id, read.version)
    assert not await store.replace_summary(CHANNEL, read, written)
    assert (await store.summary(CHANNEL)).text == ""


def clock(monkeypatch: pytest.MonkeyPatch, now: float) -> None:
    """The store's clock, set to `now` (the rest of the process keeps the real one)."""
    for module in (sql, places):
        monkeypatch.setattr(module, "time", SimpleNamespace(time=lambda: now))


async def test_votes_cast_before_the_cutoff_go_and_later_ones_stay(
        store: MemoryStore, monkeypatch: pytest.MonkeyPatch):
    clock(monkeypatch, OLD)
    await store.vote(CHANNEL, "answer-1", "u1", 1)
    clock(monkeypatch, RECENT)
    await store.vote(CHANNEL, "answer-2", "u2", -1)

    purged = await store.purge(CUTOFF)

    assert purged.votes == 1
    assert await store.votes(CHANNEL) == (0, 1)


async def test_the_channel_a_user_viewed_is_forgotten_past_the_cutoff(
        store: MemoryStore, monkeypatch: pytest.MonkeyPatch):
    clock(monkeypatch, OLD)
    await store.remember_viewing("slack", "T1", "U1", "C1")
    clock(monkeypatch, RECENT)
    await store.remember_viewing("slack", "T1", "U2", "C2")

    purged = await store.purge(CUTOFF)

    assert purged.viewing == 1
    assert (await store.viewing("slack", "T1", "U1"), await store.viewing("slack", "T1", "U2")) == ("", "C2")


async def test_a_summary_from_before_the_upgrade_counts_as_old_as_its_conversation(
        backend: Backend, monkeypatch: pytest.MonkeyPatch):
    dialect = sqlite if backend.name == "sqlite" else postgres
    with monkeypatch.context() as upgrade:
        upgrade.setattr(dialect, "MIGRATIONS", dialect.MIGRATIONS[:-1])
        before = cast(sql.SQLStore, await backend.open())
        for key, created in ((CHANNEL, OLD), (OTHER, RECENT)):
            clock(upgrade, created)  # the conversation's creation
            added = await before.add_turn(key, turn("recent", RECENT))
            assert added is not None
            await before._execute("UPDATE conversations SET summary='Kept from before.', summary_upto=?"
                                  " WHERE id=?", (added.id, await before._conversation_id(key)))
        await before.close()
    upgraded = await backend.open()

    purged = await upgraded.purge(CUTOFF)

    assert purged.summaries == 1
    assert (await upgraded.summary(CHANNEL)).text == ""
    assert (await upgraded.summary(OTHER)).text == "Kept from before."
