"""Conversation memory: the `MemoryStore` interface and the backend chosen by `DATABASE_URL`."""

from __future__ import annotations

from bot.config import ConfigError
from bot.memory.base import (
    ConversationSettings,
    DailyTotals,
    KeptReasoning,
    MemoryStats,
    MemoryStore,
    MemoryUnavailable,
    Snapshot,
    Summary,
    Turn,
    Unfinished,
    UsageReport,
)
from bot.memory.records import Tokens

__all__ = [
    "ConversationSettings",
    "DailyTotals",
    "KeptReasoning",
    "MemoryStats",
    "MemoryStore",
    "MemoryUnavailable",
    "Snapshot",
    "Summary",
    "Tokens",
    "Turn",
    "Unfinished",
    "UsageReport",
    "open_store",
]


async def open_store(database_url: str, *, load_budget: int | None = None) -> MemoryStore:
    """Open (and migrate) the store `database_url` names: sqlite:///file or postgresql://...

    `load_budget` (the MAX_CONTEXT_TOKENS of the turns it will serve) bounds what `load` reads.

    Any database that cannot be used (malformed URL, unreachable server, a file or folder that
    cannot be written) raises ConfigError with one line naming the problem, and leaves nothing
    running behind it."""
    store: MemoryStore
    scheme = database_url.partition(":")[0].lower() if ":" in database_url else ""
    if scheme in ("postgres", "postgresql"):
        from bot.memory.postgres import PostgresStore

        store = PostgresStore(database_url)
    elif scheme == "sqlite":
        from bot.memory.sqlite import SQLiteStore, sqlite_path

        store = SQLiteStore(sqlite_path(database_url))
    else:
        shown = f"unknown scheme {scheme!r}" if scheme else "no scheme"
        raise ConfigError(f"DATABASE_URL has {shown}: use sqlite:///file.db or postgresql://user@host/db")
    store.load_budget = load_budget
    await store.open()
    return store
