"""The journal of answers in progress, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from bot.memory import MemoryStore
from bot.types import ConversationKey

THREAD = ConversationKey("slack", "T1", "C1", "1700000000.000001")
DISCORD = ConversationKey("discord", "guild-1", "general")


async def test_a_begun_answer_is_listed_for_other_processes_with_nothing_visible(store: MemoryStore):
    entry_id = await store.begin_answer(THREAD, "1700000000.000001", "owner-a", 3, '{"channel":"C1"}')
    [entry] = await store.unfinished("slack", not_owner="owner-b")
    assert (entry.id, entry.key, entry.message_id, entry.owner) == (entry_id, THREAD, "1700000000.000001",
                                                                    "owner-a")
    assert (entry.version, entry.visible, entry.place, entry.text) == (3, False, '{"channel":"C1"}', "")


async def test_a_process_never_sees_its_own_answers_as_unfinished(store: MemoryStore):
    await store.begin_answer(THREAD, "m1", "owner-a", 0)
    assert await store.unfinished("slack", not_owner="owner-a") == []


async def test_each_platform_sees_only_its_own_answers(store: MemoryStore):
    await store.begin_answer(THREAD, "m1", "owner-a", 0)
    await store.begin_answer(DISCORD, "m2", "owner-a", 0)
    assert [e.message_id for e in await store.unfinished("discord", not_owner="me")] == ["m2"]


async def test_a_place_makes_the_answer_visible_and_text_is_saved_apart(store: MemoryStore):
    entry_id = await store.begin_answer(THREAD, "m1", "owner-a", 0, "{}")
    await store.save_answer(entry_id, place='{"ts":"1"}')
    await store.save_answer(entry_id, text="Half an ans")
    entry = await store.unfinished_entry(entry_id)
    assert entry is not None
    assert (entry.visible, entry.place, entry.text) == (True, '{"ts":"1"}', "Half an ans")


async def test_text_saved_before_anything_is_shown_leaves_it_invisible(store: MemoryStore):
    entry_id = await store.begin_answer(THREAD, "m1", "owner-a", 0)
    await store.save_answer(entry_id, text="x")
    entry = await store.unfinished_entry(entry_id)
    assert entry is not None and not entry.visible


async def test_an_ended_answer_is_gone(store: MemoryStore):
    entry_id = await store.begin_answer(THREAD, "m1", "owner-a", 0)
    await store.end_answer(entry_id)
    assert await store.unfinished_entry(entry_id) is None
    assert await store.unfinished("slack", not_owner="me") == []
