"""The "Show reasoning" button under an answer that thought, and what a click on it shows.

The button is a `DynamicItem` whose custom_id is `reasoning:<question id>`: registered once with
`Client.add_dynamic_items`, it answers clicks on any answer's button, after restarts too, and it
composes with other buttons of the answer (one item among others in the message's view). A click
shows the reasoning to the clicker only (ephemeral), split into Discord-sized messages, for as
long as it is kept (see bot/reasoning.py); a click on an older answer's button says it is gone.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import discord

from adapters.discord import render
from adapters.discord.parse import key_for
from adapters.discord.surfaces import NETWORK_ERRORS, NO_PINGS
from bot import reasoning, sentences

log = logging.getLogger(__name__)

#: The longest question id a button names (a custom_id holds 100 characters).
MAX_REF = 80
#: Ephemeral messages one click may post (the kept reasoning fits in fewer; see bot.reasoning.MAX_CHARS).
MAX_MESSAGES = 10


class ReasoningButton(discord.ui.DynamicItem[discord.ui.Button[Any]],
                      template=re.escape(reasoning.BUTTON_PREFIX) + rf"(?P<ref>.{{1,{MAX_REF}}})"):
    def __init__(self, ref: str) -> None:
        button: discord.ui.Button[Any] = discord.ui.Button(
            label=sentences.SHOW_REASONING, custom_id=reasoning.BUTTON_PREFIX + ref,
            style=discord.ButtonStyle.secondary)
        super().__init__(button)
        self.ref = ref

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> ReasoningButton:
        return cls(match["ref"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        client: Any = interaction.client
        if not client.permitted(interaction.user, interaction.channel, interaction.guild):
            await interaction.response.send_message(sentences.NOT_HERE, ephemeral=True)
            return
        channel: Any = interaction.channel or discord.Object(id=interaction.channel_id or 0)
        text = await reasoning.shown(client.core.settings, client.core.store,
                                     key_for(channel, interaction.guild_id), self.ref)
        await send_private(interaction, text)


async def attach(handle: Any, ref: str, beside: discord.ui.View | None = None) -> None:
    """Add the button under an answer's (last) message, `beside` the buttons it shows (an edit
    replaces them all); a failure costs only the button."""
    if len(ref) > MAX_REF:
        return
    view = beside or discord.ui.View(timeout=None)
    view.add_item(ReasoningButton(ref))
    try:
        await handle.edit(view=view, allowed_mentions=NO_PINGS)
    except (discord.HTTPException, *NETWORK_ERRORS) as exc:
        log.warning("could not add the reasoning button: %r", exc)
    finally:
        # Clicks are answered by the registered dynamic item; the view need not stay in memory.
        view.stop()


async def send_private(interaction: discord.Interaction[Any], text: str) -> None:
    """`text` for the clicker's or commander's eyes only, in as many messages as it takes."""
    pieces = render.messages(text)[:MAX_MESSAGES] or [text[:render.MESSAGE_LIMIT]]
    if interaction.response.is_done():
        await interaction.edit_original_response(content=pieces[0], allowed_mentions=NO_PINGS)
    else:
        await interaction.response.send_message(pieces[0], ephemeral=True, allowed_mentions=NO_PINGS)
    for piece in pieces[1:]:
        await interaction.followup.send(piece, ephemeral=True, allowed_mentions=NO_PINGS)
