"""What the SQL backends share: every query, the id cache, and turning rows into records.

The statements are written once, with `?` placeholders, in the SQL that SQLite (3.35+) and
PostgreSQL both accept. A backend supplies only its dialect: its migrations, how a statement
reaches the database (connections, placeholders, retries) and how a transaction is run.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from bot.memory import votes
from bot.memory.base import (
    ConversationSettings,
    DailyTotals,
    MemoryStats,
    MemoryStore,
    Snapshot,
    Summary,
    Turn,
    UsageReport,
)
from bot.memory.journal_rows import JournalRows
from bot.memory.places import PlacesRows
from bot.memory.reasoning import ReasoningRows
from bot.memory.records import Tokens
from bot.memory.retention import BATCH, Purged, purge_older
from bot.tokens import MESSAGE_OVERHEAD
from bot.types import ChannelMode, ConversationKey

EVENT_RETENTION_SECONDS = 7 * 24 * 3600
ID_CACHE_SIZE = 10_000

Row = Sequence[Any]
Params = Sequence[object]

TURN_COLUMNS = "role, author_id, author_name, text, tokens, message_id, created_at, id"
FIND_CONVERSATION = "SELECT id FROM conversations WHERE platform=? AND space=? AND channel=? AND thread=?"
CLEAR_SUMMARY = ("UPDATE conversations SET summary='', summary_upto=0, summary_oldest_at=0,"
                 " memory_version=memory_version+1")


# What a `load` reads: settings, then the summary (as `Summary` takes it), then a turn.
SNAPSHOT_COLUMNS = (
    "c.persona, c.model, c.mode, c.thinking, c.search, c.summary, c.summary_upto, c.memory_version,"
    " c.summary_oldest_at, t.role, t.author_id, t.author_name, t.text, t.tokens, t.message_id,"
    " t.created_at, t.id"
)
LOAD = (
    f"SELECT {SNAPSHOT_COLUMNS} FROM conversations c"
    " LEFT JOIN turns t ON t.conversation_id = c.id AND t.id > c.summary_upto"
)
# `MemoryStore.load` with a budget: the oldest turn to read is found once, from the index alone
# (turns_recent holds each turn's tokens), so only the rows a context can use are read whole.
LOAD_WITHIN_BUDGET = (
    "WITH c AS (SELECT * FROM conversations WHERE id=?),"
    f" recent AS (SELECT id, SUM(tokens + {MESSAGE_OVERHEAD}) OVER"
    "  (ORDER BY id DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS newer"
    "  FROM turns WHERE conversation_id=? AND id > (SELECT summary_upto FROM c)),"
    " cut AS (SELECT COALESCE(MIN(id), 0) AS first FROM recent WHERE COALESCE(newer, 0) < ?)"
    f" SELECT {SNAPSHOT_COLUMNS} FROM c CROSS JOIN cut"
    " LEFT JOIN turns t ON t.conversation_id = c.id AND t.id > c.summary_upto AND t.id >= cut.first"
    " ORDER BY t.id"
)


class Transaction(Protocol):
    """The statements a transaction's work runs, all on one connection."""

    async def fetch(self, sql: str, params: Params = ()) -> list[Row]: ...


def _tokens(where: str) -> str:
    return (f"CAST(COALESCE(SUM(prompt_tokens) FILTER (WHERE {where}), 0) AS BIGINT),"
            f" CAST(COALESCE(SUM(completion_tokens) FILTER (WHERE {where}), 0) AS BIGINT)")


_IN_CONV, _IN_SPACE, _BY_USER, _TODAY = "conversation_id=?", "space=?", "user_id=?", "day=?"
USAGE = (
    f"SELECT {_tokens(f'{_IN_CONV} AND {_TODAY}')}, {_tokens(_IN_CONV)},"
    f" {_tokens(f'{_IN_SPACE} AND {_TODAY}')}, {_tokens(_IN_SPACE)}, {_tokens(f'{_BY_USER} AND {_TODAY}')}"
    " FROM usage WHERE platform=? AND (space=? OR user_id=?)"
)

