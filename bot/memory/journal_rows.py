"""The journal of answers in progress (see bot/journal.py), for the SQL backends (mixed into SQLStore)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from bot.memory.base import Unfinished
from bot.memory.dialect import Dialect
from bot.types import ConversationKey

UNFINISHED_COLUMNS = ("id, platform, space, channel, thread, message_id, owner, memory_version, visible,"
                      " place, text, started_at, updated_at")




class JournalRows:
    async def begin_answer(
        self: Dialect, key: ConversationKey, message_id: str, owner: str, version: int, place: str = ""
    ) -> int:
        now = time.time()
        entry_id = await self._write(
            "INSERT INTO answers (platform, space, channel, thread, message_id, owner, memory_version,"
            " place, started_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (key.platform, key.space, key.channel, key.thread or "", message_id, owner, version, place,
             now, now),
        )
        return int(str(entry_id))

    async def save_answer(
        self: Dialect, entry_id: int, *, place: str | None = None, text: str | None = None
    ) -> None:
        # COALESCE leaves a field given as NULL (None) as it was.
        await self._execute(
            "UPDATE answers SET visible = (visible OR CAST(? AS TEXT) IS NOT NULL), place=COALESCE(?, place),"
            " text=COALESCE(?, text), updated_at=? WHERE id=?",
            (place, place, text, time.time(), entry_id),
        )

    async def end_answer(self: Dialect, entry_id: int) -> None:
        await self._execute("DELETE FROM answers WHERE id=?", (entry_id,))

    async def unfinished(self: Dialect, platform: str, *, not_owner: str) -> list[Unfinished]:
        rows = await self._fetch(
            f"SELECT {UNFINISHED_COLUMNS} FROM answers WHERE platform=? AND owner<>? ORDER BY id",
            (platform, not_owner),
        )
        return [_unfinished(row) for row in rows]

    async def unfinished_entry(self: Dialect, entry_id: int) -> Unfinished | None:
        rows = await self._fetch(f"SELECT {UNFINISHED_COLUMNS} FROM answers WHERE id=?", (entry_id,))
        return _unfinished(rows[0]) if rows else None


def _unfinished(row: Sequence[Any]) -> Unfinished:
    entry_id, platform, space, channel, thread, message_id, owner, version, visible, *rest = row
    key = ConversationKey(platform, space, channel, thread or None)
    return Unfinished(int(entry_id), key, message_id, owner, int(version), bool(visible), *rest)
