"""The bot's slash commands: `/ask`, and one app command per entry of the core's registry.

`/ask` answers in public like a mention does. The rest answer privately; those that change a
conversation's settings need Manage Channels in servers (in DMs the conversation belongs to the
user). Names, arguments and descriptions come from `bot.commands.COMMANDS`, so a command added
there appears here without a line of Discord code. `/stop` stops the caller's own answers under way
here, or everyone's for a member with Manage Messages or Manage Channels.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import discord
from discord import app_commands

from adapters.discord.parse import bot_role_id, key_for, resolve_mentions
from adapters.discord.reasoning import send_private
from adapters.discord.reply import DiscordReply
from adapters.discord.surfaces import NO_PINGS, InteractionSurface
from bot import commands as registry
from bot import sentences
from bot.core import ConversationCore, Outcome
from bot.locks import KeyedLocks
from bot.types import Author, ConversationKey, Incoming, Trigger

log = logging.getLogger(__name__)


#: Seconds a settings command may take before its answer is deferred (Discord allows 3).
ANSWER_WITHIN = 2.0

#: What `/ask` says privately when the core answered nothing into its deferred response.
ASK_REFUSALS = {
    Outcome.EMPTY: sentences.ASK_HINT,
    Outcome.DUPLICATE: sentences.ALREADY_ANSWERED,
    # A slash command is a deliberate act: it is told every time, not only the first.
    Outcome.RATE_LIMITED: sentences.RATE_LIMITED,
    Outcome.RATE_LIMITED_AGAIN: sentences.RATE_LIMITED,
}

Run = Callable[[discord.Interaction, registry.Command, str], Awaitable[None]]


class Host(Protocol):
    """What the commands need from the client that installs them."""

    core: ConversationCore
    locks: KeyedLocks

    @property
    def user(self) -> discord.ClientUser | None: ...

    def permitted(self, user: discord.abc.User, channel: Any, guild: discord.Guild | None) -> bool: ...

    def forget_mode(self, key: ConversationKey) -> None: ...

    def new_reply(self, surface: Any) -> DiscordReply: ...


def conversation_of(interaction: discord.Interaction) -> ConversationKey:
    channel: Any = interaction.channel
    if channel is None:
        channel = discord.Object(id=interaction.channel_id or 0)
    return key_for(channel, interaction.guild_id)


def app_command(command: registry.Command, run: Run) -> app_commands.Command[Any, Any, None]:
    """The registry's `command` as a Discord app command whose invocations go to `run`."""

    async def without_arg(interaction: discord.Interaction) -> None:
        await run(interaction, command, "")

    async def with_arg(interaction: discord.Interaction, arg: str | None = None) -> None:
        await run(interaction, command, arg or "")

    callback: Any = without_arg if command.arg is None else with_arg
    made: app_commands.Command[Any, Any, None] = app_commands.Command(
        name=command.name, description=command.describe("discord"), callback=callback
    )
    if command.arg is not None:
        made = app_commands.rename(arg=command.arg)(made)
        made = app_commands.describe(arg=command.arg_help or command.arg)(made)
        if command.choices:
            offered = [app_commands.Choice(name=c, value=c) for c in command.choices]
            made = app_commands.choices(arg=offered)(made)
    if command.changes == "always" or command.channel_only:
        # Hidden from members who could not use it anyway; still checked when run.
        made = app_commands.default_permissions(manage_channels=True)(made)
    return made


