"""The life of the answers under way: tracked while they run, ended by the core on shutdown or a user.

An `Answer` is one `ConversationCore.handle` call as shutdown sees it. `Lifecycle.stop` gives
answers (and work adapters hand over with `spawn`) a grace period, then ends each model call so
the core can close the answer itself: shown text gets the interrupted mark and is remembered.
`Lifecycle.halt` is a user's `stop` (command or button): the model call ends at once and the text
shown so far is closed with the stopped mark, which is remembered with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable

from bot import sentences
from bot.journal import AnswerJournal
from bot.llm import Usage
from bot.types import ConversationKey

log = logging.getLogger(__name__)

#: Seconds an answer ended by shutdown gets to write its last words to the platform.
STOP_WRITE_SECONDS = 4.0


@dataclasses.dataclass(eq=False)
class Answer:
    """One `handle` under way, as `stop` sees it, and what remembering its answer needs."""

    task: asyncio.Task[object] | None
    done: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    stream: asyncio.Task[None] | None = None  # the model call, once it runs
    stopped: bool = False  # `stop` ended it
    interrupted: bool = False  # the text is cut short: by `stop`, or by a broken stream
    text: str = ""  # the answer so far
    usage: Usage | None = None
    closed: bool = False  # finish or fail has been called
    journal: AnswerJournal | None = None  # its durable entry, once the user's turn is stored
    question: str = ""  # the question's message id, which keys the answer's turn
    #: Shutdown cut its last platform write: its journal entry stays, for the next start to close.
    unfinished: bool = False
    # Set once the user's turn is stored:
    key: ConversationKey | None = None
    user_id: str = ""
    prompt_tokens: int = 0
    version: int = 0
    model: str = ""
    halted_by: str = ""  # the user whose `stop` ended it

    @property
    def stop_sentence(self) -> str:
        """What an answer stopped before any text says instead."""
        return sentences.STOPPED_EMPTY if self.halted_by else sentences.STOPPED_BEFORE_ANSWER

    def closing_text(self) -> str:
        """The text to show last. A user's stop adds its mark to the answer itself, so the
        remembered answer reads as it was shown; a cut gets the interrupted mark on screen only."""
        if self.halted_by:
            self.text += sentences.STOPPED_MARK
            return self.text
        return self.text + sentences.INTERRUPTED_MARK if self.interrupted else self.text


Pick = Callable[[Answer], bool]


def asked(platform: str, question: str) -> Pick:
    """The answer to one question (a Stop button names it by the question's message id)."""
    return lambda a: a.key is not None and a.key.platform == platform and a.question == question


def within(key: ConversationKey, user_id: str | None = None) -> Pick:
    """Answers in `key` (a channel's `stop` covers its threads too), only `user_id`'s unless None."""

    def pick(a: Answer) -> bool:
        k = a.key
        return (k is not None and (k.platform, k.space, k.channel) == (key.platform, key.space, key.channel)
                and (key.thread is None or k.thread == key.thread)
                and (user_id is None or a.user_id == user_id))

    return pick


class Lifecycle:
    def __init__(self) -> None:
        self.answers: set[Answer] = set()
        self.work: set[asyncio.Task[object]] = set()
        self.refusing = False  # the grace period is over: nothing new is answered

    async def stop(self, grace: float) -> None:
        """End every answer under way, while the platforms are still connected.

        For `grace` seconds answers under way, and work an adapter
        handed over with `spawn`, may finish; then each model call is ended: text already shown
        is closed with the interrupted mark and remembered as the answer, and an answer with
        nothing shown says it was stopped. Messages reaching the core from then on get that
        sentence too.
        """
        if (self.answers or self.work) and grace > 0:
            log.info("waiting up to %.0f s for %d answers to finish", grace, len(self.answers))
            loop = asyncio.get_running_loop()
            deadline = loop.time() + grace
            while (self.answers or self.work) and (left := deadline - loop.time()) > 0:
                await _wait_any(self.answers, self.work, left)
        self.refusing = True
        for answer in self.answers:
            answer.stopped = True
            if answer.stream is not None:
                answer.stream.cancel()
        if self.answers or self.work:
            await _wait_any(self.answers, self.work, STOP_WRITE_SECONDS + 1, every=True)
        stuck = [a.task for a in self.answers if a.task is not None and not a.task.done()]
        stuck += [task for task in self.work if not task.done()]
        for task in stuck:  # a platform write that hangs: the task's own cancellation closes it
            task.cancel()
        await asyncio.gather(*stuck, return_exceptions=True)

    def find(self, pick: Pick) -> list[Answer]:
        """The answers under way (or waiting their turn) that `pick` chooses and a stop can still end."""
        return [a for a in self.answers if not a.closed and not a.halted_by and pick(a)]

    def halt(self, answers: Iterable[Answer], by: str) -> int:
        """A user's stop: each answer's model call ends now (or never starts); how many were stopped.

        The core then closes each answer as after any stop, with the stopped mark on what it showed."""
        count = 0
        for answer in answers:
            if answer.closed or answer.halted_by:
                continue
            answer.stopped, answer.halted_by = True, by or "?"
            if answer.stream is not None:
                answer.stream.cancel()
            count += 1
        return count

    def spawn(self, work: Coroutine[object, object, object]) -> asyncio.Task[object]:
        """Run an adapter's handling of one event on its own, under the core's lifecycle.

        For platforms whose listener must return at once (Slack acks before answering): `stop`
        lets such work finish within the grace period like an answer, and a failure is logged.
        """
        task: asyncio.Task[object] = asyncio.ensure_future(work)
        self.work.add(task)
        task.add_done_callback(self._work_done)
        return task

    def _work_done(self, task: asyncio.Task[object]) -> None:
        self.work.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("handling an event failed", exc_info=task.exception())

    async def idle(self) -> None:
        """Wait until no spawned work is left (tests and benchmarks use it)."""
        while self.work:
            await asyncio.wait(set(self.work))

async def _wait_any(
    answers: set[Answer], work: set[asyncio.Task[object]], seconds: float, *, every: bool = False
) -> None:
    """Wait up to `seconds` for one (or, with `every`, all) of the answers and work to end."""
    waits = [asyncio.ensure_future(a.done.wait()) for a in answers]
    try:
        await asyncio.wait([*waits, *work], timeout=seconds,
                           return_when=asyncio.ALL_COMPLETED if every else asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()


async def last_words(call: Coroutine[object, object, object]) -> None:
    """Run `call` to the end although our task is being cancelled, for at most STOP_WRITE_SECONDS."""
    closing = asyncio.ensure_future(call)
    with contextlib.suppress(Exception, asyncio.CancelledError):
        await asyncio.wait_for(asyncio.shield(closing), STOP_WRITE_SECONDS)


async def quietly(call: Awaitable[object]) -> None:
    """Await an adapter call; its platform errors are logged, never allowed to stop the core."""
    try:
        await call
    except OSError as exc:  # the platform is unreachable for a moment: one line is enough
        log.warning("reply surface failed: %r", exc)
    except Exception:
        log.exception("reply surface failed")
