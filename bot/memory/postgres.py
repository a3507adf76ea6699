"""The shared memory backend for several replicas: PostgreSQL through an asyncpg pool.

Same semantics as the SQLite store, and the same queries (sql.py); here live only the dialect:
connections, a retry on a lost connection, and per-conversation ordering across replicas
(session advisory locks, see pglocks.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import urlsplit

import asyncpg

from bot.config import ConfigError
from bot.limits import Window
from bot.memory import pgwindows
from bot.memory.base import MemoryUnavailable, opened
from bot.memory.pglocks import (
    CLOSE_TIMEOUT_SECONDS,
    CONNECT_TIMEOUT_SECONDS,
    CONNECTION_LOST,
    ConversationLocks,
    brief,
    int64,
)
from bot.memory.pgschema import MIGRATIONS
from bot.memory.sql import Params, Row, SQLStore, Transaction
from bot.types import ConversationKey

log = logging.getLogger(__name__)


# A retry looks its receipt up within seconds; an hour leaves room for a slow database.
RECEIPT_RETENTION_SECONDS = 3600
RECEIPT_PRUNE_EVERY = 1000
# Every statement of the query pool takes milliseconds; one unanswered this long is on a network
# that drops packets without a reset, which the kernel would wait out for a quarter of an hour.
# Its TimeoutError counts as a lost connection: one more try elsewhere, then MemoryUnavailable.
# (Lock waits, which may rightly last an answer's length, have connections of their own.)
STATEMENT_TIMEOUT_SECONDS = 10.0

T = TypeVar("T")

# Advisory locks are database-wide; the prefix keeps qwenbot's keys apart from anyone else's.
MIGRATION_LOCK = int64("qwenbot:migrate")


def redact(url: str) -> str:
    """The URL without user or password, for messages and logs."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # a malformed port is reported on its own; here it is only left out
        port = ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def check_url(url: str) -> None:
    """Refuse a PostgreSQL URL asyncpg could not use, naming what is wrong in one line."""
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when asked for it
    except ValueError:
        port = parts.netloc.rpartition("@")[2].rpartition(":")[2]
        raise ConfigError(
            f"DATABASE_URL: PostgreSQL port {port!r} is not a number from 1 to 65535 ({redact(url)})"
        ) from None


@functools.lru_cache(maxsize=512)
def dollar(sql: str) -> str:
    """The shared statements' `?` placeholders as PostgreSQL's `$1, $2, ...`."""
    numbers = itertools.count(1)
    return re.sub(r"\?", lambda _: f"${next(numbers)}", sql)


def _count(status: str) -> int:
    """Rows touched, from a command status such as 'UPDATE 3' or 'INSERT 0 1'."""
    return int(status.rsplit(" ", 1)[-1])


class _Tx:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection

    async def fetch(self, sql: str, params: Params = ()) -> list[Row]:
        return list(await self.connection.fetch(dollar(sql), *params))


