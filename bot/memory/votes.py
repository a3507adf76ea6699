"""The statements behind 👍/👎 feedback, shared by both SQL backends (see `SQLStore.vote`).

A vote is kept per answer turn (conversation and the turn's message id) and user, apart from the
turns themselves: feedback is counted in `usage` and never reaches the model's context.
"""

from __future__ import annotations

from bot.types import ConversationKey

VOTE = (
    "INSERT INTO feedback (platform, space, channel, thread, message_id, user_id, vote, voted_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (platform, space, channel, thread, message_id, user_id)"
    " DO UPDATE SET vote = excluded.vote, voted_at = excluded.voted_at RETURNING 1"
)
COUNT = (
    "SELECT COUNT(*) FILTER (WHERE vote > 0), COUNT(*) FILTER (WHERE vote < 0) FROM feedback"
    " WHERE platform=? AND space=? AND channel=? AND (?='' OR thread=?)"
)
FORGET = "DELETE FROM feedback WHERE platform=? AND user_id=?"


def place(key: ConversationKey) -> tuple[str, str, str, str]:
    return key.platform, key.space, key.channel, key.thread or ""


def within(key: ConversationKey) -> tuple[str, ...]:
    """COUNT's parameters: a channel's votes include its threads'."""
    return key.platform, key.space, key.channel, key.thread or "", key.thread or ""
