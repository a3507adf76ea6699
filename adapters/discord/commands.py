"""The bot's slash commands. Settings answer privately and need Manage Channels in servers.

`/ask` answers in public like a mention does; the rest wrap the core's commands. In DMs the
conversation belongs to the user, so no permission is needed there.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands

from adapters.discord.parse import bot_role_id, key_for, resolve_mentions
from adapters.discord.reply import NO_PINGS, InteractionSurface
from bot.core import Outcome
from bot.ratelimit import LIMIT_MESSAGE
from bot.types import Author, ConversationKey, Incoming, Trigger

if TYPE_CHECKING:
    from adapters.discord.client import _Behaviour

log = logging.getLogger(__name__)

NEEDS_MANAGE = "You need the **Manage Channels** permission to change my settings here."
ASK_HINT = "Tell me what to ask, for example: `/ask what can you help with?`"
NOT_HERE = "I'm not enabled for you here."
FAILED = "Something went wrong on my side; please try again."
ALREADY_ANSWERED = "I have answered this already."


def conversation_of(interaction: discord.Interaction) -> ConversationKey:
    channel = interaction.channel
    if channel is None:
        channel = discord.Object(id=interaction.channel_id or 0)
    return key_for(channel, interaction.guild_id)


#: Seconds a settings command may take before its answer is deferred (Discord allows 3).
ANSWER_WITHIN = 2.0


def install(tree: app_commands.CommandTree[discord.Client], bot: _Behaviour) -> None:
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
            await private(interaction, NOT_HERE)
            return
        if manage and interaction.guild_id is not None and not interaction.permissions.manage_channels:
            await private(interaction, NEEDS_MANAGE)
            return
        work = asyncio.ensure_future(run(conversation_of(interaction)))
        done, _ = await asyncio.wait({work}, timeout=ANSWER_WITHIN)
        if work in done:
            await private(interaction, work.result())
            return
        # Discord drops an interaction left unanswered for 3 s: show "thinking…", answer when ready.
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.edit_original_response(content=(await work)[:2000], allowed_mentions=NO_PINGS)

    @tree.command(name="ask", description="Ask Qwen something")
    @app_commands.describe(prompt="What to ask")
    async def ask(interaction: discord.Interaction, prompt: app_commands.Range[str, 1, 4000]) -> None:
        if not allowed(interaction):
            await private(interaction, NOT_HERE)
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
            await private(interaction, ASK_HINT)
            return
        if not bot.limiter.check(str(interaction.user.id)).allowed:
            await private(interaction, LIMIT_MESSAGE)
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
        task = asyncio.current_task()
        if task is not None:
            bot._inflight.add(task)
        try:
            async with bot.locks.hold(key):
                outcome = await core.handle(incoming, bot.new_reply(InteractionSurface(interaction)))
            if outcome in (Outcome.EMPTY, Outcome.DUPLICATE):
                # Nothing was written into the deferred response; it must not stay on "thinking".
                line = ASK_HINT if outcome is Outcome.EMPTY else ALREADY_ANSWERED
                try:
                    await interaction.edit_original_response(content=line, allowed_mentions=NO_PINGS)
                except discord.HTTPException as exc:
                    log.warning("could not answer /ask in channel %s: %s", interaction.channel_id, exc.status)
        finally:
            bot._inflight.discard(task)  # type: ignore[arg-type]

    @tree.command(name="reset", description="Make me forget this conversation")
    @app_commands.default_permissions(manage_channels=True)
    async def reset(interaction: discord.Interaction) -> None:
        await answer(interaction, core.commands.reset, manage=True)

    @tree.command(name="persona", description="Show or set how I behave in this conversation")
    @app_commands.describe(text="The new persona, or 'clear' for the default; leave empty to show it")
    async def persona(interaction: discord.Interaction, text: str | None = None) -> None:
        await answer(interaction, lambda key: core.commands.persona(key, text), manage=bool(text))

    @tree.command(name="model", description="Show or choose the Qwen model for this conversation")
    @app_commands.describe(name="Model name; leave empty to show the current one")
    async def model(interaction: discord.Interaction, name: str | None = None) -> None:
        await answer(interaction, lambda key: core.commands.model(key, name), manage=bool(name))

    @model.autocomplete("name")
    async def model_names(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        typed = current.lower()
        names = [m for m in core.settings.qwen_models if typed in m.lower()]
        return [app_commands.Choice(name=m, value=m) for m in names[:25]]

    @tree.command(name="memory", description="What I remember of this conversation")
    async def memory(interaction: discord.Interaction) -> None:
        await answer(interaction, core.commands.memory, manage=False)

    @tree.command(name="usage", description="Tokens used here, in this server and by you")
    async def usage(interaction: discord.Interaction) -> None:
        user_id = str(interaction.user.id)
        await answer(interaction, lambda key: core.commands.usage(key, user_id), manage=False)

    @tree.command(name="forget-me", description="Delete everything you wrote from my memory")
    async def forget_me(interaction: discord.Interaction) -> None:
        if not allowed(interaction):
            await private(interaction, NOT_HERE)
            return
        await private(interaction, await core.commands.forget_me("discord", str(interaction.user.id)))

    @tree.command(name="channel-mode", description="Answer only when addressed, or every message here")
    @app_commands.describe(mode="mention: only when addressed; always: every message")
    @app_commands.default_permissions(manage_channels=True)
    async def channel_mode(interaction: discord.Interaction, mode: Literal["mention", "always"]) -> None:
        if interaction.guild_id is None:
            await private(interaction, "In DMs I always answer; channel mode applies to server channels.")
            return

        async def run(key: ConversationKey) -> str:
            # Forgotten on both sides of the write, so no lookup made during it keeps the old mode.
            bot.forget_mode(key)
            try:
                return await core.commands.channel_mode(key, mode)
            finally:
                bot.forget_mode(key)

        await answer(interaction, run, manage=True)

    @tree.error
    async def on_error(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        log.error(
            "slash command /%s failed",
            interaction.command.name if interaction.command else "?",
            exc_info=error,
        )
        try:
            if interaction.response.is_done():
                await interaction.followup.send(FAILED, ephemeral=True, allowed_mentions=NO_PINGS)
            else:
                await private(interaction, FAILED)
        except discord.HTTPException:
            pass
