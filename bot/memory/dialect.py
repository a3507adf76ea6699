"""What the SQL mixins (journal rows, places, reasoning) need of the store they are mixed into."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from bot.types import ConversationKey


class Dialect(Protocol):
    async def _conversation_id(self, key: ConversationKey, *, create: bool = True) -> int | None: ...

    async def _fetch(self, sql: str, params: Sequence[object] = ()) -> list[Sequence[Any]]: ...

    async def _execute(self, sql: str, params: Sequence[object] = ()) -> int: ...

    async def _write(self, sql: str, params: Sequence[object] = ()) -> object | None: ...
