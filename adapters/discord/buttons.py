"""Clicks on an answer's buttons: Stop, 👍 and 👎 (see adapters/discord/components.py).

Read from the raw interaction, not from views kept in memory, so buttons on answers written
before a restart still work (feedback; a Stop on an answer no process is writing says it ended).
Stop is for the asker and for members with Manage Messages; feedback is anyone's, one vote per
person and answer. Every click is answered within Discord's 3 seconds.
"""

from __future__ import annotations

import logging

import discord

from adapters.discord import components
from adapters.discord.commands import Host, conversation_of
from adapters.discord.parse import PLATFORM
from adapters.discord.surfaces import NO_PINGS
from bot import sentences

log = logging.getLogger(__name__)


def may_moderate(interaction: discord.Interaction) -> bool:
    """Whether the clicker may stop others' answers here: Manage Messages, in a server."""
    return interaction.guild_id is not None and interaction.permissions.manage_messages


async def on_interaction(bot: Host, interaction: discord.Interaction) -> None:
    """Handle a click on one of our buttons; anything else is left to discord.py."""
    if interaction.type is not discord.InteractionType.component or interaction.response.is_done():
        return
    data: dict[str, object] = dict(interaction.data or {})
    found = components.read(str(data.get("custom_id") or ""))
    if found is None:
        return
    kind, question = found
    try:
        if not bot.permitted(interaction.user, interaction.channel, interaction.guild):
            await _private(interaction, sentences.NOT_HERE)
        elif kind == components.STOP:
            await _stop(bot, interaction, question)
        else:
            said = await bot.core.commands.feedback(conversation_of(interaction), question,
                                                    str(interaction.user.id), up=kind == components.UP)
            await _private(interaction, said)
    except discord.HTTPException as exc:
        log.warning("could not answer a button in channel %s: %s", interaction.channel_id, exc.status)
    except Exception:
        log.exception("a button click in channel %s failed", interaction.channel_id)
        if not interaction.response.is_done():
            await _private(interaction, sentences.INTERNAL_ERROR)


async def _stop(bot: Host, interaction: discord.Interaction, question: str) -> None:
    async def moderator() -> bool:
        return may_moderate(interaction)

    said = await bot.core.commands.stop_answer(PLATFORM, question, str(interaction.user.id), moderator)
    if said:
        await _private(interaction, said)
    else:  # acknowledged without a message of its own: the answer's final edit shows the stop
        await interaction.response.defer()


async def _private(interaction: discord.Interaction, text: str) -> None:
    await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS)
