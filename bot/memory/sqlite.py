"""The default memory backend: one SQLite file through aiosqlite, in WAL mode."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Literal, TypeVar

import aiosqlite

from bot.memory.base import (
    ConversationSettings,
    MemoryStats,
    MemoryStore,
    Snapshot,
    Summary,
    Tokens,
    Turn,
    UsageReport,
    setting_columns,
)
from bot.types import ChannelMode, ConversationKey

# Each entry upgrades the schema by one version; append, never edit.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE conversations (
        id INTEGER PRIMARY KEY,
        platform TEXT NOT NULL,
        space TEXT NOT NULL,
        channel TEXT NOT NULL,
        thread TEXT NOT NULL DEFAULT '',
        persona TEXT,
        model TEXT,
        mode TEXT NOT NULL DEFAULT 'mention',
        summary TEXT NOT NULL DEFAULT '',
        summary_upto INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        UNIQUE (platform, space, channel, thread)
    );
    CREATE TABLE turns (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        role TEXT NOT NULL,
        author_id TEXT NOT NULL,
        author_name TEXT NOT NULL,
        text TEXT NOT NULL,
        message_id TEXT,
        tokens INTEGER NOT NULL,
        created_at REAL NOT NULL,
        UNIQUE (conversation_id, message_id)
    );
    CREATE INDEX turns_by_author ON turns (author_id);
    CREATE TABLE usage (
        day TEXT NOT NULL,
        conversation_id INTEGER NOT NULL,
        platform TEXT NOT NULL,
        space TEXT NOT NULL,
        user_id TEXT NOT NULL,
        prompt_tokens INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (day, conversation_id, user_id)
    );
    CREATE INDEX usage_by_space ON usage (platform, space, day);
    CREATE TABLE events (
        platform TEXT NOT NULL,
        event_id TEXT NOT NULL,
        claimed_at REAL NOT NULL,
        PRIMARY KEY (platform, event_id)
    );
    """,
    # Pruning old event claims happens on every claim; keep it an index range scan.
    "CREATE INDEX events_by_time ON events (claimed_at);",
    "ALTER TABLE conversations ADD COLUMN memory_version INTEGER NOT NULL DEFAULT 0;",
    "CREATE INDEX turns_by_conversation ON turns (conversation_id, id);",
]

EVENT_RETENTION_SECONDS = 7 * 24 * 3600
ID_CACHE_SIZE = 10_000

T = TypeVar("T")


def sqlite_path(url: str) -> str:
    """`sqlite:///rel.db`, `sqlite:////abs.db` or `sqlite://:memory:` to a path aiosqlite opens."""
    path = url.removeprefix("sqlite:").removeprefix("//")
    if path.startswith("/") and not path.startswith("//"):
        path = path[1:] or ":memory:"
    elif path.startswith("//"):
        path = path[1:]
    return path or "qwenbot.db"


