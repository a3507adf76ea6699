"""The surface an adapter gives the core for one answer.

The core calls `partial` with the whole text so far (never a delta), at most once per
`update_interval` seconds, then exactly one of `finish` or `fail`. Adapters decide how text
reaches their platform: editing messages, streaming APIs, or printing.

While the model searches the web or reasons before its answer, the core calls `status` about
once a second with what it is doing and for how long (then `None` when the answer's text
begins); adapters show it in their idiom, under the same write budgets as the answer.

For crash recovery an adapter also says where its answer is shown: `where` returns a JSON-able
description only that adapter reads back (channel, message ids, ...), and the adapter calls
`moved` after each write that changes it (the first visible one above all).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot import sentences


@dataclass(frozen=True)
class Status:
    """What the model is doing before it answers: "searching" or "thinking", for `seconds`."""

    activity: str
    seconds: int

    @property
    def label(self) -> str:
        """The activity alone, e.g. "Thinking…"."""
        return sentences.STATUS_SEARCHING if self.activity == "searching" else sentences.STATUS_THINKING

    @property
    def text(self) -> str:
        """The activity and its seconds, e.g. "Thinking… 12 s"."""
        return sentences.STATUS_SECONDS.format(activity=self.label, seconds=self.seconds)


class Reply(ABC):
    #: Seconds the adapter wants between two `partial` calls; the core coalesces deltas in between.
    update_interval: float = 1.0
    _watcher: Callable[[], Awaitable[None]] | None = None

    def where(self) -> dict[str, object]:
        """Where this answer is shown (JSON-able, read back only by the same adapter after a crash)."""
        return {}

    def watch(self, watcher: Callable[[], Awaitable[None]]) -> None:
        """The core's callback for `moved`."""
        self._watcher = watcher

    async def moved(self) -> None:
        """Adapters call this after a write that changed `where` (first of all, the first visible one)."""
        if self._watcher is not None:
            await self._watcher()

    async def started(self) -> None:
        """The model was called; a good moment for a typing indicator or a status line."""
        return None

    #: Set before `finish` when the answer's reasoning was kept: what the `reasoning:` button names.
    reasoning_ref: str | None = None

    async def status(self, status: Status | None) -> None:
        """The model is searching or thinking (see `Status`); None: that is over, the text begins."""
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
