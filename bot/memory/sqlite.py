"""The default memory backend: one SQLite file through aiosqlite, in WAL mode.

Only the dialect lives here (migrations, connections, transactions); the queries are in sql.py.
"""

from __future__ import annotations

import asyncio
import errno
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiosqlite

from bot.config import ConfigError
from bot.memory.base import opened
from bot.memory.reasoning import reasoning_migration
from bot.memory.sql import Params, Row, SQLStore, Transaction

#: WAL pages between automatic checkpoints (SQLite's default is 1,000).
CHECKPOINT_PAGES = 4000

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
    # The journal of answers in progress, so a restarted process can finish what a killed one left.
    """
    CREATE TABLE answers (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        platform TEXT NOT NULL,
        space TEXT NOT NULL,
        channel TEXT NOT NULL,
        thread TEXT NOT NULL DEFAULT '',
        message_id TEXT NOT NULL,
        owner TEXT NOT NULL,
        memory_version INTEGER NOT NULL DEFAULT 0,
        visible BOOLEAN NOT NULL DEFAULT FALSE,
        place TEXT NOT NULL DEFAULT '',
        text TEXT NOT NULL DEFAULT '',
        started_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX answers_by_platform ON answers (platform, id);
    """,
    # A budgeted `load` sums the newest turns' tokens from the index alone (see sql.py).
    "CREATE INDEX turns_recent ON turns (conversation_id, id, tokens); DROP INDEX turns_by_conversation;",
    # Retention sweeps find old turns by age, a batch at a time (see retention.py).
    "CREATE INDEX turns_by_age ON turns (created_at);",
    # The daily budgets read a user's usage of the day (see DAILY_TOTALS in sql.py).
    "CREATE INDEX usage_by_user ON usage (platform, user_id, day);",
    # Threads the bot opened (Discord's thread mode), so it answers in them across restarts.
    """
    CREATE TABLE threads (
        platform TEXT NOT NULL,
        space TEXT NOT NULL,
        thread TEXT NOT NULL,
        channel TEXT NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (platform, space, thread)
    );
    """,
    # Which channel each Slack user is viewing (agent view), so every replica reads the same.
    "CREATE TABLE viewing (platform TEXT NOT NULL, space TEXT NOT NULL, user_id TEXT NOT NULL,"
    " channel TEXT NOT NULL, updated_at REAL NOT NULL, PRIMARY KEY (platform, space, user_id));",
    # 👍/👎 on answers: one vote per user and answer turn (see bot/memory/votes.py).
    """
    CREATE TABLE feedback (
        platform TEXT NOT NULL,
        space TEXT NOT NULL,
        channel TEXT NOT NULL,
        thread TEXT NOT NULL DEFAULT '',
        message_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        vote INTEGER NOT NULL,
        voted_at REAL NOT NULL,
        PRIMARY KEY (platform, space, channel, thread, message_id, user_id)
    );
    CREATE INDEX feedback_by_user ON feedback (platform, user_id);
    """,
    # Thinking and search per conversation, and the last answer's reasoning (bot/memory/reasoning.py).
    reasoning_migration("INTEGER", "REAL", "INTEGER"),
    # When the oldest message each summary stands for was written, so retention can clear it (see
    # retention.py). A summary from before this knows no better than its conversation's creation,
    # which no message in it predates: a conservative date that clears it only when it may hold
    # words past the retention.
    "ALTER TABLE conversations ADD COLUMN summary_oldest_at REAL NOT NULL DEFAULT 0;"
    " UPDATE conversations SET summary_oldest_at = created_at WHERE summary <> '';",
]


def sqlite_path(url: str) -> str:
    """`sqlite:///rel.db`, `sqlite:////abs.db` or `sqlite://:memory:` to a path aiosqlite opens."""
    path = url.removeprefix("sqlite:").removeprefix("//")
    if path.startswith("/") and not path.startswith("//"):
        path = path[1:] or ":memory:"
    elif path.startswith("//"):
        path = path[1:]
    return path or "qwenbot.db"


class _Tx:
    def __init__(self, connection: aiosqlite.Connection) -> None:
        self.connection = connection

    async def fetch(self, sql: str, params: Params = ()) -> list[Row]:
        return list(await self.connection.execute_fetchall(sql, params))


