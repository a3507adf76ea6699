"""The conversation core: one message in, one streamed answer out, memory kept in between.

Per conversation, turns are handled one at a time and in arrival order; different conversations
run side by side, at most `MAX_CONCURRENT_REPLIES` model calls at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from enum import StrEnum

from bot.attachments import image_urls, inline_text
from bot.commands import Commands
from bot.config import Settings
from bot.context import build_context, summary_request, turns_to_fold
from bot.llm import LLMError, QwenClient, StreamInterrupted, Usage
from bot.locks import KeyedLocks
from bot.memory import ConversationSettings, MemoryStore, Summary, Turn, open_store
from bot.reply import Reply
from bot.throttle import Throttle
from bot.tokens import MESSAGE_OVERHEAD, TokenCounter
from bot.types import ChannelMode, ConversationKey, Incoming

log = logging.getLogger(__name__)

INTERRUPTED_MARK = "\n\n*(reply interrupted)*"
#: What an adapter shows when shutdown cut an answer before any of it was visible.
STOPPED_BEFORE_ANSWER = "I was stopped before I could answer; please ask again."
EMPTY_ANSWER = "Qwen sent back an empty answer; please try again."
INTERNAL_ERROR = "Something went wrong on my side; please try again."
SUMMARY_MAX_TOKENS = 600


class Outcome(StrEnum):
    ANSWERED = "answered"
    FAILED = "failed"
    DUPLICATE = "duplicate"
    EMPTY = "empty"


def today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


@dataclasses.dataclass(frozen=True)
class _Generated:
    text: str
    usage: Usage | None
    interrupted: bool


class ConversationCore:
    def __init__(
        self,
        settings: Settings,
        store: MemoryStore,
        llm: QwenClient,
        counter: TokenCounter | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.llm = llm
        self.counter = counter or TokenCounter(settings.qwen_model)
        self.commands = Commands(self)
        self._locks = KeyedLocks()
        self._slots = asyncio.Semaphore(settings.max_concurrent_replies)
        self._pending: set[tuple[ConversationKey, str]] = set()
        self._summarising: set[ConversationKey] = set()
        self._background: set[asyncio.Task[None]] = set()

    @classmethod
    async def start(cls, settings: Settings) -> ConversationCore:
        store = await open_store(settings.database_url)
        return cls(settings, store, QwenClient(settings))

    async def close(self) -> None:
        if self._background:
            _, late = await asyncio.wait(self._background, timeout=30)
            for task in late:  # a summary still running is dropped; its turns stay as they were
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await self.llm.close()
        await self.store.close()

    @contextlib.asynccontextmanager
    async def conversation(self, key: ConversationKey) -> AsyncIterator[None]:
        """Exclusive use of one conversation, in this process and across replicas."""
        async with self._locks.hold(key), self.store.lock(key):
            yield

    # -- messages ---------------------------------------------------------------------------

    async def claim_event(self, platform: str, event_id: str) -> bool:
        """True once per platform event id, even across retries, restarts and replicas."""
        return await self.store.claim_event(platform, event_id)

    async def channel_mode(self, key: ConversationKey) -> ChannelMode:
        return (await self.store.settings(key)).mode

    async def has_history(self, key: ConversationKey) -> bool:
        """Whether the bot has taken part in this conversation (e.g. a Slack thread it answered in)."""
        return (await self.store.stats(key)).turns > 0

    async def record(self, incoming: Incoming) -> bool:
        """Remember a message the bot was not asked to answer; False if it was stored already."""
        text = inline_text(incoming.text, incoming.attachments)
        if not text.strip():
            return False
        text = self.counter.truncate(text, self.settings.max_context_tokens // 2)
        turn = Turn("user", incoming.author.id, incoming.author.name, text, self.counter.count(text),
                    incoming.message_id)
        return await self.store.add_turn(incoming.key, turn) is not None

    async def handle(self, incoming: Incoming, reply: Reply) -> Outcome:
        """Store the message, answer it through `reply`, store the answer."""
        if not incoming.text.strip() and not incoming.attachments:
            return Outcome.EMPTY
        # In-flight duplicates stop here; a stored one is refused by the store's unique key.
        marker = (incoming.key, incoming.message_id)
        if marker in self._pending:
            return Outcome.DUPLICATE
        self._pending.add(marker)
        try:
            async with self.conversation(incoming.key):
                return await self._answer(incoming, reply)
        except Exception:
            log.exception("failed to handle a message in %s", incoming.key)
            await _quietly(reply.fail(INTERNAL_ERROR))
            return Outcome.FAILED
        finally:
            self._pending.discard(marker)

    async def _answer(self, incoming: Incoming, reply: Reply) -> Outcome:
        key = incoming.key
        snapshot = await self.store.load(key)
        conv = await self._with_parent_settings(key, snapshot.settings)
        persona = conv.persona or self.settings.system_prompt
        text = inline_text(incoming.text, incoming.attachments)
        room = self.settings.max_context_tokens - self.counter.count(persona) - 4 * MESSAGE_OVERHEAD
        notes = list(incoming.skipped_notes)
        if self.counter.count(text) > room:
            text = self.counter.truncate(text, room)
            notes.append(f"Your message was longer than my {self.settings.max_context_tokens:,}-token "
                         "memory budget, so I read only its beginning.")
        turn = Turn("user", incoming.author.id, incoming.author.name, text, self.counter.count(text),
                    incoming.message_id)
        stored = await self.store.add_turn(key, turn)
        if stored is None:
            return Outcome.DUPLICATE
        for note in notes:
            await _quietly(reply.notice(note))

        # What was loaded still holds: answered turns are added only under this lock. A summary
        # written meanwhile, or a side message recorded meanwhile, shows up from the next turn on.
        summary, turns = snapshot.summary, [*snapshot.turns, stored]
        images = image_urls(incoming.attachments)
        context = build_context(
            persona=persona,
            summary=summary,
            turns=turns,
            budget=self.settings.max_context_tokens,
            counter=self.counter,
            shared=key.space != "dm",
            image_urls=images,
        )
        model = self.model_for(conv.model, vision=bool(images))
        await _quietly(reply.started())
        result = await self._generate(reply, context.messages, model)
        if context.left_out:
            self._summarise_later(key)
        if isinstance(result, str):
            await _quietly(reply.fail(result))
            return Outcome.FAILED

        await _quietly(reply.finish(result.text + INTERRUPTED_MARK if result.interrupted else result.text))
        answer = Turn("assistant", "assistant", "assistant", result.text, self.counter.count(result.text))
        # A reset or forget-me while the model was answering wins: the answer is shown, not remembered.
        await self.store.add_turn(key, answer, if_version=snapshot.summary.version)
        usage = result.usage or Usage(context.tokens, answer.tokens)
        await self.store.add_usage(
            key, incoming.author.id, usage.prompt_tokens, usage.completion_tokens, today()
        )
        return Outcome.ANSWERED

    async def effective_settings(self, key: ConversationKey) -> ConversationSettings:
        """The settings a turn in `key` uses: a thread follows its channel until it sets its own."""
        return await self._with_parent_settings(key, await self.store.settings(key))

    async def _with_parent_settings(
        self, key: ConversationKey, own: ConversationSettings
    ) -> ConversationSettings:
        if key.thread is None or (own.persona and own.model):
            return own
        parent = await self.store.settings(dataclasses.replace(key, thread=None))
        return dataclasses.replace(
            own, persona=own.persona or parent.persona, model=own.model or parent.model
        )

    def model_for(self, chosen: str | None, *, vision: bool = False) -> str:
        if vision:
            return self.settings.qwen_vision_model
        if chosen and chosen in self.settings.qwen_models:
            return chosen
        return self.settings.qwen_model

    async def _generate(
        self, reply: Reply, messages: list[dict[str, object]], model: str
    ) -> _Generated | str:
        """Stream the model's answer into `reply`'s partial updates; a failure is its sentence."""
        throttle = Throttle(reply)
        text = ""
        usage: Usage | None = None
        interrupted = False
        try:
            # The slot is held only while the model streams, not while the platform catches up.
            async with self._slots:
                async for event in self.llm.stream(messages, model):
                    if isinstance(event, Usage):
                        usage = event
                    else:
                        text += event
                        throttle.push(text)
        except StreamInterrupted:
            interrupted = True
        except LLMError as exc:
            log.warning("model call failed: %s", exc.kind)
            return exc.user_message
        finally:
            await throttle.close()
        if not text.strip():
            return EMPTY_ANSWER
        return _Generated(text, usage, interrupted)

    # -- rolling summary ----------------------------------------------------------------------

    def _summarise_later(self, key: ConversationKey) -> None:
        if key in self._summarising:
            return
        self._summarising.add(key)
        task = asyncio.create_task(self._summarise(key))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _summarise(self, key: ConversationKey) -> None:
        """Fold the oldest turns into the summary; on any failure the turns stay as they were."""
        try:
            summary = await self.store.summary(key)
            turns = await self.store.turns_after(key, summary.upto_turn_id)
            fold = turns_to_fold(turns, self.settings.max_context_tokens, shared=key.space != "dm")
            if not fold:
                return
            async with self._slots:  # summaries count against MAX_CONCURRENT_REPLIES too
                text, usage = await self.llm.complete(
                    summary_request(summary.text, fold), self.settings.qwen_model, SUMMARY_MAX_TOKENS
                )
            await self.store.add_usage(key, "", usage.prompt_tokens, usage.completion_tokens, today())
            if not text.strip():
                return
            # Refused if a reset or forget-me came in meanwhile: deleted words never come back.
            new = Summary(text.strip(), fold[-1].id, summary.version)
            if not await self.store.replace_summary(key, summary, new):
                return
            log.info("summarised %d turns in %s", len(fold), key)
        except Exception as exc:
            log.warning("summary of %s failed, turns kept: %r", key, exc)
        finally:
            self._summarising.discard(key)


async def _quietly(call: object) -> None:
    """Await an adapter call; its platform errors are logged, never allowed to stop the core."""
    try:
        await call  # type: ignore[misc]
    except OSError as exc:  # the platform is unreachable for a moment: one line is enough
        log.warning("reply surface failed: %r", exc)
    except Exception:
        log.exception("reply surface failed")
