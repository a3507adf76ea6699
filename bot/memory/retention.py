"""Deleting what is older than the retention: the shared SQL, run a small batch at a time.

Every statement deletes (or clears) at most `batch` rows and the caller yields between batches,
so a sweep over a large database never holds the write lock for long: answers keep being stored
while it runs. The statements use `?` placeholders in the SQL both backends accept, like sql.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.usage import day_of

#: Rows per statement: a few milliseconds of work each, on either backend.
BATCH = 500

# A summary holds words of every message it was rolled from, back to its `summary_oldest_at` (see
# sql.py): once that is past the retention, its text goes. Its bookmark goes back to just before
# the first turn it folded that is still within the retention, so those turns are read again (and
# folded again when over budget): the conversation loses only what the retention takes. A summary
# being written from the cleared one is refused, for `replace_summary` compares the old text.
CLEAR_SUMMARIES = (
    "UPDATE conversations SET summary='', summary_oldest_at=0, summary_upto=COALESCE("
    "(SELECT MIN(t.id) - 1 FROM turns t WHERE t.conversation_id = conversations.id"
    " AND t.id <= conversations.summary_upto AND t.created_at >= ?), summary_upto)"
    " WHERE id IN (SELECT id FROM conversations WHERE summary <> '' AND summary_oldest_at < ? LIMIT ?)"
)
DELETE_TURNS = "DELETE FROM turns WHERE id IN (SELECT id FROM turns WHERE created_at < ? LIMIT ?)"
# Usage is kept per UTC day: a day goes once all of it is past the retention.
DELETE_USAGE = (
    "DELETE FROM usage WHERE (day, conversation_id, user_id) IN"
    " (SELECT day, conversation_id, user_id FROM usage WHERE day < ? LIMIT ?)"
)
DELETE_EVENTS = (
    "DELETE FROM events WHERE (platform, event_id) IN"
    " (SELECT platform, event_id FROM events WHERE claimed_at < ? LIMIT ?)"
)
# A vote names its voter and answer: it goes with the answer's time, as its turn does.
DELETE_VOTES = (
    "DELETE FROM feedback WHERE (platform, space, channel, thread, message_id, user_id) IN"
    " (SELECT platform, space, channel, thread, message_id, user_id FROM feedback WHERE voted_at < ? LIMIT ?)"
)
# Which channel a Slack user last viewed (agent view): not kept past the retention either.
DELETE_VIEWING = (
    "DELETE FROM viewing WHERE (platform, space, user_id) IN"
    " (SELECT platform, space, user_id FROM viewing WHERE updated_at < ? LIMIT ?)"
)
# Journal entries a dead process left and no start has finished (its platform no longer runs).
DELETE_JOURNAL = "DELETE FROM answers WHERE id IN (SELECT id FROM answers WHERE updated_at < ? LIMIT ?)"


@dataclass(frozen=True)
class Purged:
    """How many records a purge removed, per kind."""

    messages: int = 0
    summaries: int = 0
    usage: int = 0
    events: int = 0
    journal: int = 0
    votes: int = 0
    viewing: int = 0

    def counts(self) -> dict[str, int]:
        """Each kind as an operator reads it, with its count."""
        return {"messages": self.messages, "summaries": self.summaries, "usage rows": self.usage,
                "event claims": self.events, "unfinished answers": self.journal, "votes": self.votes,
                "viewed channels": self.viewing}

    @property
    def total(self) -> int:
        return sum(self.counts().values())


def usage_day(before: float) -> str:
    """The first usage day kept: the UTC day `before` falls in."""
    return day_of(datetime.fromtimestamp(before, UTC))


async def purge_older(
    execute: Callable[[str, Sequence[object]], Awaitable[int]], before: float, *, batch: int = BATCH,
    pause: float = 0.0,
) -> Purged:
    """Run the deletions for records older than `before` (seconds since the epoch) with `execute`
    (a backend's statement runner, returning rows touched), `batch` rows a statement, sleeping
    `pause` seconds between statements."""

    async def each_batch(sql: str, *since: object) -> int:
        total = 0
        while True:
            touched = await execute(sql, (*since, batch))
            total += touched
            await asyncio.sleep(pause)  # whatever waits for the database goes first
            if touched < batch:
                return total

    # Summaries first: their words go no later than the turns they came from.
    summaries = await each_batch(CLEAR_SUMMARIES, before, before)
    return Purged(
        summaries=summaries,
        messages=await each_batch(DELETE_TURNS, before),
        usage=await each_batch(DELETE_USAGE, usage_day(before)),
        events=await each_batch(DELETE_EVENTS, before),
        journal=await each_batch(DELETE_JOURNAL, before),
        votes=await each_batch(DELETE_VOTES, before),
        viewing=await each_batch(DELETE_VIEWING, before),
    )
