"""Where people and the bot are: threads the bot opened (Discord's thread mode) and the channel
each Slack user is viewing (the agent view), for the SQL backends (mixed into SQLStore)."""

from __future__ import annotations

import time

from bot.memory.dialect import Dialect
from bot.types import ConversationKey


class PlacesRows:
    async def add_thread(self: Dialect, key: ConversationKey) -> None:
        await self._execute(
            "INSERT INTO threads (platform, space, thread, channel, created_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING", (key.platform, key.space, key.thread or "", key.channel, time.time()))

    async def find_thread(self: Dialect, platform: str, space: str, thread: str) -> ConversationKey | None:
        rows = await self._fetch("SELECT channel FROM threads WHERE platform=? AND space=? AND thread=?",
                                 (platform, space, thread))
        return ConversationKey(platform, space, str(rows[0][0]), thread) if rows else None

    async def remember_viewing(self: Dialect, platform: str, space: str, user_id: str, channel: str) -> None:
        await self._execute(
            "INSERT INTO viewing (platform, space, user_id, channel, updated_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (platform, space, user_id) DO UPDATE SET channel=excluded.channel,"
            " updated_at=excluded.updated_at", (platform, space, user_id, channel, time.time()))

    async def viewing(self: Dialect, platform: str, space: str, user_id: str) -> str:
        rows = await self._fetch("SELECT channel FROM viewing WHERE platform=? AND space=? AND user_id=?",
                                 (platform, space, user_id))
        return str(rows[0][0]) if rows else ""
