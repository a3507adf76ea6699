"""Finishing, after a restart, the Slack answers a killed process left half-written.

The journal entry's `place` is what `SlackReply.where` reported: the channel, the thread, and each
message with whether its stream is still open. An open stream is stopped with the interrupted
mark; a posted answer (or a stream Slack already closed) is rewritten with the saved text and the
mark; an answer with nothing shown gets the "stopped before I could answer" sentence (in place of
its status line, "Thinking… 12 s", if one was shown).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.blocks import rendered
from adapters.slack.render import to_mrkdwn, to_stream_markdown
from adapters.slack.reply import error_code
from bot import sentences
from bot.journal import read_place
from bot.memory import Unfinished

log = logging.getLogger(__name__)

#: Errors saying the message or its conversation is gone for good: nothing left to finish.
GONE = {"message_not_found", "channel_not_found", "is_archived", "not_in_channel", "cant_update_message",
        "edit_window_closed"}


async def finish(client: AsyncWebClient, entry: Unfinished) -> None:
    """Close `entry`'s answer on Slack; raises only for errors worth trying again at the next start."""
    place: dict[str, Any] = read_place(entry.place)
    channel = str(place.get("channel") or entry.key.channel)
    thread_ts = place.get("thread_ts", entry.key.thread)
    messages = [m for m in place.get("messages") or [] if isinstance(m, dict) and m.get("ts")]
    try:
        if not messages or not entry.text.strip():
            stopped = to_mrkdwn(f"⚠️ {sentences.STOPPED_BEFORE_ANSWER}")
            if messages and not messages[0].get("open"):  # only a status line was shown: it says so
                # blocks=[] takes away the status line's Stop button (and its "Searching…" block).
                await client.chat_update(channel=channel, ts=str(messages[0]["ts"]), text=stopped, blocks=[])
                return
            await client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=stopped)
            return
        last = messages[-1]
        # Earlier messages of a long answer were closed when they filled up: the last one ends it.
        if last.get("open") and await _stop_stream(client, channel, str(last["ts"])):
            return
        await _rewrite(client, channel, thread_ts, messages, entry.text)
    except SlackApiError as exc:
        if error_code(exc) not in GONE:
            raise
        log.info("Slack: an interrupted answer in %s is gone (%s)", channel, error_code(exc))


async def _stop_stream(client: AsyncWebClient, channel: str, ts: str) -> bool:
    """Stop the still open stream with the mark; False if Slack had closed it already."""
    try:
        await client.chat_stopStream(channel=channel, ts=ts,
                                     markdown_text=to_stream_markdown(sentences.INTERRUPTED_MARK))
    except SlackApiError as exc:
        if error_code(exc) != "message_not_in_streaming_state":
            raise
        return False
    return True


async def _rewrite(client: AsyncWebClient, channel: str, thread_ts: str | None,
                   messages: list[dict[str, Any]], text: str) -> None:
    """The saved text with the mark, over the answer's messages (tables as `markdown` blocks)."""
    pieces = rendered(text + sentences.INTERRUPTED_MARK, final=True)
    for index, message in enumerate(messages):
        payload = pieces[index].payload if index < len(pieces) else {"text": "…"}
        # blocks=[] takes away buttons the message showed (a Stop would stop nothing now).
        await client.chat_update(channel=channel, ts=str(message["ts"]), **{"blocks": [], **payload})
    for piece in pieces[len(messages):]:
        await client.chat_postMessage(channel=channel, thread_ts=thread_ts, **piece.payload,
                                      unfurl_links=False, unfurl_media=False)

