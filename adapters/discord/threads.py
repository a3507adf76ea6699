"""Thread mode: a question at the top of a channel opens a public thread, and is answered there.

The thread is named after the question (see `parse.thread_name`); its id equals the question's
message id. The store remembers it (`ConversationCore.threads`), so every message in it is
answered without a mention, across restarts, even when discord.py's cache no longer holds it.
"""

from __future__ import annotations

import dataclasses
import logging

import discord

from adapters.discord.parse import PLATFORM, content_of, thread_name
from adapters.discord.surfaces import NETWORK_ERRORS, MessageSurface
from bot import sentences
from bot.core import ConversationCore
from bot.types import ConversationKey, Incoming, Trigger

log = logging.getLogger(__name__)


def may_open(message: discord.Message, incoming: Incoming) -> bool:
    """Whether this message opens a thread if its channel is in thread mode: it is addressed at
    the top of a text channel. A message with nothing to ask gets its hint in place, not a thread."""
    return (
        incoming.trigger in (Trigger.MENTION, Trigger.REPLY)
        and isinstance(message.channel, discord.TextChannel)
        and bool(incoming.text.strip() or incoming.attachments)
    )


async def own_thread(core: ConversationCore, message: discord.Message) -> ConversationKey | None:
    """The conversation of a thread the bot opened that discord.py's cache does not hold (one
    archived, or opened before a restart and not announced since): only the store knows it."""
    guild = message.guild
    if guild is None or not isinstance(message.channel, discord.PartialMessageable):
        return None
    return await core.threads.find(PLATFORM, str(guild.id), str(message.channel.id))


class Refused(Exception):
    """Discord refused to open the thread for want of a permission."""


async def open_thread(
    core: ConversationCore, message: discord.Message, incoming: Incoming
) -> tuple[Incoming, MessageSurface]:
    """Open a public thread from `message` and remember it; the question and where to answer it.

    Raises `Refused` when the bot lacks the permission. Any other failure leaves the question to
    be answered in place, as a reply: it is never lost.
    """
    fallback = sentences.THREAD_NAME_FALLBACK.format(name=incoming.author.name)
    try:
        thread = await message.create_thread(name=thread_name(content_of(message), fallback))
    except discord.Forbidden as exc:
        log.info("no permission to open a thread in channel %s (%s)", message.channel.id, exc.code)
        raise Refused from exc
    except discord.HTTPException as exc:
        log.warning("could not open a thread in channel %s (%s %s); answering in place",
                    message.channel.id, exc.status, exc.code)
        return incoming, MessageSurface(message)
    except NETWORK_ERRORS as exc:
        log.warning("could not open a thread in channel %s (%r); answering in place", message.channel.id, exc)
        return incoming, MessageSurface(message)
    key = dataclasses.replace(incoming.key, thread=str(thread.id))
    await core.threads.add(key)
    # The question is the thread's first turn: its conversation starts with it.
    return dataclasses.replace(incoming, key=key), MessageSurface(message, into=thread)
