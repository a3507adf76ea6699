"""Pure formatting of answers into Discord messages."""

from __future__ import annotations

from bot.render import split_text

MESSAGE_LIMIT = 2000


def messages(text: str) -> list[str]:
    """`text` as Discord messages of at most 2,000 characters, each with balanced code fences.

    Used for streaming and final text alike, so the split points of a growing answer stay where
    they were and earlier messages need no further edits; a code block still being written is
    shown closed.
    """
    return split_text(text, MESSAGE_LIMIT)


def notice(text: str) -> str:
    """A side note in Discord's small subtext style, on one line."""
    line = " ".join(text.split())
    return ("-# " + line)[:MESSAGE_LIMIT]


def failure(text: str) -> str:
    return ("⚠️ " + " ".join(text.split()))[:MESSAGE_LIMIT]
