"""The conversation core: one message in, one streamed answer out, memory kept in between.

Per conversation, turns are handled one at a time and in arrival order; different conversations
run side by side (the model client bounds how many model calls run at once). The core owns the
life of every answer: it tracks each one under way, and `stop` ends them itself on shutdown, so
every addressed message gets exactly one outcome and what was shown is what is remembered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine

from bot import logs, sentences
from bot.attachments import image_urls, inline_text
from bot.commands import Commands
from bot.config import Settings
from bot.context import build_context, fit_message
from bot.journal import AnswerJournal, recover
from bot.lifecycle import Answer, Lifecycle, last_words
from bot.lifecycle import quietly as _quietly
from bot.limits import UserLimit
from bot.llm import LLMError, QwenClient, StreamInterrupted, Usage
from bot.locks import KeyedLocks
from bot.memory import MemoryStore, MemoryUnavailable, Turn, Unfinished, open_store
from bot.metrics import MeteredReply, count_tokens
from bot.outcome import Outcome
from bot.reasoning import Mind
from bot.reply import Reply
from bot.summary import Summariser
from bot.text import storable
from bot.threads import OpenedThreads, effective_settings
from bot.throttle import Throttle
from bot.tokens import MESSAGE_OVERHEAD, TokenCounter
from bot.types import ChannelMode, ConversationKey, Incoming
from bot.usage import today

log = logging.getLogger(__name__)


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
        self.lifecycle = Lifecycle()
        self.commands = Commands(settings, store, self.lifecycle)
        self.summaries = Summariser(settings, store, llm)
        self.threads = OpenedThreads(store)
        self.user_limit = UserLimit(store.window("user-messages", settings.user_rate_limit, 60.0))
        self._locks = KeyedLocks()
        self._pending: set[tuple[ConversationKey, str]] = set()
        #: This process, in the journal of answers in progress: entries of other owners may be orphans.
        self.owner = uuid.uuid4().hex

    @classmethod
    async def start(cls, settings: Settings) -> ConversationCore:
        # `load` reads only the turns a context of this budget could hold (and one more).
        store = await open_store(settings.database_url, load_budget=settings.max_context_tokens)
        return cls(settings, store, QwenClient(settings))

    async def stop(self, grace: float | None = None) -> None:
        """End every answer under way, while the platforms are still connected.

        Answers get `grace` seconds (default `SHUTDOWN_GRACE`) to finish; then each is ended:
        text already shown is closed with the interrupted mark and remembered as the answer, and
        an answer with nothing shown says it was stopped, as does any message arriving later.
        """
        await self.lifecycle.stop(self.settings.shutdown_grace if grace is None else grace)

    def spawn(self, work: Coroutine[object, object, object]) -> asyncio.Task[object]:
        """Run an adapter's handling of one event on its own, under the core's lifecycle.

        For platforms whose listener must return at once (Slack acks before answering): `stop`
        lets such work finish within the grace period like an answer, and a failure is logged.
        """
        return self.lifecycle.spawn(work)

    async def idle(self) -> None:
        """Wait until no spawned work is left (tests and benchmarks use it)."""
        await self.lifecycle.idle()

    async def close(self) -> None:
        await self.summaries.close()
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

    async def model_of(self, key: ConversationKey) -> str:
        """The model answering in `key`: its own choice, its channel's, or the default."""
        return self.settings.model_for((await effective_settings(self.store, key)).model)

    def _user_turn(self, incoming: Incoming, text: str) -> Turn:
        author = incoming.author
        return Turn("user", author.id, storable(author.name), text, self.counter.count(text),
                    incoming.message_id)

    async def record(self, incoming: Incoming) -> bool:
        """Remember a message the bot was not asked to answer; False if it was stored already."""
        text = storable(inline_text(incoming.text, incoming.attachments))
        if not text.strip():
            return False
        text, _ = fit_message(text, self.settings.max_context_tokens // 2, self.counter)
        return await self.store.add_turn(incoming.key, self._user_turn(incoming, text)) is not None

    @logs.traced  # its log lines carry the conversation; one line says the outcome and latency
    async def handle(self, incoming: Incoming, reply: Reply) -> Outcome:
        """Store the message, answer it through `reply`, store the answer (counted and timed)."""
        metered = MeteredReply(reply, incoming.key.platform)
        return metered.settle(await self._handle(incoming, metered))

    async def _handle(self, incoming: Incoming, reply: Reply) -> Outcome:
        if not incoming.text.strip() and not incoming.attachments:
            return Outcome.EMPTY
        # In-flight duplicates stop here; a stored one is refused by the store's unique key.
        marker = (incoming.key, incoming.message_id)
        if marker in self._pending:
            return Outcome.DUPLICATE
        if self.lifecycle.refusing:
            await _quietly(reply.fail(sentences.STOPPED_BEFORE_ANSWER))
            return Outcome.STOPPED
        verdict = await self.user_limit.check((incoming.key.platform, incoming.author.id))
        if not verdict.allowed:
            return Outcome.RATE_LIMITED if verdict.notify else Outcome.RATE_LIMITED_AGAIN
        answer = Answer(asyncio.current_task(), key=incoming.key, user_id=incoming.author.id,
                        question=incoming.message_id)  # known at once, so a `stop` can find it
        self._pending.add(marker)
        self.lifecycle.answers.add(answer)
        try:
            async with self.conversation(incoming.key):
                try:
                    return await self._answer(incoming, reply, answer)
                finally:
                    # Under the conversation's lock, which is what tells another process
                    # recovering this conversation that the entry's owner is alive.
                    if answer.journal is not None and not answer.unfinished:
                        await _quietly(answer.journal.end())
        except asyncio.CancelledError:
            if not answer.closed:  # cancelled before the model was called
                answer.closed = True
                await last_words(_quietly(reply.fail(sentences.STOPPED_BEFORE_ANSWER)))
            raise
        except MemoryUnavailable as exc:
            # Once the answer is shown, a memory that could not keep it is the operator's news.
            log.warning("memory unavailable in %s: %s", incoming.key, exc)
            if not answer.closed:
                await _quietly(reply.fail(sentences.MEMORY_UNAVAILABLE))
            return Outcome.FAILED
        except Exception:
            log.exception("failed to handle a message in %s", incoming.key)
            if not answer.closed:
                await _quietly(reply.fail(sentences.INTERNAL_ERROR))
            return Outcome.FAILED
        finally:
            self._pending.discard(marker)
            self.lifecycle.answers.discard(answer)
            answer.done.set()

    async def _answer(self, incoming: Incoming, reply: Reply, answer: Answer) -> Outcome:
        key = incoming.key
        snapshot = await self.store.load(key)
        conv = await effective_settings(self.store, key, snapshot.settings)
        persona = conv.persona or self.settings.system_prompt
        room = (self.settings.max_context_tokens - self.counter.count(persona + incoming.briefing)
                - 4 * MESSAGE_OVERHEAD)
        whole = storable(inline_text(incoming.text, incoming.attachments))
        text, cut = fit_message(whole, room, self.counter)
        notes = list(incoming.skipped_notes)
        if cut:
            notes.append(sentences.MESSAGE_CUT.format(budget=self.settings.max_context_tokens))
        stored = await self.store.add_turn(key, self._user_turn(incoming, text))
        if stored is None:
            return Outcome.DUPLICATE
        if (over := await self.commands.budgets.refusal(key, incoming.author.id)) is not None:
            return await self._close(reply, answer, over, Outcome.OVER_BUDGET)
        # Durable before anything of the answer is shown: a process killed from here on leaves
        # an entry the next start finishes (see `recover`).
        answer.journal = await AnswerJournal.begin(self.store, key, incoming.message_id, self.owner,
                                                   snapshot.summary.version, reply)
        for note in notes:
            await _quietly(reply.notice(note))
        if answer.stopped or self.lifecycle.refusing:
            return await self._close(reply, answer, answer.stop_sentence, Outcome.STOPPED)

        # What was loaded still holds: answered turns are added only under this lock. A summary
        # written meanwhile, or a side message recorded meanwhile, shows up from the next turn on.
        images = image_urls(incoming.attachments)
        context = build_context(
            persona=persona,
            summary=snapshot.summary,
            turns=[*snapshot.turns, stored],
            budget=self.settings.max_context_tokens,
            counter=self.counter,
            shared=key.space != "dm",
            image_urls=images,
            briefing=incoming.briefing,
        )
        model = self.settings.model_for(conv.model, vision=bool(images))
        answer.prompt_tokens, answer.version, answer.model = context.tokens, snapshot.summary.version, model
        await _quietly(reply.started())
        mind = Mind(self.settings, self.store, reply, incoming, conv, model)
        try:
            failure = await self._generate(reply, context.messages, mind, model, answer)
        except asyncio.CancelledError:
            # Cancelled from outside (an adapter shutting down on its own): close what is shown.
            if not answer.closed:
                answer.stopped = answer.interrupted = True
                await last_words(self._end(reply, answer))
            raise
        if context.left_out:  # after the answer, so the summary never competes with it
            self.summaries.later(key)
        if failure is not None:
            return await self._close(reply, answer, failure, Outcome.FAILED)
        return await self._end(reply, answer)

    async def _end(self, reply: Reply, answer: Answer) -> Outcome:
        """Show and remember the answer: whole, or cut short with the interrupted mark."""
        if not answer.text.strip():
            if answer.stopped:
                return await self._close(reply, answer, answer.stop_sentence, Outcome.STOPPED)
            return await self._close(reply, answer, sentences.EMPTY_ANSWER, Outcome.FAILED)
        answer.closed = True
        shown = answer.closing_text()
        if answer.journal is not None:
            # The whole text, before the final write: a process killed during or after it leaves
            # the next start the text the user saw, not one a few seconds old.
            await answer.journal.save_text(answer.text)
        try:
            await _quietly(reply.finish(shown))
        except asyncio.CancelledError:
            # Shutdown cut a platform write that hung: the answer is remembered all the same, and
            # its journal entry is kept so the next start closes the message left open.
            answer.unfinished = True
            await last_words(self._remember(answer))
            raise
        return await self._remember(answer)

    async def _remember(self, answer: Answer) -> Outcome:
        assert answer.key is not None
        # Keyed by the question, as crash recovery keys it: stored once whoever stores it first.
        turn = Turn("assistant", "assistant", "assistant", answer.text, self.counter.count(answer.text),
                    f"answer-to:{answer.question}")
        # A reset or forget-me while the model was answering wins: shown, not remembered.
        await self.store.add_turn(answer.key, turn, if_version=answer.version)
        usage = answer.usage or Usage(answer.prompt_tokens, turn.tokens)
        await self.store.add_usage(answer.key, answer.user_id, usage.prompt_tokens, usage.completion_tokens,
                                   today())
        count_tokens(answer.model, usage.prompt_tokens, usage.completion_tokens)
        return Outcome.ANSWERED

    async def _close(self, reply: Reply, answer: Answer, sentence: str, outcome: Outcome) -> Outcome:
        answer.closed = True
        await _quietly(reply.fail(sentence))
        return outcome

    async def _generate(
        self, reply: Reply, messages: list[dict[str, object]], mind: Mind, model: str, answer: Answer
    ) -> str | None:
        """Stream the model's answer into `answer` and `reply`'s updates; a failure is its sentence.

        The model call runs in a task of its own so that `stop` can end it without cancelling
        the caller, which then closes the answer as usual.
        """
        throttle = Throttle(reply)

        async def consume() -> None:
            async for event in mind.route(self.llm.stream(messages, model, options=mind.options)):
                if isinstance(event, Usage):
                    answer.usage = event
                else:
                    answer.text += storable(event)
                    throttle.push(answer.text)
                    if answer.journal is not None:
                        answer.journal.text(answer.text)

        answer.stream = asyncio.create_task(consume())
        try:
            await asyncio.wait({answer.stream})
            if answer.stream.cancelled():  # ended by `stop`
                answer.stopped = answer.interrupted = True
                return None
            error = answer.stream.exception()
            if isinstance(error, StreamInterrupted):
                answer.interrupted = True
                return None
            if isinstance(error, LLMError):
                log.info("model call failed: %s", error.kind)  # the client logged why
                return error.user_message
            if error is not None:
                raise error
            return None
        finally:
            answer.stream.cancel()
            await throttle.close()
            await mind.close()  # its status ends, its reasoning is kept (never in the answer)

    # -- crash recovery -----------------------------------------------------------------------

    async def recover(self, platform: str, finish: Callable[[Unfinished], Awaitable[None]]) -> int:
        """Finish the answers a killed process left on `platform`; how many were finished.

        Adapters call it once connected. `finish(entry)` closes what the entry's `place` says is
        shown (the interrupted mark on a half-written message, or the "stopped before I could
        answer" sentence when nothing was shown) and raises only if worth trying at the next start.
        The partial text is then remembered as the answer (see `bot.journal.recover`).
        """
        return await recover(self.store, platform, finish, owner=self.owner, lock=self.conversation,
                             count=self.counter.count)
