"""Windows from the store: shared by every replica on PostgreSQL, in process on SQLite."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import asyncpg
import pytest

from bot import sentences
from bot.config import Settings
from bot.core import ConversationCore, Outcome
from bot.limits import MemoryWindow
from bot.memory import MemoryUnavailable
from bot.memory.pgwindows import SharedWindow
from bot.types import Author, ConversationKey, Incoming
from tests.bot.memory.backends import Backend, backend_named
from tests.bot.memory.pgproxy import PgProxy
from tests.conftest import RecordingReply

KEY = ConversationKey("slack", "T1", "C1")
ANN = Author("U1", "Ann")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def window_keys(pg: Backend) -> list[str]:
    conn = await asyncpg.connect(pg.url)
    try:
        return [row[0] for row in await conn.fetch("SELECT key FROM limit_windows ORDER BY key")]
    finally:
        await conn.close()


async def two_windows(pg: Backend, limit: int, seconds: float = 60, clock: Clock | None = None):
    clock = clock or Clock()
    first, second = await pg.open(), await pg.open()
    return (first.window("w", limit, seconds, clock=clock), second.window("w", limit, seconds, clock=clock))


async def test_replicas_count_hits_in_one_window(pg: Backend) -> None:
    a, b = await two_windows(pg, 2)

    assert [await a.try_acquire("k"), await b.try_acquire("k")] == [True, True]
    assert [await a.try_acquire("k"), await b.try_acquire("k")] == [False, False]


async def test_hits_at_the_same_moment_from_two_replicas_are_none_of_them_lost(pg: Backend) -> None:
    a, b = await two_windows(pg, 5)

    taken = await asyncio.gather(*(window.try_acquire("k") for window in [a, b] * 15))

    assert sum(taken) == 5


async def test_the_shared_window_slides(pg: Backend) -> None:
    clock = Clock()
    a, b = await two_windows(pg, 1, clock=clock)
    assert await a.try_acquire("k")
    clock.now += 30
    assert not await b.try_acquire("k")
    assert await b.time_until_free("k") == pytest.approx(30)
    clock.now += 31
    assert await b.try_acquire("k")


async def test_a_hit_exactly_a_window_old_no_longer_counts_as_in_the_process(pg: Backend) -> None:
    clock = Clock()
    a, b = await two_windows(pg, 2, clock=clock)
    memory = MemoryWindow(2, 60, clock)
    for window in (a, memory):
        await window.try_acquire("k")
    clock.now += 10
    for window in (b, memory):
        await window.try_acquire("k")
    clock.now += 50

    shared = [await a.time_until_free("k"), await b.try_acquire("k"), await a.try_acquire("k")]
    local = [await memory.time_until_free("k"), await memory.try_acquire("k"), await memory.try_acquire("k")]
    assert shared == local == [0, True, False]


async def test_a_refusal_is_told_once_whichever_replica_refuses(pg: Backend) -> None:
    a, b = await two_windows(pg, 1)
    user = ("slack", "U1")
    await a.admit(user)

    verdicts = [await b.admit(user), await a.admit(user), await b.admit(user)]

    assert [(v.allowed, v.notify) for v in verdicts] == [(False, True), (False, False), (False, False)]


async def test_a_refusal_is_told_again_after_the_user_was_let_through(pg: Backend) -> None:
    clock = Clock()
    a, b = await two_windows(pg, 1, clock=clock)
    await a.admit("u")
    assert (await b.admit("u")).notify
    clock.now += 61
    assert (await a.admit("u")).allowed

    assert (await b.admit("u")).notify


async def test_a_quiet_refusal_does_not_use_up_the_told_one(pg: Backend) -> None:
    a, b = await two_windows(pg, 1)
    await a.try_acquire("u")
    assert not await b.try_acquire("u")

    assert (await a.admit("u")).notify


async def test_a_must_do_hit_is_taken_over_the_limit_and_counted(pg: Backend) -> None:
    clock = Clock()
    a, b = await two_windows(pg, 1, clock=clock)
    await a.acquire("w", max_wait=0)
    clock.now += 30

    await b.acquire("w", max_wait=0)

    clock.now += 31
    assert await a.time_until_free("w") == pytest.approx(29)


async def test_acquire_waits_until_another_replicas_hit_leaves_the_window(pg: Backend) -> None:
    first, second = await pg.open(), await pg.open()
    a, b = first.window("w", 1, 0.05), second.window("w", 1, 0.05)
    await a.acquire("k")

    await b.acquire("k")

    assert not await a.try_acquire("k")


async def test_windows_of_other_names_and_keys_are_apart(pg: Backend) -> None:
    store = await pg.open()
    one, other = store.window("one", 1, 60), store.window("other", 1, 60)
    assert await one.try_acquire("k")

    assert await other.try_acquire("k")
    assert await one.try_acquire("another key")


async def test_a_limit_of_zero_is_no_limit(pg: Backend) -> None:
    window = (await pg.open()).window("w", 0, 60)

    assert all([await window.try_acquire("k") for _ in range(10)])
    assert (await window.admit("k")).allowed


async def test_keys_whose_window_passed_are_deleted_now_and_then(
    pg: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SharedWindow, "PRUNE_EVERY", 3)
    clock = Clock()
    window = (await pg.open()).window("w", 5, 60, clock=clock)
    await window.try_acquire("old")
    clock.now += 61
    await window.try_acquire("new")
    await window.try_acquire("new")

    assert await window_keys(pg) == ["new"]


async def test_sqlite_windows_stay_in_the_process(tmp_path: Path) -> None:
    async with backend_named("sqlite", tmp_path) as sqlite:
        a, b = (await sqlite.open()).window("w", 1, 60), (await sqlite.open()).window("w", 1, 60)
        assert await a.try_acquire("k")

        assert isinstance(a, MemoryWindow)
        assert await b.try_acquire("k")


async def test_while_the_database_is_away_the_window_counts_in_the_process() -> None:
    async def away(sql: str, params: object) -> list:
        raise MemoryUnavailable("the memory database is unavailable")

    window = SharedWindow(away, "w", 1, 60)

    assert await window.try_acquire("k")
    assert not await window.try_acquire("k")
    assert (await window.admit("k")).notify
    assert await window.time_until_free("k") > 0
    await window.acquire("k", max_wait=0)  # a must-do write is never held up


async def test_a_limit_check_the_database_refuses_falls_back_and_the_message_is_answered(
    pg: Backend, make_settings: Callable[..., Settings]
) -> None:
    core = await ConversationCore.start(make_settings(database_url=pg.url, user_rate_limit=5))
    admin = await asyncpg.connect(pg.url)
    try:
        # A server error rather than a lost connection, as from a standby after a failover (or a
        # lock_timeout, statement_timeout or full server): only the limit's statement gets it.
        await admin.execute("""
            CREATE FUNCTION refuse_hits() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
                RAISE EXCEPTION 'read-only' USING ERRCODE = 'read_only_sql_transaction'; END $$;
            CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON limit_windows
                FOR EACH ROW EXECUTE FUNCTION refuse_hits();
        """)

        outcome = await core.handle(Incoming(KEY, "m1", ANN, "hello"), RecordingReply())

        assert outcome is Outcome.ANSWERED
    finally:
        await admin.close()
        await core.close()


async def test_keys_left_by_processes_that_never_pruned_are_deleted_by_the_next_ones_first_hit(
    pg: Backend,
) -> None:
    # Replicas restarted (deploys, autoscaling) before their PRUNE_EVERY-th hit never prune.
    clock = Clock()
    earlier = (await pg.open()).window("w", 5, 60, clock=clock)
    for n in range(250):
        await earlier.admit(("slack", f"U{n}"))
    clock.now += 61

    await (await pg.open()).window("w", 5, 60, clock=clock).admit(("slack", "Unew"))

    assert await window_keys(pg) == ["slack\x1fUnew"]


async def test_a_message_checked_while_the_database_is_away_gets_one_refusal_saying_so(
    pg: Backend, make_settings: Callable[..., Settings]
) -> None:
    proxy = await PgProxy(pg.url).start()
    core = await ConversationCore.start(make_settings(database_url=proxy.url, user_rate_limit=5))
    try:
        proxy.go_down()
        reply = RecordingReply()

        outcome = await core.handle(Incoming(KEY, "m1", ANN, "hello"), reply)

        assert (outcome, reply.failure, reply.final) == (Outcome.FAILED, sentences.MEMORY_UNAVAILABLE, None)
    finally:
        await core.close()
        await proxy.stop()
