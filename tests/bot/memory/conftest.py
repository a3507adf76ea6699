"""Fixtures for the memory tests: each backend's database, and a store opened on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.memory import MemoryStore
from tests.bot.memory.backends import Backend, backend_named, postgres_backend


@pytest.fixture(params=["sqlite", "postgres"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    async with backend_named(request.param, tmp_path) as opened:
        yield opened


@pytest.fixture
async def pg() -> AsyncIterator[Backend]:
    """A PostgreSQL database, for what only a shared server offers: replicas in other processes."""
    async with postgres_backend() as opened:
        yield opened


@pytest.fixture
async def store(backend: Backend) -> MemoryStore:
    return await backend.open()
