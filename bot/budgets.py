"""Daily token budgets: per user, per conversation, per server or workspace (unset: no cap).

Budgets count the usage already stored (prompt and completion tokens of the UTC day, see
`bot.usage`), so they hold across restarts and, on PostgreSQL, across replicas: there is no
counter of their own to lose or to share. A message is refused once a budget is used up, after
it is stored (nothing a user says is lost) and before any model call. Answers already under way
when a budget runs out finish, so a busy space can go over by what those answers cost.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot import sentences
from bot.config import Settings
from bot.memory import DailyTotals, MemoryStore, UsageReport
from bot.types import ConversationKey
from bot.usage import day_of


def until_reset(now: datetime) -> timedelta:
    """Time left until the next UTC midnight, when the usage day and every budget rolls over."""
    midnight = (now.astimezone(UTC) + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight - now


def duration(left: timedelta) -> str:
    """"5 h 12 min", "40 min", "1 min": whole minutes, rounded up so it never says 0."""
    hours, minutes = divmod(max(1, math.ceil(left.total_seconds() / 60)), 60)
    parts = [sentences.HOURS.format(n=hours)] if hours else []
    if minutes or not hours:
        parts.append(sentences.MINUTES.format(n=minutes))
    return " ".join(parts)


_REFUSALS = {"user": sentences.OVER_USER_BUDGET, "conversation": sentences.OVER_CONVERSATION_BUDGET,
             "space": sentences.OVER_SPACE_BUDGET}
_LEFT = {"user": sentences.BUDGET_LEFT_USER, "conversation": sentences.BUDGET_LEFT_CONVERSATION,
         "space": sentences.BUDGET_LEFT_SPACE}


def space_word(platform: str) -> str:
    return sentences.SPACE_WORDS.get(platform, "server")


class Budgets:
    """The caps in `Settings`, checked against the store's usage of the day."""

    def __init__(self, settings: Settings, store: MemoryStore,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.store = store
        self.user = settings.daily_tokens_per_user
        self.conversation = settings.daily_tokens_per_conversation
        self.space = settings.daily_tokens_per_space
        self.clock = clock

    @property
    def capped(self) -> bool:
        return bool(self.user or self.conversation or self.space)

    def _caps(self, key: ConversationKey, used: DailyTotals) -> list[tuple[str, int, int]]:
        """(budget, limit, used) of each cap that applies here, the asker's own first."""
        caps = [("user", self.user, used.user), ("conversation", self.conversation, used.conversation)]
        if key.space != "dm":  # DMs belong to no server or workspace
            caps.append(("space", self.space, used.space))
        return [(budget, limit, spent) for budget, limit, spent in caps if limit]

    async def refusal(self, key: ConversationKey, user_id: str) -> str | None:
        """The sentence refusing a message from `user_id` in `key`, or None if no budget is used up.

        Costs nothing when no cap is set, one read otherwise."""
        if not self.capped:
            return None
        # One instant for the day counted and the time to its end, so they never disagree.
        now = self.clock()
        used = await self.store.daily_totals(key, user_id, day_of(now))
        for budget, limit, spent in self._caps(key, used):
            if spent >= limit:
                wait = duration(until_reset(now))
                return _REFUSALS[budget].format(limit=limit, wait=wait, space=space_word(key.platform))
        return None

    def remaining(self, key: ConversationKey, report: UsageReport) -> str | None:
        """The `usage` command's line on what is left of each budget today; None without caps."""
        used = DailyTotals(report.conversation_today.total, report.space_today.total, report.user_today.total)
        space = space_word(key.platform)
        parts = [_LEFT[budget].format(left=max(0, limit - spent), limit=limit, space=space)
                 for budget, limit, spent in self._caps(key, used)]
        if not parts:
            return None
        return sentences.USAGE_BUDGETS.format(left="; ".join(parts), wait=duration(until_reset(self.clock())))
