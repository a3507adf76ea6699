"""Settings read once from the environment and an optional `.env` file.

Adapters declare their own settings classes on top of `EnvSettings`; `load` turns pydantic's
validation errors into one readable message per bad setting, for the command line.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any, TypeVar
from urllib.parse import urlparse

from pydantic import (
    AliasChoices,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.logs import FORMATS, keep_secret, secrets_of

DASHSCOPE_INTL = "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"
DASHSCOPE_MODELS = ["qwen-max", "qwen-plus", "qwen-turbo"]
#: The longest retention, in days: a century. Much longer and the cutoff falls before year 1,
#: which no date (a usage row's day) can name.
MAX_RETENTION_DAYS = 36_500

def split_commas(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def json_object(value: object) -> object:
    """A JSON object written in the environment, as a dict; anything else is a readable error."""
    if isinstance(value, str):
        try:
            value = json.loads(value or "{}")
        except json.JSONDecodeError:
            raise ValueError('must be a JSON object such as {"search_strategy": "agent"}') from None
    return value


def http_url(value: str, example: str) -> str:
    """`value` without a trailing slash, if it is an http(s) URL; otherwise a readable error."""
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError("must be an http(s) URL such as " + example)
    return value.rstrip("/")


class OnFailure(StrEnum):
    """`ON_PLATFORM_FAILURE`: what the process does when one of its platforms fails (bot/supervisor.py)."""

    STOP = "stop"
    CONTINUE = "continue"


#: A setting written as "a, b, c" in the environment.
CommaList = Annotated[list[str], NoDecode, BeforeValidator(split_commas)]


class EnvSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)


class Settings(EnvSettings):
    """The core's settings. Field names are the environment variables, upper-cased."""

    qwen_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("QWEN_API_KEY", "DASHSCOPE_API_KEY")
    )
    qwen_base_url: str = DASHSCOPE_INTL
    qwen_model: str = "qwen-max"
    qwen_models: CommaList = Field(default_factory=list)
    qwen_vision_model: str = "qwen-vl-max"
    database_url: str = "sqlite:///qwenbot.db"
    system_prompt: str = (
        "You are Qwen, a helpful assistant in a group chat. Messages from people are prefixed with "
        "their name. Answer concisely and use Markdown where it helps."
    )
    max_context_tokens: int = Field(default=8000, ge=256)
    max_output_tokens: int = Field(default=2048, ge=1)
    # Sized from Model Studio's published limits (README, "Performance"): 32 full-context calls
    # stay within the tightest per-minute token quota, far below its request quota.
    max_concurrent_replies: int = Field(default=32, ge=1)
    #: Messages per user per minute on each platform; the next gets one polite note (0: no limit).
    user_rate_limit: int = Field(default=6, ge=0)
    #: Tokens (prompt and completion) a day per user, conversation, server or workspace; None: no cap.
    daily_tokens_per_user: int | None = Field(default=None, ge=1)
    daily_tokens_per_conversation: int | None = Field(default=None, ge=1)
    daily_tokens_per_space: int | None = Field(default=None, ge=1)
    #: Seconds a stopping bot lets answers under way finish before it ends them itself.
    shutdown_grace: float = Field(default=10.0, ge=0)
    qwen_connect_timeout: float = Field(default=10.0, gt=0)
    qwen_first_token_timeout: float = Field(default=15.0, gt=0)
    qwen_idle_timeout: float = Field(default=30.0, gt=0)
    qwen_max_retries: int = Field(default=2, ge=0)
    qwen_stall_grace: float = Field(default=3.0, gt=0)
    qwen_rate_limit_wait: float = Field(default=20.0, ge=0)
    log_level: str = "INFO"
    #: `text` (human-readable lines) or `json` (one object per line, for log shippers).
    log_format: str = "text"
    #: Days messages, usage and event records are kept before a background sweep deletes them (None: forever).
    retention_days: int | None = Field(default=None, ge=1, le=MAX_RETENTION_DAYS)
    #: Serve /metrics, /healthz and /readyz on this port in every platform mode (unset: off).
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    metrics_host: str = "0.0.0.0"
    #: What `qwenbot run` does when one platform cannot start or crashes: stop them all (exit
    #: non-zero, for the orchestrator to restart) or carry on with the others (bot/supervisor.py).
    on_platform_failure: OnFailure = OnFailure.STOP
    # Thinking and web search (bot/thinking.py): each conversation's default, and what is sent.
    qwen_thinking: bool = False
    qwen_thinking_budget: int | None = Field(default=None, ge=1)
    qwen_search: bool = False
    #: Whether the endpoint is Model Studio's (web search works only there); unset: told from the URL.
    qwen_dashscope: bool | None = None
    #: JSON, e.g. {"search_strategy": "agent"}; empty: the endpoint's defaults.
    qwen_search_options: Annotated[dict[str, Any], NoDecode, BeforeValidator(json_object)] = Field(
        default_factory=dict)
    #: Seconds the reasoning of a conversation's last answer stays readable (`reasoning`).
    reasoning_keep_seconds: float = Field(default=3600.0, ge=0)

    @field_validator("qwen_api_key", "metrics_port", "daily_tokens_per_user", "daily_tokens_per_conversation",
                     "daily_tokens_per_space", "retention_days", mode="before")
    @classmethod
    def _blank_key_is_no_key(cls, value: object) -> object:
        # `QWEN_API_KEY=` in a .env template means "not set yet", not an empty key (or a 0 budget,
        # or no retention at all).
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("log_format")
    @classmethod
    def _check_format(cls, value: str) -> str:
        if value.strip().lower() not in FORMATS:
            raise ValueError("must be text or json")
        return value.strip().lower()

    @field_validator("qwen_base_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return http_url(value, DASHSCOPE_INTL)

    @field_validator("database_url")
    @classmethod
    def _check_database(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgres://", "postgresql://")):
            raise ValueError("must start with sqlite:///, postgres:// or postgresql://")
        return value

    @field_validator("log_level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        level = value.upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level

    @model_validator(mode="after")
    def _key_for_dashscope(self) -> Settings:
        # Local OpenAI-compatible servers (vLLM, Ollama, LM Studio) take any key; DashScope does not.
        if self.qwen_api_key is None and "aliyuncs.com" in self.qwen_base_url:
            raise ValueError("QWEN_API_KEY (or DASHSCOPE_API_KEY) is required for DashScope")
        if not self.qwen_models and "aliyuncs.com" in self.qwen_base_url:
            self.qwen_models = list(DASHSCOPE_MODELS)
        if self.qwen_model not in self.qwen_models:
            self.qwen_models = [self.qwen_model, *self.qwen_models]
        return self

    def model_for(self, chosen: str | None, *, vision: bool = False) -> str:
        """The model a turn uses: the vision model for images, else the conversation's allowed choice."""
        if vision:
            return self.qwen_vision_model
        if chosen and chosen in self.qwen_models:
            return chosen
        return self.qwen_model

    @property
    def first_token_budget(self) -> float:
        """Worst-case seconds from a streaming call to its first token or its error, retries included.

        Every try waits at most `qwen_first_token_timeout`, with the backoff between tries; the
        client enforces this total as a deadline, so waits for a 429's `Retry-After` fit inside it.
        """
        retries = self.qwen_max_retries
        backoff = sum(min(8.0, 0.5 * 2**attempt) for attempt in range(retries))
        return (retries + 1) * self.qwen_first_token_timeout + backoff

    @property
    def on_dashscope(self) -> bool:
        """Whether the endpoint is Model Studio's (DashScope), whose extensions (web search) it has."""
        if self.qwen_dashscope is not None:
            return self.qwen_dashscope
        return "aliyuncs.com" in self.qwen_base_url

    @property
    def api_key(self) -> str:
        return self.qwen_api_key.get_secret_value() if self.qwen_api_key else "not-needed"


class ConfigError(Exception):
    """Settings that cannot be used; the message names each one and what is wrong."""


S = TypeVar("S", bound=BaseSettings)


def load(cls: type[S]) -> S:
    try:
        settings = cls()
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name = "_".join(str(part) for part in error["loc"]).upper() or "settings"
            reason = error["msg"].removeprefix("Value error, ")
            lines.append(f"  {name}: {reason}" if error["loc"] else f"  {reason}")
        raise ConfigError("Bad configuration:\n" + "\n".join(lines)) from None
    keep_secret(*secrets_of(settings))  # from now on no log line shows them
    return settings
