"""The discord.py client: events in, `Incoming` to the core, `DiscordReply` out.

Everything platform-specific that needs IO lives here: access lists, the channel-mode lookup,
attachment downloads and app-command registration. The core owns each answer's life (limits,
shutdown); this module renders what it decides in Discord's idiom.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from typing import Any, cast

import aiohttp
import discord
from discord import app_commands

from adapters.discord import buttons, commands, recovery, threads
from adapters.discord.config import DiscordSettings
from adapters.discord.parse import ignored, key_for, parse_message, trigger_of
from adapters.discord.reasoning import ReasoningButton
from adapters.discord.reply import DiscordReply
from adapters.discord.surfaces import NO_PINGS, MessageSurface, Surface
from bot import metrics, sentences
from bot.attachments import classify
from bot.core import ConversationCore, Outcome
from bot.lifecycle import last_words
from bot.limits import MemoryWindow, Window
from bot.locks import KeyedLocks
from bot.types import Attachment, ChannelMode, ConversationKey, Incoming, Trigger

log = logging.getLogger(__name__)

#: What the bot needs: read channels and history, post and reply, open threads and post in them.
PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    create_public_threads=True,  # thread mode: each question opens a thread of its own
    read_message_history=True,
)
SCOPES = ("bot", "applications.commands")
MODE_CACHE_SECONDS = 30.0


# The bot never joins voice; discord.py's start-up warnings about voice libraries are noise.
discord.VoiceClient.warn_nacl = False
discord.VoiceClient.warn_dave = False


def intents() -> discord.Intents:
    chosen = discord.Intents.none()
    chosen.guilds = True
    chosen.guild_messages = True
    chosen.dm_messages = True
    chosen.message_content = True
    return chosen


def invite_url(application_id: int) -> str:
    return discord.utils.oauth_url(application_id, permissions=PERMISSIONS, scopes=SCOPES)


class _Behaviour:
    """The bot's behaviour, mixed into `discord.Client` or `discord.AutoShardedClient`."""

    core: ConversationCore
    settings: DiscordSettings
    user: discord.ClientUser | None
    application_id: int | None
    tree: app_commands.CommandTree[Any]

    def _setup(self, core: ConversationCore, settings: DiscordSettings, on_ready: Any = None) -> None:
        self.core = core
        self.settings = settings
        #: Messages sent or edited per channel, shared by every answer in the process. In process
        #: even with PostgreSQL: a channel's events all reach the one shard (process) it belongs
        #: to, so no other replica writes there and a shared window would only add a round trip.
        self.budget: Window = MemoryWindow(settings.discord_channel_edits, settings.discord_edit_window)
        self.tree = app_commands.CommandTree(self)
        commands.install(self.tree, self)
        cast(discord.Client, self).add_dynamic_items(ReasoningButton)  # "Show reasoning" clicks
        self._ready_callback = on_ready
        self._modes: dict[ConversationKey, tuple[ChannelMode, float]] = {}
        self._mode_changes = 0
        self._downloads: aiohttp.ClientSession | None = None
        #: Held per conversation from a message's arrival until the core has answered it.
        self.locks = KeyedLocks()
        self.synced = False

    # -- lifecycle ----------------------------------------------------------------------------

    async def setup_hook(self) -> None:
        # Here, once per process (on_ready fires again after every failed resume), and before
        # the gateway connects: what a killed process left half-written is finished (and its
        # text remembered) ahead of any new message in its conversation.
        client = cast(discord.Client, self)
        await self.core.recover("discord", lambda entry: recovery.finish(client, entry))
        # Sync here too, once per process.
        self._downloads = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        if self.application_id is not None:
            log.info("Invite the bot with: %s", invite_url(self.application_id))
        try:
            if self.settings.discord_guild_id:
                guild = discord.Object(id=self.settings.discord_guild_id)
                self.tree.copy_global_to(guild=guild)
                await self.tree.sync(guild=guild)
                log.info("slash commands synced to guild %s", self.settings.discord_guild_id)
            else:
                await self.tree.sync()
                log.info("slash commands synced globally (they can take a while to appear)")
            self.synced = True
        except discord.HTTPException as exc:
            log.error("could not sync slash commands (%s); mentions and DMs still work", exc.status)

    async def on_ready(self) -> None:
        assert self.user is not None
        log.info("connected to Discord as %s (%s) in %d servers", self.user, self.user.id, len(self.guilds))  # type: ignore[attr-defined]
        if self._ready_callback is not None:
            self._ready_callback()

    async def close(self) -> None:
        if self._downloads is not None:
            await self._downloads.close()
        await super().close()  # type: ignore[misc]

    # -- access -------------------------------------------------------------------------------

    def permitted(self, user: discord.abc.User, channel: Any, guild: discord.Guild | None) -> bool:
        settings = self.settings
        if not settings.access("users").permits(str(user.id)):
            return False
        if guild is None:
            return settings.discord_allow_dms
        if not settings.access("guilds").permits(str(guild.id)):
            return False
        channel_ids = [str(getattr(channel, "id", ""))]
        parent = getattr(channel, "parent_id", None)
        if parent:
            channel_ids.append(str(parent))
        if not settings.access("channels").permits(*channel_ids):
            return False
        roles = [str(role.id) for role in getattr(user, "roles", [])] or [str(guild.id)]
        return settings.access("roles").permits(*roles)

    def cached_mode(self, key: ConversationKey) -> ChannelMode | None:
        cached = self._modes.get(key)
        return cached[0] if cached is not None and cached[1] > time.monotonic() else None

    async def mode_of(self, key: ConversationKey) -> ChannelMode:
        cached = self.cached_mode(key)
        if cached is not None:
            return cached
        now = time.monotonic()
        changes = self._mode_changes
        mode = await self.core.channel_mode(key)
        if changes != self._mode_changes:
            return mode  # a mode was changed during the read: this one may be stale, do not keep it
        if len(self._modes) > 10_000:
            self._modes.clear()
        self._modes[key] = (mode, now + MODE_CACHE_SECONDS)
        return mode

    def forget_mode(self, key: ConversationKey) -> None:
        self._mode_changes += 1
        self._modes.pop(key, None)

    def new_reply(self, surface: Any) -> DiscordReply:
        return DiscordReply(surface, self.budget, edit_interval=self.settings.discord_edit_interval)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        # Clicks on answers' buttons; app commands are the command tree's.
        await buttons.on_interaction(self, interaction)

    # -- messages -----------------------------------------------------------------------------

    async def on_message(self, message: discord.Message) -> None:
        # Handed to the core's lifecycle, so shutdown's grace also covers a message still being
        # looked at or downloaded before the core has it.
        await self.core.spawn(self._on_message(message))

    async def _on_message(self, message: discord.Message) -> None:
        try:
            await self.handle_message(message)
        except Exception:
            log.exception("failed to handle message %s in channel %s", message.id, message.channel.id)

    async def handle_message(self, message: discord.Message) -> None:
        assert self.user is not None
        bot_id = self.user.id
        if ignored(message, bot_id, self.settings.answer_bots):
            return
        if not self.permitted(message.author, message.channel, message.guild):
            return
        key = key_for(message.channel, message.guild.id if message.guild else None)
        addressed = trigger_of(message, bot_id) is not Trigger.NONE
        if not addressed and self.cached_mode(key) in (ChannelMode.MENTION, ChannelMode.THREAD):
            return  # chatter in a busy channel need not queue behind the answer under way
        # Taken before the first await: a message that waits for a mode lookup or a download
        # must not be overtaken by the next one in its conversation.
        async with contextlib.AsyncExitStack() as thread_held:
            async with self.locks.hold(key):
                opened = await self._handle(message, key, addressed, thread_held)
            if opened is not None:
                # The question opened a thread: answered there, in the thread's order (its lock
                # was taken before the channel's was let go), while the channel moves on.
                await self._answer(message, *opened)

    async def _handle(
        self, message: discord.Message, key: ConversationKey, addressed: bool,
        thread_held: contextlib.AsyncExitStack,
    ) -> tuple[Incoming, Surface] | None:
        """Answer the message, or return it with the thread it opened (whose lock `thread_held` holds)."""
        assert self.user is not None
        bot_id = self.user.id
        own_thread = await threads.own_thread(self.core, message)
        if own_thread is not None and not self.settings.access("channels").permits(own_thread.channel):
            return None
        always = False
        if not addressed and own_thread is None:
            always = await self.mode_of(key) is ChannelMode.ALWAYS
            if not always:
                return None  # not addressed: no model call, and not remembered
        incoming = parse_message(
            message,
            bot_id=bot_id,
            always=always,
            answer_bots=self.settings.answer_bots,
            bot_name=self.user.display_name,
            own_thread=own_thread,
        )
        if incoming is None:
            return None
        try:
            incoming = await self._download(message, incoming)
        except asyncio.CancelledError:
            # Shutdown cut a download: the message still gets its one outcome.
            await last_words(self._say(message, sentences.STOPPED_BEFORE_ANSWER))
            raise
        if threads.may_open(message, incoming) and await self.mode_of(key) is ChannelMode.THREAD:
            try:
                incoming, surface = await threads.open_thread(self.core, message, incoming)
            except threads.Refused:
                await self._say(message, sentences.THREAD_NEEDS_PERMISSION)
                await self.core.record(incoming)  # not answered, but not lost either
                return None
            if incoming.key != key:
                await thread_held.enter_async_context(self.locks.hold(incoming.key))
                return incoming, surface
        await self._answer(message, incoming, MessageSurface(message))
        return None

    async def _answer(self, message: discord.Message, incoming: Incoming, surface: Surface) -> None:
        outcome = await self.core.handle(incoming, self.new_reply(surface))
        if outcome is Outcome.RATE_LIMITED:
            await self._say(message, sentences.RATE_LIMITED)
        elif outcome is Outcome.EMPTY and (incoming.trigger is not Trigger.ALWAYS or incoming.skipped_notes):
            await self._say(message, "\n".join(incoming.skipped_notes) or sentences.EMPTY_MENTION)

    async def _say(self, message: discord.Message, text: str) -> None:
        try:
            await message.reply(text, mention_author=False, allowed_mentions=NO_PINGS)
        except discord.HTTPException as exc:
            log.warning("could not reply in channel %s: %s", message.channel.id, exc.status)

    async def _download(self, message: discord.Message, incoming: Incoming) -> Incoming:
        """Fetch the files worth reading, refusing any that turn out larger than announced."""
        if not incoming.attachments:
            return incoming
        kept: list[Attachment] = []
        notes = list(incoming.skipped_notes)
        for item in incoming.attachments:
            data = await self._fetch(item)
            if data is None:
                notes.append(sentences.DOWNLOAD_FAILED.format(name=item.name))
                continue
            _, note = classify(item.name, item.mime, len(data))
            if note is not None:
                notes.append(note)
                continue
            kept.append(dataclasses.replace(item, data=data, size=len(data)))
        return dataclasses.replace(incoming, attachments=tuple(kept), skipped_notes=tuple(notes))

    async def _fetch(self, item: Attachment) -> bytes | None:
        assert self._downloads is not None and item.url
        # One byte past the largest file the core accepts is enough to know it is too large.
        cap = max(item.size, 10 * 1024 * 1024) + 1
        try:
            async with self._downloads.get(item.url) as response:
                if response.status != 200:
                    log.warning("attachment %s: HTTP %s", item.name, response.status)
                    return None
                data = bytearray()
                async for block in response.content.iter_chunked(64 * 1024):
                    data += block
                    if len(data) >= cap:
                        break
                return bytes(data)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("attachment %s could not be downloaded: %r", item.name, exc)
            return None


