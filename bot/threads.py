"""Threads follow their channel's persona, model, thinking and search, field by field, until they
set their own."""

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
