"""A fake Slack on 127.0.0.1: the Web API methods the bot uses, and event delivery both ways.

Events reach the bot as signed HTTP requests (X-Slack-Signature v0, retries with
X-Slack-Retry-Num) or over a Socket Mode WebSocket opened through apps.connections.open.
Like Slack, the fake answers 429 with Retry-After to more than 5 updates of one message in
3 seconds, msg_too_long past 40,000 characters of text or 12,000 of a streamed message's
markdown_text, and invalid_blocks to more than 50 blocks or 12,000 characters of `markdown` blocks
in one message (a message with them shows them instead of its `text`). Slash commands'
`response_url` posts are kept per command. Tests can hold back the answer to any Web API method
(or to file downloads) until they release it, to check what the bot does while it waits. Every
call is recorded for assertions.

The agent view: `app_home_opened`, `app_context_changed` and the older assistant-thread events are
delivered like any event; channels have members and history (`conversations.history` newest first,
capped like Slack caps non-Marketplace apps when `history_cap` is set), and suggested prompts set
with a `thread_ts` for an agent app are accepted and silently dropped, as Slack does.

Messages keep their blocks as Slack does (`blocks` replaces them, an empty list removes them,
leaving the field out keeps them; chat.stopStream adds them under the streamed text), and a user
can click a button: `click` sends the app a `block_actions` payload, signed over HTTP or as an
`interactive` envelope over Socket Mode.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from slack_sdk.signature import SignatureVerifier

TEXT_LIMIT = 40_000
MARKDOWN_LIMIT = 12_000
MAX_BLOCKS = 50
UPDATE_BURST = 5
UPDATE_WINDOW = 3.0


@dataclass
class FakeMessage:
    channel: str
    ts: str
    thread_ts: str | None
    user: str
    text: str = ""
    markdown: str = ""  # markdown_text of streamed messages
    streaming: bool = False
    versions: list[str] = field(default_factory=list)
    created: float = 0.0
    blocks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def block_markdown(self) -> str:
        """The text of the message's `markdown` blocks, which Slack shows instead of `text`."""
        return "".join(str(b.get("text") or "") for b in self.blocks if b.get("type") == "markdown")

    def buttons(self) -> list[dict[str, Any]]:
        """The interactive elements of its blocks: buttons and feedback buttons."""
        return [e for b in self.blocks if b.get("type") in ("actions", "context_actions")
                for e in b.get("elements", [])]

    @property
    def visible(self) -> str:
        return self.block_markdown or self.text or self.markdown


@dataclass
class Delivery:
    status: int
    body: Any
    seconds: float
    command_id: str = ""  # for slash commands: where `response_url` posts are kept


