"""The Discord adapter's settings, read from the environment (and `.env`) like the core's."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator, model_validator

from bot.access import AccessList
from bot.config import CommaList, EnvSettings, http_url

DISCORD_API = "https://discord.com/api/v10"


class DiscordSettings(EnvSettings):
    """Field names are the environment variables, upper-cased."""

    discord_token: SecretStr | None = None
    #: REST base URL; point it at a shared rate-limit proxy (nirn-proxy, twilight-http-proxy).
    discord_api_url: str = DISCORD_API
    #: Gateway WebSocket URL; unset means Discord's own (set it for a gateway proxy or a test double).
    discord_gateway_url: str = ""
    #: Sync slash commands to this guild only (instant, for development) instead of globally.
    discord_guild_id: int | None = None
    shard_count: int | None = Field(default=None, ge=1)
    shard_ids: CommaList = Field(default_factory=list)
    discord_allow_dms: bool = True
    discord_allowed_guilds: CommaList = Field(default_factory=list)
    discord_blocked_guilds: CommaList = Field(default_factory=list)
    discord_allowed_channels: CommaList = Field(default_factory=list)
    discord_blocked_channels: CommaList = Field(default_factory=list)
    discord_allowed_roles: CommaList = Field(default_factory=list)
    discord_blocked_roles: CommaList = Field(default_factory=list)
    discord_allowed_users: CommaList = Field(default_factory=list)
    discord_blocked_users: CommaList = Field(default_factory=list)
    answer_bots: bool = False
    #: Seconds between two edits of one streaming message.
    discord_edit_interval: float = Field(default=1.2, gt=0)
    #: Writes (sends and edits) allowed per channel within `discord_edit_window` seconds.
    discord_channel_edits: int = Field(default=4, ge=1)
    discord_edit_window: float = Field(default=5.0, gt=0)

    @field_validator(
        "discord_allowed_guilds",
        "discord_blocked_guilds",
        "discord_allowed_channels",
        "discord_blocked_channels",
        "discord_allowed_roles",
        "discord_blocked_roles",
        "discord_allowed_users",
        "discord_blocked_users",
    )
    @classmethod
    def _snowflakes(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not v.isdigit()]
        if bad:
            raise ValueError(f"expected numeric Discord ids, got {', '.join(bad)}")
        return value

    @field_validator("shard_ids")
    @classmethod
    def _shard_numbers(cls, value: list[str]) -> list[str]:
        if any(not v.isdigit() for v in value):
            raise ValueError("expected comma-separated shard numbers such as 0,1")
        return value

    @field_validator("discord_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        return http_url(value, DISCORD_API)

    @field_validator("discord_gateway_url")
    @classmethod
    def _gateway_url(cls, value: str) -> str:
        value = value.strip()
        if value and not value.startswith(("ws://", "wss://")):
            raise ValueError("expected a ws:// or wss:// URL")
        return value

    @model_validator(mode="after")
    def _shards(self) -> DiscordSettings:
        if self.shard_ids and self.shard_count is None:
            raise ValueError("SHARD_IDS needs SHARD_COUNT")
        if self.shard_count is not None and any(int(s) >= self.shard_count for s in self.shard_ids):
            raise ValueError("every shard id in SHARD_IDS must be below SHARD_COUNT")
        return self

    @property
    def token(self) -> str:
        return self.discord_token.get_secret_value().strip() if self.discord_token else ""

    @property
    def shard_numbers(self) -> list[int]:
        return [int(s) for s in self.shard_ids]

    @property
    def sharded(self) -> bool:
        return self.shard_count is not None

    def access(self, kind: str) -> AccessList:
        return AccessList.of(
            getattr(self, f"discord_allowed_{kind}"), getattr(self, f"discord_blocked_{kind}")
        )
