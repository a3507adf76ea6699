"""What became of one message: the core's answer to `handle`, which each adapter renders in its idiom."""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    ANSWERED = "answered"
    FAILED = "failed"
    DUPLICATE = "duplicate"
    EMPTY = "empty"
    #: Over the per-user limit; the adapter says so (`sentences.RATE_LIMITED`) in its idiom.
    RATE_LIMITED = "rate_limited"
    #: Over the limit again within the window: already told, so a message gets no reply.
    RATE_LIMITED_AGAIN = "rate_limited_again"
    #: Shutdown came first; the reply already said so.
    STOPPED = "stopped"
    #: Over a daily token budget (stored, not answered); the reply said which and when it resets.
    OVER_BUDGET = "over_budget"
