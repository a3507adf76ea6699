"""RETENTION_DAYS: a background sweep deletes what is older, so no answer ever waits for it.

The platform commands (`run`, `discord`, `slack`) start one `Sweeper` when it is set; on PostgreSQL each
replica sweeps too, which is harmless (a row is deleted once, whoever gets to it). The deletions
themselves, a small batch at a time, are the store's `purge` (bot/memory/retention.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from bot.memory import MemoryStore
from bot.memory.retention import Purged
from bot.sentences import plural

log = logging.getLogger(__name__)

DAY = 24 * 3600
#: Seconds between sweeps: retention is counted in days, so hourly keeps it to the hour.
SWEEP_EVERY = 3600.0
#: Seconds after start before the first sweep, so it never competes with crash recovery.
FIRST_SWEEP = 60.0
#: Seconds between two batches of one sweep: writes queued behind a batch go first.
PAUSE = 0.05


def cutoff(days: float, now: float | None = None) -> float:
    """The moment (seconds since the epoch) before which records are `days` old."""
    return (time.time() if now is None else now) - days * DAY


class Sweeper:
    """Deletes what is older than `days` days, every `every` seconds, until closed."""

    def __init__(self, store: MemoryStore, days: int, *, every: float = SWEEP_EVERY,
                 first: float = FIRST_SWEEP, pause: float = PAUSE) -> None:
        self.store = store
        self.days = days
        self.every = every
        self.first = first
        self.pause = pause
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def start(cls, store: MemoryStore, days: int | None, **timing: float) -> Sweeper | None:
        """A running sweeper for `days` (RETENTION_DAYS); None when it is unset (keep forever)."""
        if days is None:
            return None
        sweeper = cls(store, days, **timing)
        sweeper._task = asyncio.create_task(sweeper._run(), name="retention sweep")
        return sweeper

    async def sweep(self) -> Purged:
        """Delete what is past the retention now; how much of each kind went."""
        purged = await self.store.purge(cutoff(self.days), pause=self.pause)
        if purged.total:
            removed = ", ".join(f"{kind}: {count}" for kind, count in purged.counts().items() if count)
            log.info("retention of %s: removed %s", plural(self.days, "day"), removed)
        return purged

    async def _run(self) -> None:
        await asyncio.sleep(self.first)
        while True:
            try:
                await self.sweep()
            except Exception as exc:  # housekeeping: the next sweep tries again, answers go on
                log.warning("retention sweep failed, trying again in %.0f s: %r", self.every, exc)
            await asyncio.sleep(self.every)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
