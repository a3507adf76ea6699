"""The slack-bolt wiring: events and `/qwen` in, core calls and Slack replies out.

Socket Mode when SLACK_APP_TOKEN is set, otherwise HTTP mode on PORT at /slack/events. Bolt acks
every event before our listener runs; the listener then claims the event id (and the message ts)
durably through the core, so Slack's retries, Socket Mode redeliveries and restarts never produce
a second answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Mapping
from typing import Any
from urllib.parse import urljoin, urlparse

import aiohttp
from aiohttp import web
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.config import SettingsAccess, SlackSettings
from adapters.slack.http import EventsEndpoint
from adapters.slack.parse import (
    PLATFORM,
    SlackMessage,
    decide,
    display_name,
    mentioned_users,
    parse_command,
    plain_text,
    read_message,
    thread_command,
)
from adapters.slack.render import to_mrkdwn
from adapters.slack.reply import Capabilities, SlackReply, UpdateBudget, error_code
from bot.access import AccessList
from bot.attachments import IMAGE_MAX_BYTES, TEXT_MAX_BYTES, classify
from bot.commands import HELP
from bot.config import ConfigError
from bot.core import INTERRUPTED_MARK, STOPPED_BEFORE_ANSWER, ConversationCore, Outcome
from bot.locks import KeyedLocks
from bot.ratelimit import LIMIT_MESSAGE, RateLimiter
from bot.types import Attachment, AttachmentKind, Author, ConversationKey, Incoming, Trigger

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
NAME_TTL = 3600.0
USER_CACHE_SIZE = 10_000
THREAD_READ_LIMIT = 50
SHUTDOWN_GRACE = 10.0
MAX_REDIRECTS = 3
BAD_TOKEN = {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired",
             "not_allowed_token_type"}
SETTINGS_CHANGES = {"reset", "persona", "model", "channel-mode"}
EMPTY_MENTION = "Hi! Ask me anything: mention me with a question, or use `/qwen <question>`."
CANNOT_POST = ("I can't post in this conversation. In a channel, invite me with `/invite @{name}` and ask "
               "again; in a DM between other people, mention me in a channel or DM me instead.")
NO_PERMISSION = {
    SettingsAccess.ADMIN: "Only workspace admins can change this channel's settings.",
    SettingsAccess.CREATOR: "Only workspace admins or this channel's creator can change its settings.",
}


class _SameTokenNotice(logging.Filter):
    """Bolt warns that its own SLACK_BOT_TOKEN lookup is unused when given a client; it is the same token."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


_SAME_TOKEN = _SameTokenNotice()


class _NoRequestBodies(logging.Filter):
    """Bolt logs a rejected request's whole body (users' messages) at INFO; say why, not what."""

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith("Invalid request signature"):
            record.msg = ("Rejected a request with a missing, wrong or stale signature; if this repeats, "
                          "check SLACK_SIGNING_SECRET")
            record.args = ()
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


_NO_BODIES = _NoRequestBodies()


