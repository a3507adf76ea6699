"""A per-user sliding-window rate limit that tells the adapter when to say so, once."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

LIMIT_MESSAGE = "You're sending messages faster than I can keep up with; please wait a minute."


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    notify: bool  # True the first time a user is refused in a window: answer politely once


class RateLimiter:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._warned: dict[str, float] = {}
        self._checks = 0

    def __len__(self) -> int:
        """Users currently tracked."""
        return len(self._hits)

    def _forget_idle(self, now: float) -> None:
        """Drop users not seen for a minute, so a busy bot's memory does not grow without end."""
        idle = [user for user, hits in self._hits.items() if not hits or hits[-1] <= now - 60]
        for user in idle:
            del self._hits[user]
            self._warned.pop(user, None)

    def check(self, user: str) -> Verdict:
        if self.per_minute <= 0:
            return Verdict(True, False)
        now = self.clock()
        self._checks += 1
        if self._checks % 1000 == 0:
            self._forget_idle(now)
        hits = self._hits.setdefault(user, deque())
        while hits and hits[0] <= now - 60:
            hits.popleft()
        if len(hits) < self.per_minute:
            hits.append(now)
            self._warned.pop(user, None)
            return Verdict(True, False)
        warned_at = self._warned.get(user)
        if warned_at is not None and warned_at > now - 60:
            return Verdict(False, False)
        self._warned[user] = now
        return Verdict(False, True)