class PostgresStore(SQLStore):
    """Memory in PostgreSQL. `pool_size` connections serve queries; conversation locks take one
    more connection per process, and one of `lock_pool_size` others only while a turn waits for
    a lock another replica holds."""

    def __init__(self, url: str, *, pool_size: int = 10, lock_pool_size: int = 20) -> None:
        super().__init__()
        self.url = url
        self.pool_size = pool_size
        self._pool: asyncpg.Pool | None = None
        self._locks = ConversationLocks(url, lock_pool_size, self._unavailable)
        self._writes = 0

    @property
    def pool(self) -> asyncpg.Pool:
        return opened(self._pool, self)

    async def open(self) -> None:
        check_url(self.url)
        try:
            async with asyncio.timeout(3 * CONNECT_TIMEOUT_SECONDS):
                self._pool = await asyncpg.create_pool(
                    self.url, min_size=1, max_size=self.pool_size, timeout=CONNECT_TIMEOUT_SECONDS,
                    reset=_nothing_to_reset, command_timeout=STATEMENT_TIMEOUT_SECONDS,
                )
                await self._locks.open()
                await self._migrate()
        except (OSError, ValueError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            await self.close()
            # One line for the CLI; the URL may hold a password, so name the server without it.
            reason = str(exc) or brief(exc)
            if isinstance(exc, TimeoutError):
                reason = f"no answer within {CONNECT_TIMEOUT_SECONDS:g} s"
            raise ConfigError(f"DATABASE_URL: PostgreSQL at {redact(self.url)}: {reason}") from None

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
        await self._locks.close()
        if self._pool is not None:
            try:
                await asyncio.wait_for(self._pool.close(), CLOSE_TIMEOUT_SECONDS)
            except Exception as exc:  # a dead server must not stop shutdown
                log.warning("closing the PostgreSQL pool failed: %r", exc)
                self._pool.terminate()
        self._pool = None

    def lock(self, key: ConversationKey) -> contextlib.AbstractAsyncContextManager[None]:
        """Exclusive use of one conversation across replicas (see pglocks.py)."""
        return self._locks.hold(key)

    def window(
        self, name: str, limit: int, seconds: float, *, clock: Callable[[], float] | None = None
    ) -> Window:
        """A window every replica on this database shares (see pgwindows.py)."""
        return pgwindows.SharedWindow(self._fetch, name, limit, seconds, clock or time.time)

    # -- the dialect: pooled connections, one retry, receipts -----------------------------------

    async def _attempt(self, what: str, run: Callable[[asyncpg.Connection, bool], Awaitable[T]]) -> T:
        """`run(connection, retrying)` on a pooled connection, and once more on another if the
        first was lost. asyncpg's pool replaces closed connections, so a restarted server is
        simply reconnected to."""
        try:
            async with self.pool.acquire() as conn:
                return await run(conn, False)
        except CONNECTION_LOST as exc:
            log.warning("lost the PostgreSQL connection during %s (%s); trying once more", what, brief(exc))
        try:
            async with self.pool.acquire() as conn:
                return await run(conn, True)
        except CONNECTION_LOST as exc:
            raise self._unavailable(exc) from exc

    async def _fetch(self, sql: str, params: Params = ()) -> list[Row]:
        async def run(conn: asyncpg.Connection, _: bool) -> list[Row]:
            return list(await conn.fetch(dollar(sql), *params))

        return await self._attempt("a read", run)

    async def _execute(self, sql: str, params: Params = ()) -> int:
        async def run(conn: asyncpg.Connection, _: bool) -> int:
            return _count(await conn.execute(dollar(sql), *params))

        return await self._attempt("an update", run)

    async def _write(self, sql: str, params: Params = ()) -> object | None:
        # The write leaves a receipt in the same statement; a retry that finds it knows the first
        # attempt was applied (its answer lost with the connection) and returns what it returned.
        receipt, now = self._receipt()
        n = len(params)
        receipted = (f"WITH w AS ({dollar(sql)}), r AS (INSERT INTO receipts (id, result, written_at)"
                     f" SELECT ${n + 1}, (SELECT * FROM w), ${n + 2}) SELECT * FROM w")

        async def run(conn: asyncpg.Connection, retrying: bool) -> object | None:
            if retrying:
                done = await conn.fetchrow("SELECT result FROM receipts WHERE id=$1", receipt)
                if done is not None:
                    return done[0]
            return await conn.fetchval(receipted, *params, receipt, now)

        result = await self._attempt("a write", run)
        await self._prune_receipts(now)
        return result

    async def _transaction(self, work: Callable[[Transaction], Awaitable[int]]) -> int:
        receipt, now = self._receipt()

        async def run(conn: asyncpg.Connection, retrying: bool) -> int:
            if retrying:
                done = await conn.fetchrow("SELECT result FROM receipts WHERE id=$1", receipt)
                if done is not None:
                    return int(done[0])
            async with conn.transaction():
                result = await work(_Tx(conn))
                await conn.execute(
                    "INSERT INTO receipts (id, result, written_at) VALUES ($1, $2, $3)", receipt, result, now
                )
            return result

        # A cancelled caller never leaves the transaction half done.
        return await asyncio.shield(self._attempt("a deletion", run))

    def _unavailable(self, exc: BaseException) -> MemoryUnavailable:
        return MemoryUnavailable(f"the memory database at {redact(self.url)} is unavailable ({brief(exc)})")

    def _receipt(self) -> tuple[int, float]:
        return secrets.randbits(63), time.time()

    async def _prune_receipts(self, now: float) -> None:
        # At a process's first write too: replicas restarted more often than every
        # RECEIPT_PRUNE_EVERY writes would otherwise leave every receipt they wrote behind.
        self._writes += 1
        if self._writes == 1 or self._writes % RECEIPT_PRUNE_EVERY == 0:
            try:
                await self._execute("DELETE FROM receipts WHERE written_at < ?",
                                    (now - RECEIPT_RETENTION_SECONDS,))
            except MemoryUnavailable as exc:  # housekeeping: the write itself is stored
                log.warning("pruning old write receipts failed: %s", exc)


async def _nothing_to_reset(connection: asyncpg.Connection) -> None:
    """asyncpg resets a connection on every release (a round trip: unlock advisory locks, close
    cursors, unlisten, RESET ALL); the query pool's connections never hold any of those (locks
    live on their own connections, see `pglocks`), so a statement costs one round trip, not two."""
