"""An in-memory SQLite store (sqlite://:memory:) behaves like a file, within one process."""

from bot.memory import Turn, open_store
from bot.types import ConversationKey

KEY = ConversationKey("terminal", "dm", "default")


async def test_an_in_memory_store_keeps_turns_and_forgets_them_on_reset() -> None:
    store = await open_store("sqlite://:memory:")
    try:
        await store.add_turn(KEY, Turn("user", "u1", "Ann", "hello", 1, "m1"))
        assert len(await store.turns_after(KEY, 0)) == 1
        assert await store.reset(KEY) == 1
        assert await store.turns_after(KEY, 0) == []
        assert (await store.summary(KEY)).version == 1
    finally:
        await store.close()
