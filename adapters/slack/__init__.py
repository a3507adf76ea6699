"""The Slack adapter: `qwenbot slack` runs a slack-bolt app in Socket Mode or HTTP mode."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from adapters.slack.config import SlackSettings
from adapters.slack.parse import PLATFORM
from bot.config import load

if TYPE_CHECKING:
    from adapters.slack.app import SlackBot
    from bot.core import ConversationCore

__all__ = ["SlackAdapter", "SlackSettings"]


class SlackAdapter:
    platform = True

    def __init__(self, settings: SlackSettings | None = None) -> None:
        self._settings = settings
        self.bot: SlackBot | None = None
        self.ready = asyncio.Event()

    @property
    def settings(self) -> SlackSettings:
        if self._settings is None:
            self._settings = load(SlackSettings)
        return self._settings

    def missing(self) -> str | None:
        return self.settings.missing()

    async def connected(self) -> bool:
        """Whether events can arrive now: the Socket Mode connection is up (HTTP mode: serving)."""
        return self.bot is not None and await self.bot.connected()

    async def serve(self, core: ConversationCore) -> None:
        from bot.config import ConfigError

        problem = self.missing()
        if problem:
            raise ConfigError(problem)
        from adapters.slack.app import SlackBot
        from adapters.slack.recovery import finish

        bot = SlackBot(self.settings, core)
        try:
            await bot.login()
            self.bot = bot
            # Before any event is taken: what a killed process left half-written is finished (and
            # its text remembered) ahead of any new message in its conversation.
            await core.recover(PLATFORM, lambda entry: finish(bot.client, entry))
            await bot.connect()
            self.ready.set()
            await asyncio.Event().wait()
        finally:
            self.ready.clear()
            await bot.stop()
