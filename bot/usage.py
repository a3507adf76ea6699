"""Token usage is counted per UTC day, so daily figures roll over at the same moment everywhere."""

from __future__ import annotations

from datetime import UTC, datetime


def day_of(moment: datetime) -> str:
    """The UTC day `moment` falls on, as usage rows store it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


def today() -> str:
    return day_of(datetime.now(UTC))