# The daily budgets' one read: today's rows of the conversation, its space and the user, each
# found through an index (the day's primary key prefix, usage_by_space, usage_by_user).
_SPENT = "CAST(COALESCE(SUM(prompt_tokens + completion_tokens) FILTER (WHERE {}), 0) AS BIGINT)"
DAILY_TOTALS = ("SELECT " + ", ".join(_SPENT.format(w) for w in (_IN_CONV, _IN_SPACE, _BY_USER)) + " FROM"
                " usage WHERE day=? AND (conversation_id=? OR (platform=? AND (space=? OR user_id=?)))")


def _settings(row: Row) -> ConversationSettings:
    """Settings from a row starting with persona, model, mode, thinking, search."""
    flags = [None if value is None else bool(value) for value in row[3:5]]
    return ConversationSettings(row[0], row[1], ChannelMode(row[2]), *flags)


class SQLStore(ReasoningRows, PlacesRows, JournalRows, MemoryStore):
    """A `MemoryStore` over a SQL database; subclasses implement the four statement runners."""

    def __init__(self) -> None:
        # Conversation rows are never deleted, so their ids can be remembered (up to a bound).
        self._ids: dict[tuple[str, str, str, str], int] = {}

    async def ping(self) -> None:
        await self._fetch("SELECT 1")

    # -- the dialect ----------------------------------------------------------------------------

    @abstractmethod
    async def _fetch(self, sql: str, params: Params = ()) -> list[Row]:
        """Rows of a read, or of a write that is safe to run twice."""

    @abstractmethod
    async def _execute(self, sql: str, params: Params = ()) -> int:
        """Run a write that is safe to run twice; the number of rows it touched."""

    @abstractmethod
    async def _write(self, sql: str, params: Params = ()) -> object | None:
        """Run a write whose RETURNING gives at most one row; its first value, or None.

        A backend that retries after a lost connection must not apply the write twice."""

    @abstractmethod
    async def _transaction(self, work: Callable[[Transaction], Awaitable[int]]) -> int:
        """Run `work` as one transaction, whole or not at all, even if the caller is cancelled.

        A backend that retries after a lost connection returns the first run's result."""

    # -- conversations --------------------------------------------------------------------------

    async def _conversation_id(self, key: ConversationKey, *, create: bool = True) -> int | None:
        params = (key.platform, key.space, key.channel, key.thread or "")
        cached = self._ids.get(params)
        if cached is not None:
            return cached
        rows: list[Row] = []
        if create:
            created = await self._write(
                "INSERT INTO conversations (platform, space, channel, thread, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
                (*params, time.time()),
            )
            rows = [(created,)] if created is not None else []
        if not rows:  # not asked to create it, or another replica created it first
            rows = await self._fetch(FIND_CONVERSATION, params)
        if not rows:
            return None
        if len(self._ids) >= ID_CACHE_SIZE:
            self._ids.clear()
        conversation_id = int(rows[0][0])
        self._ids[params] = conversation_id
        return conversation_id

    async def _conversation_row(self, key: ConversationKey, columns: str) -> Row | None:
        conv = await self._conversation_id(key, create=False)
        if conv is None:
            return None
        rows = await self._fetch(f"SELECT {columns} FROM conversations WHERE id=?", (conv,))
        return rows[0] if rows else None

    # -- turns ----------------------------------------------------------------------------------

    async def add_turn(
        self, key: ConversationKey, turn: Turn, *, if_version: int | None = None
    ) -> Turn | None:
        conv = await self._conversation_id(key)
        created = turn.created_at or time.time()
        values: tuple[object, ...] = (conv, turn.role, turn.author_id, turn.author_name, turn.text,
                                      turn.message_id, turn.tokens, created)
        source = "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        if if_version is not None:
            source = ("SELECT ?, ?, ?, ?, ?, ?, ?, ?"
                      " WHERE (SELECT memory_version FROM conversations WHERE id=?) = ?")
            values = (*values, conv, if_version)
        turn_id = await self._write(
            "INSERT INTO turns (conversation_id, role, author_id, author_name, text, message_id, tokens,"
            f" created_at) {source} ON CONFLICT DO NOTHING RETURNING id",
            values,
        )
        if turn_id is None:
            return None
        return Turn(**{**turn.__dict__, "id": int(str(turn_id)), "created_at": created})

    async def turns_after(self, key: ConversationKey, after_id: int) -> list[Turn]:
        conv = await self._conversation_id(key, create=False)
        if conv is None:
            return []
        rows = await self._fetch(
            f"SELECT {TURN_COLUMNS} FROM turns WHERE conversation_id=? AND id>? ORDER BY id", (conv, after_id)
        )
        return [Turn(*row) for row in rows]

    async def load(self, key: ConversationKey, budget: int | None = None) -> Snapshot:
        budget = self.load_budget if budget is None else budget
        conv = await self._conversation_id(key, create=False)
        if conv is None:
            return Snapshot(ConversationSettings(), Summary(), ())
        if budget is None:
            rows = await self._fetch(f"{LOAD} WHERE c.id=? ORDER BY t.id", (conv,))
        else:
            rows = await self._fetch(LOAD_WITHIN_BUDGET, (conv, conv, budget))
        if not rows:
            return Snapshot(ConversationSettings(), Summary(), ())
        turns = tuple(Turn(*row[9:]) for row in rows if row[-1] is not None)
        return Snapshot(_settings(rows[0]), Summary(*rows[0][5:9]), turns)

    # -- summary and settings -------------------------------------------------------------------

    async def summary(self, key: ConversationKey) -> Summary:
        row = await self._conversation_row(key, "summary, summary_upto, memory_version, summary_oldest_at")
        return Summary(*row) if row else Summary()

    async def replace_summary(self, key: ConversationKey, old: Summary, new: Summary) -> bool:
        conv = await self._conversation_id(key)
        # A purge may have deleted the turns it folds while the model wrote it: their words stay gone.
        # A summary rolled from another keeps the other's oldest time at least (for retention),
        # whatever the caller says.
        touched = await self._execute(
            "UPDATE conversations SET summary=?, summary_upto=?, summary_oldest_at=CASE"
            " WHEN summary <> '' AND summary_oldest_at < ? THEN summary_oldest_at ELSE ? END"
            " WHERE id=? AND summary_upto=? AND memory_version=? AND summary=?"
            " AND EXISTS (SELECT 1 FROM turns WHERE id=? AND conversation_id=?)",
            (new.text, new.upto_turn_id, new.oldest_at, new.oldest_at, conv, old.upto_turn_id,
             old.version, old.text, new.upto_turn_id, conv),
        )
        return touched == 1

    async def settings(self, key: ConversationKey) -> ConversationSettings:
        row = await self._conversation_row(key, "persona, model, mode, thinking, search")
        return _settings(row) if row else ConversationSettings()

    async def _store_settings(self, key: ConversationKey, changes: dict[str, object]) -> None:
        conv = await self._conversation_id(key)
        assignments = ", ".join(f"{column}=?" for column in changes)
        await self._execute(f"UPDATE conversations SET {assignments} WHERE id=?", (*changes.values(), conv))

    # -- deletions ------------------------------------------------------------------------------

    async def reset(self, key: ConversationKey) -> int:
        conv = await self._conversation_id(key, create=False)
        if conv is None:
            return 0

        async def work(tx: Transaction) -> int:
            deleted = await tx.fetch("DELETE FROM turns WHERE conversation_id=? RETURNING id", (conv,))
            await tx.fetch(f"{CLEAR_SUMMARY} WHERE id=?", (conv,))
            await tx.fetch("DELETE FROM reasoning WHERE conversation_id=?", (conv,))
            return len(deleted)

        return await self._transaction(work)

    async def forget_user(self, platform: str, user_id: str) -> int:
        async def work(tx: Transaction) -> int:
            deleted = await tx.fetch(
                "DELETE FROM turns WHERE author_id=? AND role='user' AND conversation_id IN"
                " (SELECT id FROM conversations WHERE platform=?) RETURNING conversation_id",
                (user_id, platform),
            )
            # Exactly the conversations the deletion touched lose their summaries: a turn written
            # between two statements cannot be deleted without its conversation being cleared too.
            await tx.fetch("DELETE FROM viewing WHERE platform=? AND user_id=?", (platform, user_id))
            await tx.fetch(votes.FORGET, (platform, user_id))  # their votes are theirs too
            touched = sorted({row[0] for row in deleted})
            if touched:
                marks = ", ".join("?" for _ in touched)
                await tx.fetch(f"{CLEAR_SUMMARY} WHERE id IN ({marks})", touched)
                await tx.fetch(f"DELETE FROM reasoning WHERE conversation_id IN ({marks})", touched)
            return len(deleted)

        return await self._transaction(work)

    async def purge(self, before: float, *, batch: int = BATCH, pause: float = 0.0) -> Purged:
        return await purge_older(self._execute, before, batch=batch, pause=pause)

    # -- usage, stats, events -------------------------------------------------------------------

    async def add_usage(
        self, key: ConversationKey, user_id: str, prompt: int, completion: int, day: str
    ) -> None:
        conv = await self._conversation_id(key)
        await self._write(
            "INSERT INTO usage (day, conversation_id, platform, space, user_id, prompt_tokens,"
            " completion_tokens) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (day, conversation_id, user_id) DO UPDATE SET"
            " prompt_tokens = usage.prompt_tokens + excluded.prompt_tokens,"
            " completion_tokens = usage.completion_tokens + excluded.completion_tokens RETURNING 1",
            (day, conv, key.platform, key.space, user_id, prompt, completion),
        )

    async def usage(self, key: ConversationKey, user_id: str, day: str) -> UsageReport:
        conv = await self._conversation_id(key, create=False)
        # Each filter appears twice in USAGE: once for prompt tokens, once for completion tokens.
        space = key.space
        params = ((conv, day) * 2 + (conv,) * 2 + (space, day) * 2 + (space,) * 2 + (user_id, day) * 2
                  + (key.platform, space, user_id))
        rows = await self._fetch(USAGE, params)
        values = list(rows[0]) if rows else [0] * 10
        return UsageReport(*(Tokens(values[i], values[i + 1]) for i in range(0, 10, 2)))

    async def daily_totals(self, key: ConversationKey, user_id: str, day: str) -> DailyTotals:
        conv = await self._conversation_id(key, create=False)
        # DMs share the space "dm" but belong to no server or workspace: NULL matches no row.
        space = None if key.space == "dm" else key.space
        params = (conv, space, user_id, day, conv, key.platform, space, user_id)
        (row,) = await self._fetch(DAILY_TOTALS, params)  # an aggregate: always one row
        return DailyTotals(*row)

    async def stats(self, key: ConversationKey) -> MemoryStats:
        conv = await self._conversation_id(key, create=False)
        if conv is None:
            return MemoryStats(0, 0, 0)
        rows = await self._fetch(
            "SELECT COUNT(t.id), CAST(COALESCE(SUM(t.tokens), 0) AS BIGINT),"
            " COUNT(t.id) FILTER (WHERE t.id <= c.summary_upto)"
            " FROM conversations c JOIN turns t ON t.conversation_id = c.id WHERE c.id=?",
            (conv,),
        )
        return MemoryStats(*rows[0]) if rows else MemoryStats(0, 0, 0)

    async def vote(self, key: ConversationKey, message_id: str, user_id: str, vote: int) -> None:
        await self._write(votes.VOTE, (*votes.place(key), message_id, user_id, vote, time.time()))

    async def votes(self, key: ConversationKey) -> tuple[int, int]:
        rows = await self._fetch(votes.COUNT, votes.within(key))
        return (int(rows[0][0]), int(rows[0][1])) if rows else (0, 0)

    async def claim_event(self, platform: str, event_id: str) -> bool:
        now = time.time()
        claimed = await self._write(
            "INSERT INTO events (platform, event_id, claimed_at) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING RETURNING 1",
            (platform, event_id, now),
        )
        await self._execute("DELETE FROM events WHERE claimed_at < ?", (now - EVENT_RETENTION_SECONDS,))
        return claimed is not None
