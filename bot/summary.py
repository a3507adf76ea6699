"""The rolling summary: once a conversation outgrows its budget, its oldest turns are folded
into a summary in the background, so no reply ever waits for one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from bot import metrics
from bot.config import Settings
from bot.context import turn_cost
from bot.llm import QwenClient
from bot.memory import MemoryStore, Summary, Turn
from bot.types import ConversationKey
from bot.usage import today

log = logging.getLogger(__name__)

SUMMARY_MAX_TOKENS = 600
#: Seconds `close` gives summaries under way before dropping them (their turns stay as they were).
CLOSE_WAIT = 30.0


def turns_to_fold(turns: Sequence[Turn], budget: int, shared: bool = True) -> list[Turn]:
    """The oldest turns to fold into the summary so the rest fill about half the budget.

    Folding to half, not to the brim, means a summary runs once per many turns, not every turn.
    """
    keep_cost = 0
    keep = 0
    for turn in reversed(turns):
        cost = turn_cost(turn, shared)
        if keep > 0 and keep_cost + cost > budget // 2:
            break
        keep_cost += cost
        keep += 1
    return list(turns[: len(turns) - keep])


def summary_request(previous: str, turns: Sequence[Turn]) -> list[dict[str, Any]]:
    transcript = "\n".join(
        f"{'assistant' if t.role == 'assistant' else t.author_name}: {t.text}" for t in turns
    )
    instruction = (
        "You maintain the memory of a chat channel. Update the summary below with the new part of the "
        "transcript. Keep names, decisions, facts people shared about themselves, open questions and "
        "the assistant's commitments. Write at most 250 words of plain prose, no preamble."
    )
    user = f"Current summary:\n{previous or '(none yet)'}\n\nNew transcript:\n{transcript}"
    return [{"role": "system", "content": instruction}, {"role": "user", "content": user}]


class Summariser:
    """Runs at most one summary per conversation at a time, each in a task of its own."""

    def __init__(self, settings: Settings, store: MemoryStore, llm: QwenClient) -> None:
        self.settings = settings
        self.store = store
        self.llm = llm
        self._running: set[ConversationKey] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def later(self, key: ConversationKey) -> None:
        """Fold `key`'s oldest turns soon, unless a summary of it is under way."""
        if key in self._running:
            return
        self._running.add(key)
        task = asyncio.create_task(self._summarise(key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self, wait: float = CLOSE_WAIT) -> None:
        if not self._tasks:
            return
        _, late = await asyncio.wait(set(self._tasks), timeout=wait)
        for task in late:  # a summary still running is dropped; its turns stay as they were
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    async def idle(self) -> None:
        """Wait until no summary is under way (tests use it)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def _summarise(self, key: ConversationKey) -> None:
        """Fold the oldest turns into the summary; on any failure the turns stay as they were."""
        try:
            summary = await self.store.summary(key)
            turns = await self.store.turns_after(key, summary.upto_turn_id)
            fold = turns_to_fold(turns, self.settings.max_context_tokens, shared=key.space != "dm")
            if not fold:
                return
            model = self.settings.qwen_model
            request = summary_request(summary.text, fold)
            text, usage = await self.llm.complete(request, model, SUMMARY_MAX_TOKENS)
            await self.store.add_usage(key, "", usage.prompt_tokens, usage.completion_tokens, today())
            metrics.count_tokens(model, usage.prompt_tokens, usage.completion_tokens)
            if not text.strip():
                raise ValueError("the model's summary was empty")
            # Dated from its oldest turn; the store keeps the older date of the summary it rolls.
            new = Summary(text.strip(), fold[-1].id, summary.version, min(t.created_at for t in fold))
            # Refused if a reset or forget-me came in meanwhile: deleted words never come back.
            if not await self.store.replace_summary(key, summary, new):
                metrics.SUMMARIES.labels("discarded").inc()
                return
            metrics.SUMMARIES.labels("done").inc()
            log.info("summarised %d turns in %s", len(fold), key)
        except Exception as exc:
            metrics.SUMMARIES.labels("failed").inc()
            log.warning("summary of %s failed, turns kept: %r", key, exc)
        finally:
            self._running.discard(key)
