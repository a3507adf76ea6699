"""The databases the memory tests run on: a SQLite file, or a fresh schema on a PostgreSQL server.

PostgreSQL is expected at TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test).
Without a server the PostgreSQL cases are skipped, except in CI (CI=true), where they fail saying why.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import pytest

from bot.memory import MemoryStore, open_store
from bot.memory.postgres import redact

PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

_pg_unreachable: list[str] = []  # the probe runs once per session
_pg_probed = False


async def require_postgres() -> None:
    global _pg_probed
    if not _pg_probed:
        _pg_probed = True
        try:
            conn = await asyncpg.connect(PG_URL, timeout=5)
            await conn.close()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            _pg_unreachable.append(f"PostgreSQL at {redact(PG_URL)} is unreachable: {exc!r}")
    if _pg_unreachable:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(_pg_unreachable[0] + " (CI=true: the PostgreSQL service must be running)")
        pytest.skip(_pg_unreachable[0])


def with_search_path(url: str, schema: str) -> str:
    # asyncpg passes unknown URL query parameters on as server settings.
    return f"{url}{'&' if '?' in url else '?'}search_path={schema}"


@dataclass
class Backend:
    """One database that any number of store instances ("replicas") can open."""

    name: str
    url: str
    schema_versions: Callable[[], Awaitable[list[int]]]
    opened: list[MemoryStore] = field(default_factory=list)

    async def open(self) -> MemoryStore:
        store = await open_store(self.url)
        self.opened.append(store)
        return store


def backend_named(name: str, folder: Path) -> contextlib.AbstractAsyncContextManager[Backend]:
    """A throwaway database of the backend `name`: "sqlite" (a file in `folder`) or "postgres"."""
    return sqlite_backend(folder / "memory.db") if name == "sqlite" else postgres_backend()


@contextlib.asynccontextmanager
async def sqlite_backend(path: Path) -> AsyncIterator[Backend]:
    async def versions() -> list[int]:
        with contextlib.closing(sqlite3.connect(path)) as db:
            return [row[0] for row in db.execute("SELECT version FROM schema_version ORDER BY version")]

    backend = Backend("sqlite", f"sqlite:///{path}", versions)
    try:
        yield backend
    finally:
        for store in backend.opened:
            await store.close()


@contextlib.asynccontextmanager
async def postgres_backend() -> AsyncIterator[Backend]:
    """A schema of its own on the test server, dropped afterwards."""
    await require_postgres()
    schema = f"qwenbot_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(PG_URL)
    await admin.execute(f"CREATE SCHEMA {schema}")

    async def versions() -> list[int]:
        rows = await admin.fetch(f"SELECT version FROM {schema}.schema_version ORDER BY version")
        return [row[0] for row in rows]

    backend = Backend("postgres", with_search_path(PG_URL, schema), versions)
    try:
        yield backend
    finally:
        for store in backend.opened:
            await store.close()
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()
