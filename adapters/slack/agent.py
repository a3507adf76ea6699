"""Slack's agent view: the greeting and suggested prompts, and answers about the channel in view.

When a user opens the app's Messages tab (`app_home_opened`, tab "messages"; or the older
`assistant_thread_started`), the app greets them once per DM (or per assistant thread) and sets
the suggested prompts, without `thread_ts` as agent apps must. Each `app_context_changed` (or
`assistant_thread_context_changed`) stores, per user in the database, the channel they are
viewing, so every replica knows it.

A question in the app's DM about "this channel" is answered with that channel's recent messages
as material for that one answer (see `viewing.asks_about_viewed_channel`): only a channel the
bot is in and the user is a member of, fitted to half the token budget. The question and the
answer are remembered as usual; the channel's messages are not. When the channel cannot be read,
one sentence says why and the model is not called.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Coroutine, Mapping
from typing import Any, Protocol, cast

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.config import SlackSettings
from adapters.slack.parse import PLATFORM, SlackMessage
from adapters.slack.payloads import AgentEventCallback, MessageEvent
from adapters.slack.render import to_mrkdwn
from adapters.slack.reply import error_code
from adapters.slack.users import Users
from adapters.slack.viewing import (
    OPENED,
    AgentSignal,
    asks_about_viewed_channel,
    briefing,
    history_lines,
    history_users,
    read_signal,
)
from bot import sentences
from bot.access import AccessList
from bot.context import fit_lines
from bot.core import ConversationCore
from bot.types import ConversationKey, Incoming

log = logging.getLogger(__name__)

AGENT_EVENTS = ("app_home_opened", "app_context_changed", "assistant_thread_started",
                "assistant_thread_context_changed")
#: Messages asked of `conversations.history`; Slack gives non-Marketplace apps at most 15 anyway.
HISTORY_LIMIT = 100
#: Pages of `conversations.members` (1,000 each) searched for the user before giving up.
MEMBER_PAGES = 10


class Host(Protocol):
    """What the agent view needs from the app that routes its events."""

    settings: SlackSettings
    core: ConversationCore
    client: AsyncWebClient
    quick_client: AsyncWebClient
    people: Users
    channels: AccessList
    users: AccessList
    team_id: str
    bot_user_id: str
    bot_name: str

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None: ...


class CannotRead(Exception):
    """The channel in view cannot be read for this user; the message is the sentence to say."""


class AgentView:
    def __init__(self, host: Host) -> None:
        self.host = host

    def register(self, app: Any) -> None:
        for name in AGENT_EVENTS:
            app.event(name)(self._on_event)

    async def _on_event(self, body: AgentEventCallback, set_suggested_prompts: Any = None) -> None:
        # Bolt acked already; the work runs on its own so the listener returns at once.
        self.host.spawn(self._handle(body, set_suggested_prompts))

    async def _handle(self, body: AgentEventCallback, set_suggested_prompts: Any) -> None:
        host = self.host
        signal = read_signal(body, host.team_id)
        if signal is None or not host.users.permits(signal.user):
            return
        if signal.viewing is not None:
            await host.core.store.remember_viewing(PLATFORM, signal.team, signal.user, signal.viewing)
        if signal.kind == OPENED and signal.dm:
            await self._welcome(signal, set_suggested_prompts)

    async def _welcome(self, signal: AgentSignal, set_suggested_prompts: Any) -> None:
        """Greet once per DM (per thread in the older assistant view), then offer the prompts.

        Someone already talking with Qwen there is not greeted: the claim is durable, so neither a
        restart nor another replica greets twice."""
        host = self.host
        place = f"{signal.dm}:{signal.thread_ts or ''}"
        dm = ConversationKey(PLATFORM, signal.team, signal.dm, signal.thread_ts)
        talked = await host.core.has_history(dm)
        try:
            if not talked and await host.core.claim_event(PLATFORM, f"greeted:{place}"):
                await host.client.chat_postMessage(channel=signal.dm, thread_ts=signal.thread_ts,
                                                   text=to_mrkdwn(sentences.SLACK_AGENT_GREETING))
            prompts = host.settings.suggested_prompts
            if prompts:
                if set_suggested_prompts is not None:
                    # Bolt's helper: no thread_ts for the agent view (app_home_opened has none),
                    # the thread's for the older assistant view, as each requires.
                    await set_suggested_prompts(prompts, title=sentences.SLACK_PROMPTS_TITLE)
                else:
                    await host.client.assistant_threads_setSuggestedPrompts(
                        channel_id=signal.dm, thread_ts=signal.thread_ts, prompts=prompts,
                        title=sentences.SLACK_PROMPTS_TITLE)
        except SlackApiError as exc:
            log.info("Slack: welcome in %s failed (%s)", signal.dm, error_code(exc))

    # -- "summarise this channel" -----------------------------------------------------------

    async def brief(
        self, message: SlackMessage, incoming: Incoming, thread_ts: str | None,
    ) -> Incoming | None:
        """`incoming` with the viewed channel's recent messages when it asks about "this channel";
        None when that channel cannot be read (and the user has been told why)."""
        if not message.is_dm or not asks_about_viewed_channel(incoming.text):
            return incoming
        try:
            text = await self._read_viewed(message)
        except CannotRead as refusal:
            try:
                await self.host.client.chat_postMessage(channel=message.channel, thread_ts=thread_ts,
                                                        text=to_mrkdwn(str(refusal)))
            except SlackApiError as exc:
                log.info("Slack: message in %s failed (%s)", message.channel, error_code(exc))
            return None
        return dataclasses.replace(incoming, briefing=text)

    async def _read_viewed(self, message: SlackMessage) -> str:
        host = self.host
        channel = await host.core.store.viewing(PLATFORM, message.team, message.user)
        if not channel:
            raise CannotRead(sentences.SLACK_VIEWING_UNKNOWN)
        info = await self._call("conversations_info", channel, channel=channel)
        about: Mapping[str, Any] = info.get("channel") or {}
        name = str(about.get("name") or channel)
        if about.get("is_im") or about.get("is_mpim"):
            raise CannotRead(sentences.SLACK_VIEWING_PRIVATE)
        if not host.channels.permits(channel):
            raise CannotRead(sentences.SLACK_VIEWING_NOT_ALLOWED.format(name=name))
        if about.get("is_member") is False:
            raise CannotRead(sentences.SLACK_VIEWING_BOT_OUT.format(name=name, bot=host.bot_name))
        if not await self._is_member(channel, name, message.user):
            raise CannotRead(sentences.SLACK_VIEWING_USER_OUT.format(name=name))
        history = await self._call("conversations_history", name, channel=channel, limit=HISTORY_LIMIT)
        listed = history.get("messages") or []
        messages = [cast(MessageEvent, item) for item in listed if isinstance(item, dict)]
        names = await host.people.names(history_users(messages))
        lines = history_lines(messages, channel, message.team, names, bot_user_id=host.bot_user_id)
        if not lines:
            raise CannotRead(sentences.SLACK_VIEWING_EMPTY.format(name=name))
        # Half the budget: the rest is for the persona, the summary, the question and recent turns.
        kept, left_out = fit_lines(lines, host.core.settings.max_context_tokens // 2, host.core.counter)
        return briefing(name, kept, left_out)

    async def _is_member(self, channel: str, name: str, user: str) -> bool:
        cursor = ""
        for _ in range(MEMBER_PAGES):
            page = await self._call("conversations_members", name, channel=channel, limit=1000,
                                    cursor=cursor or None)
            if user in (page.get("members") or []):
                return True
            cursor = str((page.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor:
                return False
        return False

    async def _call(self, method: str, name: str, **params: Any) -> Any:
        """One read that is worth making only if it works at once (a rate limit means "not now")."""
        try:
            return await getattr(self.host.quick_client, method)(**params)
        except SlackApiError as exc:
            code = error_code(exc)
            log.info("Slack: %s for the channel in view failed (%s)", method, code)
            if code == "ratelimited":
                raise CannotRead(sentences.SLACK_VIEWING_RATE_LIMITED) from None
            if code in ("not_in_channel", "channel_not_found"):
                raise CannotRead(sentences.SLACK_VIEWING_BOT_OUT.format(
                    name=name.lstrip("#"), bot=self.host.bot_name)) from None
            raise CannotRead(sentences.SLACK_VIEWING_FAILED.format(name=name, code=code)) from None
