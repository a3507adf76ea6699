"""Clicks on answers' buttons (block_actions): 👍/👎 and, on posted answers, Stop.

Slack wants every interaction acknowledged within 3 seconds: the listener acks at once and hands
the work to the core. A button's value names its answer (see adapters/slack/controls.py), so
feedback works on answers written before a restart. Stop is for the asker and for those who may
change the channel's settings (`SLACK_SETTINGS_ACCESS`); feedback is anyone's, one vote each.
A thread mention "stop" (`@Qwen stop`) is handled here too, ahead of the conversation's queue,
which the answer it stops is holding.
"""

from __future__ import annotations

import logging
from typing import Any

from adapters.slack import controls
from adapters.slack.commands import Host, SlashCommands
from adapters.slack.parse import PLATFORM, SlackMessage, plain_text, thread_command
from bot import sentences

log = logging.getLogger(__name__)


class Actions:
    def __init__(self, bot: Host, commands: SlashCommands) -> None:
        self.bot = bot
        self.commands = commands

    async def on_action(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        self.bot.spawn(self.click(body, action))

    async def click(self, body: dict[str, Any], action: dict[str, Any]) -> None:
        channel = str((body.get("channel") or {}).get("id") or "")
        user = str((body.get("user") or {}).get("id") or "")
        found = controls.read(str(action.get("value") or ""), channel)
        if found is None or not channel or not user:
            return
        kind, key, question = found
        thread = key.thread
        if not self.bot.channels.permits(channel) or not self.bot.users.permits(user):
            await self.bot.ephemeral(channel, user, sentences.SLACK_NOT_AVAILABLE, thread)
            return
        try:
            if kind == "stop":
                said = await self.bot.core.commands.stop_answer(
                    PLATFORM, question, user, lambda: self.may_moderate(user, key.channel), key)
                if said:
                    await self.bot.ephemeral(channel, user, said, thread)
            else:  # Slack shows the chosen button itself: no message needed
                await self.bot.core.commands.feedback(key, question, user, up=kind == "up")
        except Exception:
            log.exception("Slack: a button click in %s failed", channel)
            await self.bot.ephemeral(channel, user, sentences.COMMAND_FAILED, thread)

    async def may_moderate(self, user: str, channel: str) -> bool:
        return not channel.startswith("D") and await self.commands.may_change(user, channel)

    def is_stop(self, message: SlackMessage) -> bool:
        """Whether a message is a thread mention whose whole text is "stop"."""
        if not (message.in_thread and message.mentions_bot):
            return False
        words = plain_text(message.text, {}, bot_user_id=self.bot.bot_user_id)
        return (thread_command(words) or ("", ""))[0] == "stop"

    async def stop_in_thread(self, message: SlackMessage) -> None:
        """`@Qwen stop` in a thread: that thread's answers under way, answered privately."""
        if not await self.bot.core.claim_event(PLATFORM, f"message:{message.channel}:{message.ts}"):
            return  # the app_mention and the message event of one mention: once
        moderator = await self.may_moderate(message.user, message.channel)
        said = await self.bot.core.commands.stop(message.thread_key, message.user, anyone=moderator)
        await self.bot.ephemeral(message.channel, message.user, said, message.thread_ts)
