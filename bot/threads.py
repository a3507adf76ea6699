"""Threads: they follow their channel's persona, model, thinking and search, field by field, until
they set their own; and the threads the bot opened itself are remembered, so it answers in them
across restarts.
"""

from __future__ import annotations

import dataclasses

from bot.memory import ConversationSettings, MemoryStore
from bot.types import ConversationKey


async def effective_settings(
    store: MemoryStore, key: ConversationKey, own: ConversationSettings | None = None
) -> ConversationSettings:
    """The settings a turn in `key` uses; `own` saves a read when the caller has them already."""
    if own is None:
        own = await store.settings(key)
    if key.thread is None or (own.persona and own.model and None not in (own.thinking, own.search)):
        return own
    parent = await store.settings(dataclasses.replace(key, thread=None))
    return dataclasses.replace(
        own, persona=own.persona or parent.persona, model=own.model or parent.model,
        thinking=parent.thinking if own.thinking is None else own.thinking,
        search=parent.search if own.search is None else own.search,
    )


class OpenedThreads:
    """The threads the bot opened itself (Discord's thread mode), kept by the store across restarts.

    Each is its own conversation whose first turn is the question that opened it; the bot answers
    every message in it without being mentioned.
    """

    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    async def add(self, key: ConversationKey) -> None:
        """Remember the thread `key` (its `thread` set) as one the bot opened."""
        await self.store.add_thread(key)

    async def find(self, platform: str, space: str, thread: str) -> ConversationKey | None:
        """The conversation of thread id `thread` if the bot opened it, else None."""
        return await self.store.find_thread(platform, space, thread)
