"""The contract every memory backend keeps, run against SQLite and PostgreSQL alike.

Each test gets a database of its own (see backends.py); "replicas" are store instances on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

import asyncpg
import pytest

from bot.config import ConfigError
from bot.memory import (
    ConversationSettings,
    DailyTotals,
    MemoryStats,
    MemoryStore,
    Summary,
    Tokens,
    Turn,
    open_store,
)
from bot.memory import postgres as pg_backend
from bot.memory import sql as sql_backend
from bot.memory import sqlite as sqlite_backend
from bot.memory.pglocks import advisory_key
from bot.memory.postgres import PostgresStore
from bot.memory.sqlite import SQLiteStore
from bot.types import ChannelMode, ConversationKey
from tests.bot.memory.backends import PG_URL, Backend
from tests.waiting import until

CHANNEL = ConversationKey("discord", "guild-1", "general")
OTHER_CHANNEL = ConversationKey("discord", "guild-1", "random")
THREAD = ConversationKey("discord", "guild-1", "general", "thread-9")
SLACK_CHANNEL = ConversationKey("slack", "guild-1", "general")
OTHER_SPACE = ConversationKey("discord", "guild-2", "lobby")

DAY = "2025-03-01"
NEXT_DAY = "2025-03-02"


def user_turn(text: str, message_id: str | None = None, author: str = "u1", tokens: int = 3) -> Turn:
    return Turn("user", author, f"name-{author}", text, tokens, message_id)


def answer(text: str, tokens: int = 5) -> Turn:
    return Turn("assistant", "bot", "qwenbot", text, tokens)


# -- turns --------------------------------------------------------------------------------------

async def test_open_store_chooses_the_backend_the_url_names(backend: Backend, store: MemoryStore) -> None:
    assert isinstance(store, {"sqlite": SQLiteStore, "postgres": PostgresStore}[backend.name])


async def test_add_turn_returns_the_turn_with_its_id_and_time(store: MemoryStore) -> None:
    stored = await store.add_turn(CHANNEL, user_turn("hello", "m1"))

    assert stored is not None
    assert stored.id > 0
    assert stored.created_at > 0
    assert await store.turns_after(CHANNEL, 0) == [stored]


async def test_turns_persist_across_close_and_reopen(backend: Backend) -> None:
    first = await backend.open()
    stored = [await first.add_turn(CHANNEL, user_turn("question", "m1")),
              await first.add_turn(CHANNEL, answer("reply"))]
    await first.close()

    reopened = await backend.open()

    assert await reopened.turns_after(CHANNEL, 0) == stored
    assert await reopened.add_turn(CHANNEL, user_turn("again", "m1")) is None


async def test_a_duplicate_message_id_is_a_no_op(store: MemoryStore) -> None:
    original = await store.add_turn(CHANNEL, user_turn("first", "m1"))

    assert await store.add_turn(CHANNEL, user_turn("edited copy", "m1")) is None
    assert await store.turns_after(CHANNEL, 0) == [original]


async def test_a_message_is_stored_once_when_two_replicas_race(backend: Backend) -> None:
    replicas = [await backend.open(), await backend.open()]

    results = await asyncio.gather(
        *(replica.add_turn(CHANNEL, user_turn("hi", "m1")) for replica in replicas for _ in range(4))
    )

    assert len([r for r in results if r is not None]) == 1
    assert len(await replicas[0].turns_after(CHANNEL, 0)) == 1


async def test_turns_without_a_message_id_are_all_kept(store: MemoryStore) -> None:
    await store.add_turn(CHANNEL, answer("one"))
    await store.add_turn(CHANNEL, answer("one"))

    assert len(await store.turns_after(CHANNEL, 0)) == 2


async def test_message_ids_are_unique_within_a_conversation_only(store: MemoryStore) -> None:
    await store.add_turn(CHANNEL, user_turn("hi", "m1"))

    assert await store.add_turn(CHANNEL, user_turn("hi", "m1")) is None
    assert await store.add_turn(CHANNEL, user_turn("other", "m2")) is not None
    assert await store.add_turn(THREAD, user_turn("hi", "m1")) is not None


async def test_conversations_are_isolated(store: MemoryStore) -> None:
    keys = [CHANNEL, OTHER_CHANNEL, THREAD, SLACK_CHANNEL, OTHER_SPACE]
    for key in keys:
        # The same platform message id may occur in different conversations.
        assert await store.add_turn(key, user_turn(f"said in {key}", "m1")) is not None

    for key in keys:
        assert [t.text for t in await store.turns_after(key, 0)] == [f"said in {key}"]


async def test_turns_after_returns_later_turns_oldest_first(store: MemoryStore) -> None:
    stored = []
    for n in range(5):
        turn = await store.add_turn(CHANNEL, user_turn(f"turn {n}", f"m{n}"))
        assert turn is not None
        stored.append(turn)
        await store.add_turn(OTHER_CHANNEL, user_turn("interleaved", f"m{n}"))

    assert [t.id for t in stored] == sorted(t.id for t in stored)
    assert await store.turns_after(CHANNEL, stored[1].id) == stored[2:]
    assert await store.turns_after(CHANNEL, stored[-1].id) == []
    assert await store.turns_after(ConversationKey("discord", "x", "never-seen"), 0) == []


# -- load ---------------------------------------------------------------------------------------

async def test_load_returns_settings_summary_and_the_turns_after_the_summary(store: MemoryStore) -> None:
    await store.update_settings(CHANNEL, persona="a pirate", model="qwen-plus")
    first = await store.add_turn(CHANNEL, user_turn("old", "m1"))
    second = await store.add_turn(CHANNEL, user_turn("new", "m2"))
    assert first is not None and second is not None
    await store.replace_summary(CHANNEL, Summary(), Summary("they said old", first.id))

    snapshot = await store.load(CHANNEL)

    assert snapshot.settings == ConversationSettings("a pirate", "qwen-plus", ChannelMode.MENTION)
    assert snapshot.summary == Summary("they said old", first.id)
    assert snapshot.turns == (second,)


async def test_load_of_an_unknown_conversation_is_empty(store: MemoryStore) -> None:
    snapshot = await store.load(ConversationKey("discord", "x", "never-seen"))
    assert (snapshot.settings, snapshot.summary, snapshot.turns) == (ConversationSettings(), Summary(), ())


async def test_load_with_a_budget_reads_the_newest_turns_a_context_can_use_and_one_more(
    store: MemoryStore,
) -> None:
    # Each turn costs its 10 tokens plus 4 of framing; 30 tokens take the newest three (two
    # newer turns cost 28, under the budget) and stop before a fourth (three newer cost 42).
    stored = [await store.add_turn(CHANNEL, user_turn(f"t{i}", f"m{i}", tokens=10)) for i in range(6)]

    snapshot = await store.load(CHANNEL, budget=30)

    assert snapshot.turns == tuple(stored[3:])


async def test_load_with_a_budget_still_starts_after_the_summary(store: MemoryStore) -> None:
    stored = [await store.add_turn(CHANNEL, user_turn(f"t{i}", f"m{i}", tokens=10)) for i in range(4)]
    assert stored[1] is not None
    await store.replace_summary(CHANNEL, Summary(), Summary("t0 and t1", stored[1].id))

    snapshot = await store.load(CHANNEL, budget=1000)

    assert snapshot.turns == tuple(stored[2:])
    assert snapshot.summary.text == "t0 and t1"


async def test_load_with_a_budget_keeps_the_newest_turn_even_if_it_alone_is_over(store: MemoryStore) -> None:
    await store.add_turn(CHANNEL, user_turn("old", "m1", tokens=10))
    newest = await store.add_turn(CHANNEL, user_turn("huge", "m2", tokens=5000))

    assert (await store.load(CHANNEL, budget=100)).turns == (newest,)


async def test_load_with_a_budget_of_an_empty_conversation_has_its_settings(store: MemoryStore) -> None:
    await store.update_settings(CHANNEL, persona="a pirate")

    snapshot = await store.load(CHANNEL, budget=100)

    assert snapshot.turns == ()
    assert snapshot.settings.persona == "a pirate"


async def test_a_store_opened_with_a_load_budget_uses_it_when_load_is_given_none(backend: Backend) -> None:
    store = await open_store(backend.url, load_budget=30)
    backend.opened.append(store)
    stored = [await store.add_turn(CHANNEL, user_turn(f"t{i}", f"m{i}", tokens=10)) for i in range(6)]

    assert (await store.load(CHANNEL)).turns == tuple(stored[3:])


# -- summary ------------------------------------------------------------------------------------

async def test_a_new_conversation_has_an_empty_summary(store: MemoryStore) -> None:
    assert await store.summary(CHANNEL) == Summary()


async def test_replace_summary_stores_when_the_summary_is_unchanged(store: MemoryStore) -> None:
    turn = await store.add_turn(CHANNEL, user_turn("hi", "m1"))
    assert turn is not None
    first = Summary("they said hi", turn.id)

    assert await store.replace_summary(CHANNEL, Summary(), first)
    assert await store.summary(CHANNEL) == first


async def test_replace_summary_refuses_a_stale_summary(store: MemoryStore) -> None:
    turns = [await store.add_turn(CHANNEL, user_turn(f"t{n}", f"m{n}")) for n in range(2)]
    assert turns[0] is not None and turns[1] is not None
    current = Summary("both turns", turns[1].id)
    await store.replace_summary(CHANNEL, Summary(), current)

    # A summariser that started from the empty summary lost the race.
    assert not await store.replace_summary(CHANNEL, Summary(), Summary("first turn", turns[0].id))
    assert await store.summary(CHANNEL) == current


# -- settings -----------------------------------------------------------------------------------

async def test_a_new_conversation_has_default_settings(store: MemoryStore) -> None:
    assert await store.settings(CHANNEL) == ConversationSettings()


async def test_update_settings_changes_only_the_given_fields(store: MemoryStore) -> None:
    await store.update_settings(CHANNEL, persona="a pirate", model="qwen-plus")

    updated = await store.update_settings(CHANNEL, mode=ChannelMode.ALWAYS)

    assert updated == ConversationSettings("a pirate", "qwen-plus", ChannelMode.ALWAYS)
    assert await store.settings(CHANNEL) == updated
    assert await store.settings(OTHER_CHANNEL) == ConversationSettings()


async def test_update_settings_with_none_clears_a_field(store: MemoryStore) -> None:
    await store.update_settings(CHANNEL, persona="a pirate", model="qwen-plus")

    cleared = await store.update_settings(CHANNEL, persona=None)

    assert cleared == ConversationSettings(None, "qwen-plus", ChannelMode.MENTION)


async def test_reset_forgets_turns_and_summary_but_keeps_settings(store: MemoryStore) -> None:
    await store.update_settings(CHANNEL, persona="a pirate", mode=ChannelMode.ALWAYS)
    turns = [await store.add_turn(CHANNEL, user_turn(f"t{n}", f"m{n}")) for n in range(3)]
    assert turns[0] is not None
    await store.replace_summary(CHANNEL, Summary(), Summary("old", turns[0].id))
    await store.add_turn(OTHER_CHANNEL, user_turn("elsewhere", "m0"))

    assert await store.reset(CHANNEL) == len(turns)

    assert await store.turns_after(CHANNEL, 0) == []
    assert await store.summary(CHANNEL) == Summary(version=1)
    assert await store.settings(CHANNEL) == ConversationSettings("a pirate", None, ChannelMode.ALWAYS)
    assert len(await store.turns_after(OTHER_CHANNEL, 0)) == 1
    assert await store.add_turn(CHANNEL, user_turn("t0", "m0")) is not None


async def test_a_summary_read_before_a_reset_cannot_be_stored_after_it(store: MemoryStore) -> None:
    turn = await store.add_turn(CHANNEL, user_turn("secret", "m1"))
    assert turn is not None
    before = await store.summary(CHANNEL)
    await store.reset(CHANNEL)

    assert not await store.replace_summary(CHANNEL, before, Summary("the secret", turn.id, before.version))
    assert (await store.summary(CHANNEL)).text == ""


async def test_a_summary_read_before_a_forget_me_cannot_be_stored_after_it(store: MemoryStore) -> None:
    turn = await store.add_turn(CHANNEL, user_turn("secret", "m1", author="alice"))
    assert turn is not None
    before = await store.summary(CHANNEL)
    await store.forget_user("discord", "alice")

    assert not await store.replace_summary(CHANNEL, before, Summary("the secret", turn.id, before.version))
    assert (await store.summary(CHANNEL)).text == ""


async def test_reset_of_an_unknown_conversation_removes_nothing(store: MemoryStore) -> None:
    assert await store.reset(CHANNEL) == 0


# -- forget-me ----------------------------------------------------------------------------------

async def test_forget_user_deletes_only_their_turns_on_that_platform(store: MemoryStore) -> None:
    mine = [(CHANNEL, "m1"), (THREAD, "m2"), (OTHER_SPACE, "m3")]
    for key, message_id in mine:
        await store.add_turn(key, user_turn("mine", message_id, author="alice"))
    await store.add_turn(CHANNEL, user_turn("theirs", "m4", author="bob"))
    await store.add_turn(CHANNEL, answer("the bot's answer"))
    await store.add_turn(SLACK_CHANNEL, user_turn("mine on slack", "m5", author="alice"))

    assert await store.forget_user("discord", "alice") == len(mine)

    assert [t.text for t in await store.turns_after(CHANNEL, 0)] == ["theirs", "the bot's answer"]
    assert await store.turns_after(THREAD, 0) == []
    assert await store.turns_after(OTHER_SPACE, 0) == []
    assert [t.text for t in await store.turns_after(SLACK_CHANNEL, 0)] == ["mine on slack"]


async def test_forget_user_clears_summaries_where_they_spoke(store: MemoryStore) -> None:
    spoke = await store.add_turn(CHANNEL, user_turn("secret", "m1", author="alice"))
    elsewhere = await store.add_turn(OTHER_CHANNEL, user_turn("hello", "m1", author="bob"))
    on_slack = await store.add_turn(SLACK_CHANNEL, user_turn("hello", "m1", author="alice"))
    assert spoke is not None and elsewhere is not None and on_slack is not None
    for key, turn in ((CHANNEL, spoke), (OTHER_CHANNEL, elsewhere), (SLACK_CHANNEL, on_slack)):
        await store.replace_summary(key, Summary(), Summary(f"summary of {key}", turn.id))

    await store.forget_user("discord", "alice")

    assert await store.summary(CHANNEL) == Summary(version=1)
    assert await store.summary(OTHER_CHANNEL) == Summary(f"summary of {OTHER_CHANNEL}", elsewhere.id)
    assert await store.summary(SLACK_CHANNEL) == Summary(f"summary of {SLACK_CHANNEL}", on_slack.id)


async def test_forget_user_who_never_spoke_removes_nothing(store: MemoryStore) -> None:
    await store.add_turn(CHANNEL, user_turn("hi", "m1", author="bob"))

    assert await store.forget_user("discord", "alice") == 0
    assert len(await store.turns_after(CHANNEL, 0)) == 1


# -- usage and stats ----------------------------------------------------------------------------

async def test_usage_adds_up_per_conversation_space_user_and_day(store: MemoryStore) -> None:
    await store.add_usage(CHANNEL, "alice", 10, 1, DAY)
    await store.add_usage(CHANNEL, "alice", 20, 2, DAY)
    await store.add_usage(CHANNEL, "bob", 100, 10, DAY)
    await store.add_usage(CHANNEL, "alice", 1000, 100, NEXT_DAY)
    await store.add_usage(OTHER_CHANNEL, "alice", 5, 5, DAY)
    await store.add_usage(OTHER_SPACE, "alice", 7, 7, DAY)
    await store.add_usage(SLACK_CHANNEL, "alice", 9000, 9000, DAY)

    report = await store.usage(CHANNEL, "alice", DAY)

    assert report.conversation_today == Tokens(10 + 20 + 100, 1 + 2 + 10)
    assert report.conversation_total == Tokens(10 + 20 + 100 + 1000, 1 + 2 + 10 + 100)
    assert report.space_today == Tokens(10 + 20 + 100 + 5, 1 + 2 + 10 + 5)
    assert report.space_total == Tokens(10 + 20 + 100 + 1000 + 5, 1 + 2 + 10 + 100 + 5)
    assert report.user_today == Tokens(10 + 20 + 5 + 7, 1 + 2 + 5 + 7)


async def test_daily_totals_count_the_day_in_the_conversation_its_space_and_by_the_user(
    store: MemoryStore,
) -> None:
    await store.add_usage(CHANNEL, "alice", 10, 1, DAY)
    await store.add_usage(CHANNEL, "bob", 100, 10, DAY)
    await store.add_usage(CHANNEL, "alice", 1000, 100, NEXT_DAY)
    await store.add_usage(OTHER_CHANNEL, "bob", 5, 5, DAY)
    await store.add_usage(OTHER_SPACE, "alice", 7, 7, DAY)
    await store.add_usage(SLACK_CHANNEL, "alice", 9000, 9000, DAY)

    totals = await store.daily_totals(CHANNEL, "alice", DAY)

    assert totals == DailyTotals(conversation=11 + 110, space=11 + 110 + 10, user=11 + 14)


async def test_daily_totals_of_a_dm_count_no_space(store: MemoryStore) -> None:
    dm, other_dm = ConversationKey("discord", "dm", "d1"), ConversationKey("discord", "dm", "d2")
    await store.add_usage(dm, "alice", 3, 3, DAY)
    await store.add_usage(other_dm, "bob", 50, 50, DAY)

    assert await store.daily_totals(dm, "alice", DAY) == DailyTotals(conversation=6, space=0, user=6)
    assert await store.daily_totals(OTHER_SPACE, "carol", DAY) == DailyTotals(0, 0, 0)


async def test_usage_of_an_unused_conversation_is_zero(store: MemoryStore) -> None:
    report = await store.usage(CHANNEL, "alice", DAY)

    assert report.conversation_total == report.space_total == report.user_today == Tokens()


async def test_stats_count_turns_tokens_and_summarised_turns(store: MemoryStore) -> None:
    tokens = [5, 7, 11]
    turns = [await store.add_turn(CHANNEL, user_turn(f"t{n}", f"m{n}", tokens=count))
             for n, count in enumerate(tokens)]
    await store.add_turn(OTHER_CHANNEL, user_turn("elsewhere", "m0", tokens=100))
    assert turns[1] is not None
    await store.replace_summary(CHANNEL, Summary(), Summary("first two", turns[1].id))

    assert await store.stats(CHANNEL) == MemoryStats(len(tokens), sum(tokens), 2)
    assert await store.stats(THREAD) == MemoryStats(0, 0, 0)


# -- threads the bot opened ---------------------------------------------------------------------

async def test_a_thread_the_bot_opened_is_found_by_its_id_across_restarts(backend: Backend) -> None:
    first = await backend.open()
    assert await first.find_thread("discord", "guild-1", "thread-9") is None
    await first.add_thread(THREAD)
    await first.add_thread(THREAD)  # a second time changes nothing
    await first.close()
    again = await backend.open()
    assert await again.find_thread("discord", "guild-1", "thread-9") == THREAD
    assert await again.find_thread("discord", "guild-2", "thread-9") is None
    assert await again.find_thread("slack", "guild-1", "thread-9") is None


# -- events -------------------------------------------------------------------------------------

async def test_claim_event_is_true_only_the_first_time(store: MemoryStore) -> None:
    assert await store.claim_event("slack", "Ev1")
    assert not await store.claim_event("slack", "Ev1")
    assert await store.claim_event("slack", "Ev2")
    assert await store.claim_event("discord", "Ev1")


async def test_claim_event_holds_across_replicas_and_restarts(backend: Backend) -> None:
    first, second = await backend.open(), await backend.open()

    assert await first.claim_event("slack", "Ev1")
    assert not await second.claim_event("slack", "Ev1")
    await first.close()
    assert not await (await backend.open()).claim_event("slack", "Ev1")


async def test_one_replica_wins_a_claim_race(backend: Backend) -> None:
    replicas = [await backend.open(), await backend.open()]

    results = await asyncio.gather(
        *(replica.claim_event("slack", "Ev1") for replica in replicas for _ in range(4))
    )

    assert sorted(results) == [False] * 7 + [True]


async def test_old_event_claims_are_pruned(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    store = await backend.open()
    assert await store.claim_event("slack", "Ev-old")
    # Every claim older than "now" now counts as expired.
    monkeypatch.setattr(sql_backend, "EVENT_RETENTION_SECONDS", -60)

    await store.claim_event("slack", "Ev-new")

    assert await store.claim_event("slack", "Ev-old")


async def test_a_store_holds_nothing_locked_between_calls(backend: Backend) -> None:
    first, second = await backend.open(), await backend.open()
    await first.usage(CHANNEL, "alice", DAY)
    await first.update_settings(CHANNEL)
    await first.settings(OTHER_CHANNEL)

    # The other instance can write: the first one left no transaction open.
    assert await second.claim_event("slack", "Ev1")
    assert await second.add_turn(CHANNEL, user_turn("hi", "m1")) is not None


# -- migrations ---------------------------------------------------------------------------------

def _migrations(backend: Backend) -> list[str]:
    return {"sqlite": sqlite_backend.MIGRATIONS, "postgres": pg_backend.MIGRATIONS}[backend.name]


async def test_reopening_does_not_rerun_migrations(backend: Backend) -> None:
    first = await backend.open()
    await first.add_turn(CHANNEL, user_turn("kept", "m1"))
    await first.close()

    for _ in range(2):
        await (await backend.open()).close()
    reopened = await backend.open()

    assert await backend.schema_versions() == list(range(1, len(_migrations(backend)) + 1))
    assert [t.text for t in await reopened.turns_after(CHANNEL, 0)] == ["kept"]


# -- PostgreSQL only: replicas ------------------------------------------------------------------

async def test_replicas_starting_together_migrate_once(pg: Backend) -> None:
    await asyncio.gather(*(pg.open() for _ in range(4)))

    assert await pg.schema_versions() == list(range(1, len(pg_backend.MIGRATIONS) + 1))


async def _waiting_for(key: ConversationKey) -> bool:
    """Whether some session is queued on the advisory lock of `key` in the test database."""
    lock_id = advisory_key(key) & 0xFFFFFFFFFFFFFFFF
    conn = await asyncpg.connect(PG_URL)
    try:
        return bool(await conn.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype='advisory' AND NOT granted AND objsubid=1"
            " AND classid::bigint=$1 AND objid::bigint=$2"
            " AND database=(SELECT oid FROM pg_database WHERE datname=current_database())",
            lock_id >> 32, lock_id & 0xFFFFFFFF,
        ))
    finally:
        await conn.close()


@pytest.mark.parametrize("where", ["another replica", "the same replica"])
async def test_lock_serialises_two_turns_on_one_conversation(pg: Backend, where: str) -> None:
    first = await pg.open()
    second = await pg.open() if where == "another replica" else first
    entered = asyncio.Event()

    async def second_turn() -> None:
        async with second.lock(CHANNEL):
            entered.set()

    async with first.lock(CHANNEL):
        waiter = asyncio.create_task(second_turn())
        if second is not first:
            await until(lambda: _waiting_for(CHANNEL), message="the second replica to queue on the lock")
        for _ in range(3):  # round trips to the server, in which a wrongly granted lock would show
            await first.turns_after(CHANNEL, 0)
        assert not entered.is_set()
    async with asyncio.timeout(10):
        await waiter
    assert entered.is_set()


async def test_lock_on_another_conversation_is_not_blocked(pg: Backend) -> None:
    first, second = await pg.open(), await pg.open()

    async with first.lock(CHANNEL):
        async with asyncio.timeout(10), second.lock(THREAD):
            assert not await _waiting_for(THREAD)


async def test_lock_is_released_when_the_turn_fails(pg: Backend) -> None:
    first, second = await pg.open(), await pg.open()

    with pytest.raises(RuntimeError):
        async with first.lock(CHANNEL):
            raise RuntimeError("the model call failed")

    async with asyncio.timeout(10), second.lock(CHANNEL):
        pass


async def test_a_cancelled_wait_leaves_the_lock_free(pg: Backend) -> None:
    first, second = await pg.open(), await pg.open()

    async def wait_for_lock() -> None:
        async with second.lock(CHANNEL):
            pytest.fail("entered a lock another replica holds")

    async with first.lock(CHANNEL):
        waiter = asyncio.create_task(wait_for_lock())
        await until(lambda: _waiting_for(CHANNEL), message="the second replica to queue on the lock")
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter

    async with asyncio.timeout(10), second.lock(CHANNEL):
        pass
    async with asyncio.timeout(10), first.lock(CHANNEL):
        pass


async def test_held_locks_are_not_capped_by_a_connection_pool(pg: Backend) -> None:
    store = await pg.open()
    keys = [ConversationKey("discord", "guild-1", f"channel-{i}") for i in range(3 * 20)]

    async with contextlib.AsyncExitStack() as held, asyncio.timeout(10):
        for key in keys:
            await held.enter_async_context(store.lock(key))
        # Queries still have their connections while every lock is held.
        assert await store.add_turn(CHANNEL, user_turn("still served", "m1")) is not None


async def test_an_unreachable_server_is_named_without_the_password() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = PostgresStore(f"postgresql://bot:s3cret-pw@127.0.0.1:{port}/memory")

    with pytest.raises(ConfigError) as failure:
        await store.open()

    assert f"127.0.0.1:{port}/memory" in str(failure.value)
    assert "s3cret-pw" not in str(failure.value)


# -- answers written after a reset --------------------------------------------------------------

async def test_a_turn_bound_to_a_memory_version_is_refused_after_a_reset(store: MemoryStore) -> None:
    await store.add_turn(CHANNEL, user_turn("secret", "m1"))
    version = (await store.summary(CHANNEL)).version
    await store.reset(CHANNEL)

    assert await store.add_turn(CHANNEL, answer("about the secret"), if_version=version) is None
    assert await store.turns_after(CHANNEL, 0) == []


async def test_a_turn_bound_to_the_current_memory_version_is_stored(store: MemoryStore) -> None:
    await store.add_turn(CHANNEL, user_turn("hi", "m1"))
    version = (await store.summary(CHANNEL)).version
    assert await store.add_turn(CHANNEL, answer("hello"), if_version=version) is not None


async def test_a_cancelled_reset_leaves_the_store_usable(backend: Backend) -> None:
    store = await backend.open()
    await store.add_turn(CHANNEL, user_turn("one", "m1"))
    task = asyncio.create_task(store.reset(CHANNEL))
    await asyncio.sleep(0)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task

    assert await store.add_turn(OTHER_CHANNEL, user_turn("after", "m2")) is not None
    other = await backend.open()  # another replica can write: nothing was left locked
    assert await other.add_turn(OTHER_CHANNEL, user_turn("from a replica", "m3")) is not None
    assert await store.reset(OTHER_CHANNEL) == 2


# -- feedback -----------------------------------------------------------------------------------

async def test_one_vote_per_user_and_answer_the_last_one_counting(store: MemoryStore) -> None:
    await store.vote(CHANNEL, "answer-to:m1", "u1", 1)
    await store.vote(CHANNEL, "answer-to:m1", "u1", -1)
    await store.vote(CHANNEL, "answer-to:m1", "u2", 1)
    await store.vote(CHANNEL, "answer-to:m2", "u1", 1)
    await store.vote(THREAD, "answer-to:m3", "u1", -1)
    assert await store.votes(CHANNEL) == (2, 2)  # the channel's threads count with it
    assert await store.votes(THREAD) == (0, 1)
    assert await store.votes(OTHER_CHANNEL) == (0, 0)
