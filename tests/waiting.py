"""Waiting on a condition instead of sleeping for a guessed time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


async def until(condition: Callable[[], bool | Awaitable[bool]], within: float = 5.0,
                message: str | Callable[[], str] = "condition") -> None:
    """Wait for `condition`; `message` (or what it returns at the time, e.g. a log) says what failed."""
    deadline = time.monotonic() + within
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            said = message if isinstance(message, str) else message()
            raise AssertionError(f"timed out after {within}s waiting for {said}")
        await asyncio.sleep(0.01)
