"""One answer on Slack: native streaming where Slack allows it, message edits where it does not.

Streaming (chat.startStream / appendStream / stopStream) is called directly rather than through
slack-sdk's `chat_stream` helper, whose 256-character buffer would hold back the first words.
The fallback posts a message and edits it at most once a second, within a budget of chat.update
calls shared by every answer in the workspace (chat.update is a Tier 3 method, ~50 a minute).
Either way the last call carries the complete answer; answers longer than one message continue
in further messages, split without breaking code blocks. A finished answer's last message gets
👍/👎, and a posted one a Stop button while it is written (see adapters/slack/controls.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import controls as buttons
from adapters.slack.blocks import Rendered, emptied, has_table, rendered
from adapters.slack.errors import STREAMING_UNAVAILABLE, error_code, retry_after
from adapters.slack.render import STREAM_LIMIT, settled, to_mrkdwn, to_stream_markdown
from adapters.slack.status import Capabilities, set_status
from bot import sentences
from bot.limits import Window
from bot.render import FENCE, close, cut_point, open_fence
from bot.reply import Reply, Status

log = logging.getLogger(__name__)

THINKING = "is thinking…"
STREAM_INTERVAL = 0.25
UPDATE_INTERVAL = 1.0
#: How long a rate-limited final edit keeps retrying before the text goes out as a new message.
FINAL_EDIT_PATIENCE = 60.0
#: How long the final text waits for a status call still under way (a late status would linger).
STATUS_WAIT = 2.0


@dataclass
class _Message:
    ts: str
    streaming: bool  # an open stream: appendable, not yet stopped
    content: str  # what the message shows: markdown_text for streams, else `Rendered.shown`
    kind: str = "stream"  # "stream" or "post"
    updated_at: float = field(default=float("-inf"))
    controls: str = ""  # its buttons (controls.STOP, controls.FEEDBACK or none)


class SlackReply(Reply):
    def __init__(
        self,
        client: AsyncWebClient,
        *,
        channel: str,
        thread_ts: str | None,
        team: str,
        user: str,
        budget: Window,
        budget_key: str,
        capabilities: Capabilities,
        stream: bool = True,
        quick_client: AsyncWebClient | None = None,
        answer: str = "",
    ) -> None:
        self.client = client
        self.quick_client = quick_client or client
        self.channel = channel
        self.thread_ts = thread_ts
        self.team = team
        self.user = user
        self.budget = budget
        self.budget_key = budget_key
        self.capabilities = capabilities
        # The streaming API only writes replies in threads.
        self._stream = stream and capabilities.streaming and thread_ts is not None
        self.update_interval = STREAM_INTERVAL if self._stream else UPDATE_INTERVAL
        self.messages: list[_Message] = []
        self.text = ""
        self._status_task: asyncio.Task[bool] | None = None
        self._streamed = ""  # the answer's markdown already streamed, without added fence lines
        self._reopen = ""  # a code block's opening line to repeat at the top of the next message
        self._done = False
        self.answer = answer  # what its buttons carry (controls.ref); none without it
        self._finished = False  # `finish` was called: the last message gets feedback buttons
        self._activity = ""  # the activity the thread's status was last set to
        self._status_line: str | None = None  # the status line shown in the message instead

    # -- Reply ------------------------------------------------------------------------------

    async def started(self) -> None:
        if self._may_set_status():
            # In the background: the model call must not wait for a status line.
            self._status_task = asyncio.create_task(self._set_status())

    def _may_set_status(self) -> bool:
        return (self.thread_ts is not None and self.capabilities.status
                and self._kind not in self.capabilities.no_status)

    async def status(self, status: Status | None) -> None:
        """The assistant thread's status (with the status as its loading message), set when the
        activity changes; where Slack refuses it, a status line in the answer's message instead."""
        if status is None or self.text:
            return  # Slack clears the thread's status with the reply; the text replaces a line
        if self._status_line is None and self._may_set_status():
            if status.activity == self._activity:
                return
            self._activity = status.activity
            if self._status_task is not None:
                await asyncio.wait({self._status_task}, timeout=STATUS_WAIT)
            said = sentences.SLACK_STATUS_SEARCHING if status.activity == "searching" else THINKING
            if await self._set_status(said, [status.label]):
                return
        # Streamed text cannot be taken back: a status line means this answer edits its message.
        self._stream = False
        self._status_line = f"_{status.text}_"
        await self._update_to(self._status_line, final=False)

    async def notice(self, text: str) -> None:
        await self.client.chat_postMessage(
            channel=self.channel, thread_ts=self.thread_ts, text=to_mrkdwn(f"_{text}_"), unfurl_links=False,
        )

    async def partial(self, text: str) -> None:
        self.text = text
        await self._show(text, final=False)

    async def finish(self, text: str) -> None:
        self.text = text
        self._finished = True
        await self._show(text, final=True)
        self._done = True

    async def fail(self, message: str) -> None:
        shown = f"{self.text}\n\n" if self.text.strip() else ""
        await self._show(f"{shown}⚠️ {message}", final=True)
        self._done = True

    def where(self) -> dict[str, object]:
        """For crash recovery (adapters/slack/recovery.py): the channel, thread and messages."""
        return {"channel": self.channel, "thread_ts": self.thread_ts,
                "messages": [{"ts": m.ts, "open": m.streaming} for m in self.messages]}

    async def _must_update(self) -> None:
        """Spend one chat.update that has to happen (final text), over the budget if need be."""
        await self.budget.acquire(self.budget_key, max_wait=0)

    @property
    def _kind(self) -> str:
        return self.channel[:1]

    # -- delivery ---------------------------------------------------------------------------

    async def _show(self, text: str, *, final: bool) -> None:
        if final and self._status_task is not None:
            # Slack clears the status when the answer is posted; a status landing later would linger.
            await asyncio.wait({self._status_task}, timeout=STATUS_WAIT)
            self._status_task.cancel()
        # A table shows only in a `markdown` block, which streams cannot hold: the final text replaces them.
        self._stream = self._stream and not (final and has_table(text))
        if self._stream:
            try:
                await self._stream_to(text, final=final)
                return
            except SlackApiError as exc:
                code = error_code(exc)
                if code in STREAMING_UNAVAILABLE:
                    self.capabilities.streaming = False
                log.warning("streaming stopped in %s (%s); editing messages instead", self.channel, code)
                self._stream = False
            except _Diverged:
                self._stream = False
        await self._update_to(text, final=final)

    async def _stream_to(self, text: str, *, final: bool) -> None:
        """Extend the streamed messages to `text`; a message that fills up is closed and continued.

        Streamed text cannot be taken back, so only the settled part of a partial text is sent,
        and a full message is cut at a line end, its open code block closed and reopened.
        """
        full = to_stream_markdown(text if final else settled(text))
        if not full.startswith(self._streamed):
            raise _Diverged
        new = full[len(self._streamed):]
        while new:
            current = self.messages[-1] if self.messages and self.messages[-1].streaming else None
            used = len(current.content) if current else len(self._reopen)
            # Room for the closer of a code block the chunk may leave open.
            room = STREAM_LIMIT - used - len(FENCE) - 1
            if current is not None and room <= 0:
                await self._close_full(current)
                continue
            cut = len(new) if len(new) <= room else new.rfind("\n", 0, room) + 1
            if cut == 0 and current is not None:
                # Not even the rest of this line fits: it goes on in a fresh message, cut there
                # only if it is longer than a whole message.
                await self._close_full(current)
                continue
            chunk = new[: cut or self._cut(new, room)]
            if current is None:
                first = self._reopen + chunk
                response = await self.client.chat_startStream(
                    channel=self.channel, thread_ts=self.thread_ts, markdown_text=first,  # type: ignore[arg-type]
                    recipient_user_id=self.user, recipient_team_id=self.team,
                )
                current = _Message(str(response["ts"]), True, first)
                self.messages.append(current)
                self._reopen = ""
                await self.moved()
            else:
                await self.client.chat_appendStream(channel=self.channel, ts=current.ts, markdown_text=chunk)
                current.content += chunk
            self._streamed += chunk
            new = new[len(chunk):]
            if new:
                await self._close_full(current)
        if final and self.messages and self.messages[-1].streaming:
            ending = self._controls(0, 1, final=True)
            await self._stop(self.messages[-1], "", [buttons.feedback(self.answer)] if ending else None)

    async def _close_full(self, message: _Message) -> None:
        """This message is full: close it (and its code block); the rest goes in the next one."""
        fence = open_fence(self._streamed)
        closer = close(self._streamed, fence)[len(self._streamed):]
        if fence:
            self._reopen = fence.opener + "\n"
        await self._stop(message, closer)

    def _cut(self, new: str, room: int) -> int:
        """How much of `new`, whose first line is longer than `room`, goes into a fresh message:
        as much as fits without cutting a fence in two."""
        # Fences are counted from the start of the line, which may have been streamed already.
        begun = self._streamed[self._streamed.rfind("\n") + 1:]
        line = begun + new.split("\n", 1)[0]
        return cut_point(line, len(begun) + room, start=len(begun)) - len(begun)

    async def _stop(self, message: _Message, closer: str, blocks: list[dict[str, Any]] | None = None) -> None:
        await self.client.chat_stopStream(channel=self.channel, ts=message.ts, markdown_text=closer or None,
                                          blocks=blocks)
        message.content += closer
        message.streaming = False
        await self.moved()

    def _controls(self, index: int, count: int, *, final: bool) -> str:
        return buttons.choose(self.answer, self._finished, last=index == count - 1, final=final)

    def _payload(self, piece: Rendered, controls: str, message: _Message | None = None) -> dict[str, Any]:
        return buttons.payload(piece.payload, piece.text, controls, self.answer,
                               message.controls if message else "")

    async def _update_to(self, text: str, *, final: bool) -> None:
        pieces = rendered(text, final=final)
        for index, piece in enumerate(pieces):
            controls = self._controls(index, len(pieces), final=final)
            if index >= len(self.messages):
                response = await self.client.chat_postMessage(
                    channel=self.channel, thread_ts=self.thread_ts,
                    unfurl_links=False, unfurl_media=False, **self._payload(piece, controls),
                )
                self.messages.append(_Message(str(response["ts"]), False, piece.shown, kind="post",
                                              updated_at=time.monotonic(), controls=controls))
                await self.moved()
                continue
            message = self.messages[index]
            if message.content == piece.shown and message.controls == controls and not message.streaming:
                continue
            if message.streaming:
                await self._close_stream(message)
            if not final:
                if time.monotonic() - message.updated_at < UPDATE_INTERVAL:
                    continue
                if not await self.budget.try_acquire(self.budget_key):
                    continue
            else:
                await self._must_update()
                if not await self._final_edit(message, piece, controls):
                    await self._post_instead(message, pieces[index:])
                    return
                continue
            await self.client.chat_update(channel=self.channel, ts=message.ts,
                                          **self._payload(piece, controls, message))
            message.content, message.controls = piece.shown, controls
            message.kind = "post"
            message.updated_at = time.monotonic()
        if final:
            # A shorter final text (e.g. a failure note) leaves no stale continuation behind.
            for message in self.messages[len(pieces):]:
                if message.content:
                    await self._must_update()
                    await self.client.chat_update(channel=self.channel, ts=message.ts,
                                                  **{**emptied(message.content),
                                                     **self._payload(Rendered("…"), "", message)})
                    message.content, message.controls = "", ""

    async def _final_edit(self, message: _Message, piece: Rendered, controls: str) -> bool:
        """Edit `message` to its final text, waiting out rate limits for a while; False if it would not."""
        deadline = time.monotonic() + FINAL_EDIT_PATIENCE
        while True:
            try:
                await self.client.chat_update(channel=self.channel, ts=message.ts,
                                              **self._payload(piece, controls, message))
            except SlackApiError as exc:
                code = error_code(exc)
                left = deadline - time.monotonic()
                if code != "ratelimited" or left <= 0:
                    log.warning("final edit in %s failed (%s); posting the text anew", self.channel, code)
                    return False
                await asyncio.sleep(min(left, max(0.2, retry_after(exc))))
                continue
            message.content, message.controls = piece.shown, controls
            message.kind = "post"
            message.updated_at = time.monotonic()
            return True

    async def _post_instead(self, stale: _Message, pieces: list[Rendered]) -> None:
        """The final text of a message Slack would not let us edit, and all after it, as new messages."""
        first = pieces[0]
        if stale.content.strip() and first.shown.startswith(stale.content) and not first.markdown:
            first = Rendered(first.text[len(stale.content):].lstrip() or first.text)  # only what it lacks
        for index, piece in enumerate((first, *pieces[1:])):
            response = await self.client.chat_postMessage(
                channel=self.channel, thread_ts=self.thread_ts, unfurl_links=False, unfurl_media=False,
                **self._payload(piece, controls := self._controls(index, len(pieces), final=True)),
            )
            self.messages.append(_Message(str(response["ts"]), False, piece.shown, kind="post",
                                          updated_at=time.monotonic(), controls=controls))

    async def _close_stream(self, message: _Message) -> None:
        message.streaming = False
        try:
            await self.client.chat_stopStream(channel=self.channel, ts=message.ts)
        except SlackApiError as exc:
            # An expired stream is already closed; chat.update below rewrites it either way.
            log.debug("stopStream on %s: %s", message.ts, error_code(exc))
        await self.moved()
        message.content = "\0"  # force the rewrite

    async def _set_status(self, status: str = THINKING, loading: list[str] | None = None) -> bool:
        return await set_status(self.quick_client, self.channel, self.thread_ts or "", self.capabilities,
                                status, loading)


class _Diverged(Exception):
    """The streamed text can no longer be extended to the new text (only rewritten)."""