class FakeSlack:
    def __init__(
        self,
        *,
        bot_token: str = "xoxb-fake-bot",
        app_token: str = "xapp-fake-app",
        signing_secret: str = "fake-signing-secret",
        team: str = "T0FAKE",
        bot_user: str = "UQWENBOT",
        bot_id: str = "BQWENBOT",
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.signing_secret = signing_secret
        self.team = team
        self.bot_user = bot_user
        self.bot_id = bot_id
        self.users: dict[str, dict[str, Any]] = {
            bot_user: {
                "id": bot_user,
                "name": "qwen",
                "is_bot": True,
                "profile": {"display_name": "Qwen", "real_name": "Qwen"},
            },
        }
        self.channels: dict[str, dict[str, Any]] = {}
        self.members: dict[str, list[str]] = {}  # channel -> members; unset: everyone, the bot too
        self.channel_messages: dict[str, list[dict[str, Any]]] = {}  # channel -> messages, oldest first
        self.history_cap: int | None = None  # Slack's 15 for commercially distributed non-Marketplace apps
        self.agent_view = True  # the manifest's agent_view: prompts with a thread_ts silently fail
        self.suggested_prompts: list[dict[str, Any]] = []  # the calls that took effect
        self.messages: dict[str, FakeMessage] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.ephemerals: list[dict[str, Any]] = []
        self.statuses: list[dict[str, Any]] = []
        self.history: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.files: dict[str, bytes] = {}
        self.file_requests: list[str] = []
        self.stream_error: str | None = None  # chat.startStream answers this error
        self.stream_expires_after: int | None = None  # appends before message_not_in_streaming_state
        self.status_error: str | None = None
        self.forced_429: dict[str, int] = {}  # method -> how many calls to refuse with 429
        self.rate_limited: list[str] = []  # methods answered with 429
        self.gone_channels: set[str] = set()  # chat.* calls there answer channel_not_found
        self.retry_after = 1  # the Retry-After of every 429
        self.update_error: str | None = None  # chat.update answers this error
        self.redirects: dict[str, str] = {}  # file id -> Location the download redirects to
        self.responses: dict[str, list[dict[str, Any]]] = {}  # command id -> response_url posts
        self._held: dict[str, asyncio.Event] = {}
        self.bot_url = ""  # the bot's HTTP-mode base URL
        self.first_text_times: dict[str, float] = {}
        self._updates: dict[str, list[float]] = {}
        self._appends: dict[str, int] = {}
        self._ts = itertools.count(1)
        self._sockets: list[web.WebSocketResponse] = []
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port = 0
        self.socket_connected = asyncio.Event()

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    async def start(self) -> FakeSlack:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_get("/files/{file_id}", self._file)
        app.router.add_post("/response/{command_id}", self._response)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._session = aiohttp.ClientSession()
        return self

    async def stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def drop_sockets(self) -> None:
        """Close every Socket Mode connection, as Slack does now and then."""
        for ws in list(self._sockets):
            await ws.close()
        self.socket_connected.clear()

    # -- workspace setup --------------------------------------------------------------------

    def add_user(self, user_id: str, name: str, *, admin: bool = False, bot: bool = False) -> None:
        self.users[user_id] = {
            "id": user_id,
            "name": name.lower(),
            "real_name": name,
            "is_admin": admin,
            "is_bot": bot,
            "profile": {"display_name": name, "real_name": name},
        }

    def add_channel(self, channel_id: str, creator: str, *, members: list[str] | None = None,
                    private: bool = False, kind: str = "channel") -> None:
        """A channel; `members` (the bot's user id among them for it to be in) defaults to everyone.
        `kind` "im" or "mpim" makes it a DM or group DM."""
        self.channels[channel_id] = {"id": channel_id, "creator": creator, "name": channel_id.lower(),
                                     "is_private": private or kind != "channel",
                                     "is_im": kind == "im", "is_mpim": kind == "mpim"}
        if members is not None:
            self.members[channel_id] = list(members)

    def said(self, channel: str, user: str, text: str, **fields: Any) -> dict[str, Any]:
        """A message in a channel's history (not delivered as an event)."""
        message = {"type": "message", "user": user, "text": text, "ts": self.next_ts(), **fields}
        self.channel_messages.setdefault(channel, []).append(message)
        return message

    def _member(self, channel: str, user: str) -> bool:
        return channel not in self.members or user in self.members[channel]

    def add_file(self, file_id: str, name: str, mime: str, data: bytes) -> dict[str, Any]:
        self.files[file_id] = data
        url = f"http://127.0.0.1:{self.port}/files/{file_id}"
        return {
            "id": file_id,
            "name": name,
            "title": name,
            "mimetype": mime,
            "size": len(data),
            "url_private": url,
            "url_private_download": url,
        }

    def hold(self, name: str) -> asyncio.Event:
        """Keep every answer to the Web API method `name` (or "files" for downloads) waiting until
        the returned event is set."""
        self._held[name] = asyncio.Event()
        return self._held[name]

    async def _wait_if_held(self, name: str) -> None:
        held = self._held.get(name)
        if held is not None:
            await held.wait()

    def next_ts(self) -> str:
        return f"1700000000.{next(self._ts):06d}"

    # -- what the bot wrote -----------------------------------------------------------------

    def bot_messages(
        self, channel: str | None = None, thread_ts: str | bool | None = False
    ) -> list[FakeMessage]:
        """Messages the bot wrote, oldest first; `thread_ts=None` means top level only."""
        found = [m for m in self.messages.values() if m.user == self.bot_user]
        if channel is not None:
            found = [m for m in found if m.channel == channel]
        if thread_ts is not False:
            found = [m for m in found if m.thread_ts == thread_ts]
        return sorted(found, key=lambda m: m.ts)

    def texts(self, channel: str | None = None, thread_ts: str | bool | None = False) -> list[str]:
        return [m.visible for m in self.bot_messages(channel, thread_ts)]

    def count(self, method: str) -> int:
        return sum(1 for name, _ in self.calls if name == method)

    def params(self, method: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == method]

    # -- events -----------------------------------------------------------------------------

    def message(
        self,
        text: str,
        *,
        channel: str = "C0GENERAL",
        user: str = "U0ALICE",
        thread_ts: str | None = None,
        channel_type: str | None = None,
        subtype: str | None = None,
        files: list[dict[str, Any]] | None = None,
        bot_id: str | None = None,
        ts: str | None = None,
        kind: str = "message",
    ) -> dict[str, Any]:
        """A `message` (or `app_mention`) event as Slack sends it."""
        event: dict[str, Any] = {
            "type": kind,
            "user": user,
            "text": text,
            "ts": ts or self.next_ts(),
            "channel": channel,
            "team": self.team,
            "event_ts": "",
        }
        event["event_ts"] = event["ts"]
        if kind == "message":
            event["channel_type"] = channel_type or {"D": "im", "G": "group"}.get(channel[:1], "channel")
        if thread_ts:
            event["thread_ts"] = thread_ts
        if subtype:
            event["subtype"] = subtype
        if files:
            event["files"] = files
            event.setdefault("subtype", "file_share")
        if bot_id:
            event["bot_id"] = bot_id
        return event

    def mention(self, text: str, **options: Any) -> list[dict[str, Any]]:
        """What Slack sends for a channel message that mentions the bot: app_mention and message."""
        message = self.message(f"<@{self.bot_user}> {text}", **options)
        mention = {k: v for k, v in message.items() if k != "channel_type"}
        mention["type"] = "app_mention"
        return [mention, message]

    def home_opened(self, user: str, channel: str, tab: str = "messages",
                    viewing: str | None = None) -> dict[str, Any]:
        """`app_home_opened`; with `viewing`, the `context` some payloads carry."""
        event: dict[str, Any] = {"type": "app_home_opened", "user": user, "channel": channel, "tab": tab,
                                 "event_ts": self.next_ts()}
        if viewing is not None:
            event["context"] = self._context(viewing)
        return event

    def context_changed(self, viewing: str | None, user: str | None = None) -> dict[str, Any]:
        """`app_context_changed`: `viewing` None is the empty context `{}`. Without `user`, the
        event is as Slack's own example shows it (deliver it with `authorizations` naming the user)."""
        event: dict[str, Any] = {"type": "app_context_changed", "context": self._context(viewing),
                                 "event_ts": self.next_ts()}
        if user is not None:
            event["user"] = user
        return event

    def _context(self, channel: str | None) -> dict[str, Any]:
        if channel is None:
            return {}
        return {"entities": [{"type": "slack#/types/channel_id", "value": channel, "team_id": self.team}]}

    def assistant_thread(self, kind: str, user: str, dm: str, thread_ts: str,
                         viewing: str | None = None) -> dict[str, Any]:
        """`assistant_thread_started` or `..._context_changed` (kind "started" or "context_changed")."""
        context = {"channel_id": viewing, "team_id": self.team, "enterprise_id": None} if viewing else {}
        return {"type": f"assistant_thread_{kind}", "event_ts": self.next_ts(),
                "assistant_thread": {"user_id": user, "context": context, "channel_id": dm,
                                     "thread_ts": thread_ts}}

    def envelope(self, event: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
        return {
            "token": "legacy-verification-token",
            "team_id": self.team,
            "api_app_id": "A0QWEN",
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{uuid.uuid4().hex[:10]}",
            "event_time": int(time.time()),
            "is_ext_shared_channel": False,
            "authorizations": [{"team_id": self.team, "user_id": self.bot_user, "is_bot": True}],
        }

    async def deliver(
        self,
        event: dict[str, Any],
        *,
        via: str = "http",
        event_id: str | None = None,
        retry_num: int | None = None,
        timestamp: int | None = None,
        secret: str | None = None,
        signature: str | None = None,
        to: str | None = None,
        authorizations: list[dict[str, Any]] | None = None,
    ) -> Delivery:
        """Send one event; over HTTP to `bot_url`, or to `to` (another replica's base URL)."""
        body = self.envelope(event, event_id)
        if authorizations is not None:
            body["authorizations"] = authorizations
        if via == "socket":
            return await self._over_socket("events_api", body, retry_num or 0)
        headers = {"Content-Type": "application/json"}
        if retry_num:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        return await self._over_http(json.dumps(body), headers, timestamp, secret, signature, to)

    async def post_signed(self, body: dict[str, Any]) -> Delivery:
        """Any JSON body (e.g. a url_verification challenge), signed like Slack signs it."""
        return await self._over_http(json.dumps(body), {"Content-Type": "application/json"}, None, None, None)

    async def deliver_all(self, events: list[dict[str, Any]], **options: Any) -> list[Delivery]:
        return [await self.deliver(event, **options) for event in events]

    async def command(
        self,
        text: str,
        *,
        channel: str = "C0GENERAL",
        user: str = "U0ALICE",
        via: str = "http",
        command: str = "/qwen",
    ) -> Delivery:
        """A slash command; the delivery's body is what the bot acknowledged with."""
        command_id = uuid.uuid4().hex
        payload = {
            "token": "legacy-verification-token",
            "team_id": self.team,
            "team_domain": "fake",
            "channel_id": channel,
            "channel_name": channel.lower(),
            "user_id": user,
            "user_name": self.users.get(user, {}).get("name", user),
            "command": command,
            "text": text,
            "api_app_id": "A0QWEN",
            "response_url": f"http://127.0.0.1:{self.port}/response/{command_id}",
            "trigger_id": uuid.uuid4().hex,
        }
        if via == "socket":
            delivery = await self._over_socket("slash_commands", payload, 0)
        else:
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            delivery = await self._over_http(urlencode(payload), headers, None, None, None)
        delivery.command_id = command_id
        return delivery

    async def click(
        self, message: FakeMessage, action_id: str, *, user: str = "U0ALICE", positive: bool = True,
        via: str = "http",
    ) -> Delivery:
        """`user` clicks the button `action_id` on a bot message (for feedback buttons, 👍 or 👎)."""
        element = next(e for e in message.buttons() if e.get("action_id") == action_id)
        action: dict[str, Any] = {"action_id": action_id, "block_id": "b1", "type": element["type"],
                                  "action_ts": str(time.time())}
        if element["type"] == "feedback_buttons":
            action["value"] = element["positive_button" if positive else "negative_button"]["value"]
        else:
            action.update(value=element.get("value"), text=element.get("text"))
        payload = {
            "type": "block_actions", "api_app_id": "A0QWEN", "token": "legacy-verification-token",
            "team": {"id": self.team, "domain": "fake"},
            "user": {"id": user, "name": self.users.get(user, {}).get("name", user), "team_id": self.team},
            "container": {"type": "message", "message_ts": message.ts, "channel_id": message.channel,
                          "is_ephemeral": False, "thread_ts": message.thread_ts},
            "channel": {"id": message.channel, "name": message.channel.lower()},
            "message": {"type": "message", "ts": message.ts, "text": message.visible, "user": self.bot_user,
                        "thread_ts": message.thread_ts, "blocks": message.blocks},
            "trigger_id": uuid.uuid4().hex,
            "response_url": f"http://127.0.0.1:{self.port}/response/{uuid.uuid4().hex}",
            "actions": [action],
        }
        if via == "socket":
            return await self._over_socket("interactive", payload, 0)
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        return await self._over_http(urlencode({"payload": json.dumps(payload)}), headers, None, None, None)

    async def response(self, delivery: Delivery, within: float = 10.0) -> dict[str, Any]:
        """The first message the bot sent to a command's `response_url` (waiting for it)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not self.responses.get(delivery.command_id):
            if loop.time() > deadline:
                raise AssertionError(f"no response_url message within {within}s")
            await asyncio.sleep(0.01)
        return self.responses[delivery.command_id][0]

    async def command_answer(self, text: str, **options: Any) -> dict[str, Any]:
        """A slash command's answer, whether it came in the ack or later through `response_url`."""
        delivery = await self.command(text, **options)
        if isinstance(delivery.body, dict) and delivery.body.get("text"):
            return delivery.body
        return await self.response(delivery)

    async def _over_http(
        self,
        raw: str,
        headers: dict[str, str],
        timestamp: int | None,
        secret: str | None,
        signature: str | None,
        to: str | None = None,
    ) -> Delivery:
        url = to or self.bot_url
        assert self._session is not None and url, "set fake.bot_url to the bot's HTTP address"
        stamp = str(timestamp if timestamp is not None else int(time.time()))
        verifier = SignatureVerifier(secret or self.signing_secret)
        headers = {
            **headers,
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature or verifier.generate_signature(timestamp=stamp, body=raw),
        }
        started = time.perf_counter()
        async with self._session.post(url + "/slack/events", data=raw.encode(), headers=headers) as resp:
            text = await resp.text()
            seconds = time.perf_counter() - started
            try:
                body: Any = json.loads(text) if text else None
            except ValueError:
                body = text
            return Delivery(resp.status, body, seconds)

    async def _over_socket(self, kind: str, payload: dict[str, Any], retry: int) -> Delivery:
        await asyncio.wait_for(self.socket_connected.wait(), 10)
        envelope_id = uuid.uuid4().hex
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[envelope_id] = future
        message = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": retry,
            "retry_reason": "timeout" if retry else "",
        }
        started = time.perf_counter()
        await self._sockets[-1].send_str(json.dumps(message))
        ack = await asyncio.wait_for(future, 10)
        return Delivery(200, ack.get("payload"), time.perf_counter() - started)

    # -- HTTP handlers ----------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(
            json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0QWEN"}})
        )
        self.socket_connected.set()
        try:
            async for frame in ws:
                if frame.type != aiohttp.WSMsgType.TEXT:
                    continue
                data = json.loads(frame.data)
                future = self._acks.pop(data.get("envelope_id", ""), None)
                if future is not None and not future.done():
                    future.set_result(data)
        finally:
            self._sockets.remove(ws)
            if not self._sockets:
                self.socket_connected.clear()
        return ws

    async def _response(self, request: web.Request) -> web.Response:
        self.responses.setdefault(request.match_info["command_id"], []).append(await request.json())
        return web.Response(text="ok")

    async def _file(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        self.file_requests.append(file_id)
        await self._wait_if_held("files")
        if file_id in self.redirects:
            return web.Response(status=302, headers={"Location": self.redirects[file_id]})
        if request.headers.get("Authorization") != f"Bearer {self.bot_token}":
            return web.Response(status=302, headers={"Location": "/login"})
        if file_id not in self.files:
            return web.Response(status=404)
        return web.Response(body=self.files[file_id], content_type="application/octet-stream")

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            params.update(await request.json())
        elif request.can_read_body:
            params.update(dict(await request.post()))
        self.calls.append((method, params))
        token = request.headers.get("Authorization", "").removeprefix("Bearer ") or params.get("token", "")
        expected = self.app_token if method == "apps.connections.open" else self.bot_token
        if token != expected:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        await self._wait_if_held(method)
        if self.forced_429.get(method):
            self.forced_429[method] -= 1
            return self._ratelimited(method)
        if method.startswith("chat.") and params.get("channel") in self.gone_channels:
            return web.json_response({"ok": False, "error": "channel_not_found"})
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        result = handler(params)
        if isinstance(result, web.Response):
            return result
        if "error" in result:
            return web.json_response({"ok": False, **result})
        return web.json_response({"ok": True, **result})

    def _ratelimited(self, method: str) -> web.Response:
        self.rate_limited.append(method)
        return web.json_response(
            {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": str(self.retry_after)}
        )

    # -- Web API methods --------------------------------------------------------------------

    def _m_auth_test(self, p: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": "https://fake.slack.test/",
            "team": "Fake",
            "user": "qwen",
            "team_id": self.team,
            "user_id": self.bot_user,
            "bot_id": self.bot_id,
        }

    def _m_apps_connections_open(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"url": f"ws://127.0.0.1:{self.port}/socket"}

    def _m_users_info(self, p: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(p.get("user")))
        return {"user": user} if user else {"error": "user_not_found"}

    def _m_conversations_info(self, p: dict[str, Any]) -> dict[str, Any]:
        channel = self.channels.get(str(p.get("channel")))
        if not channel:
            return {"error": "channel_not_found"}
        return {"channel": {**channel, "is_member": self._member(channel["id"], self.bot_user)}}

    def _m_conversations_history(self, p: dict[str, Any]) -> dict[str, Any]:
        channel = str(p.get("channel"))
        if channel not in self.channels:
            return {"error": "channel_not_found"}
        if not self._member(channel, self.bot_user):
            return {"error": "not_in_channel"}
        limit = min(int(p.get("limit") or 100), self.history_cap or 1000)
        newest_first = list(reversed(self.channel_messages.get(channel, [])))
        return {"messages": newest_first[:limit], "has_more": len(newest_first) > limit}

    def _m_conversations_members(self, p: dict[str, Any]) -> dict[str, Any]:
        channel = str(p.get("channel"))
        if channel not in self.channels:
            return {"error": "channel_not_found"}
        members = self.members.get(channel, list(self.users))
        start, limit = int(p.get("cursor") or 0), int(p.get("limit") or 100)
        page = members[start:start + limit]
        following = str(start + limit) if start + limit < len(members) else ""
        return {"members": page, "response_metadata": {"next_cursor": following}}

    def _m_conversations_replies(self, p: dict[str, Any]) -> dict[str, Any]:
        return {
            "messages": self.history.get((str(p.get("channel")), str(p.get("ts"))), []),
            "has_more": False,
        }

    def _new(
        self, p: dict[str, Any], *, text: str = "", markdown: str = "", streaming: bool = False
    ) -> FakeMessage:
        ts = self.next_ts()
        message = FakeMessage(
            str(p["channel"]),
            ts,
            p.get("thread_ts") or None,
            self.bot_user,
            text,
            markdown,
            streaming,
            [text or markdown],
            time.perf_counter(),
        )
        self.messages[ts] = message
        if (text or markdown).strip():
            self.first_text_times.setdefault(ts, message.created)
        return message

    @staticmethod
    def _blocks(p: dict[str, Any]) -> list[dict[str, Any]] | None:
        """The call's blocks if valid as Slack checks them (at most 50; `markdown` blocks' text at
        most 12,000 characters in all), else None."""
        blocks = p.get("blocks") or []
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
            return None
        markdown = [b.get("text") for b in blocks if isinstance(b, dict) and b.get("type") == "markdown"]
        if not all(isinstance(t, str) and t for t in markdown) or sum(map(len, markdown)) > MARKDOWN_LIMIT:
            return None
        return blocks

    def _m_chat_postMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        text = str(p.get("text") or p.get("markdown_text") or "")
        if len(text) > TEXT_LIMIT:
            return {"error": "msg_too_long"}
        blocks = self._blocks(p)
        if blocks is None:
            return {"error": "invalid_blocks"}
        message = self._new(p, text=text)
        message.blocks = blocks
        message.versions[-1] = message.visible
        return {"channel": message.channel, "ts": message.ts, "message": {"text": text, "ts": message.ts}}

    def _m_chat_delete(self, p: dict[str, Any]) -> dict[str, Any]:
        message = self.messages.pop(str(p.get("ts")), None)
        return {"channel": p.get("channel"), "ts": p.get("ts")} if message else {"error": "message_not_found"}

    def _m_chat_postEphemeral(self, p: dict[str, Any]) -> dict[str, Any]:
        self.ephemerals.append(p)
        return {"message_ts": self.next_ts()}

    def _m_chat_update(self, p: dict[str, Any]) -> dict[str, Any] | web.Response:
        message = self.messages.get(str(p.get("ts")))
        if message is None:
            return {"error": "message_not_found"}
        now = time.monotonic()
        recent = [t for t in self._updates.get(message.ts, []) if t > now - UPDATE_WINDOW]
        if len(recent) >= UPDATE_BURST:
            return self._ratelimited("chat.update")
        if self.update_error:
            return {"error": self.update_error}
        text = str(p.get("text") or p.get("markdown_text") or "")
        if len(text) > TEXT_LIMIT:
            return {"error": "msg_too_long"}
        blocks = self._blocks(p)
        if blocks is None:
            return {"error": "invalid_blocks"}
        self._updates[message.ts] = [*recent, now]
        message.text, message.markdown, message.streaming = text, "", False
        if "blocks" in p:  # like Slack: an update without blocks keeps the message's old ones
            message.blocks = blocks
        message.versions.append(message.visible)
        if text.strip():
            self.first_text_times.setdefault(message.ts, time.perf_counter())
        return {"channel": message.channel, "ts": message.ts, "text": text}

    def _m_chat_startStream(self, p: dict[str, Any]) -> dict[str, Any]:
        if self.stream_error:
            return {"error": self.stream_error}
        if not str(p["channel"]).startswith("D"):
            if not p.get("recipient_user_id"):
                return {"error": "missing_recipient_user_id"}
            if not p.get("recipient_team_id"):
                return {"error": "missing_recipient_team_id"}
        markdown = str(p.get("markdown_text") or "")
        if len(markdown) > MARKDOWN_LIMIT:
            return {"error": "msg_too_long"}
        message = self._new(p, markdown=markdown, streaming=True)
        return {"channel": message.channel, "ts": message.ts}

    def _m_chat_appendStream(self, p: dict[str, Any]) -> dict[str, Any]:
        message = self.messages.get(str(p.get("ts")))
        if message is None:
            return {"error": "message_not_found"}
        count = self._appends[message.ts] = self._appends.get(message.ts, 0) + 1
        if self.stream_expires_after is not None and count > self.stream_expires_after:
            message.streaming = False
        if not message.streaming:
            return {"error": "message_not_in_streaming_state"}
        markdown = str(p.get("markdown_text") or "")
        if len(message.markdown) + len(markdown) > MARKDOWN_LIMIT:
            return {"error": "msg_too_long"}
        message.markdown += markdown
        message.versions.append(message.markdown)
        if message.markdown.strip():
            self.first_text_times.setdefault(message.ts, time.perf_counter())
        return {"channel": message.channel, "ts": message.ts}

    def _m_chat_stopStream(self, p: dict[str, Any]) -> dict[str, Any]:
        message = self.messages.get(str(p.get("ts")))
        if message is None:
            return {"error": "message_not_found"}
        if not message.streaming:
            return {"error": "message_not_in_streaming_state"}
        if len(message.markdown) + len(str(p.get("markdown_text") or "")) > MARKDOWN_LIMIT:
            return {"error": "msg_too_long"}
        message.markdown += str(p.get("markdown_text") or "")
        message.streaming = False
        message.blocks = _blocks(p) or []
        return {"channel": message.channel, "ts": message.ts, "message": {"ts": message.ts}}

    def _m_assistant_threads_setStatus(self, p: dict[str, Any]) -> dict[str, Any]:
        if self.status_error:
            return {"error": self.status_error}
        self.statuses.append(p)
        return {}

    def _m_assistant_threads_setTitle(self, p: dict[str, Any]) -> dict[str, Any]:
        return {}

    def _m_assistant_threads_setSuggestedPrompts(self, p: dict[str, Any]) -> dict[str, Any]:
        if not p.get("channel_id") or not isinstance(p.get("prompts"), list):
            return {"error": "invalid_arguments"}
        if not (self.agent_view and p.get("thread_ts")):  # an agent app's call with thread_ts does nothing
            self.suggested_prompts.append(p)
        return {}


def _blocks(p: dict[str, Any]) -> list[dict[str, Any]] | None:
    """A call's `blocks` (JSON or, form-encoded, a JSON string); None when it has none."""
    blocks = p.get("blocks")
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    return blocks if isinstance(blocks, list) else None
