"""Coalescing streamed text into at most one `Reply.partial` call per interval.

Deltas arrive far faster than any platform accepts edits. The stream only ever records the
latest text; a single background flusher sends it when the interval allows, so a slow
platform call never holds up the stream and never builds a queue of stale edits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from bot.reply import Reply

log = logging.getLogger(__name__)


class Throttle:
    def __init__(self, reply: Reply, clock: Callable[[], float] = time.monotonic) -> None:
        self.reply = reply
        self.interval = max(0.0, reply.update_interval)
        self.clock = clock
        self._text = ""
        self._sent = ""
        self._last = float("-inf")
        self._dirty = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._calling = asyncio.Lock()

    def push(self, text: str) -> None:
        """Record the text so far; it reaches the reply at the next allowed moment."""
        self._text = text
        self._dirty.set()
        if self._task is None:
            self._task = asyncio.create_task(self._flush_loop())

    async def _flush_loop(self) -> None:
        while True:
            await self._dirty.wait()
            wait = self._last + self.interval - self.clock()
            if wait > 0:
                await asyncio.sleep(wait)
            self._dirty.clear()
            if self._text == self._sent:
                continue
            text = self._text
            self._last = self.clock()
            try:
                async with self._calling:
                    await self.reply.partial(text)
                self._sent = text
            except OSError as exc:
                # The next update carries the whole text anyway; a network blip needs one line.
                log.warning("partial reply failed: %r", exc)
            except Exception:
                log.exception("partial reply failed")

    async def close(self) -> None:
        """Stop flushing; a partial call already under way completes first (unless we are cancelled)."""
        task, self._task = self._task, None
        if task is None:
            return
        try:
            async with self._calling:
                task.cancel()
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(task)
