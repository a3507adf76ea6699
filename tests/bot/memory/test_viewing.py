"""Which channel each user is viewing (Slack's agent view), kept in the database for every replica."""

from __future__ import annotations

from bot.memory import MemoryStore, Turn
from bot.types import ConversationKey
from tests.bot.memory.backends import Backend


async def test_a_user_views_nothing_until_told(store: MemoryStore) -> None:
    assert await store.viewing("slack", "T1", "U1") == ""


async def test_the_latest_channel_replaces_the_one_before(store: MemoryStore) -> None:
    await store.remember_viewing("slack", "T1", "U1", "C1")
    await store.remember_viewing("slack", "T1", "U1", "C2")
    assert await store.viewing("slack", "T1", "U1") == "C2"


async def test_each_user_and_workspace_has_its_own(store: MemoryStore) -> None:
    await store.remember_viewing("slack", "T1", "U1", "C1")
    await store.remember_viewing("slack", "T1", "U2", "C2")
    await store.remember_viewing("slack", "T2", "U1", "C3")
    assert [await store.viewing("slack", t, u) for t, u in (("T1", "U1"), ("T1", "U2"), ("T2", "U1"))] == [
        "C1", "C2", "C3"]


async def test_another_replica_reads_what_one_remembered(backend: Backend) -> None:
    first, second = await backend.open(), await backend.open()
    await first.remember_viewing("slack", "T1", "U1", "C1")
    assert await second.viewing("slack", "T1", "U1") == "C1"


async def test_forget_me_forgets_what_the_user_was_viewing(store: MemoryStore) -> None:
    await store.add_turn(ConversationKey("slack", "T1", "D1"), Turn("user", "U1", "Ann", "hi", 1, "m1"))
    await store.remember_viewing("slack", "T1", "U1", "C1")
    await store.forget_user("slack", "U1")
    assert await store.viewing("slack", "T1", "U1") == ""
