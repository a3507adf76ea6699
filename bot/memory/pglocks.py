"""Per-conversation ordering across PostgreSQL replicas, without a connection pinned per turn.

A conversation's turn holds a session advisory lock on a 64-bit key derived from it. Uncontended
(the usual case) that lock is taken with `pg_try_advisory_lock` on one connection the process
shares for all its locks; only when another replica holds it does the turn wait in the server's
queue (`pg_advisory_lock`), on a connection of its own from a small pool. Session advisory locks
are re-entrant, so within a process an asyncio lock per key keeps one holder at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Callable

import asyncpg

from bot.locks import KeyedLocks
from bot.memory.base import MemoryUnavailable, opened
from bot.types import ConversationKey

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 5.0
CLOSE_TIMEOUT_SECONDS = 10.0

# What a lost or restarting server looks like to asyncpg; anything else is not worth a retry.
CONNECTION_LOST: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, unreachable, and connect timeouts (TimeoutError)
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08, and "connection was closed in the middle"
    asyncpg.exceptions.OperatorInterventionError,  # terminated by an administrator, shutting down
    asyncpg.InterfaceError,  # "connection is closed"
    asyncpg.exceptions.InternalClientError,  # a protocol left mid-way by a lost connection
)


def int64(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)


def advisory_key(key: ConversationKey) -> int:
    """The 64-bit advisory lock id of one conversation (stable across processes and versions)."""
    return int64("qwenbot:conversation\0" + "\0".join(
        (key.platform, key.space, key.channel, key.thread or "")))


def brief(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class ConversationLocks:
    """The `lock` of PostgresStore: one holder per conversation, across every replica."""

    def __init__(
        self, url: str, pool_size: int, unavailable: Callable[[BaseException], MemoryUnavailable]
    ) -> None:
        self.url = url
        self.pool_size = pool_size
        self._unavailable = unavailable
        self._pool: asyncpg.Pool | None = None
        self._shared: asyncpg.Connection | None = None
        self._mutex = asyncio.Lock()  # one query at a time on the shared connection
        self._local = KeyedLocks()

    @property
    def pool(self) -> asyncpg.Pool:
        return opened(self._pool, self)

    async def open(self) -> None:
        self._pool = await asyncpg.create_pool(
            self.url, min_size=0, max_size=self.pool_size, timeout=CONNECT_TIMEOUT_SECONDS
        )

    async def close(self) -> None:
        if self._shared is not None:
            self._shared.terminate()  # its locks go with it
            self._shared = None
        if self._pool is not None:
            try:
                # A turn still waiting for a lock must not hold up shutdown for long.
                await asyncio.wait_for(self._pool.close(), CLOSE_TIMEOUT_SECONDS)
            except Exception as exc:  # nor may a dead server
                log.warning("closing the PostgreSQL lock pool failed: %r", exc)
                self._pool.terminate()
            self._pool = None

    @contextlib.asynccontextmanager
    async def hold(self, key: ConversationKey) -> AsyncIterator[None]:
        """Hold the conversation's session advisory lock: on the shared lock connection when it is
        free, else on a connection of its own that waits in the server's queue."""
        lock_id = advisory_key(key)
        async with self._local.hold(key):
            shared = await self._try_shared_lock(lock_id)
            waited = None
            if shared is None:
                try:
                    waited = await self._wait_for_lock(lock_id)
                except CONNECTION_LOST as exc:
                    raise self._unavailable(exc) from exc
            try:
                yield
            finally:
                # Shielded and never raising: the turn's own outcome is already decided.
                if shared is not None:
                    await asyncio.shield(self._release_shared(shared, lock_id, key))
                elif waited is not None:
                    await asyncio.shield(self._release_waited(waited, key))

    async def _shared_connection(self) -> asyncpg.Connection:
        if self._shared is None or self._shared.is_closed():
            self._shared = await asyncpg.connect(self.url, timeout=CONNECT_TIMEOUT_SECONDS)
        return self._shared

    async def _try_shared_lock(self, lock_id: int) -> asyncpg.Connection | None:
        """The shared connection if it got the lock, None if another session holds it."""

        async def attempt() -> asyncpg.Connection | None:
            async with self._mutex:
                for retrying in (False, True):
                    try:
                        conn = await self._shared_connection()
                        granted = await conn.fetchval("SELECT pg_try_advisory_lock($1)", lock_id)
                        return conn if granted else None
                    except CONNECTION_LOST as exc:
                        if retrying:
                            raise self._unavailable(exc) from exc
                        log.warning("lost the PostgreSQL lock connection (%s); reconnecting", brief(exc))
            raise AssertionError("unreachable")

        task = asyncio.ensure_future(attempt())
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            # The query runs on a connection other turns share: let it finish, then undo it.
            with contextlib.suppress(Exception):
                conn = await task
                if conn is not None:
                    await self._release_shared(conn, lock_id, None)
            raise

    async def _wait_for_lock(self, lock_id: int) -> asyncpg.Connection:
        conn: asyncpg.Connection = await self.pool.acquire()
        try:
            await conn.execute("SELECT pg_advisory_lock($1)", lock_id)
        except BaseException:
            # Releasing resets the session, which drops a lock granted while the wait was cancelled.
            await asyncio.shield(self._release_waited(conn, None))
            raise
        return conn

    async def _release_shared(
        self, conn: asyncpg.Connection, lock_id: int, key: ConversationKey | None
    ) -> None:
        async with self._mutex:
            if conn.is_closed():
                log.warning("the lock connection closed while %s was held; the server released it", key)
                return
            try:
                await conn.execute("SELECT pg_advisory_unlock($1)", lock_id)
            except Exception as exc:
                # A lost session has dropped its locks already. A live one that could not unlock
                # would keep this lock forever: ending it frees it (and, briefly, this process's others).
                log.warning("releasing the lock of %s failed (%s)", key, brief(exc))
                if self._shared is conn:
                    self._shared = None
                conn.terminate()

    async def _release_waited(self, conn: asyncpg.Connection, key: ConversationKey | None) -> None:
        try:
            # The pool's reset runs pg_advisory_unlock_all(); a closed connection is replaced.
            await self.pool.release(conn)
        except Exception as exc:
            log.warning("releasing the lock of %s failed (%s)", key, brief(exc))
