"""Pure formatting of answers into Discord messages."""

from __future__ import annotations

from bot.render import balance, split_text

MESSAGE_LIMIT = 2000
#: Room left in each message for the fence `balance` may add to a block still being streamed.
SPLIT_LIMIT = MESSAGE_LIMIT - 10


def messages(text: str) -> list[str]:
    """`text` as Discord messages of at most 2,000 characters, each with balanced code fences.

    Used for streaming and final text alike, so the split points of a growing answer stay where
    they were and earlier messages need no further edits.
    """
    if not text.strip():
        return []
    return [balance(chunk) for chunk in split_text(text, SPLIT_LIMIT) if chunk.strip()]


def notice(text: str) -> str:
    """A side note in Discord's small subtext style, on one line."""
    line = " ".join(text.split())
    return ("-# " + line)[:MESSAGE_LIMIT]


def failure(text: str) -> str:
    return ("⚠️ " + " ".join(text.split()))[:MESSAGE_LIMIT]
