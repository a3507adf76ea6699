"""Where a Discord answer is written: under the user's message (or in the thread it opened), or as an
app command's response. `DiscordReply` (reply.py) paces the writes; a surface only performs them.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from typing import Any

import aiohttp
import discord

NO_PINGS = discord.AllowedMentions.none()
#: What a write to Discord can raise besides an HTTP error: the connection failing under it.
NETWORK_ERRORS = (OSError, aiohttp.ClientError)
#: How long an interaction's token may edit its response (Discord: 15 minutes), with a margin.
INTERACTION_TOKEN_SECONDS = 14 * 60


class Surface(ABC):
    """Where an answer's messages go: a reply in a channel, or an app command's response."""

    channel_id: int
    question: str = ""  # the question's message id, which the answer's buttons carry
    #: Whether side notes may be posted before the answer (an interaction's deferred response
    #: would be replaced by the first follow-up, so notes wait until the answer is done).
    notes_first: bool = True

    @abstractmethod
    async def send(self, content: str, *, first: bool, view: discord.ui.View | None = None) -> Any: ...

    @abstractmethod
    async def edit(self, handle: Any, content: str, view: discord.ui.View | None = None) -> None: ...

    @abstractmethod
    async def delete(self, handle: Any) -> None: ...

    @abstractmethod
    async def note(self, content: str) -> None: ...

    def typing(self) -> contextlib.AbstractAsyncContextManager[Any] | None:
        return None

    def where(self) -> dict[str, object]:
        """Where the answer goes, for crash recovery (adapters/discord/recovery.py)."""
        return {"channel": str(self.channel_id)}


class MessageSurface(Surface):
    """Answers as a reply to the user's message (without pinging them), continued in the channel;
    or, `into` a thread the question opened, as the thread's messages."""

    def __init__(self, origin: discord.Message, into: discord.Thread | None = None) -> None:
        self.origin = origin
        self.channel: Any = into or origin.channel
        self.channel_id = self.channel.id
        self.replies = into is None  # Discord refuses a reply to a message in another channel
        self.question = str(origin.id)

    async def send(self, content: str, *, first: bool,
                   view: discord.ui.View | None = None) -> discord.Message:
        # Only the first message of an answer is a reply to the question.
        reply = first and self.replies
        reference: dict[str, Any] = (
            {"reference": self.origin.to_reference(fail_if_not_exists=False)} if reply else {}
        )
        return await self.channel.send(
            content,
            **reference,
            mention_author=False,
            allowed_mentions=NO_PINGS,
            view=view,
        )

    async def edit(self, handle: discord.Message, content: str, view: discord.ui.View | None = None) -> None:
        await handle.edit(content=content, allowed_mentions=NO_PINGS, view=view)

    async def delete(self, handle: discord.Message) -> None:
        await handle.delete()

    async def note(self, content: str) -> None:
        await self.send(content, first=True)

    def typing(self) -> contextlib.AbstractAsyncContextManager[Any] | None:
        return self.channel.typing()

    def where(self) -> dict[str, object]:
        if not self.replies:
            return {"channel": str(self.channel_id)}
        return {"channel": str(self.channel_id), "reply_to": str(self.origin.id)}


class InteractionSurface(Surface):
    """Answers an app command: the deferred response becomes the first message, follow-ups the rest."""

    notes_first = False

    def __init__(self, interaction: discord.Interaction) -> None:
        self.interaction = interaction
        self.channel_id = interaction.channel_id or 0
        self.question = f"interaction-{interaction.id}"

    async def send(self, content: str, *, first: bool, view: discord.ui.View | None = None) -> Any:
        if first:
            return await self.interaction.edit_original_response(content=content, allowed_mentions=NO_PINGS,
                                                                 view=view)
        return await self.interaction.followup.send(content, allowed_mentions=NO_PINGS, wait=True,
                                                    view=view or discord.utils.MISSING)

    async def edit(self, handle: Any, content: str, view: discord.ui.View | None = None) -> None:
        await handle.edit(content=content, allowed_mentions=NO_PINGS, view=view)

    async def delete(self, handle: Any) -> None:
        await handle.delete()

    async def note(self, content: str) -> None:
        await self.interaction.followup.send(content, allowed_mentions=NO_PINGS, ephemeral=True)

    def where(self) -> dict[str, object]:
        # The token edits the response for 15 minutes; after that only the channel is left.
        expires = self.interaction.created_at.timestamp() + INTERACTION_TOKEN_SECONDS
        return {"channel": str(self.channel_id), "application": str(self.interaction.application_id),
                "token": self.interaction.token, "expires": expires}
