"""Who is who in a workspace: `users.info`, cached so a busy channel costs few API calls."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.parse import display_name
from adapters.slack.reply import error_code

log = logging.getLogger(__name__)

NAME_TTL = 3600.0
CACHE_SIZE = 10_000


class Users:
    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self._cache: dict[str, tuple[float, Mapping[str, Any]]] = {}

    async def get(self, user_id: str) -> Mapping[str, Any] | None:
        """The `users.info` user object, or None if Slack would not say."""
        cached = self._cache.get(user_id)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        try:
            response = await self.client.users_info(user=user_id)
        except SlackApiError as exc:
            log.debug("users.info %s: %s", user_id, error_code(exc))
            return None
        user = response.get("user") or {}
        now = time.monotonic()
        if len(self._cache) >= CACHE_SIZE:
            self._cache = {uid: entry for uid, entry in self._cache.items() if entry[0] > now}
        self._cache[user_id] = (now + NAME_TTL, user)
        return user

    async def names(self, user_ids: list[str]) -> dict[str, str]:
        """Display names by user id; an unknown user keeps its id."""
        unique = [uid for uid in dict.fromkeys(user_ids) if uid]
        users = await asyncio.gather(*(self.get(uid) for uid in unique))
        return {uid: display_name(user) if user else uid for uid, user in zip(unique, users, strict=True)}