class SlackBot:
    """One running Slack app bound to one core."""

    def __init__(self, settings: SlackSettings, core: ConversationCore) -> None:
        self.settings = settings
        self.core = core
        self.client = AsyncWebClient(
            token=settings.bot_token,
            base_url=settings.slack_api_url,
            retry_handlers=[AsyncConnectionErrorRetryHandler(),
                            AsyncRateLimitErrorRetryHandler(max_retry_count=3)],
        )
        # For calls worth making only if they work at once (the one-time thread read, the status
        # line): a rate limit means "skip it", never minutes of waiting on Retry-After.
        self.quick_client = AsyncWebClient(
            token=settings.bot_token, base_url=settings.slack_api_url, timeout=10,
            retry_handlers=[AsyncConnectionErrorRetryHandler()],
        )
        bolt_logger = logging.getLogger("slack_bolt")
        bolt_logger.addFilter(_SAME_TOKEN)
        bolt_logger.addFilter(_NO_BODIES)
        self.app = AsyncApp(
            name="qwenbot",
            client=self.client,
            signing_secret=settings.signing_secret,
            request_verification_enabled=not settings.socket_mode,
            # Our listeners only hand the work to a task and return, so acking after them costs
            # nothing and Slack hears back only once the work is registered (and drained on stop).
            process_before_response=True,
            logger=bolt_logger,
        )
        self.app.event("app_mention")(self._on_message_event)
        self.app.event("message")(self._on_message_event)
        self.app.command(settings.slack_command)(self._on_command)
        self.limiter = RateLimiter(settings.user_rate_limit)
        self.channels = AccessList.of(settings.slack_allowed_channels, settings.slack_blocked_channels)
        self.users = AccessList.of(settings.slack_allowed_users, settings.slack_blocked_users)
        self.capabilities = Capabilities(streaming=settings.slack_streaming)
        self.locks = KeyedLocks()
        self.shutdown_grace = SHUTDOWN_GRACE
        self.budgets: dict[str, UpdateBudget] = {}
        self.bot_user_id = ""
        self.bot_id = ""
        self.bot_name = "Qwen"
        self.team_id = ""
        self.port = 0
        self._users: dict[str, tuple[float, Mapping[str, Any]]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._socket: AsyncSocketModeHandler | None = None
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
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
        me = await self._user(self.bot_user_id)
        if me:
            self.bot_name = display_name(me)
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
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
        if self._tasks:
            # Answers under way get a moment to finish rather than leave a stream hanging open.
            await asyncio.wait(set(self._tasks), timeout=self.shutdown_grace)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        if self._http is not None:
            await self._http.close()
        for client in (self.client, self.quick_client):
            session = getattr(client, "session", None)
            if session is not None:
                await session.close()

    async def idle(self) -> None:
        """Wait until no answer is in progress (tests and benchmarks use it)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("Slack handler failed", exc_info=task.exception())

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    # -- events -----------------------------------------------------------------------------

    async def _on_message_event(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        # Bolt has acked already; the answer runs on its own so this listener returns at once.
        self._spawn(self._handle_event(body, event))

    async def _handle_event(self, body: Mapping[str, Any], event: Mapping[str, Any]) -> None:
        team = str(body.get("team_id") or event.get("team") or self.team_id)
        message = read_message(event, team, bot_user_id=self.bot_user_id, bot_id=self.bot_id,
                               answer_bots=self.settings.answer_bots)
        if message is None:
            return
        if not self.channels.permits(message.channel) or not self.users.permits(message.user):
            return
        # Taken before the first await and held until the core has the message: a message that
        # waits for a download or a name lookup is not overtaken by the next one in its conversation.
        async with self.locks.hold(message.conversation_key):
            await self._handle_message(message, body, team)

    async def _handle_message(self, message: SlackMessage, body: Mapping[str, Any], team: str) -> None:
        mode = await self.core.channel_mode(message.channel_key)
        thread_history = message.in_thread and await self.core.has_history(message.thread_key)
        decision = decide(message, bot_user_id=self.bot_user_id, mode=mode, thread_has_history=thread_history)
        if decision.trigger is Trigger.NONE and not thread_history:
            return
        # Claimed only now, so the chatter of busy channels costs no database writes.
        event_id = str(body.get("event_id") or "")
        if event_id and not await self.core.claim_event(PLATFORM, event_id):
            log.info("Slack: event %s seen before (retry or redelivery), skipped", event_id)
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
            await self._thread_command(message, decision.key, *command)
            return
        verdict = self.limiter.check(message.user)
        if not verdict.allowed:
            if verdict.notify:
                await self._ephemeral(message.channel, message.user, LIMIT_MESSAGE, decision.reply_thread_ts)
            return
        if decision.key.thread and not await self.core.has_history(decision.key):
            # Claimed durably, so a thread is read at most once ever: not again after a restart,
            # and not after `@Qwen reset` emptied its memory (that would bring the words back).
            first_visit = await self.core.claim_event(PLATFORM, f"thread-seen:{decision.key}")
            if first_visit and message.in_thread:
                await self._read_thread(message)
        incoming = await self._incoming(message, decision.key, decision.trigger)
        await self._answer(incoming, message.channel, decision.reply_thread_ts, team, message.user,
                           user_team=message.user_team)

    async def _answer(
        self, incoming: Incoming, channel: str, thread_ts: str | None, team: str, user: str,
        *, user_team: str = "",
    ) -> Outcome:
        reply = SlackReply(
            self.client, channel=channel, thread_ts=thread_ts, team=user_team or team, user=user,
            budget=self.budgets.setdefault(team, UpdateBudget(self.settings.slack_updates_per_minute)),
            capabilities=self.capabilities, quick_client=self.quick_client,
        )
        try:
            outcome = await self.core.handle(incoming, reply)
        except asyncio.CancelledError:
            # Shutdown outran this answer: close what is on screen rather than leave it hanging.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(reply.stopped(INTERRUPTED_MARK, STOPPED_BEFORE_ANSWER), timeout=4)
            raise
        if outcome is Outcome.EMPTY:
            # Nothing to ask about: say why (e.g. only an unreadable file) or how to ask.
            notes = " ".join(incoming.skipped_notes) or EMPTY_MENTION
            await self.client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=to_mrkdwn(notes))
        return outcome

    async def _incoming(
        self, message: SlackMessage, key: ConversationKey, trigger: Trigger, *, files: bool = True,
    ) -> Incoming:
        names = await self._names([message.user, *mentioned_users(message.text)])
        text = plain_text(message.text, names, bot_user_id=self.bot_user_id, bot_name=self.bot_name)
        attachments, notes = await self._files(message.files) if files else ((), ())
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

    # -- users, files -----------------------------------------------------------------------

    async def _user(self, user_id: str) -> Mapping[str, Any] | None:
        cached = self._users.get(user_id)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        try:
            response = await self.client.users_info(user=user_id)
        except SlackApiError as exc:
            log.debug("users.info %s: %s", user_id, error_code(exc))
            return None
        user = response.get("user") or {}
        now = time.monotonic()
        if len(self._users) >= USER_CACHE_SIZE:
            self._users = {uid: entry for uid, entry in self._users.items() if entry[0] > now}
        self._users[user_id] = (now + NAME_TTL, user)
        return user

    async def _names(self, user_ids: list[str]) -> dict[str, str]:
        unique = [uid for uid in dict.fromkeys(user_ids) if uid]
        users = await asyncio.gather(*(self._user(uid) for uid in unique))
        return {uid: display_name(user) if user else uid for uid, user in zip(unique, users, strict=True)}

    async def _files(self, files: tuple[Mapping[str, Any], ...]) -> tuple[list[Attachment], list[str]]:
        attachments: list[Attachment] = []
        notes: list[str] = []
        for item in files:
            name = str(item.get("name") or item.get("title") or "file")
            mime = str(item.get("mimetype") or "")
            size = int(item.get("size") or 0)
            kind, skipped = classify(name, mime, size)
            if skipped:
                notes.append(skipped)
                continue
            limit = IMAGE_MAX_BYTES if kind is AttachmentKind.IMAGE else TEXT_MAX_BYTES
            data = await self._download(item, limit)
            if data is None:
                notes.append(f"Skipped {name}: I could not download it.")
                continue
            attachments.append(Attachment(kind, name, mime, len(data), data))
        return attachments, notes

    async def _download(self, item: Mapping[str, Any], limit: int) -> bytes | None:
        url = str(item.get("url_private_download") or item.get("url_private") or "")
        if not url or self._http is None:
            return None
        headers = {"Authorization": f"Bearer {self.settings.bot_token}"}
        try:
            # Redirects are followed by hand: each hop must be on a Slack host, or the token stays home.
            for _ in range(MAX_REDIRECTS + 1):
                if not self._trusted(url):
                    log.warning("Slack: file URL on an unexpected host skipped")
                    return None
                async with self._http.get(url, headers=headers, allow_redirects=False) as resp:
                    if resp.status in (301, 302, 303, 307, 308) and resp.headers.get("Location"):
                        url = urljoin(url, resp.headers["Location"])
                        continue
                    if resp.status != 200 or resp.content_type == "text/html":
                        log.info("Slack: file download answered %s (%s)", resp.status, resp.content_type)
                        return None
                    data = await resp.content.read(limit + 1)
                    return data if len(data) <= limit else None
        except (aiohttp.ClientError, TimeoutError) as exc:
            # Only the type: some aiohttp errors carry the request, Authorization header included.
            log.info("Slack: file download failed (%s)", type(exc).__name__)
            return None
        log.info("Slack: file download gave up after %d redirects", MAX_REDIRECTS)
        return None

    def _trusted(self, url: str) -> bool:
        host = (urlparse(url).hostname or "").lower()
        api_host = (urlparse(self.settings.slack_api_url).hostname or "").lower()
        return host == api_host or host.endswith((".slack.com", ".slack-gov.com")) or host in (
            "slack.com", "slack-gov.com")

    async def _ephemeral(self, channel: str, user: str, text: str, thread_ts: str | None = None) -> None:
        try:
            await self.client.chat_postEphemeral(channel=channel, user=user, text=to_mrkdwn(text),
                                                 thread_ts=thread_ts)
        except SlackApiError as exc:
            log.info("Slack: ephemeral message in %s failed (%s)", channel, error_code(exc))

    # -- /qwen ------------------------------------------------------------------------------

    async def _on_command(self, ack: Any, command: dict[str, Any], respond: Any) -> None:
        team = str(command.get("team_id") or self.team_id)
        channel = str(command.get("channel_id") or "")
        user = str(command.get("user_id") or "")
        key = ConversationKey(PLATFORM, team, channel)
        name, arg = parse_command(str(command.get("text") or ""))
        if not self.channels.permits(channel) or not self.users.permits(user):
            await ack(response_type="ephemeral", text="I'm not available here.")
            return
        if name == "" and arg:
            verdict = self.limiter.check(user)
            if not verdict.allowed:
                await ack(response_type="ephemeral", text=LIMIT_MESSAGE)
                return
            await ack()
            self._spawn(self._ask(team, channel, user, arg, respond))
            return
        if name in ("", "help"):
            await ack(response_type="ephemeral", text=to_mrkdwn(self._help()))
            return
        # Slack wants the ack within 3 s; lookups and the database may take longer (a rate-limited
        # users.info waits out Retry-After), so the answer follows through the response URL.
        await ack()
        self._spawn(self._command(name, arg, key, user, respond))

    async def _command(self, name: str, arg: str, key: ConversationKey, user: str, respond: Any) -> None:
        answer = await self._run_command(name, arg, key, user)
        try:
            await respond(response_type="ephemeral", text=to_mrkdwn(answer))
        except Exception as exc:
            log.info("Slack: answering /qwen %s failed (%s)", name, type(exc).__name__)

    async def _run_command(self, name: str, arg: str, key: ConversationKey, user: str) -> str:
        """A command's answer for `key`, after the permission check for changes to shared settings."""
        changes = name in SETTINGS_CHANGES and (name == "reset" or bool(arg))
        try:
            if changes and not key.channel.startswith("D") and not await self._may_change(user, key.channel):
                return NO_PERMISSION[self.settings.slack_settings_access]
            return await self.core.commands.run(f"{name} {arg}".strip(), key, user)
        except Exception:
            log.exception("Slack: command %s failed", name)
            return "That command failed on my side; please try again."

    async def _thread_command(self, message: SlackMessage, key: ConversationKey, name: str, arg: str) -> None:
        """`@Qwen reset` (or memory, usage, persona, model...) inside a thread: that thread's command."""
        answer = self._help() if name == "help" else await self._run_command(name, arg, key, message.user)
        await self._ephemeral(message.channel, message.user, answer, message.thread_ts)

    def _help(self) -> str:
        command = self.settings.slack_command
        return (f"Ask with `{command} <question>` or mention me. "
                + HELP.replace("Commands: `", f"Commands: `{command} ").replace(", `", f", `{command} "))

    async def _may_change(self, user: str, channel: str) -> bool:
        access = self.settings.slack_settings_access
        if access is SettingsAccess.ANYONE:
            return True
        info = await self._user(user) or {}
        if info.get("is_admin") or info.get("is_owner") or info.get("is_primary_owner"):
            return True
        if access is SettingsAccess.CREATOR:
            try:
                response = await self.client.conversations_info(channel=channel)
            except SlackApiError as exc:
                log.info("Slack: conversations.info %s: %s", channel, error_code(exc))
                return False
            return (response.get("channel") or {}).get("creator") == user
        return False

    async def _ask(self, team: str, channel: str, user: str, question: str, respond: Any) -> None:
        """`/qwen <question>`: the question is posted for all to see and answered in its thread."""
        names = await self._names([user, *mentioned_users(question)])
        text = plain_text(question, names, bot_user_id=self.bot_user_id, bot_name=self.bot_name)
        try:
            posted = await self.client.chat_postMessage(
                channel=channel, text=to_mrkdwn(f"**{names.get(user, user)}** asked: {text}"),
                unfurl_links=False,
            )
        except SlackApiError as exc:
            log.info("Slack: could not post a /qwen question in %s (%s)", channel, error_code(exc))
            try:
                note = CANNOT_POST.format(name=self.bot_name)
                await respond(response_type="ephemeral", text=to_mrkdwn(note))
            except Exception as error:
                log.info("Slack: answering /qwen failed (%s)", type(error).__name__)
            return
        thread = str(posted["ts"])
        key = ConversationKey(PLATFORM, team, channel, thread)
        incoming = Incoming(key, thread, Author(user, names.get(user, user)), text, (), Trigger.COMMAND)
        # Held before the first await, so a quick follow-up in the new thread waits for the question.
        async with self.locks.hold(key):
            await self._answer(incoming, channel, thread, team, user)
