"""Sliding windows every replica shares, kept in the PostgreSQL database they already use.

A window's state per key is one row of `limit_windows`: the times of its recent hits (at most
`limit` of them) and when a refusal was last told. A hit is one statement: an upsert whose
ON CONFLICT branch locks the row, so two replicas hitting the same key at once take turns and no
hit is lost or counted against a stale view. The table is UNLOGGED: a crash of the server forgets
at most a minute of who asked what, and writes skip the WAL.

Times come from each replica's wall clock (kept in step by NTP): a skew of a second shifts a
minute's window by a second, nothing more.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any

import asyncpg

from bot.limits import MemoryWindow, Verdict
from bot.memory.base import MemoryUnavailable

log = logging.getLogger(__name__)

Fetch = Callable[[str, Sequence[object]], Awaitable[list[Sequence[Any]]]]

# The store reports a lost server as MemoryUnavailable and passes the server's own refusals on
# (a lock_timeout or statement_timeout hit, too many clients, a standby after a failover): either
# way the window counts in this process rather than take the message down with it.
AWAY = (MemoryUnavailable, asyncpg.PostgresError)

MIGRATION = """
    CREATE UNLOGGED TABLE limit_windows (
        name TEXT NOT NULL,
        key TEXT NOT NULL,
        hits DOUBLE PRECISION[] NOT NULL,
        warned_at DOUBLE PRECISION,
        taken BOOLEAN NOT NULL,
        notify BOOLEAN NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (name, key)
    );
    CREATE INDEX limit_windows_by_expiry ON limit_windows (expires_at);
"""

# $1 name, $2 key, $3 now, $4 limit, $5 seconds, $6 force (take the hit even without room), $7 tell
# (whether a refusal is told: `admit` keeps warned_at, `try_acquire` leaves it alone). `taken` and
# `notify` are this hit's outcome, stored only so that RETURNING can report them.
HIT = """
INSERT INTO limit_windows AS w (name, key, hits, warned_at, taken, notify, expires_at)
VALUES ($1, $2, ARRAY[$3::float8], NULL, TRUE, FALSE, $3::float8 + $5::float8)
ON CONFLICT (name, key) DO UPDATE SET (hits, warned_at, taken, notify, expires_at) = (
    SELECT CASE WHEN ok THEN (recent || $3::float8)[greatest(1, cardinality(recent) + 2 - $4::int):]
                ELSE recent END,
           CASE WHEN NOT $7::bool THEN w.warned_at WHEN ok THEN NULL WHEN tell THEN $3::float8
                ELSE w.warned_at END,
           ok, tell, $3::float8 + $5::float8
    FROM (SELECT recent, ok, $7::bool AND NOT ok
                 AND (w.warned_at IS NULL OR w.warned_at <= $3::float8 - $5::float8) AS tell
          FROM (SELECT recent, ($6::bool OR cardinality(recent) < $4::int) AS ok
                FROM (SELECT ARRAY(SELECT h FROM unnest(w.hits) AS h
                                   WHERE h > $3::float8 - $5::float8 ORDER BY h) AS recent) r) o) s)
RETURNING taken, notify, hits
"""
PEEK = "SELECT hits FROM limit_windows WHERE name=$1 AND key=$2"
PRUNE = "DELETE FROM limit_windows WHERE name=$1 AND expires_at < $2"


def key_text(key: Hashable) -> str:
    """A window key as the table stores it: ("slack", "U1") and "T1" alike."""
    if isinstance(key, tuple):
        return "\x1f".join(str(part) for part in key)
    return str(key)


class SharedWindow:
    """A `Window` in PostgreSQL: one round trip per hit, the same for every replica.

    If the database cannot be reached or refuses a hit, the window falls back to counting in this
    process, so a limit never stops the bot (and the store's own calls will say what is wrong)."""

    #: Hits between two deletions of keys whose windows have passed.
    PRUNE_EVERY = 1000

    def __init__(
        self, fetch: Fetch, name: str, limit: int, seconds: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.fetch = fetch
        self.name = name
        self.limit = limit
        self.seconds = seconds
        self.clock = clock
        self.fallback = MemoryWindow(limit, seconds)
        self._hits = 0

    async def _hit(
        self, key: Hashable, *, force: bool = False, tell: bool = False
    ) -> tuple[bool, bool, float] | None:
        """(taken, notify, seconds until free) for one hit, or None when the database is away."""
        now = self.clock()
        params = (self.name, key_text(key), now, self.limit, self.seconds, force, tell)
        try:
            rows = await self.fetch(HIT, params)
        except AWAY as exc:
            log.warning("limit %s counted in this process for now: %r", self.name, exc)
            return None
        taken, notify, hits = rows[0]
        await self._prune(now)
        return bool(taken), bool(notify), self._wait(list(hits), now)

    def _wait(self, hits: list[float], now: float) -> float:
        recent = [h for h in hits if h > now - self.seconds]
        if len(recent) < self.limit:
            return 0.0
        return max(0.0, recent[len(recent) - self.limit] + self.seconds - now)

    async def _prune(self, now: float) -> None:
        # A retried hit may count twice (the store retries a read once on a lost connection),
        # erring on the side of the limit; stale keys go in one indexed deletion now and then,
        # and at a process's first hit, as replicas restarted more often than every
        # PRUNE_EVERY hits would otherwise leave every key they ever saw behind.
        self._hits += 1
        if self._hits == 1 or self._hits % self.PRUNE_EVERY == 0:
            try:
                await self.fetch(PRUNE, (self.name, now))
            except AWAY as exc:
                log.warning("pruning limit %s failed: %s", self.name, exc)

    async def try_acquire(self, key: Hashable) -> bool:
        if self.limit <= 0:
            return True
        hit = await self._hit(key)
        return await self.fallback.try_acquire(key) if hit is None else hit[0]

    async def admit(self, key: Hashable) -> Verdict:
        if self.limit <= 0:
            return Verdict(True, False)
        hit = await self._hit(key, tell=True)
        return await self.fallback.admit(key) if hit is None else Verdict(hit[0], hit[1])

    async def acquire(self, key: Hashable, max_wait: float | None = None) -> None:
        if self.limit <= 0:
            return
        deadline = None if max_wait is None else time.monotonic() + max_wait
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            hit = await self._hit(key, force=left is not None and left <= 0)
            if hit is None:
                return await self.fallback.acquire(key, left)
            taken, _, wait = hit
            if taken:
                return
            await asyncio.sleep(wait if left is None else min(wait, left))

    async def time_until_free(self, key: Hashable) -> float:
        if self.limit <= 0:
            return 0.0
        try:
            rows = await self.fetch(PEEK, (self.name, key_text(key)))
        except AWAY:
            return await self.fallback.time_until_free(key)
        return self._wait(list(rows[0][0]), self.clock()) if rows else 0.0
