"""Sliding-window limits: one type behind every "N per window" rule the bot keeps.

The per-user message limit, Discord's per-channel write budget and Slack's per-workspace update
budget are all a `Window`: at most `limit` hits per key in any `seconds`-long window. The
interface is async so a shared implementation (replicas counting in one database, see
`bot.memory.pgwindows`) stands in for the in-memory one without changing a caller: callers ask
the store for a window (`MemoryStore.window`) and get whichever the database allows.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    notify: bool  # True the first time a key is refused in a window: say so politely, once


class Window(Protocol):
    limit: int
    seconds: float

    async def try_acquire(self, key: Hashable) -> bool:
        """Take a hit now if the window has room; False (and nothing taken) if it has not."""

    async def admit(self, key: Hashable) -> Verdict:
        """`try_acquire`, and on a refusal whether to say so: the first refusal since the key was
        last let through, and again once a whole window has passed since it was told."""

    async def acquire(self, key: Hashable, max_wait: float | None = None) -> None:
        """Wait for room and take a hit; after `max_wait` seconds take it anyway (a must-do write)."""

    async def time_until_free(self, key: Hashable) -> float:
        """Seconds until a hit would be allowed (0 when it would be now)."""


class MemoryWindow:
    """A `Window` kept in this process. A limit of 0 or less means no limit."""

    #: How many keys may be tracked before idle ones are swept, so memory stays bounded.
    SWEEP_AT = 10_000

    def __init__(self, limit: int, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.seconds = seconds
        self.clock = clock
        self._hits: dict[Hashable, deque[float]] = {}
        self._warned: dict[Hashable, float] = {}

    def __len__(self) -> int:
        """Keys currently tracked."""
        return len(self._hits)

    def _recent(self, key: Hashable, now: float) -> deque[float]:
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= self.SWEEP_AT:
                self._sweep(now)
            hits = self._hits[key] = deque()
        while hits and hits[0] <= now - self.seconds:
            hits.popleft()
        return hits

    def _sweep(self, now: float) -> None:
        self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > now - self.seconds}

    def _wait(self, key: Hashable) -> float:
        if self.limit <= 0:
            return 0.0
        now = self.clock()
        hits = self._recent(key, now)
        if len(hits) < self.limit:
            return 0.0
        return max(0.0, hits[len(hits) - self.limit] + self.seconds - now)

    def _take(self, key: Hashable) -> None:
        if self.limit > 0:
            now = self.clock()
            self._recent(key, now).append(now)

    async def try_acquire(self, key: Hashable) -> bool:
        if self._wait(key) > 0:
            return False
        self._take(key)
        return True

    async def admit(self, key: Hashable) -> Verdict:
        if await self.try_acquire(key):
            self._warned.pop(key, None)
            return Verdict(True, False)
        now = self.clock()
        warned_at = self._warned.get(key)
        if warned_at is not None and warned_at > now - self.seconds:
            return Verdict(False, False)
        if len(self._warned) >= self.SWEEP_AT:
            self._warned = {k: t for k, t in self._warned.items() if t > now - self.seconds}
        self._warned[key] = now
        return Verdict(False, True)

    async def acquire(self, key: Hashable, max_wait: float | None = None) -> None:
        deadline = None if max_wait is None else self.clock() + max_wait
        while (delay := self._wait(key)) > 0:
            if deadline is not None:
                left = deadline - self.clock()
                if left <= 0:
                    break
                delay = min(delay, left)
            await asyncio.sleep(delay)
        self._take(key)

    async def time_until_free(self, key: Hashable) -> float:
        return self._wait(key)


class UserLimit:
    """Messages per user per minute, telling the caller when to say so (once per refused window).

    The window comes from the store (`MemoryStore.window`): in process with SQLite, shared by
    every replica with PostgreSQL, so a user is limited and told once whichever replica answers."""

    def __init__(self, window: Window) -> None:
        self.window = window

    @classmethod
    def per_minute(cls, limit: int, clock: Callable[[], float] = time.monotonic) -> UserLimit:
        return cls(MemoryWindow(limit, 60.0, clock))

    async def check(self, user: Hashable) -> Verdict:
        return await self.window.admit(user)
