"""Conversation memory: the `MemoryStore` interface and the backend chosen by `DATABASE_URL`."""

from __future__ import annotations

from bot.memory.base import (
    ConversationSettings,
    MemoryStats,
    MemoryStore,
    MemoryUnavailable,
    Snapshot,
    Summary,
    Tokens,
    Turn,
    UsageReport,
)

__all__ = [
    "ConversationSettings",
    "MemoryStats",
    "MemoryStore",
    "MemoryUnavailable",
    "Snapshot",
    "Summary",
    "Tokens",
    "Turn",
    "UsageReport",
    "open_store",
]


async def open_store(database_url: str) -> MemoryStore:
    """Open (and migrate) the store `database_url` names: sqlite:///file or postgresql://..."""
    store: MemoryStore
    if database_url.startswith(("postgres://", "postgresql://")):
        from bot.memory.postgres import PostgresStore

        store = PostgresStore(database_url)
    else:
        from bot.memory.sqlite import SQLiteStore, sqlite_path

        store = SQLiteStore(sqlite_path(database_url))
    await store.open()
    return store
