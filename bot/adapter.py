"""How the CLI finds and starts platform adapters without the core importing any platform library.

Adapters register a factory under the `qwenbot.adapters` entry-point group (see pyproject.toml);
the factory takes keyword options and returns an object with this shape.
"""

from __future__ import annotations

import asyncio
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from bot.core import ConversationCore

GROUP = "qwenbot.adapters"


class Adapter(Protocol):
    #: Whether `qwenbot run` starts it (the terminal chat is started only by `qwenbot chat`).
    platform: bool
    #: Set once connected; a connection error before it is a start-up failure (one line, exit 2),
    #: after it a crash (exit 1); `ON_PLATFORM_FAILURE` says whether the other platforms stop too.
    #: An adapter whose library reconnects on its own may also offer `async connected() -> bool`,
    #: which the readiness check (`bot.health`) asks.
    ready: asyncio.Event

    def missing(self) -> str | None:
        """None when its credentials are set; otherwise what to set, e.g. "DISCORD_TOKEN is not set"."""

    async def serve(self, core: ConversationCore) -> None:
        """Run until cancelled. Raise `bot.config.ConfigError` with one line for a bad token."""


def available() -> dict[str, Any]:
    """Adapter factories by name, as installed."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def create(name: str, **options: Any) -> Adapter:
    factory = available()[name].load()
    return factory(**options)
