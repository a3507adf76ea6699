"""Pure translation of a discord.py `Message` into the core's `Incoming` (or nothing).

Nothing here performs IO: the client downloads attachments and asks the core for the channel
mode, then passes what it learned in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import discord

from bot.attachments import classify
from bot.types import Attachment, Author, ConversationKey, Incoming, Trigger

PLATFORM = "discord"
USER_MENTION = re.compile(r"<@!?(\d+)>")
ROLE_MENTION = re.compile(r"<@&(\d+)>")
CHANNEL_MENTION = re.compile(r"<#(\d+)>")
#: Every kind of mention, @everyone and @here included: none belongs in a thread's name.
ANY_MENTION = re.compile(r"<(?:@[!&]?|#)\d+>|@(?:everyone|here)\b")
CUSTOM_EMOJI = re.compile(r"<a?:(\w+):\d+>")
THREAD_NAME_MAX = 100
#: Message types a person writes; joins, pins, boosts and thread notices are not conversation.
CHAT_TYPES = frozenset({discord.MessageType.default, discord.MessageType.reply})


def resolve_mentions(
    text: str,
    *,
    users: Mapping[int, str],
    roles: Mapping[int, str],
    channels: Mapping[int, str],
    bot_id: int,
    bot_role_id: int | None = None,
    bot_name: str = "Qwen",
) -> str:
    """Mentions made readable for the model; the bot's own mention is dropped where it only addresses it."""
    own = rf"<@!?{bot_id}>" + (rf"|<@&{bot_role_id}>" if bot_role_id else "")
    text = re.sub(rf"^\s*(?:(?:{own})[\s,:]*)+", "", text)
    text = re.sub(rf"[\s,]*(?:(?:{own})\s*)+$", "", text)

    def user(match: re.Match[str]) -> str:
        uid = int(match.group(1))
        return "@" + (bot_name if uid == bot_id else users.get(uid, "unknown-user"))

    def role(match: re.Match[str]) -> str:
        rid = int(match.group(1))
        return "@" + (bot_name if rid == bot_role_id else roles.get(rid, "unknown-role"))

    text = USER_MENTION.sub(user, text)
    text = ROLE_MENTION.sub(role, text)
    text = CHANNEL_MENTION.sub(lambda m: "#" + channels.get(int(m.group(1)), "unknown-channel"), text)
    return text.strip()