class SQLiteStore(SQLStore):
    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self._db: aiosqlite.Connection | None = None
        # Deletions that must be seen whole run as transactions on a connection of their own, so
        # no other coroutine's write can land inside one (or be rolled back with it).
        self._tx: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._tx_lock = asyncio.Lock()

    @property
    def db(self) -> aiosqlite.Connection:
        return opened(self._db, self)

    async def open(self) -> None:
        try:
            await self._open()
        except (OSError, sqlite3.Error) as exc:
            # Each aiosqlite connection runs a thread that would keep the process alive: close them.
            await self.close()
            raise ConfigError(
                f"DATABASE_URL: cannot use the SQLite database {self.path!r}: {_reason(exc)}"
            ) from None

    async def _open(self) -> None:
        if sqlite3.sqlite_version_info < (3, 35):  # the shared queries use RETURNING
            raise sqlite3.NotSupportedError(f"SQLite {sqlite3.sqlite_version} is too old: 3.35 or newer")
        if self.path != ":memory:":
            await asyncio.to_thread(_prepare_folder, Path(self.path))
        # Autocommit: every statement is its own transaction, so no write lock is ever held
        # across an await and each write costs one round trip to the database thread.
        self._db = await aiosqlite.connect(self.path, isolation_level=None)
        await self.db.execute("PRAGMA journal_mode=WAL")
        await self.db.execute("PRAGMA synchronous=NORMAL")
        # A checkpoint (the only fsync in WAL mode with synchronous=NORMAL) stalls whichever write
        # triggers it; every 4,000 pages (16 MB of WAL) instead of 1,000 makes that 4x rarer.
        await self.db.execute(f"PRAGMA wal_autocheckpoint={CHECKPOINT_PAGES}")
        await self.db.execute("PRAGMA foreign_keys=ON")
        await self.db.execute("PRAGMA busy_timeout=5000")
        await self._migrate()
        if self.path == ":memory:":
            # A second connection to ":memory:" would be another, empty database.
            self._tx = self._reader = self._db
            return
        self._tx = await aiosqlite.connect(self.path, isolation_level=None)
        await self._tx.execute("PRAGMA foreign_keys=ON")
        await self._tx.execute("PRAGMA busy_timeout=5000")
        # Reads on a connection (and a thread) of their own: in WAL mode they see every committed
        # write and never wait behind the writes queued on the main connection.
        self._reader = await aiosqlite.connect(self.path, isolation_level=None)
        await self._reader.execute("PRAGMA query_only=ON")
        await self._reader.execute("PRAGMA busy_timeout=5000")

    async def _migrate(self) -> None:
        await self.db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        # A write at every start, undone: a read-only file fails here, not at the first message.
        await self.db.execute("BEGIN IMMEDIATE")
        try:
            await self.db.execute("DELETE FROM schema_version WHERE version < 0")
        finally:
            await self.db.execute("ROLLBACK")
        async with self.db.execute("SELECT MAX(version) FROM schema_version") as cur:
            row = await cur.fetchone()
        current = row[0] if row and row[0] is not None else 0
        for version, script in enumerate(MIGRATIONS[current:], start=current + 1):
            await self.db.executescript(
                f"BEGIN; {script}; INSERT INTO schema_version (version) VALUES ({version}); COMMIT;"
            )

    async def close(self) -> None:
        for connection in {id(c): c for c in (self._reader, self._tx, self._db) if c is not None}.values():
            await connection.close()
        self._reader = self._tx = self._db = None

    # -- the dialect: writes go to the autocommit connection, reads to their own -----------------------------

    async def _fetch(self, sql: str, params: Params = ()) -> list[Row]:
        return list(await opened(self._reader, self).execute_fetchall(sql, params))

    async def _execute(self, sql: str, params: Params = ()) -> int:
        cursor = await self.db.execute(sql, params)
        return cursor.rowcount

    async def _write(self, sql: str, params: Params = ()) -> object | None:
        rows = list(await self.db.execute_fetchall(sql, params))
        return rows[0][0] if rows else None

    async def _transaction(self, work: Callable[[Transaction], Awaitable[int]]) -> int:
        async def run() -> int:
            assert self._tx is not None
            async with self._tx_lock:
                await self._tx.execute("BEGIN IMMEDIATE")
                try:
                    result = await work(_Tx(self._tx))
                except BaseException:
                    await self._tx.execute("ROLLBACK")
                    raise
                await self._tx.execute("COMMIT")
                return result

        # A cancelled caller never leaves the transaction half done.
        return await asyncio.shield(run())


def _prepare_folder(path: Path) -> None:
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "it is a folder, not a file")
    for folder in path.parents:
        if folder.exists():
            if not folder.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, f"{folder} is a file, not a folder")
            break
    path.parent.mkdir(parents=True, exist_ok=True)


def _reason(exc: BaseException) -> str:
    """One line saying what is wrong with the database file, for someone who can fix it."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:] + (f" ({exc.filename})" if exc.filename else "")
    text = str(exc)
    if "unable to open" in text:
        return f"{text}: check that its folder exists and that this user may write there"
    if "readonly" in text or "read-only" in text:
        return f"{text}: the file or its folder is read-only for this user"
    return text or type(exc).__name__