class SQLiteStore(MemoryStore):
    def __init__(self, path: str) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None
        # Deletions that must be seen whole run as transactions on a connection of their own, so
        # no other coroutine's write can land inside one (or be rolled back with it).
        self._tx: aiosqlite.Connection | None = None
        self._tx_lock = asyncio.Lock()
        # Conversation rows are never deleted, so their ids can be remembered (up to a bound).
        self._ids: dict[tuple[str, str, str, str], int] = {}

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("SQLiteStore.open() was not awaited")
        return self._db

    async def open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # Autocommit: every statement is its own transaction, so no write lock is ever held
        # across an await and each write costs one round trip to the database thread.
        self._db = await aiosqlite.connect(self.path, isolation_level=None)
        await self.db.execute("PRAGMA journal_mode=WAL")
        await self.db.execute("PRAGMA synchronous=NORMAL")
        await self.db.execute("PRAGMA foreign_keys=ON")
        await self.db.execute("PRAGMA busy_timeout=5000")
        await self._migrate()
        if self.path == ":memory:":
            # A second connection to ":memory:" would be another, empty database.
            self._tx = self._db
            return
        self._tx = await aiosqlite.connect(self.path, isolation_level=None)
        await self._tx.execute("PRAGMA foreign_keys=ON")
        await self._tx.execute("PRAGMA busy_timeout=5000")

    async def _migrate(self) -> None:
        await self.db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        async with self.db.execute("SELECT MAX(version) FROM schema_version") as cur:
            row = await cur.fetchone()
        current = row[0] if row and row[0] is not None else 0
        for version, script in enumerate(MIGRATIONS[current:], start=current + 1):
            await self.db.executescript(
                f"BEGIN; {script}; INSERT INTO schema_version (version) VALUES ({version}); COMMIT;"
            )

    async def _transaction(self, work: Callable[[aiosqlite.Connection], Awaitable[T]]) -> T:
        """Run `work` as one transaction; a cancelled caller never leaves it half done."""

        async def run() -> T:
            assert self._tx is not None
            async with self._tx_lock:
                await self._tx.execute("BEGIN IMMEDIATE")
                try:
                    result = await work(self._tx)
                except BaseException:
                    await self._tx.execute("ROLLBACK")
                    raise
                await self._tx.execute("COMMIT")
                return result

        return await asyncio.shield(run())

    async def close(self) -> None:
        for connection in {id(c): c for c in (self._tx, self._db) if c is not None}.values():
            await connection.close()
        self._tx = self._db = None

    async def _conversation_id(self, key: ConversationKey, *, create: bool = True) -> int | None:
        params = (key.platform, key.space, key.channel, key.thread or "")
        cached = self._ids.get(params)
        if cached is not None:
            return cached
        if create:
            await self.db.execute(
                "INSERT OR IGNORE INTO conversations (platform, space, channel, thread, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (*params, time.time()),
            )
        rows = await self.db.execute_fetchall(
            "SELECT id FROM conversations WHERE platform=? AND space=? AND channel=? AND thread=?", params
        )
        for (conversation_id,) in rows:
            if len(self._ids) >= ID_CACHE_SIZE:
                self._ids.clear()
            self._ids[params] = conversation_id
            return int(conversation_id)
        return None

    async def add_turn(
        self, key: ConversationKey, turn: Turn, *, if_version: int | None = None
    ) -> Turn | None:
        conv = await self._conversation_id(key)
        created = turn.created_at or time.time()
        values = (conv, turn.role, turn.author_id, turn.author_name, turn.text, turn.message_id,
                  turn.tokens, created)
        columns = "conversation_id, role, author_id, author_name, text, message_id, tokens, created_at"
        if if_version is None:
            cur = await self.db.execute(
                f"INSERT OR IGNORE INTO turns ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", values
            )
        else:
            cur = await self.db.execute(
                f"INSERT OR IGNORE INTO turns ({columns}) SELECT ?, ?, ?, ?, ?, ?, ?, ?"
                " WHERE (SELECT memory_version FROM conversations WHERE id=?) = ?",
                (*values, conv, if_version),
            )
        if cur.rowcount == 0:
            return None
        return Turn(**{**turn.__dict__, "id": cur.lastrowid, "created_at": created})

    async def turns_after(self, key: ConversationKey, after_id: int) -> list[Turn]:
        conv = await self._conversation_id(key, create=False)
        if conv is None:
            return []
        rows = await self.db.execute_fetchall(
            "SELECT role, author_id, author_name, text, tokens, message_id, created_at, id FROM turns"
            " WHERE conversation_id=? AND id>? ORDER BY id",
            (conv, after_id),
        )
        return [Turn(*row) for row in rows]

    async def summary(self, key: ConversationKey) -> Summary:
        conv = await self._conversation_id(key, create=False)
        rows = await self.db.execute_fetchall(
            "SELECT summary, summary_upto, memory_version FROM conversations WHERE id=?", (conv,)
        )
        return next((Summary(*row) for row in rows), Summary())

    async def load(self, key: ConversationKey) -> Snapshot:
        conv = await self._conversation_id(key, create=False)
        rows = await self.db.execute_fetchall(
            "SELECT c.persona, c.model, c.mode, c.summary, c.summary_upto, c.memory_version,"
            " t.role, t.author_id, t.author_name, t.text, t.tokens, t.message_id, t.created_at, t.id"
            " FROM conversations c"
            " LEFT JOIN turns t ON t.conversation_id = c.id AND t.id > c.summary_upto"
            " WHERE c.id=? ORDER BY t.id",
            (conv,),
        )
        if not rows:
            return Snapshot(ConversationSettings(), Summary(), ())
        persona, model, mode, summary, upto, version = rows[0][:6]
        turns = tuple(Turn(*row[6:]) for row in rows if row[-1] is not None)
        return Snapshot(
            ConversationSettings(persona, model, ChannelMode(mode)), Summary(summary, upto, version), turns
        )

    async def replace_summary(self, key: ConversationKey, old: Summary, new: Summary) -> bool:
        conv = await self._conversation_id(key)
        cur = await self.db.execute(
            "UPDATE conversations SET summary=?, summary_upto=?"
            " WHERE id=? AND summary_upto=? AND memory_version=?",
            (new.text, new.upto_turn_id, conv, old.upto_turn_id, old.version),
        )
        return cur.rowcount == 1

    async def settings(self, key: ConversationKey) -> ConversationSettings:
        conv = await self._conversation_id(key, create=False)
        rows = await self.db.execute_fetchall(
            "SELECT persona, model, mode FROM conversations WHERE id=?", (conv,)
        )
        for persona, model, mode in rows:
            return ConversationSettings(persona, model, ChannelMode(mode))
        return ConversationSettings()

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
            assignments = ", ".join(f"{column}=?" for column in changes)
            await self.db.execute(
                f"UPDATE conversations SET {assignments} WHERE id=?", (*changes.values(), conv)
            )
        return await self.settings(key)

    async def reset(self, key: ConversationKey) -> int:
        conv = await self._conversation_id(key, create=False)
        if conv is None:
            return 0

        async def work(tx: aiosqlite.Connection) -> int:
            deleted = await tx.execute_fetchall(
                "DELETE FROM turns WHERE conversation_id=? RETURNING id", (conv,)
            )
            await tx.execute(
                "UPDATE conversations SET summary='', summary_upto=0, memory_version=memory_version+1"
                " WHERE id=?",
                (conv,),
            )
            return len(list(deleted))

        return await self._transaction(work)

    async def forget_user(self, platform: str, user_id: str) -> int:
        async def work(tx: aiosqlite.Connection) -> int:
            deleted = list(await tx.execute_fetchall(
                "DELETE FROM turns WHERE author_id=? AND role='user' AND conversation_id IN"
                " (SELECT id FROM conversations WHERE platform=?) RETURNING conversation_id",
                (user_id, platform),
            ))
            # Exactly the conversations the deletion touched lose their summaries.
            touched = sorted({row[0] for row in deleted})
            if touched:
                marks = ", ".join("?" for _ in touched)
                await tx.execute(
                    "UPDATE conversations SET summary='', summary_upto=0, memory_version=memory_version+1"
                    f" WHERE id IN ({marks})",
                    touched,
                )
            return len(deleted)

        return await self._transaction(work)

    async def add_usage(
        self, key: ConversationKey, user_id: str, prompt: int, completion: int, day: str
    ) -> None:
        conv = await self._conversation_id(key)
        await self.db.execute(
            "INSERT INTO usage (day, conversation_id, platform, space, user_id, prompt_tokens,"
            " completion_tokens) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (day, conversation_id, user_id) DO UPDATE SET"
            " prompt_tokens = prompt_tokens + excluded.prompt_tokens,"
            " completion_tokens = completion_tokens + excluded.completion_tokens",
            (day, conv, key.platform, key.space, user_id, prompt, completion),
        )

    async def _tokens(self, where: str, params: tuple[object, ...]) -> Tokens:
        rows = await self.db.execute_fetchall(
            f"SELECT COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0)"
            f" FROM usage WHERE {where}",
            params,
        )
        return next((Tokens(prompt, completion) for prompt, completion in rows), Tokens())

    async def usage(self, key: ConversationKey, user_id: str, day: str) -> UsageReport:
        conv = await self._conversation_id(key)
        space = (key.platform, key.space)
        return UsageReport(
            conversation_today=await self._tokens("conversation_id=? AND day=?", (conv, day)),
            conversation_total=await self._tokens("conversation_id=?", (conv,)),
            space_today=await self._tokens("platform=? AND space=? AND day=?", (*space, day)),
            space_total=await self._tokens("platform=? AND space=?", space),
            user_today=await self._tokens("platform=? AND user_id=? AND day=?", (key.platform, user_id, day)),
        )

    async def stats(self, key: ConversationKey) -> MemoryStats:
        conv = await self._conversation_id(key, create=False)
        if conv is None:
            return MemoryStats(0, 0, 0)
        summary = await self.summary(key)
        rows = await self.db.execute_fetchall(
            "SELECT COUNT(*), COALESCE(SUM(tokens), 0), COALESCE(SUM(id <= ?), 0)"
            " FROM turns WHERE conversation_id=?",
            (summary.upto_turn_id, conv),
        )
        return next((MemoryStats(*row) for row in rows), MemoryStats(0, 0, 0))

    async def claim_event(self, platform: str, event_id: str) -> bool:
        now = time.time()
        cur = await self.db.execute(
            "INSERT OR IGNORE INTO events (platform, event_id, claimed_at) VALUES (?, ?, ?)",
            (platform, event_id, now),
        )
        await self.db.execute("DELETE FROM events WHERE claimed_at < ?", (now - EVENT_RETENTION_SECONDS,))
        return cur.rowcount == 1
