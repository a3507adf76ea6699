"""The shared memory backend for several replicas: PostgreSQL through an asyncpg pool.

Same semantics as the SQLite store. What replicas share through it: turns, settings, summaries,
usage, claimed event ids, and per-conversation ordering (session advisory locks, see `lock`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Literal
from urllib.parse import urlsplit

import asyncpg

from bot.config import ConfigError
from bot.memory.base import (
    ConversationSettings,
    MemoryStats,
    MemoryStore,
    Summary,
    Tokens,
    Turn,
    UsageReport,
    setting_columns,
)
from bot.types import ChannelMode, ConversationKey

log = logging.getLogger(__name__)

# Each entry upgrades the schema by one version; append, never edit.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE conversations (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        platform TEXT NOT NULL,
        space TEXT NOT NULL,
        channel TEXT NOT NULL,
        thread TEXT NOT NULL DEFAULT '',
        persona TEXT,
        model TEXT,
        mode TEXT NOT NULL DEFAULT 'mention',
        summary TEXT NOT NULL DEFAULT '',
        summary_upto BIGINT NOT NULL DEFAULT 0,
        created_at DOUBLE PRECISION NOT NULL,
        UNIQUE (platform, space, channel, thread)
    );
    CREATE TABLE turns (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        conversation_id BIGINT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        role TEXT NOT NULL,
        author_id TEXT NOT NULL,
        author_name TEXT NOT NULL,
        text TEXT NOT NULL,
        message_id TEXT,
        tokens INTEGER NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        UNIQUE (conversation_id, message_id)
    );
    CREATE INDEX turns_by_conversation ON turns (conversation_id, id);
    CREATE INDEX turns_by_author ON turns (author_id);
    CREATE TABLE usage (
        day TEXT NOT NULL,
        conversation_id BIGINT NOT NULL,
        platform TEXT NOT NULL,
        space TEXT NOT NULL,
        user_id TEXT NOT NULL,
        prompt_tokens BIGINT NOT NULL DEFAULT 0,
        completion_tokens BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (day, conversation_id, user_id)
    );
    CREATE INDEX usage_by_space ON usage (platform, space, day);
    CREATE INDEX usage_by_user ON usage (platform, user_id, day);
    CREATE TABLE events (
        platform TEXT NOT NULL,
        event_id TEXT NOT NULL,
        claimed_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (platform, event_id)
    );
    CREATE INDEX events_by_age ON events (claimed_at);
    """,
    "ALTER TABLE conversations ADD COLUMN memory_version BIGINT NOT NULL DEFAULT 0;",
]

EVENT_RETENTION_SECONDS = 7 * 24 * 3600
CLOSE_TIMEOUT_SECONDS = 10.0
ID_CACHE_SIZE = 10_000


def _int64(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)


# Advisory locks are database-wide; the prefix keeps qwenbot's keys apart from anyone else's.
MIGRATION_LOCK = _int64("qwenbot:migrate")


def advisory_key(key: ConversationKey) -> int:
    """The 64-bit advisory lock id of one conversation (stable across processes and versions)."""
    return _int64("qwenbot:conversation\0" + "\0".join(
        (key.platform, key.space, key.channel, key.thread or "")))