class DiscordBot(_Behaviour, discord.Client):
    def __init__(
        self, core: ConversationCore, settings: DiscordSettings, on_ready: Any = None, **options: Any
    ) -> None:
        discord.Client.__init__(self, intents=intents(), allowed_mentions=NO_PINGS, **options)
        self._setup(core, settings, on_ready)


class ShardedDiscordBot(_Behaviour, discord.AutoShardedClient):
    def __init__(
        self, core: ConversationCore, settings: DiscordSettings, on_ready: Any = None, **options: Any
    ) -> None:
        if settings.shard_numbers:  # unset: discord.py runs every shard
            options["shard_ids"] = settings.shard_numbers
        discord.AutoShardedClient.__init__(
            self,
            intents=intents(),
            allowed_mentions=NO_PINGS,
            shard_count=settings.shard_count,
            **options,
        )
        self._setup(core, settings, on_ready)


def rate_limit_trace() -> aiohttp.TraceConfig:
    """Counts Discord's 429s: discord.py waits them out silently, so the responses are watched."""

    async def on_end(session: Any, context: Any, params: aiohttp.TraceRequestEndParams) -> None:
        if params.response.status == 429:
            metrics.RATE_LIMITED.labels("discord").inc()

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(on_end)
    return trace


def build_client(
    core: ConversationCore, settings: DiscordSettings, on_ready: Any = None, **options: Any
) -> DiscordBot | ShardedDiscordBot:
    options.setdefault("http_trace", rate_limit_trace())
    cls = ShardedDiscordBot if settings.sharded else DiscordBot
    return cls(core, settings, on_ready, **options)
