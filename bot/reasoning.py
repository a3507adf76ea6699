"""One answer's reasoning: a live status while the model thinks, kept a while, never remembered.

`Mind` sits between the model's stream and the core. It takes the `Reasoning` events out of the
stream (so they never reach the answer's text, its memory, or a later prompt), and while the
model searches the web or reasons it tells the reply so once a second (`Reply.status`), until
the first word of the answer. When the answer is over, the reasoning is kept in the store as the
conversation's last (bot/memory/reasoning.py: bounded by `REASONING_KEEP_SECONDS` and by
`MAX_CHARS`), where the `reasoning` command and Discord's "Show reasoning" button read it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from bot import sentences
from bot.config import Settings
from bot.llm import Reasoning, Usage
from bot.memory import ConversationSettings, MemoryStore
from bot.reply import Reply, Status
from bot.thinking import request_options
from bot.types import ConversationKey, Incoming

log = logging.getLogger(__name__)

#: Seconds between two status updates (adapters pace their writes further if they must).
TICK = 1.0
#: The most of one answer's reasoning that is kept (the rest is cut, and says so).
MAX_CHARS = 12_000
#: What a Discord button's custom_id starts with; the rest is the answer's question id.
BUTTON_PREFIX = "reasoning:"


class Mind:
    def __init__(self, settings: Settings, store: MemoryStore, reply: Reply, incoming: Incoming,
                 conv: ConversationSettings, model: str,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings, self.store, self.reply, self.clock = settings, store, reply, clock
        self.key, self.answer_to, self.user_id = incoming.key, incoming.message_id, incoming.author.id
        #: The request's thinking and search fields (bot/thinking.py).
        self.options = request_options(settings, conv, model)
        self.searching = "enable_search" in self.options
        self.parts: list[str] = []
        self.size = 0  # characters of reasoning received (more than `parts` hold, past MAX_CHARS)
        self._activity = ""
        self._since = 0.0
        self._over = asyncio.Event()
        self._wake = asyncio.Event()  # the activity changed, or the status is over
        self._ticker: asyncio.Task[None] | None = None

    async def route(self, events: AsyncIterator[str | Usage | Reasoning]) -> AsyncIterator[str | Usage]:
        """The stream without its reasoning, which goes to the status and to `parts` instead."""
        if self.searching:
            self._show("searching")
        async for event in events:
            if isinstance(event, Reasoning):
                self._add(event.text)
                if self._activity != "thinking":
                    self._show("thinking")
                continue
            if self._ticker is not None and isinstance(event, str):
                await self._end_status()
            yield event

    async def close(self) -> None:
        """The answer is over (however it ended): end the status and keep the reasoning."""
        await self._end_status()
        if not self.parts:
            return
        text = "".join(self.parts)
        if self.size > MAX_CHARS:
            text += sentences.REASONING_CUT
        now = time.time()
        try:
            await self.store.keep_reasoning(self.key, self.answer_to, self.user_id, text, now=now,
                                            oldest=now - self.settings.reasoning_keep_seconds)
            self.reply.reasoning_ref = self.answer_to
        except Exception as exc:  # the answer matters more than its reasoning
            log.warning("could not keep the reasoning of an answer in %s: %r", self.key, exc)

    def _add(self, text: str) -> None:
        room = MAX_CHARS - self.size
        if room > 0:
            self.parts.append(text[:room])
        self.size += len(text)

    def _show(self, activity: str) -> None:
        self._activity, self._since = activity, self.clock()
        self._wake.set()  # a new activity is shown at once
        if self._ticker is None and not self._over.is_set():
            self._ticker = asyncio.create_task(self._tick())

    async def _tick(self) -> None:
        while not self._over.is_set():
            self._wake.clear()
            seconds = int(self.clock() - self._since)
            await _quietly(self.reply.status(Status(self._activity, seconds)))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(TICK):
                    await self._wake.wait()

    async def _end_status(self) -> None:
        """Stop the ticker; a status write under way ends first, so it cannot land after the text."""
        self._over.set()
        self._wake.set()
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            await asyncio.wait({ticker})
            await _quietly(self.reply.status(None))


async def shown(settings: Settings, store: MemoryStore, key: ConversationKey,
                answer_to: str | None = None) -> str:
    """The `reasoning` command's answer (or, given `answer_to`, the button's): the kept reasoning."""
    kept = await store.reasoning(key, oldest=time.time() - settings.reasoning_keep_seconds)
    if kept is None or (answer_to is not None and kept.answer_to != answer_to):
        return sentences.REASONING_NONE if answer_to is None else sentences.REASONING_GONE
    return sentences.REASONING_SHOWN.format(text=kept.text)


async def _quietly(call: Awaitable[object]) -> None:
    try:
        await call
    except Exception as exc:  # a status that could not be shown is not worth an answer
        log.warning("status update failed: %r", exc)
