"""Finishing, after a restart, the Discord answers a killed process left half-written.

The journal entry's `place` is what `DiscordReply.where` reported: the channel, the question it
replies to (or, for `/ask`, the interaction's token while it can still edit its response) and the
ids of the messages shown. Those messages are edited to the saved text with the interrupted mark,
losing their buttons (a Stop button would stop nothing now); an answer with nothing shown gets the
"stopped before I could answer" sentence, replacing the "thinking…" of an `/ask` while its token lasts.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import discord

from adapters.discord import render
from adapters.discord.surfaces import NETWORK_ERRORS, NO_PINGS
from bot import sentences
from bot.journal import read_place
from bot.memory import Unfinished

log = logging.getLogger(__name__)


async def finish(client: discord.Client, entry: Unfinished) -> None:
    """Close `entry`'s answer on Discord; raises only for errors worth trying again at the next start."""
    place = read_place(entry.place)
    try:
        channel = client.get_partial_messageable(int(place.get("channel") or entry.key.channel))
        ids = [int(i) for i in place.get("messages") or []]
        webhook = _webhook(client, place)
    except (TypeError, ValueError, KeyError):
        log.warning("an interrupted answer in %s left an unreadable place; skipped", entry.key)
        return
    try:
        if not ids or not entry.text.strip():
            if ids and webhook is None:  # only a status line ("Thinking… 12 s") was shown: it says so
                stopped = render.failure(sentences.STOPPED_BEFORE_ANSWER)
                await channel.get_partial_message(ids[0]).edit(content=stopped, allowed_mentions=NO_PINGS)
                return
            await _say_stopped(channel, webhook, place)
            return
        chunks = render.messages(entry.text + sentences.INTERRUPTED_MARK)
        for index, message_id in enumerate(ids):
            content = chunks[index] if index < len(chunks) else "…"
            if webhook is not None:
                await webhook.edit_message(message_id, content=content, allowed_mentions=NO_PINGS, view=None)
            else:
                await channel.get_partial_message(message_id).edit(content=content, allowed_mentions=NO_PINGS,
                                                                   view=None)
        for chunk in chunks[len(ids):]:
            await channel.send(chunk, allowed_mentions=NO_PINGS)
    except (discord.NotFound, discord.Forbidden) as exc:
        log.info("an interrupted answer in channel %s is gone or out of reach (%s)", channel.id, exc.status)
    except NETWORK_ERRORS as exc:
        raise ConnectionError(f"Discord unreachable: {exc!r}") from exc


async def _say_stopped(channel: discord.PartialMessageable, webhook: discord.Webhook | None,
                       place: dict[str, Any]) -> None:
    content = render.failure(sentences.STOPPED_BEFORE_ANSWER)
    if webhook is not None:
        # The deferred response ("thinking…"), whose id was never needed until now.
        await webhook.edit_message("@original", content=content, allowed_mentions=NO_PINGS,  # type: ignore[call-overload]
                                   view=None)
        return
    if not place.get("reply_to"):
        await channel.send(content, allowed_mentions=NO_PINGS)
        return
    reference = discord.MessageReference(message_id=int(place["reply_to"]), channel_id=channel.id,
                                         fail_if_not_exists=False)
    await channel.send(content, reference=reference, allowed_mentions=NO_PINGS)


def _webhook(client: discord.Client, place: dict[str, Any]) -> discord.Webhook | None:
    """The `/ask` interaction's webhook, while its token can still edit the response."""
    if not place.get("token") or float(place.get("expires") or 0) <= time.time():
        return None
    return discord.Webhook.partial(int(place["application"]), str(place["token"]), client=client)

