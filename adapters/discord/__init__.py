"""Discord adapter: answers mentions, DMs, replies and its own threads, streaming by editing messages."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from adapters.discord.config import DiscordSettings
from bot.config import ConfigError, load

if TYPE_CHECKING:
    from adapters.discord.client import DiscordBot, ShardedDiscordBot
    from bot.core import ConversationCore

__all__ = ["DiscordAdapter", "DiscordSettings"]

log = logging.getLogger(__name__)

BAD_TOKEN = (
    "Discord rejected DISCORD_TOKEN; copy the bot token again from the Developer Portal (Bot > Reset Token)."
)
NEEDS_INTENT = (
    "Discord refused the Message Content intent; enable it in the Developer Portal under "
    "Bot > Privileged Gateway Intents."
)

#: Gateway close codes discord.py does not recover from (4014 arrives as PrivilegedIntentsRequired).
FATAL_CLOSES = {
    4004: BAD_TOKEN,
    4010: "Discord refused the shard settings; check SHARD_IDS against SHARD_COUNT.",
    4011: "Discord says this bot is in too many servers for one connection: set SHARD_COUNT.",
    4012: "Discord refused the gateway API version; upgrade discord.py.",
    4013: "Discord refused the gateway intents as invalid; upgrade qwenbot or report a bug.",
}

class DiscordAdapter:
    """What `qwenbot discord` runs. Settings come from the environment unless given."""

    platform = True

    def __init__(self, settings: DiscordSettings | None = None, **client_options: Any) -> None:
        self._settings = settings
        self.client_options = client_options
        self.client: DiscordBot | ShardedDiscordBot | None = None
        self.ready = asyncio.Event()

    @property
    def settings(self) -> DiscordSettings:
        if self._settings is None:
            self._settings = load(DiscordSettings)
        return self._settings

    def missing(self) -> str | None:
        return None if self.settings.token else "DISCORD_TOKEN is not set"

    async def connected(self) -> bool:
        """Whether every gateway connection is open now (discord.py reconnects a dropped one itself)."""
        client = self.client
        if client is None or client.is_closed():
            return False
        shards = getattr(client, "shards", None)
        if shards:
            return not any(shard.is_closed() for shard in shards.values())
        return client.ws is not None and client.ws.open

    async def serve(self, core: ConversationCore) -> None:
        import discord

        from adapters.discord.client import build_client

        settings = self.settings
        if not settings.token:
            raise ConfigError("DISCORD_TOKEN is not set")
        import yarl

        previous_base = discord.http.Route.BASE
        previous_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        discord.http.Route.BASE = settings.discord_api_url
        if settings.discord_gateway_url:
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)

        client = build_client(core, settings, self.ready.set, **self.client_options)
        self.client = client
        try:
            await client.start(settings.token)
        except discord.LoginFailure:
            raise ConfigError(BAD_TOKEN) from None
        except discord.PrivilegedIntentsRequired:
            raise ConfigError(NEEDS_INTENT) from None
        except discord.ConnectionClosed as exc:
            default = f"Discord closed the gateway connection with code {exc.code}."
            raise ConfigError(FATAL_CLOSES.get(exc.code, default)) from None
        except Exception as exc:
            if self.ready.is_set():
                raise
            # Unreachable REST or gateway (e.g. a firewall beside a REST proxy): one line.
            reason = f"{type(exc).__name__}: {exc}"
            raise ConfigError(f"Could not connect to Discord ({reason}).") from None
        finally:
            await client.close()
            discord.http.Route.BASE = previous_base
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = previous_gateway
