"""How one answer reaches Discord: a reply that streams by editing, paced under Discord's limits.

The core hands over the whole text so far whenever it likes; this class keeps only the newest
text and a single writer task brings Discord up to date at its own pace: at most one edit per
message every `edit_interval` seconds, and per channel no more than the shared write budget (a `Window`)
allows. Text that arrives while the writer waits is coalesced, never queued edit by edit
(discord.py sleeps silently on 429s, so a loop that queued edits would fall ever further behind).
A failed write is tried again with the next text; the final text gets one more try after a pause
and, if its message still cannot be edited, goes out as a new message. Only a deleted message or
a missing permission stops an answer. The answer's last message carries its buttons (Stop while
streaming, 👍/👎 once finished: adapters/discord/components.py), moved along as messages are added.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import discord

from adapters.discord import components, reasoning, render
from adapters.discord.surfaces import NETWORK_ERRORS, Surface
from bot.limits import Window
from bot.reply import Reply, Status

log = logging.getLogger(__name__)


@dataclass
class _Shown:
    handle: Any
    content: str
    at: float
    controls: str = ""  # the buttons it shows (see `components.view`)


class DiscordReply(Reply):
    def __init__(
        self,
        surface: Surface,
        budget: Window,
        *,
        edit_interval: float = 1.2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # The core may call `partial` often: it only records text. Pacing is the writer's job.
        self.update_interval = min(0.1, edit_interval)
        self.surface = surface
        self.budget = budget
        self.edit_interval = edit_interval
        self.clock = clock
        self.shown: list[_Shown] = []
        self.first_visible_at: float | None = None
        self._wanted: list[str] = []
        self._controls = "streaming"  # what the last message's buttons are: "finished" after `finish`
        self._final = False
        self._dead = False
        self._wake = asyncio.Event()
        self._visible = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._typing: asyncio.Task[None] | None = None
        self._late_notes: list[str] = []
        self.text = ""  # the answer so far, as the core last sent it

    # -- the core's calls ---------------------------------------------------------------------

    def where(self) -> dict[str, object]:
        return {**self.surface.where(), "messages": [str(s.handle.id) for s in self.shown]}

    async def started(self) -> None:
        typing = self.surface.typing()
        if typing is not None and self._typing is None:
            self._typing = asyncio.create_task(self._type(typing))

    async def notice(self, text: str) -> None:
        if self.surface.notes_first:
            await self._quietly(self.surface.note(render.notice(text)), "post a note")
        else:
            self._late_notes.append(render.notice(text))

    async def partial(self, text: str) -> None:
        self.text = text
        self._want(render.messages(text), final=False)

    async def status(self, status: Status | None) -> None:
        # In the answer's message until its text begins, paced like any edit of it.
        if status is not None and not self.text:
            self._want([render.notice(status.text)], final=False)

    async def finish(self, text: str) -> None:
        self._want(render.messages(text), final=True, controls="finished")
        await self._done()
        if self.reasoning_ref is not None and self.shown and not self._dead:
            await self.budget.acquire(self.surface.channel_id, max_wait=self.edit_interval)
            await reasoning.attach(self.shown[-1].handle, self.reasoning_ref,
                                   components.view(self.shown[-1].controls, self.surface.question))

    async def fail(self, message: str) -> None:
        self._want([render.failure(message)], final=True, controls="")
        await self._done()

    # -- writer -------------------------------------------------------------------------------

    def _want(self, chunks: list[str], *, final: bool, controls: str = "streaming") -> None:
        if self._final:
            return
        self._wanted = chunks
        self._final = final
        self._controls = controls
        self._wake.set()
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_loop())

    async def _done(self) -> None:
        try:
            if self._writer is not None:
                await self._writer
        finally:
            await self._stop_typing()
            for note in self._late_notes:
                await self._quietly(self.surface.note(note), "post a note")

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._sync()
            if self._dead or (self._final and not self._wake.is_set()):
                return

    def _next(self) -> tuple[str, int] | None:
        for index, chunk in enumerate(self._wanted):
            if index >= len(self.shown):
                return "send", index
            if self.shown[index].content != chunk or self.shown[index].controls != self._controls_of(index):
                return "edit", index
        if self._final and len(self.shown) > len(self._wanted):
            return "delete", len(self.shown) - 1
        return None

    def _controls_of(self, index: int) -> str:
        return self._controls if index == len(self._wanted) - 1 and self.surface.question else ""

    async def _sync(self) -> None:
        """Bring Discord up to the newest wanted text, one paced write at a time."""
        channel = self.surface.channel_id
        retried = False
        while not self._dead:
            action = self._next()
            if action is None:
                return
            op, index = action
            if op == "edit":
                wait = self.shown[index].at + self.edit_interval - self.clock()
                if wait > 0:
                    await asyncio.sleep(wait)
                    continue  # newer text may have arrived meanwhile: decide again
            if not await self.budget.try_acquire(channel):
                await asyncio.sleep(await self.budget.time_until_free(channel))
                continue
            if await self._perform(op, index):
                retried = False
                continue
            if self._dead or not self._final:
                return  # while streaming, the next text tries again
            if not retried:
                retried = True
                await asyncio.sleep(self.edit_interval)
            elif op == "send":
                self._stop("its message could not be posted")
            else:
                # Leave the message that cannot be changed as it is; the rest goes out anew.
                del self.shown[index:]

    async def _perform(self, op: str, index: int) -> bool:
        """Make one write; False if it failed."""
        try:
            if op == "send":
                content, controls = self._wanted[index], self._controls_of(index)
                handle = await self.surface.send(content, first=index == 0,
                                                 view=components.view(controls, self.surface.question))
                self.shown.append(_Shown(handle, content, self.clock(), controls))
                if index == 0:
                    self.first_visible_at = time.perf_counter()
                    self._visible.set()
                await self.moved()  # a restart must find every message of the answer
            elif op == "edit":
                content, controls = self._wanted[index], self._controls_of(index)
                await self.surface.edit(self.shown[index].handle, content,
                                        components.view(controls, self.surface.question))
                self.shown[index] = _Shown(self.shown[index].handle, content, self.clock(), controls)
            else:
                with contextlib.suppress(discord.NotFound):
                    await self.surface.delete(self.shown[index].handle)
                del self.shown[index]
            return True
        except discord.NotFound:
            self._stop("its message was deleted")
        except discord.Forbidden:
            self._stop("missing permission to post")
        except discord.HTTPException as exc:
            log.warning(
                "could not %s an answer in channel %s: Discord answered %s %s",
                op,
                self.surface.channel_id,
                exc.status,
                exc.text[:200],
            )
        except NETWORK_ERRORS as exc:
            log.warning("could not %s an answer in channel %s: %r", op, self.surface.channel_id, exc)
        return False

    def _stop(self, why: str) -> None:
        log.warning("answer in channel %s stopped: %s", self.surface.channel_id, why)
        self._dead = True
        self._visible.set()

    # -- typing -------------------------------------------------------------------------------

    async def _type(self, typing: contextlib.AbstractAsyncContextManager[Any]) -> None:
        try:
            async with typing:
                await self._visible.wait()
        except (discord.HTTPException, *NETWORK_ERRORS) as exc:
            log.debug("typing indicator failed: %r", exc)

    async def _stop_typing(self) -> None:
        self._visible.set()
        if self._typing is not None:
            with contextlib.suppress(Exception):
                await self._typing

    async def _quietly(self, call: Any, what: str) -> None:
        try:
            await call
        except (discord.HTTPException, *NETWORK_ERRORS) as exc:
            log.warning("could not %s in channel %s: %r", what, self.surface.channel_id, exc)
