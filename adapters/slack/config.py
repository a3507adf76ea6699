"""The Slack adapter's settings, read from the environment (and `.env`) like the core's."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, SecretStr, field_validator

from bot.config import CommaList, EnvSettings, http_url

SLACK_API = "https://slack.com/api/"
#: Slack shows at most four suggested prompts.
MAX_PROMPTS = 4
DEFAULT_PROMPTS = ("Summarise this channel; What can you do? | What can you help me with?; "
                   "Explain some code | Explain what this code does and how to improve it.")


def parse_prompts(text: str) -> list[dict[str, str]]:
    """`SLACK_SUGGESTED_PROMPTS`: prompts separated by `;`, each `title | message` or just the message."""
    prompts = []
    for item in text.split(";"):
        title, bar, message = (part.strip() for part in item.partition("|"))
        if not title and not message:
            continue
        if not title or (bar and not message):
            raise ValueError("each prompt is `title | message` or a message alone, separated by `;`")
        prompts.append({"title": title, "message": message or title})
    if len(prompts) > MAX_PROMPTS:
        raise ValueError(f"Slack shows at most {MAX_PROMPTS} suggested prompts")
    return prompts


class SettingsAccess(StrEnum):
    """Who may change a channel's settings (persona, model, mode, reset) with `/qwen`."""

    ADMIN = "admin"  # workspace admins and owners
    CREATOR = "creator"  # admins, owners and the channel's creator
    ANYONE = "anyone"


class SlackSettings(EnvSettings):
    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_api_url: str = SLACK_API
    port: int = Field(default=3000, ge=0, le=65535)
    slack_http_host: str = "0.0.0.0"
    slack_allowed_channels: CommaList = Field(default_factory=list)
    slack_blocked_channels: CommaList = Field(default_factory=list)
    slack_allowed_users: CommaList = Field(default_factory=list)
    slack_blocked_users: CommaList = Field(default_factory=list)
    answer_bots: bool = False
    slack_settings_access: SettingsAccess = SettingsAccess.CREATOR
    slack_streaming: bool = True
    slack_updates_per_minute: int = Field(default=45, ge=1)
    slack_command: str = "/qwen"
    #: Shown in the agent view when a user opens the app's Messages tab; empty: none.
    slack_suggested_prompts: str = DEFAULT_PROMPTS

    @field_validator("slack_api_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return http_url(value, SLACK_API) + "/"  # slack-sdk joins method names onto it

    @field_validator("slack_suggested_prompts")
    @classmethod
    def _check_prompts(cls, value: str) -> str:
        parse_prompts(value)
        return value

    @property
    def suggested_prompts(self) -> list[dict[str, str]]:
        return parse_prompts(self.slack_suggested_prompts)

    @field_validator("slack_bot_token")
    @classmethod
    def _check_bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        token = value.get_secret_value() if value is not None else ""
        if token and not token.startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb- (OAuth & Permissions page)")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _check_app_token(cls, value: SecretStr | None) -> SecretStr | None:
        token = value.get_secret_value() if value is not None else ""
        if token and not token.startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp- (Basic Information page)")
        return value

    @property
    def bot_token(self) -> str:
        return self.slack_bot_token.get_secret_value() if self.slack_bot_token else ""

    @property
    def app_token(self) -> str:
        return self.slack_app_token.get_secret_value() if self.slack_app_token else ""

    @property
    def signing_secret(self) -> str:
        return self.slack_signing_secret.get_secret_value() if self.slack_signing_secret else ""

    @property
    def socket_mode(self) -> bool:
        return bool(self.app_token)

    def missing(self) -> str | None:
        if not self.bot_token:
            return "SLACK_BOT_TOKEN is not set"
        if not self.app_token and not self.signing_secret:
            return "SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode) is not set"
        return None
