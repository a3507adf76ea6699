"""The surface an adapter gives the core for one answer.

The core calls `partial` with the whole text so far (never a delta), at most once per
`update_interval` seconds, then exactly one of `finish` or `fail`. Adapters decide how text
reaches their platform: editing messages, streaming APIs, or printing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod


class Reply(ABC):
    #: Seconds the adapter wants between two `partial` calls; the core coalesces deltas in between.
    update_interval: float = 1.0

    async def started(self) -> None:
        """The model was called; a good moment for a typing indicator or a status line."""
        return None

    async def notice(self, text: str) -> None:
        """A short note for the user that is not part of the answer (e.g. "your message was cut")."""
        return None

    @abstractmethod
    async def partial(self, text: str) -> None:
        """The answer so far. Called only while more text may follow."""

    @abstractmethod
    async def finish(self, text: str) -> None:
        """The complete answer (it may end with an "(reply interrupted)" mark)."""

    @abstractmethod
    async def fail(self, message: str) -> None:
        """The model failed; `message` is one short sentence to show in place of the answer."""