def install(tree: app_commands.CommandTree[Any], bot: Host) -> None:
    core = bot.core

    def allowed(interaction: discord.Interaction) -> bool:
        return bot.permitted(interaction.user, interaction.channel, interaction.guild)

    async def private(interaction: discord.Interaction, text: str) -> None:
        await interaction.response.send_message(text[:2000], ephemeral=True, allowed_mentions=NO_PINGS)

    async def answer(
        interaction: discord.Interaction,
        run: Callable[[ConversationKey], Awaitable[str]],
        *,
        manage: bool,
    ) -> None:
        if not allowed(interaction):
            await private(interaction, sentences.NOT_HERE)
            return
        if manage and interaction.guild_id is not None and not interaction.permissions.manage_channels:
            await private(interaction, sentences.NEEDS_MANAGE)
            return
        work = asyncio.ensure_future(run(conversation_of(interaction)))
        done, _ = await asyncio.wait({work}, timeout=ANSWER_WITHIN)
        if work in done:
            await send_private(interaction, work.result())
            return
        # Discord drops an interaction left unanswered for 3 s: show "thinking…", answer when ready.
        await interaction.response.defer(ephemeral=True, thinking=True)
        await send_private(interaction, await work)

    async def run_command(interaction: discord.Interaction, command: registry.Command, arg: str) -> None:
        if command.channel_only and interaction.guild_id is None:
            await private(interaction, sentences.MODE_IN_DM)
            return
        user_id = str(interaction.user.id)
        changes = command.needs_permission(arg)
        perms = interaction.permissions
        moderator = (command.moderated and interaction.guild_id is not None
                     and (perms.manage_messages or perms.manage_channels))

        async def run(key: ConversationKey) -> str:
            # A change is dropped from the mode cache on both sides of the write, so no lookup
            # made during it keeps the old value.
            if changes:
                bot.forget_mode(key)
            try:
                return await core.commands.run(command, arg, key, user_id, moderator=moderator)
            finally:
                if changes:
                    bot.forget_mode(key)

        await answer(interaction, run, manage=changes)

    for command in registry.COMMANDS:
        tree.add_command(app_command(command, run_command))

    model = tree.get_command("model")
    if isinstance(model, app_commands.Command):

        @model.autocomplete("arg")
        async def model_names(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            typed = current.lower()
            names = [m for m in core.settings.qwen_models if typed in m.lower()]
            return [app_commands.Choice(name=m, value=m) for m in names[:25]]

    @tree.command(name="ask", description=sentences.ASK_HELP)
    @app_commands.describe(prompt=sentences.ASK_PROMPT_HELP)
    async def ask(interaction: discord.Interaction, prompt: app_commands.Range[str, 1, 4000]) -> None:
        if not allowed(interaction):
            await private(interaction, sentences.NOT_HERE)
            return
        guild = interaction.guild
        assert bot.user is not None
        text = resolve_mentions(
            prompt,
            users={m.id: m.display_name for m in guild.members} if guild else {},
            roles={r.id: r.name for r in guild.roles} if guild else {},
            channels={c.id: c.name for c in guild.channels} if guild else {},
            bot_id=bot.user.id,
            bot_role_id=bot_role_id(guild, bot.user.id),
            bot_name=bot.user.display_name,
        )
        # Checked before deferring: a deferred response left without an answer "thinks" forever.
        if not text.strip():
            await private(interaction, sentences.ASK_HINT)
            return
        await interaction.response.defer(thinking=True)
        user = interaction.user
        key = conversation_of(interaction)
        incoming = Incoming(
            key=key,
            message_id=f"interaction-{interaction.id}",
            author=Author(str(user.id), user.display_name, user.bot),
            text=text,
            trigger=Trigger.COMMAND,
        )
        async with bot.locks.hold(key):
            outcome = await core.handle(incoming, bot.new_reply(InteractionSurface(interaction)))
        refusal = ASK_REFUSALS.get(outcome)
        if refusal is None:
            return
        try:
            # The public "thinking…" goes; the refusal is for the asker's eyes only.
            await interaction.delete_original_response()
            await interaction.followup.send(refusal, ephemeral=True, allowed_mentions=NO_PINGS)
        except discord.HTTPException as exc:
            log.warning("could not answer /ask in channel %s: %s", interaction.channel_id, exc.status)

    @tree.error
    async def on_error(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        log.error(
            "slash command /%s failed",
            interaction.command.name if interaction.command else "?",
            exc_info=error,
        )
        try:
            if interaction.response.is_done():
                await interaction.followup.send(
                    sentences.INTERNAL_ERROR, ephemeral=True, allowed_mentions=NO_PINGS
                )
            else:
                await private(interaction, sentences.INTERNAL_ERROR)
        except discord.HTTPException:
            pass
