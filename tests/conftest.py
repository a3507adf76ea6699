"""Fixtures shared by every test: a fake Qwen server and a core wired to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.config import Settings
from bot.core import ConversationCore
from bot.reply import Reply, Status
from tests.fakes.qwen import FakeQwen

pytest_plugins = ["tests.processes"]  # `processes`: the bot as real processes, stopped afterwards


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never read the developer's own .env or credentials."""
    monkeypatch.chdir(tmp_path)
    for name in ("QWEN_API_KEY", "DASHSCOPE_API_KEY", "QWEN_BASE_URL", "QWEN_MODEL", "QWEN_MODELS",
                 "DATABASE_URL", "SYSTEM_PROMPT", "MAX_CONTEXT_TOKENS", "DISCORD_TOKEN",
                 "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def qwen() -> AsyncIterator[FakeQwen]:
    server = await FakeQwen().start()
    yield server
    await server.stop()


@pytest.fixture
def make_settings(qwen: FakeQwen, tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "qwen_api_key": "sk-test",
            "qwen_base_url": qwen.base_url,
            "qwen_models": "qwen-max,qwen-plus,qwen-turbo",
            "database_url": f"sqlite:///{tmp_path / 'memory.db'}",
            "qwen_first_token_timeout": 5.0,
            "qwen_idle_timeout": 5.0,
            "qwen_max_retries": 0,
            "user_rate_limit": 0,  # tests about the limit set it
        }
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    return make


@pytest.fixture
async def core(make_settings: Callable[..., Settings]) -> AsyncIterator[ConversationCore]:
    instance = await ConversationCore.start(make_settings())
    yield instance
    await instance.close()


class RecordingReply(Reply):
    """A reply surface that remembers everything the core sent it."""

    def __init__(self, update_interval: float = 0.0) -> None:
        self.update_interval = update_interval
        self.partials: list[str] = []
        self.notices: list[str] = []
        self.final: str | None = None
        self.failure: str | None = None
        self.started_called = False
        self.statuses: list[Status | None] = []
        self.events: list[str] = []  # "status", "partial" in the order they came

    async def started(self) -> None:
        self.started_called = True

    async def status(self, status: Status | None) -> None:
        self.statuses.append(status)
        self.events.append("status")

    async def notice(self, text: str) -> None:
        self.notices.append(text)

    async def partial(self, text: str) -> None:
        self.partials.append(text)
        self.events.append("partial")

    async def finish(self, text: str) -> None:
        self.final = text

    async def fail(self, message: str) -> None:
        self.failure = message
