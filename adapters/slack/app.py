"""The slack-bolt wiring: events and `/qwen` in, core calls and Slack replies out.

Socket Mode when SLACK_APP_TOKEN is set, otherwise HTTP mode on PORT at /slack/events. Bolt acks
every event before our listener runs; the listener then claims the event id (and the message ts)
durably through the core, so Slack's retries, Socket Mode redeliveries and restarts never produce
a second answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import controls
from adapters.slack.actions import Actions
from adapters.slack.agent import AgentView
from adapters.slack.commands import SlashCommands
from adapters.slack.config import SlackSettings
from adapters.slack.files import Files
from adapters.slack.http import EventsEndpoint
from adapters.slack.parse import (
    PLATFORM,
    SlackMessage,
    decide,
    display_name,
    mentioned_users,
    plain_text,
    read_message,
    thread_command,
)
from adapters.slack.payloads import AppMentionEvent, EventCallback, MessageEvent
from adapters.slack.render import to_mrkdwn
from adapters.slack.reply import Capabilities, SlackReply, error_code
from adapters.slack.sdk import SAME_TOKEN, CountRateLimits
from adapters.slack.users import Users
from bot import metrics, sentences
from bot.access import AccessList
from bot.config import ConfigError
from bot.core import ConversationCore, Outcome
from bot.lifecycle import last_words
from bot.limits import Window
from bot.locks import KeyedLocks
from bot.types import Author, ConversationKey, Incoming, Trigger

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
THREAD_READ_LIMIT = 50
BAD_TOKEN = {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired",
             "not_allowed_token_type"}
#: The workspace's chat.update budget is checked over windows this long (N per minute, as N/6 per
#: 10 s: never more per minute, and smoother than a burst followed by a minute of silence).
UPDATE_WINDOW = 10.0


class SlackBot:
    """One running Slack app bound to one core."""

    def __init__(self, settings: SlackSettings, core: ConversationCore) -> None:
        self.settings = settings
        self.core = core
        self.client = AsyncWebClient(
            token=settings.bot_token,
            base_url=settings.slack_api_url,
            retry_handlers=[CountRateLimits(), AsyncConnectionErrorRetryHandler(),
                            AsyncRateLimitErrorRetryHandler(max_retry_count=3)],
        )
        # For calls worth making only if they work at once (the one-time thread read, the status
        # line): a rate limit means "skip it", never minutes of waiting on Retry-After.
        self.quick_client = AsyncWebClient(
            token=settings.bot_token, base_url=settings.slack_api_url, timeout=10,
            retry_handlers=[CountRateLimits(), AsyncConnectionErrorRetryHandler()],
        )
        bolt_logger = logging.getLogger("slack_bolt")
        bolt_logger.addFilter(SAME_TOKEN)
        self.app = AsyncApp(
            name="qwenbot",
            client=self.client,
            signing_secret=settings.signing_secret,
            # HTTP mode: `EventsEndpoint` checks size, timestamp and signature before anything
            # is parsed; Socket Mode needs no signature.
            request_verification_enabled=False,
            # Our listeners only hand the work to a task and return, so acking after them costs
            # nothing and Slack hears back only once the work is registered.
            process_before_response=True,
            logger=bolt_logger,
        )
        self.app.event("app_mention")(self._on_message_event)
        self.app.event("message")(self._on_message_event)
        self.commands = SlashCommands(self)
        self.app.command(settings.slack_command)(self.commands.on_command)
        self.agent = AgentView(self)
        self.agent.register(self.app)
        self.actions = Actions(self, self.commands)
        self.app.action(controls.STOP_ACTION)(self.actions.on_action)
        self.app.action(controls.FEEDBACK_ACTION)(self.actions.on_action)
        self.channels = AccessList.of(settings.slack_allowed_channels, settings.slack_blocked_channels)
        self.users = AccessList.of(settings.slack_allowed_users, settings.slack_blocked_users)
        self.capabilities = Capabilities(streaming=settings.slack_streaming)
        self.locks = KeyedLocks()
        #: chat.update calls per workspace, shared by every answer in the process, and with
        #: PostgreSQL by every replica (HTTP mode behind a load balancer answers from any of them).
        per_window = max(1, settings.slack_updates_per_minute // 6)
        self.updates: Window = core.store.window("slack-updates", per_window, UPDATE_WINDOW)
        self.people = Users(self.client)
        self.files = Files(settings.bot_token, settings.slack_api_url)
        self.bot_user_id = ""
        self.bot_id = ""
        self.bot_name = "Qwen"
        self.team_id = ""
        self.port = 0
        self._socket: AsyncSocketModeHandler | None = None
        self._runner: web.AppRunner | None = None

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        await self.login()
        await self.connect()

    async def login(self) -> None:
        """Check the token and learn who the bot is; no event arrives yet."""
        try:
            auth = await self.client.auth_test()
        except SlackApiError as exc:
            code = error_code(exc)
            if code in BAD_TOKEN:
                raise ConfigError(f"SLACK_BOT_TOKEN was refused by Slack ({code}).") from None
            raise ConfigError(f"Slack auth.test failed ({code or exc}).") from None
        except aiohttp.ClientError as exc:
            raise ConfigError(f"Cannot reach Slack at {self.settings.slack_api_url} ({exc}).") from None
        self.bot_user_id = str(auth.get("user_id") or "")
        self.bot_id = str(auth.get("bot_id") or "")
        self.team_id = str(auth.get("team_id") or "")
        self.bot_name = str(auth.get("user") or self.bot_name)
        me = await self.people.get(self.bot_user_id)
        if me:
            self.bot_name = display_name(me)
        self.files.open()

    async def connect(self) -> None:
        """Start taking events: Socket Mode, or the HTTP endpoint."""
        if self.settings.socket_mode:
            try:
                # The Socket Mode client retries a refused token forever; check it once ourselves.
                await self.client.apps_connections_open(app_token=self.settings.app_token)
            except SlackApiError as exc:
                raise ConfigError(f"SLACK_APP_TOKEN was refused by Slack ({error_code(exc)}).") from None
            self._socket = AsyncSocketModeHandler(self.app, self.settings.app_token, web_client=self.client)
            await self._socket.connect_async()
            log.info("Slack: connected in Socket Mode as %s", self.bot_name)
        else:
            web_app = web.Application()
            endpoint = EventsEndpoint(self.app, self.settings.signing_secret)
            web_app.router.add_post(EVENTS_PATH, endpoint.handle)
            web_app.router.add_get("/health", self._health)
            self._runner = web.AppRunner(web_app, access_log=None, logger=endpoint.server_log)
            await self._runner.setup()
            site = web.TCPSite(self._runner, self.settings.slack_http_host, self.settings.port)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            log.info("Slack: HTTP mode as %s on port %d, path %s", self.bot_name, self.port, EVENTS_PATH)

    async def stop(self) -> None:
        if self._socket is not None:
            await self._socket.close_async()
        if self._runner is not None:
            await self._runner.cleanup()
        # Events under way belong to the core, which ends them in `ConversationCore.stop`.
        await self.files.close()
        for client in (self.client, self.quick_client):
            session = getattr(client, "session", None)
            if session is not None:
                await session.close()

    async def connected(self) -> bool:
        if self._socket is not None:
            return await self._socket.client.is_connected()
        return self._runner is not None

    async def idle(self) -> None:
        """Wait until no event is being handled (tests and benchmarks use it)."""
        await self.core.idle()

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        """Handle an event on its own, so the listener returns (and Slack gets its ack) at once."""
        self.core.spawn(work)

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    # -- events -----------------------------------------------------------------------------

    async def _on_message_event(self, body: EventCallback, event: MessageEvent | AppMentionEvent) -> None:
        # Bolt has acked already; the answer runs on its own so this listener returns at once.
        self.spawn(self._handle_event(body, event))

    async def _handle_event(self, body: EventCallback, event: MessageEvent | AppMentionEvent) -> None:
        team = str(body.get("team_id") or event.get("team") or self.team_id)
        message = read_message(event, team, bot_user_id=self.bot_user_id, bot_id=self.bot_id,
                               answer_bots=self.settings.answer_bots)
        if message is None:
            return
        if not self.channels.permits(message.channel) or not self.users.permits(message.user):
            return
        if self.actions.is_stop(message):  # not queued behind the answer it stops
            await self.actions.stop_in_thread(message)
            return
        # Taken before the first await and held until the core has the message: a message that
        # waits for a download or a name lookup is not overtaken by the next one in its conversation.
        async with self.locks.hold(message.conversation_key):
            await self._handle_message(message, body, team)

    async def _handle_message(self, message: SlackMessage, body: EventCallback, team: str) -> None:
        mode = await self.core.channel_mode(message.channel_key)
        thread_history = message.in_thread and await self.core.has_history(message.thread_key)
        decision = decide(message, bot_user_id=self.bot_user_id, mode=mode, thread_has_history=thread_history)
        if decision.trigger is Trigger.NONE and not thread_history:
            return
        # Claimed only now, so the chatter of busy channels costs no database writes.
        event_id = str(body.get("event_id") or "")
        if event_id and not await self.core.claim_event(PLATFORM, event_id):
            log.info("Slack: event %s seen before (retry or redelivery), skipped", event_id)
            metrics.DUPLICATES.labels(PLATFORM).inc()
            return
        if decision.trigger is Trigger.NONE:
            if thread_history:
                await self.core.record(await self._incoming(message, decision.key, Trigger.NONE, files=False))
            return
        # app_mention and message events both arrive for one mention: answer the message once.
        if not await self.core.claim_event(PLATFORM, f"message:{message.channel}:{message.ts}"):
            return
        command = None
        if message.in_thread and message.mentions_bot:
            words = plain_text(message.text, {}, bot_user_id=self.bot_user_id)
            command = thread_command(words, self.core.settings.qwen_models)
        if command is not None:
            await self.commands.in_thread(message, decision.key, *command)
            return
        try:
            if decision.key.thread and not await self.core.has_history(decision.key):
                # Claimed durably, so a thread is read at most once ever: not again after a restart,
                # and not after `@Qwen reset` emptied its memory (that would bring the words back).
                first_visit = await self.core.claim_event(PLATFORM, f"thread-seen:{decision.key}")
                if first_visit and message.in_thread:
                    await self._read_thread(message)
            incoming = await self._incoming(message, decision.key, decision.trigger)
            briefed = await self.agent.brief(message, incoming, decision.reply_thread_ts)
            if briefed is None:  # asked about a channel it cannot read, and told so
                return
            incoming = briefed
        except asyncio.CancelledError:
            # Shutdown cut a download or a lookup: the claimed event still gets its one outcome.
            stopped = sentences.STOPPED_BEFORE_ANSWER
            await last_words(self._post(message.channel, decision.reply_thread_ts, stopped))
            raise
        outcome = await self.answer(incoming, message.channel, decision.reply_thread_ts, team, message.user,
                                    user_team=message.user_team)
        if outcome is Outcome.RATE_LIMITED:
            await self.ephemeral(message.channel, message.user, sentences.RATE_LIMITED,
                                 decision.reply_thread_ts)

    async def answer(
        self, incoming: Incoming, channel: str, thread_ts: str | None, team: str, user: str,
        *, user_team: str = "",
    ) -> Outcome:
        reply = SlackReply(
            self.client, channel=channel, thread_ts=thread_ts, team=user_team or team, user=user,
            budget=self.updates, budget_key=team,
            capabilities=self.capabilities, quick_client=self.quick_client,
            answer=controls.ref(incoming.key, incoming.message_id),
        )
        outcome = await self.core.handle(incoming, reply)
        if outcome is Outcome.EMPTY:
            # Nothing to ask about: say why (e.g. only an unreadable file) or how to ask.
            notes = " ".join(incoming.skipped_notes) or sentences.SLACK_EMPTY_MENTION
            await self.client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=to_mrkdwn(notes))
        return outcome

    async def _incoming(
        self, message: SlackMessage, key: ConversationKey, trigger: Trigger, *, files: bool = True,
    ) -> Incoming:
        names = await self.people.names([message.user, *mentioned_users(message.text)])
        text = plain_text(message.text, names, bot_user_id=self.bot_user_id, bot_name=self.bot_name)
        attachments, notes = await self.files.fetch(message.files) if files else ([], [])
        author = Author(message.user, names.get(message.user, message.user), message.is_bot)
        return Incoming(key, message.ts, author, text, tuple(attachments), trigger, tuple(notes))

    async def _read_thread(self, message: SlackMessage) -> None:
        """Remember what was said in a thread before the bot was called into it (one API call)."""
        key = message.thread_key
        try:
            response = await self.quick_client.conversations_replies(
                channel=message.channel, ts=message.thread_ts or message.ts, limit=THREAD_READ_LIMIT,
            )
        except SlackApiError as exc:
            log.info("Slack: could not read thread %s (%s); answering without it", key, error_code(exc))
            return
        for item in response.get("messages") or []:
            earlier = read_message({"type": "message", "channel": message.channel, **item}, message.team,
                                   bot_user_id=self.bot_user_id, bot_id=self.bot_id, answer_bots=True)
            if earlier is None or earlier.ts == message.ts:
                continue
            earlier_key = ConversationKey(PLATFORM, message.team, message.channel, message.thread_ts)
            await self.core.record(await self._incoming(earlier, earlier_key, Trigger.NONE, files=False))

    async def _post(self, channel: str, thread_ts: str | None, text: str) -> None:
        try:
            await self.client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=to_mrkdwn(text))
        except SlackApiError as exc:
            log.info("Slack: message in %s failed (%s)", channel, error_code(exc))

    async def ephemeral(self, channel: str, user: str, text: str, thread_ts: str | None = None) -> None:
        try:
            await self.client.chat_postEphemeral(channel=channel, user=user, text=to_mrkdwn(text),
                                                 thread_ts=thread_ts)
        except SlackApiError as exc:
            log.info("Slack: ephemeral message in %s failed (%s)", channel, error_code(exc))
