"""The reasoning of each conversation's last answer, kept in the database for a bounded time.

In the database rather than in the process, so that whichever replica gets the `reasoning`
command or the Discord button can answer it. Bounded three ways: one row per conversation (the
last answer's), a size cap on each (bot/reasoning.py cuts it before it is kept), and an age limit
(`REASONING_KEEP_SECONDS`): older rows are not read, and are deleted by the next write.
Resets and forget-mes delete the rows of the conversations they touch (bot/memory/sql.py).
"""

from __future__ import annotations

from bot.memory.base import KeptReasoning
from bot.memory.dialect import Dialect
from bot.types import ConversationKey


def reasoning_migration(key_type: str, time_type: str, flag_type: str) -> str:
    """The migration adding the thinking and search settings and the reasoning table, per dialect."""
    return f"""
    ALTER TABLE conversations ADD COLUMN thinking {flag_type};
    ALTER TABLE conversations ADD COLUMN search {flag_type};
    CREATE TABLE reasoning (
        conversation_id {key_type} PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
        answer_to TEXT NOT NULL,
        user_id TEXT NOT NULL,
        text TEXT NOT NULL,
        created_at {time_type} NOT NULL
    );
    CREATE INDEX reasoning_by_time ON reasoning (created_at);
    """


KEEP = (
    "INSERT INTO reasoning (conversation_id, answer_to, user_id, text, created_at) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (conversation_id) DO UPDATE SET answer_to=excluded.answer_to,"
    " user_id=excluded.user_id, text=excluded.text, created_at=excluded.created_at"
)




class ReasoningRows:
    """`MemoryStore.keep_reasoning` and `reasoning` for the SQL backends (mixed into SQLStore)."""

    async def keep_reasoning(
        self: Dialect, key: ConversationKey, answer_to: str, user_id: str, text: str, *, now: float,
        oldest: float,
    ) -> None:
        conv = await self._conversation_id(key)
        await self._execute("DELETE FROM reasoning WHERE created_at < ?", (oldest,))
        await self._execute(KEEP, (conv, answer_to, user_id, text, now))

    async def reasoning(self: Dialect, key: ConversationKey, *, oldest: float) -> KeptReasoning | None:
        conv = await self._conversation_id(key, create=False)
        if conv is None:
            return None
        rows = await self._fetch(
            "SELECT answer_to, text, created_at FROM reasoning WHERE conversation_id=? AND created_at >= ?",
            (conv, oldest),
        )
        return KeptReasoning(str(rows[0][0]), str(rows[0][1]), float(rows[0][2])) if rows else None
