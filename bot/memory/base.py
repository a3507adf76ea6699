"""The persistence interface every memory backend implements.

Records are plain frozen dataclasses so the core never sees a database row.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Literal, TypeVar

from bot.limits import MemoryWindow, Window
from bot.memory.records import (
    ConversationSettings,
    DailyTotals,
    KeptReasoning,
    MemoryStats,
    Snapshot,
    Summary,
    Turn,
    Unfinished,
    UsageReport,
)
from bot.memory.retention import BATCH, Purged
from bot.tokens import MESSAGE_OVERHEAD
from bot.types import ChannelMode, ConversationKey

R = TypeVar("R")


def least_cost(turn: Turn) -> int:
    """The least a turn costs in a context (build_context adds the author's name in shared channels)."""
    return turn.tokens + MESSAGE_OVERHEAD


def within_budget(turns: list[Turn], budget: int) -> list[Turn]:
    """The newest `turns` while the ones after each cost less than `budget` (see `MemoryStore.load`)."""
    newer, start = 0, len(turns)
    while start > 0 and newer < budget:
        start -= 1
        newer += least_cost(turns[start])
    return turns[start:]


def opened(resource: R | None, owner: object) -> R:
    """`resource` (a connection or pool set by `open()`), or a clear error if it was not opened."""
    if resource is None:
        raise RuntimeError(f"{type(owner).__name__}.open() was not awaited")
    return resource


class MemoryUnavailable(Exception):
    """The database could not be reached, even after one retry on a fresh connection.

    Raised by any store call; what was being written is either stored once or not at all."""


def setting_columns(
    persona: str | Literal[False] | None, model: str | Literal[False] | None, mode: ChannelMode | None
) -> dict[str, object]:
    """The conversation columns an `update_settings` call changes, with their new values."""
    changes: dict[str, object] = {}
    if persona is not False:
        changes["persona"] = persona
    if model is not False:
        changes["model"] = model
    if mode is not None:
        changes["mode"] = mode.value
    return changes


class MemoryStore(ABC):
    """Per-conversation memory: turns, settings, a rolling summary, usage and claimed events."""

    @abstractmethod
    async def open(self) -> None:
        """Connect and run pending migrations."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def ping(self) -> None:
        """Raise unless the database answers a trivial query (for the readiness check)."""

    @abstractmethod
    async def add_turn(
        self, key: ConversationKey, turn: Turn, *, if_version: int | None = None
    ) -> Turn | None:
        """Store a turn; None if a turn with the same message id is already stored here, or if
        `if_version` is given and the conversation's memory version is no longer that one (a reset
        or forget-me came in since the caller read it)."""

    @abstractmethod
    async def turns_after(self, key: ConversationKey, after_id: int) -> list[Turn]:
        """Turns with an id above `after_id`, oldest first."""

    @abstractmethod
    async def summary(self, key: ConversationKey) -> Summary: ...

    @abstractmethod
    async def replace_summary(self, key: ConversationKey, old: Summary, new: Summary) -> bool:
        """Store `new` only if the stored summary is still `old` (same upto, version and text) and
        the newest turn `new` stands for is still stored (no purge took it meanwhile): compare-and-set.
        Its `oldest_at` is kept no later than the replaced summary's, which `new` was rolled from."""

    @abstractmethod
    async def settings(self, key: ConversationKey) -> ConversationSettings: ...

    async def update_settings(
        self,
        key: ConversationKey,
        *,
        persona: str | Literal[False] | None = False,
        model: str | Literal[False] | None = False,
        mode: ChannelMode | None = None,
        switches: dict[str, bool | None] | None = None,
    ) -> ConversationSettings:
        """Change the given settings; False leaves a field alone, None clears it. `switches` sets
        "thinking" and "search" to on, off, or None (follow the channel and the default)."""
        changes = setting_columns(persona, model, mode)
        for name, value in (switches or {}).items():
            assert name in ("thinking", "search"), name
            changes[name] = None if value is None else int(value)
        if changes:
            await self._store_settings(key, changes)
        return await self.settings(key)

    @abstractmethod
    async def _store_settings(self, key: ConversationKey, changes: dict[str, object]) -> None:
        """Write `changes` (column name to new value, from `setting_columns`) to the conversation."""

    @abstractmethod
    async def keep_reasoning(
        self, key: ConversationKey, answer_to: str, user_id: str, text: str, *, now: float, oldest: float
    ) -> None:
        """Keep `text` as the reasoning of the last answer in `key` (replacing the one before), and
        delete every conversation's reasoning kept before `oldest`."""

    @abstractmethod
    async def reasoning(self, key: ConversationKey, *, oldest: float) -> KeptReasoning | None:
        """The reasoning of the last answer in `key`, unless it was kept before `oldest`."""

    @abstractmethod
    async def reset(self, key: ConversationKey) -> int:
        """Forget the conversation's turns and summary, bumping its version (settings stay).

        Returns the number of turns removed."""

    @abstractmethod
    async def forget_user(self, platform: str, user_id: str) -> int:
        """Delete every turn the user wrote on this platform, and the summaries that may quote them
        (bumping their conversations' versions)."""

    @abstractmethod
    async def add_usage(
        self, key: ConversationKey, user_id: str, prompt: int, completion: int, day: str
    ) -> None: ...

    @abstractmethod
    async def usage(self, key: ConversationKey, user_id: str, day: str) -> UsageReport: ...

    @abstractmethod
    async def daily_totals(self, key: ConversationKey, user_id: str, day: str) -> DailyTotals:
        """What the daily budgets count, in one read: it is on the path of every capped reply."""

    @abstractmethod
    async def stats(self, key: ConversationKey) -> MemoryStats: ...

    @abstractmethod
    async def vote(self, key: ConversationKey, message_id: str, user_id: str, vote: int) -> None:
        """A user's 👍 (1) or 👎 (-1) on the answer turn `message_id`; a later vote replaces theirs."""

    @abstractmethod
    async def votes(self, key: ConversationKey) -> tuple[int, int]:
        """👍 and 👎 counts on the answers of `key` (and of its threads, for a channel)."""

    @abstractmethod
    async def claim_event(self, platform: str, event_id: str) -> bool:
        """True the first time an event id is claimed, False ever after (across restarts and replicas)."""

    async def purge(self, before: float, *, batch: int = BATCH, pause: float = 0.0) -> Purged:
        """Delete what is older than `before` (seconds since the epoch), `batch` rows at a time
        with `pause` seconds between batches: turns, the summaries holding words of such turns (the
        turns they folded that are newer are read again), usage days, event claims and journal
        entries left by dead processes (see retention.py)."""
        raise NotImplementedError
    # -- threads the bot opened ------------------------------------------------------------------

    @abstractmethod
    async def add_thread(self, key: ConversationKey) -> None:
        """Remember that the bot opened the thread `key` (whose `thread` is set); idempotent."""

    @abstractmethod
    async def find_thread(self, platform: str, space: str, thread: str) -> ConversationKey | None:
        """The conversation of a thread the bot opened, by the thread's id alone; None if not one."""
    @abstractmethod
    async def remember_viewing(self, platform: str, space: str, user_id: str, channel: str) -> None:
        """Remember the channel a user is looking at ("" when none), replacing the one before."""

    @abstractmethod
    async def viewing(self, platform: str, space: str, user_id: str) -> str:
        """The channel last remembered for the user, or ""."""

    # -- the journal of answers in progress (crash recovery) -------------------------------------

    @abstractmethod
    async def begin_answer(
        self, key: ConversationKey, message_id: str, owner: str, version: int, place: str = ""
    ) -> int:
        """Record that `owner` (one process) started answering `message_id`, nothing shown yet; its id."""

    @abstractmethod
    async def save_answer(self, entry_id: int, *, place: str | None = None, text: str | None = None) -> None:
        """Update where the answer is shown (so it is visible from now on) and/or its text so far;
        None leaves a field alone."""

    @abstractmethod
    async def end_answer(self, entry_id: int) -> None:
        """The answer ended (whatever its outcome): forget the entry."""

    @abstractmethod
    async def unfinished(self, platform: str, *, not_owner: str) -> list[Unfinished]:
        """Entries of this platform begun by any process but `not_owner`, oldest first."""

    @abstractmethod
    async def unfinished_entry(self, entry_id: int) -> Unfinished | None:
        """The entry, if it still exists."""

    #: The token budget `load` assumes when not given one (None: every unsummarised turn).
    load_budget: int | None = None

    async def load(self, key: ConversationKey, budget: int | None = None) -> Snapshot:
        """Everything a turn reads first. Backends may do it in one query: it is on every reply's path.

        With a token `budget` (else `load_budget`), older turns that no context of that many
        tokens could hold are not read: the turns come newest first while the ones newer than
        them cost less than `budget` (a turn costs its tokens plus MESSAGE_OVERHEAD, the least
        `build_context` charges). So every turn a context can use is there, and so is the first
        that cannot fit, which tells the caller it is time to summarise.
        """
        budget = self.load_budget if budget is None else budget
        summary = await self.summary(key)
        turns = await self.turns_after(key, summary.upto_turn_id)
        if budget is not None:
            turns = within_budget(turns, budget)
        return Snapshot(await self.settings(key), summary, tuple(turns))

    def window(
        self, name: str, limit: int, seconds: float, *, clock: Callable[[], float] | None = None
    ) -> Window:
        """The sliding window `name` (at most `limit` hits per key in `seconds`; 0: no limit).

        In this process here; a store that replicas share hands out windows they share too.
        `clock` (seconds) is for tests; each kind of window has its own default."""
        return MemoryWindow(limit, seconds) if clock is None else MemoryWindow(limit, seconds, clock)

    def lock(self, key: ConversationKey) -> contextlib.AbstractAsyncContextManager[None]:
        """Serialise turns of one conversation across processes. One process needs nothing more."""
        return contextlib.nullcontext()