def thread_name(content: str, fallback: str) -> str:
    """A thread's name from the question that opens it: mentions removed, whitespace collapsed,
    at most THREAD_NAME_MAX characters (cut after a word, with an ellipsis), else `fallback`."""
    text = CUSTOM_EMOJI.sub(r":\1:", ANY_MENTION.sub(" ", content))
    text = " ".join(text.split())
    if len(text) > THREAD_NAME_MAX:
        head = text[: THREAD_NAME_MAX - 1]
        space = head.rfind(" ")
        # After the last whole word, unless that throws away most of the room.
        text = (head[:space] if space >= THREAD_NAME_MAX // 2 else head).rstrip() + "…"
    return text or fallback[:THREAD_NAME_MAX]


def content_of(message: discord.Message) -> str:
    # discord.py stores `content` as the gateway sent it, and its mention helpers assume a string.
    return message.content if isinstance(message.content, str) else ""


def _mentioned(pattern: re.Pattern[str], content: str) -> list[int]:
    return [int(found) for found in pattern.findall(content)]


def key_for(channel: object, guild_id: int | None) -> ConversationKey:
    """Each guild channel, each thread and each DM is its own conversation."""
    channel_id = str(getattr(channel, "id", ""))
    if guild_id is None:
        return ConversationKey(PLATFORM, "dm", channel_id)
    if isinstance(channel, discord.Thread):
        return ConversationKey(PLATFORM, str(guild_id), str(channel.parent_id), channel_id)
    return ConversationKey(PLATFORM, str(guild_id), channel_id)


def bot_role_id(guild: discord.Guild | None, bot_id: int) -> int | None:
    """The role Discord manages for the bot itself (people can @mention it instead of the bot)."""
    if guild is None:
        return None
    for role in guild.roles:
        if role.tags is not None and role.tags.bot_id == bot_id:
            return role.id
    return None


def trigger_of(message: discord.Message, bot_id: int, *, in_own_thread: bool = False) -> Trigger:
    """Why this message addresses the bot, or Trigger.NONE when it addresses nobody in particular.

    `in_own_thread` says the store knows the message's channel as a thread the bot opened (for a
    thread discord.py's cache does not hold, whose owner it cannot tell).
    """
    if message.guild is None:
        return Trigger.DM
    content = content_of(message)
    if bot_id in _mentioned(USER_MENTION, content):
        return Trigger.MENTION
    own_role = bot_role_id(message.guild, bot_id)
    if own_role is not None and own_role in _mentioned(ROLE_MENTION, content):
        return Trigger.MENTION
    reference = getattr(message, "reference", None)
    if reference is not None:
        resolved = reference.resolved
        if isinstance(resolved, discord.Message) and resolved.author.id == bot_id:
            return Trigger.REPLY
    if in_own_thread or (isinstance(message.channel, discord.Thread) and message.channel.owner_id == bot_id):
        return Trigger.THREAD
    return Trigger.NONE


def ignored(message: discord.Message, bot_id: int, answer_bots: bool) -> bool:
    """Its own messages, system messages and (unless configured) other bots are never conversation."""
    # discord.py leaves `author` unset when a payload lacks one: nobody to answer.
    author = getattr(message, "author", None)
    if author is None or author.id == bot_id:
        return True
    # By identity: discord.py wraps an unknown type value, which may not even be hashable.
    if not any(message.type is kind for kind in CHAT_TYPES):
        return True
    return (author.bot is not False or message.webhook_id is not None) and not answer_bots


def attachment_plan(message: discord.Message) -> tuple[list[Attachment], list[str]]:
    """Files worth downloading (without their bytes yet) and one note per file that is skipped."""
    wanted: list[Attachment] = []
    notes: list[str] = []
    for item in getattr(message, "attachments", None) or ():
        # Typed by discord.py, but stored as the gateway sent them.
        mime = item.content_type if isinstance(item.content_type, str) else ""
        name = item.filename if isinstance(item.filename, str) and item.filename else "file"
        size = item.size if isinstance(item.size, int) and item.size > 0 else 0
        url = item.url if isinstance(item.url, str) else ""
        kind, note = classify(name, mime, size)
        if note is not None:
            notes.append(note)
        else:
            wanted.append(Attachment(kind, name, mime.split(";")[0].strip(), size, url=url))
    return wanted, notes


def parse_message(
    message: discord.Message,
    *,
    bot_id: int,
    always: bool = False,
    answer_bots: bool = False,
    bot_name: str = "Qwen",
    own_thread: ConversationKey | None = None,
) -> Incoming | None:
    """The message as the core sees it, or None when the bot must neither answer nor remember it.

    `always` says the channel is set to answer every message; `own_thread` is the conversation of
    the thread the bot opened that the message is in, when only the store knows it. The
    attachments carry URLs only; the client fills in their bytes.
    """
    if ignored(message, bot_id, answer_bots):
        return None
    trigger = trigger_of(message, bot_id, in_own_thread=own_thread is not None)
    if trigger is Trigger.NONE:
        if not always:
            return None
        trigger = Trigger.ALWAYS
    guild = message.guild
    role_id = bot_role_id(guild, bot_id)
    # A payload without a field leaves its attribute unset on the Message.
    users = {user.id: str(user.display_name) for user in getattr(message, "mentions", None) or ()}
    roles = {role.id: role.name for role in guild.roles} if guild is not None else {}
    channels: dict[int, str] = {}
    if guild is not None:
        for channel_id in _mentioned(CHANNEL_MENTION, content_of(message)):
            found = guild.get_channel_or_thread(channel_id)
            if found is not None:
                channels[channel_id] = found.name
    text = resolve_mentions(
        content_of(message),
        users=users,
        roles=roles,
        channels=channels,
        bot_id=bot_id,
        bot_role_id=role_id,
        bot_name=bot_name,
    )
    attachments, notes = attachment_plan(message)
    author = message.author
    return Incoming(
        key=own_thread or key_for(message.channel, guild.id if guild is not None else None),
        message_id=str(message.id),
        author=Author(str(author.id), str(author.display_name), author.bot is True),
        text=text,
        attachments=tuple(attachments),
        trigger=trigger,
        skipped_notes=tuple(notes),
    )