def redact(url: str) -> str:
    """The URL without user or password, for messages and logs."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _count(status: str) -> int:
    """Rows touched, from a command status such as 'DELETE 3' or 'INSERT 0 1'."""
    return int(status.rsplit(" ", 1)[-1])


class PostgresStore(MemoryStore):
    """Memory in PostgreSQL. `pool_size` connections serve queries; each held conversation lock
    takes one of `lock_pool_size` further connections, so long answers never starve queries."""

    def __init__(self, url: str, *, pool_size: int = 10, lock_pool_size: int = 20) -> None:
        self.url = url
        self.pool_size = pool_size
        self.lock_pool_size = lock_pool_size
        self._pool: asyncpg.Pool | None = None
        self._lock_pool: asyncpg.Pool | None = None
        # Conversation rows are never deleted, so their ids can be remembered.
        self._ids: dict[tuple[str, str, str, str], int] = {}

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("PostgresStore.open() was not awaited")
        return self._pool

    @property
    def lock_pool(self) -> asyncpg.Pool:
        if self._lock_pool is None:
            raise RuntimeError("PostgresStore.open() was not awaited")
        return self._lock_pool

    async def open(self) -> None:
        try:
            self._pool = await asyncpg.create_pool(self.url, min_size=1, max_size=self.pool_size)
            self._lock_pool = await asyncpg.create_pool(
                self.url, min_size=0, max_size=self.lock_pool_size
            )
            await self._migrate()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            await self.close()
            # One line for the CLI; the URL may hold a password, so name the server without it.
            raise ConfigError(f"DATABASE_URL: PostgreSQL at {redact(self.url)}: {exc}") from None

    async def _migrate(self) -> None:
        async with self.pool.acquire() as conn:
            # Replicas starting together take turns; the later ones find the schema current.
            await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
            try:
                await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
                current = await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_version")
                for version, script in enumerate(MIGRATIONS[current:], start=current + 1):
                    async with conn.transaction():
                        await conn.execute(script)
                        await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", version)
                    log.info("memory schema migrated to version %d", version)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)

    async def close(self) -> None:
        for pool in (self._lock_pool, self._pool):
            if pool is not None:
                try:
                    # A turn still holding its lock connection must not hold up shutdown for long.
                    await asyncio.wait_for(pool.close(), CLOSE_TIMEOUT_SECONDS)
                except Exception as exc:  # nor may a dead server
                    log.warning("closing the PostgreSQL pool failed: %r", exc)
                    pool.terminate()
        self._pool = self._lock_pool = None

    @contextlib.asynccontextmanager
    async def lock(self, key: ConversationKey) -> AsyncIterator[None]:
        """Hold the conversation's session advisory lock on a connection of its own."""
        lock_id = advisory_key(key)
        async with self.lock_pool.acquire() as conn:
            # If this wait is cancelled, releasing the connection to the pool resets it, and the
            # reset unlocks every advisory lock the session may still have been granted.
            await conn.execute("SELECT pg_advisory_lock($1)", lock_id)
            try:
                yield
            finally:
                try:
                    await conn.execute("SELECT pg_advisory_unlock($1)", lock_id)
                except Exception as exc:
                    # The server side of a lost session has dropped the lock already.
                    log.warning("releasing the lock of %s failed: %r", key, exc)
                    conn.terminate()

    async def _conversation_id(self, key: ConversationKey, *, create: bool = True) -> int | None:
        params = (key.platform, key.space, key.channel, key.thread or "")
        conv = self._ids.get(params)
        if conv is not None:
            return conv
        find = "SELECT id FROM conversations WHERE platform=$1 AND space=$2 AND channel=$3 AND thread=$4"
        conv = await self.pool.fetchval(find, *params)
        if conv is None and create:
            conv = await self.pool.fetchval(
                "INSERT INTO conversations (platform, space, channel, thread, created_at)"
                " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING id",
                *params, time.time(),
            )
            if conv is None:  # another replica created it between the two statements
                conv = await self.pool.fetchval(find, *params)
        if conv is not None:
            if len(self._ids) >= ID_CACHE_SIZE:
                self._ids.clear()
            self._ids[params] = conv
        return conv

    async def add_turn(
        self, key: ConversationKey, turn: Turn, *, if_version: int | None = None
    ) -> Turn | None:
        conv = await self._conversation_id(key)
        created = turn.created_at or time.time()
        values = (conv, turn.role, turn.author_id, turn.author_name, turn.text, turn.message_id,
                  turn.tokens, created)
        columns = "conversation_id, role, author_id, author_name, text, message_id, tokens, created_at"
        if if_version is None:
            source, extra = "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", ()
        else:
            source = ("SELECT $1, $2, $3, $4, $5, $6, $7, $8"
                      " WHERE (SELECT memory_version FROM conversations WHERE id=$1) = $9")
            extra = (if_version,)
        turn_id = await self.pool.fetchval(
            f"INSERT INTO turns ({columns}) {source}"
            " ON CONFLICT (conversation_id, message_id) DO NOTHING RETURNING id",
            *values, *extra,
        )
        if turn_id is None:
            return None
        return Turn(**{**turn.__dict__, "id": turn_id, "created_at": created})

    async def turns_after(self, key: ConversationKey, after_id: int) -> list[Turn]:
        conv = await self._conversation_id(key, create=False)
        if conv is None:
            return []
        rows = await self.pool.fetch(
            "SELECT role, author_id, author_name, text, tokens, message_id, created_at, id FROM turns"
            " WHERE conversation_id=$1 AND id>$2 ORDER BY id",
            conv, after_id,
        )
        return [Turn(*row) for row in rows]

    async def _conversation_row(self, key: ConversationKey, columns: str) -> asyncpg.Record | None:
        return await self.pool.fetchrow(
            f"SELECT {columns} FROM conversations"
            " WHERE platform=$1 AND space=$2 AND channel=$3 AND thread=$4",
            key.platform, key.space, key.channel, key.thread or "",
        )

    async def summary(self, key: ConversationKey) -> Summary:
        row = await self._conversation_row(key, "summary, summary_upto, memory_version")
        return Summary(row[0], row[1], row[2]) if row else Summary()

    async def replace_summary(self, key: ConversationKey, old: Summary, new: Summary) -> bool:
        conv = await self._conversation_id(key)
        status = await self.pool.execute(
            "UPDATE conversations SET summary=$1, summary_upto=$2"
            " WHERE id=$3 AND summary_upto=$4 AND memory_version=$5",
            new.text, new.upto_turn_id, conv, old.upto_turn_id, old.version,
        )
        return _count(status) == 1

    async def settings(self, key: ConversationKey) -> ConversationSettings:
        row = await self._conversation_row(key, "persona, model, mode")
        if row is None:
            return ConversationSettings()
        return ConversationSettings(row[0], row[1], ChannelMode(row[2]))

    async def update_settings(
        self,
        key: ConversationKey,
        *,
        persona: str | Literal[False] | None = False,
        model: str | Literal[False] | None = False,
        mode: ChannelMode | None = None,
    ) -> ConversationSettings:
        conv = await self._conversation_id(key)
        changes = setting_columns(persona, model, mode)
        if changes:
            assignments = ", ".join(f"{column}=${n}" for n, column in enumerate(changes, start=2))
            await self.pool.execute(
                f"UPDATE conversations SET {assignments} WHERE id=$1", conv, *changes.values()
            )
        return await self.settings(key)

    async def reset(self, key: ConversationKey) -> int:
        conv = await self._conversation_id(key, create=False)
        if conv is None:
            return 0
        async with self.pool.acquire() as conn, conn.transaction():
            status = await conn.execute("DELETE FROM turns WHERE conversation_id=$1", conv)
            await conn.execute(
                "UPDATE conversations SET summary='', summary_upto=0, memory_version=memory_version+1"
                " WHERE id=$1",
                conv,
            )
        return _count(status)

    async def forget_user(self, platform: str, user_id: str) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            deleted = await conn.fetch(
                "DELETE FROM turns WHERE author_id=$2 AND role='user' AND conversation_id IN"
                " (SELECT id FROM conversations WHERE platform=$1) RETURNING conversation_id",
                platform, user_id,
            )
            # Exactly the conversations the deletion touched lose their summaries: a turn written
            # between two statements cannot be deleted without its conversation being cleared too.
            touched = sorted({row[0] for row in deleted})
            if touched:
                await conn.execute(
                    "UPDATE conversations SET summary='', summary_upto=0, memory_version=memory_version+1"
                    " WHERE id = ANY($1::bigint[])",
                    touched,
                )
        return len(deleted)

    async def add_usage(
        self, key: ConversationKey, user_id: str, prompt: int, completion: int, day: str
    ) -> None:
        conv = await self._conversation_id(key)
        await self.pool.execute(
            "INSERT INTO usage (day, conversation_id, platform, space, user_id, prompt_tokens,"
            " completion_tokens) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            " ON CONFLICT (day, conversation_id, user_id) DO UPDATE SET"
            " prompt_tokens = usage.prompt_tokens + excluded.prompt_tokens,"
            " completion_tokens = usage.completion_tokens + excluded.completion_tokens",
            day, conv, key.platform, key.space, user_id, prompt, completion,
        )

    async def usage(self, key: ConversationKey, user_id: str, day: str) -> UsageReport:
        conv = await self._conversation_id(key, create=False)

        def tokens(where: str) -> str:
            return (f"COALESCE(SUM(prompt_tokens) FILTER (WHERE {where}), 0)::bigint,"
                    f" COALESCE(SUM(completion_tokens) FILTER (WHERE {where}), 0)::bigint")

        in_conv, in_space, by_user, today = "conversation_id=$3", "space=$2", "user_id=$4", "day=$5"
        row = await self.pool.fetchrow(
            f"SELECT {tokens(f'{in_conv} AND {today}')}, {tokens(in_conv)},"
            f" {tokens(f'{in_space} AND {today}')}, {tokens(in_space)}, {tokens(f'{by_user} AND {today}')}"
            " FROM usage WHERE platform=$1 AND (space=$2 OR user_id=$4)",
            key.platform, key.space, conv, user_id, day,
        )
        values = list(row) if row else [0] * 10
        return UsageReport(*(Tokens(values[i], values[i + 1]) for i in range(0, 10, 2)))

    async def stats(self, key: ConversationKey) -> MemoryStats:
        row = await self.pool.fetchrow(
            "SELECT COUNT(t.id), COALESCE(SUM(t.tokens), 0)::bigint,"
            " COUNT(t.id) FILTER (WHERE t.id <= c.summary_upto)"
            " FROM conversations c JOIN turns t ON t.conversation_id = c.id"
            " WHERE c.platform=$1 AND c.space=$2 AND c.channel=$3 AND c.thread=$4",
            key.platform, key.space, key.channel, key.thread or "",
        )
        return MemoryStats(*row) if row else MemoryStats(0, 0, 0)

    async def claim_event(self, platform: str, event_id: str) -> bool:
        now = time.time()
        async with self.pool.acquire() as conn:
            claimed = await conn.fetchval(
                "INSERT INTO events (platform, event_id, claimed_at) VALUES ($1, $2, $3)"
                " ON CONFLICT DO NOTHING RETURNING true",
                platform, event_id, now,
            )
            await conn.execute("DELETE FROM events WHERE claimed_at < $1", now - EVENT_RETENTION_SECONDS)
        return claimed is True
