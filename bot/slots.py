"""Slots for model calls: at most `limit` calls count at once, and a stalled call stops counting.

A call that has produced no first token within `stall_grace` seconds gives its slot back (it keeps
running, counted as stalled), so a model endpoint that hangs on some requests cannot hold every
slot while healthy conversations wait. A stalled call that later starts answering counts again
without waiting: it is already under way, and making it queue mid-answer would only add latency.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot import metrics


class SlotCall:
    """One admitted call; `started()` marks its first token."""

    __slots__ = ("_slots", "_stall_timer", "counted", "stalled")

    def __init__(self, slots: CallSlots) -> None:
        self._slots = slots
        self.counted = True  # holds one of the `limit` slots
        self.stalled = False
        self._stall_timer: asyncio.TimerHandle | None = None

    def _stop_timer(self) -> None:
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None

    def started(self) -> None:
        """The first token arrived: the call is healthy again, and counts if it had stalled."""
        self._stop_timer()
        if self.stalled:
            self.stalled = False
            self._slots._stalled -= 1
            self.counted = True
            self._slots._in_flight += 1

    def _stall(self) -> None:
        self._stall_timer = None
        if self.counted:
            self.counted = False
            self.stalled = True
            self._slots._stalled += 1
            self._slots._release()

    def _end(self) -> None:
        self._stop_timer()
        if self.stalled:
            self.stalled = False
            self._slots._stalled -= 1
        elif self.counted:
            self.counted = False
            self._slots._release()


class CallSlots:
    """A FIFO limit on concurrent model calls that stalled calls do not hold."""

    def __init__(self, limit: int, stall_grace: float) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.stall_grace = stall_grace
        self._in_flight = 0
        self._stalled = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        metrics.SLOTS.slots.add(self)  # its counts are read when metrics are scraped

    @property
    def in_flight(self) -> int:
        """Calls counting against the limit (briefly above it when stalled calls recover)."""
        return self._in_flight

    @property
    def waiting(self) -> int:
        """Calls queued for a slot."""
        return sum(1 for waiter in self._waiters if not waiter.done())

    @property
    def stalled(self) -> int:
        """Calls still running that gave their slot back for want of a first token."""
        return self._stalled

    @asynccontextmanager
    async def call(self) -> AsyncIterator[SlotCall]:
        await self._acquire()
        call = SlotCall(self)
        call._stall_timer = asyncio.get_running_loop().call_later(self.stall_grace, call._stall)
        try:
            yield call
        finally:
            call._end()

    async def _acquire(self) -> None:
        if self._in_flight < self.limit and not self._waiters:
            self._in_flight += 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release()  # granted just as we were cancelled: pass the slot on
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            raise

    def _release(self) -> None:
        self._in_flight -= 1
        while self._waiters and self._in_flight < self.limit:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._in_flight += 1
                waiter.set_result(None)
