"""`/qwen` and thread commands: the core's command registry in Slack's idiom.

`/qwen <question>` posts the question for all to see and answers in its thread; `/qwen <command>`
and a mention whose whole text is a command answer privately (ephemeral). Changing a channel's
settings takes the permission `SLACK_SETTINGS_ACCESS` names; in a DM the conversation is the user's.
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from typing import Any, Protocol

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.config import SettingsAccess, SlackSettings
from adapters.slack.parse import (
    PLATFORM,
    SlackMessage,
    mentioned_users,
    parse_command,
    plain_text,
    read_command,
)
from adapters.slack.payloads import SlashCommandBody
from adapters.slack.render import to_mrkdwn
from adapters.slack.reply import error_code
from adapters.slack.users import Users
from bot import commands, sentences
from bot.access import AccessList
from bot.core import ConversationCore, Outcome
from bot.locks import KeyedLocks
from bot.types import Author, ConversationKey, Incoming, Trigger

log = logging.getLogger(__name__)

#: Slack's answers to chat.postMessage that mean "the bot is not in this conversation".
NOT_A_MEMBER = {"not_in_channel", "channel_not_found", "is_archived", "restricted_action"}
NO_PERMISSION = {
    SettingsAccess.ADMIN: sentences.SLACK_ADMINS_ONLY,
    SettingsAccess.CREATOR: sentences.SLACK_ADMINS_OR_CREATOR,
}
#: How much of a `/qwen` question the posted copy shows; the model reads all of it.
QUESTION_SHOWN = 3000


class Host(Protocol):
    """What the commands need from the app that routes them."""

    settings: SlackSettings
    core: ConversationCore
    client: AsyncWebClient
    people: Users
    channels: AccessList
    users: AccessList
    locks: KeyedLocks
    team_id: str
    bot_user_id: str
    bot_name: str

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None: ...

    async def answer(self, incoming: Incoming, channel: str, thread_ts: str | None, team: str, user: str,
                     *, user_team: str = "") -> Outcome: ...

    async def ephemeral(self, channel: str, user: str, text: str, thread_ts: str | None = None) -> None: ...


class SlashCommands:
    def __init__(self, bot: Host) -> None:
        self.bot = bot
        self.settings = bot.settings
        self.core = bot.core

    def help(self) -> str:
        prefix = f"{self.settings.slack_command} "
        return (sentences.SLACK_ASK_HOW.format(prefix=prefix) + "\n"
                + commands.help_text(prefix, extra=[sentences.SLACK_HELP_LINE.format(prefix=prefix)],
                                   platform="slack"))

    async def on_command(self, ack: Any, command: SlashCommandBody, respond: Any) -> None:
        bot = self.bot
        request = read_command(command, bot.team_id)
        team, channel, user = request.team, request.channel, request.user
        key = ConversationKey(PLATFORM, team, channel)
        name, arg = parse_command(request.text)
        if not bot.channels.permits(channel) or not bot.users.permits(user):
            await ack(response_type="ephemeral", text=sentences.SLACK_NOT_AVAILABLE)
            return
        if name == "" and arg:
            await ack()
            bot.spawn(self.ask(team, channel, user, arg, respond))
            return
        if name in ("", "help"):
            await ack(response_type="ephemeral", text=to_mrkdwn(self.help()))
            return
        # Slack wants the ack within 3 s; lookups and the database may take longer (a rate-limited
        # users.info waits out Retry-After), so the answer follows through the response URL.
        await ack()
        bot.spawn(self._command(name, arg, key, user, respond))

    async def _command(self, name: str, arg: str, key: ConversationKey, user: str, respond: Any) -> None:
        await self._tell(respond, await self.run(name, arg, key, user))

    async def run(self, name: str, arg: str, key: ConversationKey, user: str) -> str:
        """A command's answer for `key`, after the permission check for changes to shared settings."""
        command = commands.find(name)
        if command is None:
            return self.help()
        try:
            if (command.needs_permission(arg) and not key.channel.startswith("D")
                    and not await self.may_change(user, key.channel)):
                return NO_PERMISSION[self.settings.slack_settings_access]
            if command.channel_only and key.channel.startswith("D"):
                return sentences.MODE_IN_DM
            # `stop` acts on everyone's answers for those who may change settings, else on the caller's.
            moderator = (command.moderated and not key.channel.startswith("D")
                         and await self.may_change(user, key.channel))
            return await self.core.commands.run(command, arg, key, user, moderator=moderator)
        except Exception:
            log.exception("Slack: command %s failed", name)
            return sentences.COMMAND_FAILED

    async def in_thread(self, message: SlackMessage, key: ConversationKey, name: str, arg: str) -> None:
        """`@Qwen reset` (or memory, usage, persona, model...) inside a thread: that thread's command."""
        answer = self.help() if name == "help" else await self.run(name, arg, key, message.user)
        await self.bot.ephemeral(message.channel, message.user, answer, message.thread_ts)

    async def may_change(self, user: str, channel: str) -> bool:
        access = self.settings.slack_settings_access
        if access is SettingsAccess.ANYONE:
            return True
        info = await self.bot.people.get(user) or {}
        if info.get("is_admin") or info.get("is_owner") or info.get("is_primary_owner"):
            return True
        if access is SettingsAccess.CREATOR:
            try:
                response = await self.bot.client.conversations_info(channel=channel)
            except SlackApiError as exc:
                log.info("Slack: conversations.info %s: %s", channel, error_code(exc))
                return False
            return (response.get("channel") or {}).get("creator") == user
        return False

    async def ask(self, team: str, channel: str, user: str, question: str, respond: Any) -> None:
        """`/qwen <question>`: the question is posted for all to see and answered in its thread."""
        bot = self.bot
        names = await bot.people.names([user, *mentioned_users(question)])
        text = plain_text(question, names, bot_user_id=bot.bot_user_id, bot_name=bot.bot_name)
        shown = text if len(text) <= QUESTION_SHOWN else text[:QUESTION_SHOWN] + "…"
        post = sentences.SLACK_QUESTION_POSTED.format(name=names.get(user, user), question=shown)
        try:
            posted = await bot.client.chat_postMessage(
                channel=channel,
                text=to_mrkdwn(post),
                unfurl_links=False,
            )
        except SlackApiError as exc:
            code = error_code(exc)
            log.info("Slack: could not post a /qwen question in %s (%s)", channel, code)
            if code in NOT_A_MEMBER:
                await self._tell(respond, sentences.SLACK_CANNOT_POST.format(name=bot.bot_name))
            else:
                await self._tell(respond, sentences.SLACK_POST_FAILED.format(code=code))
            return
        thread = str(posted["ts"])
        key = ConversationKey(PLATFORM, team, channel, thread)
        incoming = Incoming(key, thread, Author(user, names.get(user, user)), text, (), Trigger.COMMAND)
        # Held before the first await, so a quick follow-up in the new thread waits for the question.
        async with bot.locks.hold(key):
            outcome = await bot.answer(incoming, channel, thread, team, user)
        if outcome in (Outcome.RATE_LIMITED, Outcome.RATE_LIMITED_AGAIN):
            # Nobody should see a question that will not be answered; the asker learns why.
            try:
                await bot.client.chat_delete(channel=channel, ts=thread)
            except SlackApiError as exc:
                log.info("Slack: could not take back a refused /qwen question (%s)", error_code(exc))
            await self._tell(respond, sentences.RATE_LIMITED)

    async def _tell(self, respond: Any, text: str) -> None:
        try:
            await respond(response_type="ephemeral", text=to_mrkdwn(text))
        except Exception as exc:
            log.info("Slack: answering /qwen failed (%s)", type(exc).__name__)
