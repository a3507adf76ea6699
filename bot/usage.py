"""Token usage is counted per UTC day, so daily figures roll over at the same moment everywhere."""

from __future__ import annotations

from datetime import UTC, datetime


def today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")
