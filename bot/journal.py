"""The durable journal of answers in progress, so a restarted process can finish what a killed one left.

The core begins an entry when it starts answering ("nothing visible yet"); the reply reports where
the answer is shown as soon as its first visible write lands (and again whenever that changes);
the text so far is saved now and then, at most once per `SAVE_INTERVAL`, so the store is not
written on every token; the entry is deleted when the answer ends, whatever its outcome. What is
left in the journal at start belongs to a process that died, and the adapters finish it through
`ConversationCore.recover`.

Journal writes never stop an answer: a failed one is logged and the answer goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from bot.memory import MemoryStore, MemoryUnavailable, Turn, Unfinished
from bot.reply import Reply
from bot.types import ConversationKey

log = logging.getLogger(__name__)

#: Most often the partial text of one answer is written to the journal, in seconds.
SAVE_INTERVAL = 2.0
#: Seconds recovery waits for a conversation's lock: a dead process's lock is free at once, so a
#: lock still held after this belongs to a live process, whose answer ends its own entry.
LOCK_WAIT = 2.0
#: Entries finished at once at start (each makes a few platform calls).
RECOVER_AT_ONCE = 8
#: An entry whose platform kept refusing to finish it for this long is given up.
GIVE_UP_SECONDS = 24 * 3600

Finish = Callable[[Unfinished], Awaitable[None]]


class AnswerJournal:
    """The journal entry of one answer, owned by the `handle` call that answers."""

    def __init__(self, store: MemoryStore, entry_id: int, *, interval: float = SAVE_INTERVAL) -> None:
        self.store = store
        self.entry_id = entry_id
        self.interval = interval
        self._text = ""
        self._saved_text = ""
        self._saved_at = time.monotonic()
        self._flush: asyncio.Task[None] | None = None
        self._ended = False

    @classmethod
    async def begin(
        cls, store: MemoryStore, key: ConversationKey, message_id: str, owner: str, version: int, reply: Reply
    ) -> AnswerJournal:
        place = _json(reply.where())
        journal = cls(store, await store.begin_answer(key, message_id, owner, version, place))
        reply.watch(lambda: journal.moved(reply))
        return journal

    def text(self, text: str) -> None:
        """The answer so far; written in the background if the last write is old enough."""
        self._text = text
        if self._flush is None and time.monotonic() - self._saved_at >= self.interval:
            self._flush = asyncio.ensure_future(self._save(None))

    async def moved(self, reply: Reply) -> None:
        """The reply's place changed (its first visible write, a new message): record it now."""
        await self._wait_flush()
        await self._save(_json(reply.where()))

    async def save_text(self, text: str) -> None:
        """Save `text` now: the next start shows and remembers all of it."""
        self._text = text
        await self._wait_flush()
        await self._save(None)

    async def end(self) -> None:
        self._ended = True
        await self._wait_flush()
        await self.store.end_answer(self.entry_id)

    async def _wait_flush(self) -> None:
        if self._flush is not None:
            await asyncio.wait({self._flush})

    async def _save(self, place: str | None) -> None:
        if self._ended:
            return
        text = self._text if self._text != self._saved_text else None
        self._saved_at = time.monotonic()
        try:
            if place is not None or text is not None:
                await self.store.save_answer(self.entry_id, place=place, text=text)
                if text is not None:
                    self._saved_text = text
        except Exception as exc:  # the answer matters more than its journal
            log.warning("could not save the journal of an answer in progress: %r", exc)
        finally:
            if asyncio.current_task() is self._flush:
                self._flush = None


def read_place(text: str) -> dict[str, Any]:
    """An entry's `place` as its adapter wrote it; {} for anything unreadable (never raises)."""
    try:
        place = json.loads(text) if text else {}
    except ValueError:
        return {}
    return place if isinstance(place, dict) else {}


def _json(place: dict[str, object]) -> str:
    return json.dumps(place, separators=(",", ":"))


async def recover(
    store: MemoryStore, platform: str, finish: Finish, *, owner: str,
    lock: Callable[[ConversationKey], contextlib.AbstractAsyncContextManager[None]],
    count: Callable[[str], int],
) -> int:
    """Finish every entry of `platform` not begun by `owner` (this process); how many were finished.

    Each is finished holding its conversation's `lock`, which a live process holds for as long as
    it answers there (its entry ends under that lock): so on PostgreSQL a live replica's answers
    are never taken over, while a dead one's lock went with its connection. `finish` does the
    platform's part; the saved text is then remembered as the answer, once, and the entry deleted.
    """
    try:
        entries = await store.unfinished(platform, not_owner=owner)
    except MemoryUnavailable as exc:
        log.warning("could not read the answers a previous run left unfinished: %s", exc)
        return 0
    slots = asyncio.Semaphore(RECOVER_AT_ONCE)

    async def one(entry: Unfinished) -> bool:
        async with slots:
            try:
                async with _held_within(lock(entry.key), LOCK_WAIT):
                    current = await store.unfinished_entry(entry.id)
                    if current is None:  # ended meanwhile by its live owner, or by a replica
                        return False
                    await _finish_one(store, current, finish, count)
                    return True
            except TimeoutError:
                log.info("an answer in %s is still under way in a live process; left to it", entry.key)
            except Exception as exc:
                log.warning("could not finish an interrupted answer in %s: %r", entry.key, exc)
            return False

    # Side by side, so one conversation a live replica is busy in holds up no other.
    finished = sum(await asyncio.gather(*(one(entry) for entry in entries)))
    if finished:
        log.info("finished %d answers a previous run left unfinished on %s", finished, platform)
    return finished


async def _finish_one(
    store: MemoryStore, entry: Unfinished, finish: Finish, count: Callable[[str], int]
) -> None:
    try:
        await finish(entry)
    except Exception:
        if time.time() - entry.started_at < GIVE_UP_SECONDS:
            raise  # kept for the next start
        log.warning("giving up an interrupted answer in %s begun at %.0f", entry.key, entry.started_at)
    if entry.text.strip():
        # Keyed by the question, so finishing the same entry twice stores it once.
        turn = Turn("assistant", "assistant", "assistant", entry.text, count(entry.text),
                    f"answer-to:{entry.message_id}")
        await store.add_turn(entry.key, turn, if_version=entry.version)
    await store.end_answer(entry.id)


@contextlib.asynccontextmanager
async def _held_within(
    manager: contextlib.AbstractAsyncContextManager[None], seconds: float
) -> AsyncIterator[None]:
    """`manager` entered within `seconds` (else TimeoutError, nothing held), then exited as usual."""
    await asyncio.wait_for(manager.__aenter__(), seconds)
    try:
        yield
    except BaseException as exc:
        if not await manager.__aexit__(type(exc), exc, exc.__traceback__):
            raise
    else:
        await manager.__aexit__(None, None, None)
