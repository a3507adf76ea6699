"""The thinking and search settings and the kept reasoning, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from bot.memory import ConversationSettings, KeptReasoning, MemoryStore, Turn
from bot.threads import effective_settings
from bot.types import ConversationKey

CHANNEL = ConversationKey("discord", "guild-1", "general")
THREAD = ConversationKey("discord", "guild-1", "general", "thread-9")
OTHER = ConversationKey("discord", "guild-1", "random")


async def test_thinking_and_search_are_stored_as_on_off_or_unset(store: MemoryStore) -> None:
    await store.update_settings(CHANNEL, persona="terse", switches={"thinking": True, "search": False})
    assert await store.settings(CHANNEL) == ConversationSettings("terse", thinking=True, search=False)
    await store.update_settings(CHANNEL, switches={"thinking": None})
    assert await store.settings(CHANNEL) == ConversationSettings("terse", thinking=None, search=False)
    assert (await store.load(CHANNEL)).settings == await store.settings(CHANNEL)


async def test_a_thread_inherits_thinking_and_search_until_it_sets_its_own(store: MemoryStore) -> None:
    await store.update_settings(CHANNEL, switches={"thinking": True, "search": True})
    await store.update_settings(THREAD, switches={"search": False})
    inherited = await effective_settings(store, THREAD)
    assert (inherited.thinking, inherited.search) == (True, False)


async def test_only_the_last_answers_reasoning_is_kept_per_conversation(store: MemoryStore) -> None:
    await store.keep_reasoning(CHANNEL, "q1", "u1", "first", now=100.0, oldest=0.0)
    await store.keep_reasoning(CHANNEL, "q2", "u1", "second", now=101.0, oldest=0.0)
    assert await store.reasoning(CHANNEL, oldest=0.0) == KeptReasoning("q2", "second", 101.0)
    assert await store.reasoning(OTHER, oldest=0.0) is None


async def test_reasoning_older_than_the_bound_is_not_read_and_is_deleted_by_the_next_write(
    store: MemoryStore
) -> None:
    await store.keep_reasoning(CHANNEL, "q1", "u1", "old", now=100.0, oldest=0.0)
    assert await store.reasoning(CHANNEL, oldest=100.5) is None
    await store.keep_reasoning(OTHER, "q9", "u1", "new", now=200.0, oldest=150.0)
    assert await store.reasoning(CHANNEL, oldest=0.0) is None


async def test_forget_me_deletes_the_reasoning_where_the_user_spoke(store: MemoryStore) -> None:
    await store.add_turn(CHANNEL, Turn("user", "u1", "Ann", "hi", 1, "m1"))
    await store.add_turn(OTHER, Turn("user", "u2", "Bo", "hi", 1, "m2"))
    await store.keep_reasoning(CHANNEL, "m1", "u1", "about Ann", now=100.0, oldest=0.0)
    await store.keep_reasoning(OTHER, "m2", "u2", "about Bo", now=100.0, oldest=0.0)
    await store.forget_user("discord", "u1")
    assert await store.reasoning(CHANNEL, oldest=0.0) is None
    assert await store.reasoning(OTHER, oldest=0.0) is not None
