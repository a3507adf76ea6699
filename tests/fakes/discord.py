"""A fake Discord on 127.0.0.1: the REST API and a gateway WebSocket, enough for the real discord.py.

The gateway speaks plain JSON text frames: HELLO, IDENTIFY -> READY (with a loopback
`resume_gateway_url`) and GUILD_CREATE, heartbeats, RESUME, and whatever dispatches the test sends
(MESSAGE_CREATE, INTERACTION_CREATE, THREAD_CREATE, THREAD_UPDATE). The REST side keeps every
message the bot posts, with its edit history and its components (buttons), opens threads from
messages (THREAD_CREATE follows),
and behaves like Discord where it matters to a bot: content over 2,000 characters is refused with
Discord's 400 error, and more than `edit_limit` edits within `edit_window` seconds in one channel
are answered with 429.
It also works out who a message would have pinged under Discord's allowed-mentions rules.
Tests can make it misbehave: answer a call with an error (`fail_next`), drop the connection
instead of answering (`drop_next`), hold a file download (`host_file(hold=...)`) or close the
gateway with a fatal code at IDENTIFY (`close_identify_with`). A user can click a button
(`click`: INTERACTION_CREATE of type 3 with its custom_id); the interaction callback endpoint takes
messages (4, 5), deferred updates (6) and message updates (7).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

DISCORD_EPOCH_MS = 1420070400000
MAX_CONTENT = 2000
MANAGE_CHANNELS = 1 << 4
MANAGE_MESSAGES = 1 << 13
ALL_PERMISSIONS = (1 << 41) - 1
EPHEMERAL = 1 << 6


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # discord.py parses a body as JSON only when Content-Type is exactly application/json.
    return web.Response(body=json.dumps(data).encode(), status=status,
                        headers={**(headers or {}), "Content-Type": "application/json"})


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class Edit:
    channel_id: int
    message_id: int
    content: str
    at: float


@dataclass
class Failure:
    method: str
    pattern: re.Pattern[str]
    status: int
    body: dict[str, Any]
    times: int = 1
    drop: bool = False


@dataclass
class Connection:
    ws: web.WebSocketResponse
    shard: tuple[int, int] = (0, 1)
    sequence: int = 0
    session_id: str = ""
    identified: asyncio.Event = field(default_factory=asyncio.Event)


class FakeDiscord:
    def __init__(
        self, token: str = "fake-bot-token", *, edit_limit: int = 5, edit_window: float = 5.0
    ) -> None:
        self.token = token
        self.edit_limit = edit_limit
        self.edit_window = edit_window
        self._next_id = 0
        self.app_id = self.snowflake()
        self.bot_user = self.make_user("Qwen", bot=True, user_id=self.app_id)
        self.guilds: dict[int, dict[str, Any]] = {}
        self.channel_guild: dict[int, int] = {}
        self.users: dict[int, dict[str, Any]] = {}
        self.dm_channels: dict[int, int] = {}  # user id -> DM channel id
        self.messages: dict[int, dict[str, Any]] = {}
        self.channel_log: dict[int, list[int]] = defaultdict(list)
        self.deleted: set[int] = set()
        self.created_at: dict[int, float] = {}  # perf_counter when each message was posted
        self.edits: list[Edit] = []
        self.requests: list[tuple[str, str, Any]] = []
        self.rejections: list[
            tuple[int, str, dict[str, Any]]
        ] = []  # (status, path, body) answered with an error
        self.typing: list[int] = []
        self.pings: list[tuple[int, str]] = []  # (message id, "user:ID"/"role:ID"/"everyone") that would ping
        self.command_syncs: list[tuple[str, list[dict[str, Any]]]] = []
        self.callbacks: dict[int, list[dict[str, Any]]] = defaultdict(list)
        self.interaction_messages: dict[str, list[int]] = defaultdict(list)  # token -> message ids
        self.interaction_channel: dict[int, int] = {}
        self.clicked: dict[int, int] = {}  # interaction id -> the message whose button was clicked
        self.files: dict[str, tuple[bytes, str]] = {}
        self.failures: list[Failure] = []
        self.connections: list[Connection] = []
        self.identifies: list[dict[str, Any]] = []
        #: A gateway close code sent instead of READY, e.g. 4011 (sharding required).
        self.close_identify_with: int | None = None
        self.held_files: dict[str, asyncio.Event] = {}
        self.dropped: list[tuple[str, str]] = []  # (method, path) answered by closing the connection
        self._edit_times: dict[int, deque[float]] = defaultdict(deque)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- ids and payload builders -----------------------------------------------------------

    def snowflake(self) -> int:
        self._next_id += 1
        return ((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) + self._next_id

    def make_user(
        self, name: str, *, bot: bool = False, user_id: int | None = None, global_name: str | None = None
    ) -> dict[str, Any]:
        user = {
            "id": str(user_id or self.snowflake()),
            "username": name.lower(),
            "discriminator": "0",
            "global_name": global_name or name,
            "avatar": None,
            "bot": bot,
        }
        if user_id is None:
            self.users[int(user["id"])] = user
        return user

    def add_guild(self, name: str = "Test Server") -> int:
        guild_id = self.snowflake()
        everyone = {
            "id": str(guild_id),
            "name": "@everyone",
            "permissions": str(ALL_PERMISSIONS & ~MANAGE_CHANNELS),
            "position": 0,
            "color": 0,
            "hoist": False,
            "managed": False,
            "mentionable": False,
        }
        self.guilds[guild_id] = {
            "id": str(guild_id),
            "name": name,
            "owner_id": str(self.snowflake()),
            "icon": None,
            "roles": [everyone],
            "channels": [],
            "threads": [],
            "members": [],
            "member_count": 1,
            "large": False,
            "unavailable": False,
            "features": [],
            "emojis": [],
            "stickers": [],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "joined_at": _now_iso(),
            "premium_tier": 0,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "system_channel_flags": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
        }
        bot_role = self.add_role(guild_id, "Qwen", bot_id=self.app_id)
        self.guilds[guild_id]["members"].append(self._member(self.bot_user, [bot_role]))
        return guild_id

    def add_guild_on_shard(self, shard: int, count: int, name: str = "Test Server") -> int:
        """A new guild whose id Discord routes to `shard` of `count` shards."""
        while True:
            guild = self.add_guild(name)
            if self._shard_of(guild, count) == shard:
                return guild
            del self.guilds[guild]

    def add_role(self, guild_id: int, name: str, *, bot_id: int | None = None) -> int:
        role_id = self.snowflake()
        role: dict[str, Any] = {
            "id": str(role_id),
            "name": name,
            "permissions": "0",
            "position": 1,
            "color": 0,
            "hoist": False,
            "managed": bot_id is not None,
            "mentionable": True,
        }
        if bot_id is not None:
            role["tags"] = {"bot_id": str(bot_id)}
        self.guilds[guild_id]["roles"].append(role)
        return role_id

    def add_channel(self, guild_id: int, name: str) -> int:
        channel_id = self.snowflake()
        self.guilds[guild_id]["channels"].append(
            {
                "id": str(channel_id),
                "type": 0,
                "name": name,
                "position": len(self.guilds[guild_id]["channels"]),
                "permission_overwrites": [],
                "guild_id": str(guild_id),
                "nsfw": False,
                "topic": None,
                "last_message_id": None,
                "rate_limit_per_user": 0,
            }
        )
        self.channel_guild[channel_id] = guild_id
        return channel_id

    def thread_payload(
        self, guild_id: int, parent_id: int, owner_id: int, name: str, *, thread_id: int | None = None
    ) -> dict[str, Any]:
        thread_id = thread_id or self.snowflake()
        self.channel_guild[thread_id] = guild_id
        return {
            "id": str(thread_id),
            "guild_id": str(guild_id),
            "parent_id": str(parent_id),
            "owner_id": str(owner_id),
            "name": name,
            "type": 11,
            "message_count": 0,
            "member_count": 1,
            "rate_limit_per_user": 0,
            "flags": 0,
            "last_message_id": None,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": _now_iso(),
                "locked": False,
            },
        }

    async def add_thread(self, guild_id: int, parent_id: int, owner_id: int, name: str = "a thread") -> int:
        """A thread that exists now; dispatched to connected bots as THREAD_CREATE."""
        thread = self.thread_payload(guild_id, parent_id, owner_id, name)
        self.guilds[guild_id]["threads"].append(thread)
        await self.dispatch("THREAD_CREATE", {**thread, "newly_created": True}, guild_id=guild_id)
        return int(thread["id"])

    async def archive_thread(self, thread_id: int) -> None:
        """The thread is archived: left out of the next GUILD_CREATE, and connected bots told with
        THREAD_UPDATE. (Unlike Discord, a message in it does not unarchive it: the bot sees that
        message as one in a channel its cache does not know.)"""
        guild_id = self.channel_guild[thread_id]
        active = self.guilds[guild_id]["threads"]
        thread = next(t for t in active if int(t["id"]) == thread_id)
        active.remove(thread)
        thread["thread_metadata"]["archived"] = True
        await self.dispatch("THREAD_UPDATE", thread, guild_id=guild_id)

    def _member(self, user: dict[str, Any], roles: list[int], nick: str | None = None) -> dict[str, Any]:
        return {
            "user": user,
            "roles": [str(r) for r in roles],
            "nick": nick,
            "joined_at": _now_iso(),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "avatar": None,
        }

    def add_member(
        self,
        guild_id: int,
        name: str,
        *,
        roles: tuple[int, ...] = (),
        nick: str | None = None,
        bot: bool = False,
    ) -> dict[str, Any]:
        user = self.make_user(name, bot=bot)
        member = self._member(user, list(roles), nick)
        self.guilds[guild_id]["members"].append(member)
        return {"user": user, "member": member, "guild_id": guild_id}

    def dm_user(self, name: str) -> dict[str, Any]:
        user = self.make_user(name)
        self.dm_channels[int(user["id"])] = self.snowflake()
        return {"user": user, "member": None, "guild_id": None}

    def host_file(
        self,
        name: str,
        data: bytes,
        content_type: str,
        *,
        size: int | None = None,
        hold: asyncio.Event | None = None,
    ) -> dict[str, Any]:
        """An attachment served by this fake's CDN; `size` may differ from the bytes to test size checks.

        With `hold`, downloads of the file wait until the event is set.
        """
        file_id = self.snowflake()
        path = f"/attachments/{file_id}/{name}"
        self.files[path] = (data, content_type)
        if hold is not None:
            self.held_files[path] = hold
        url = f"http://127.0.0.1:{self.port}{path}"
        return {
            "id": str(file_id),
            "filename": name,
            "size": len(data) if size is None else size,
            "url": url,
            "proxy_url": url,
            "content_type": content_type,
        }

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    async def start(self) -> FakeDiscord:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/", self._gateway)
        app.router.add_get("/attachments/{id}/{name}", self._cdn)
        app.router.add_route("*", "/api/v10/{path:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        for conn in list(self.connections):
            await conn.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[], Any], within: float = 10.0) -> Any:
        """Wait until `predicate()` is truthy (re-checked on every change seen by the fake)."""

        async def loop() -> Any:
            async with self._changed:
                while not (result := predicate()):
                    try:
                        await asyncio.wait_for(self._changed.wait(), 0.05)
                    except TimeoutError:
                        pass
                return result

        return await asyncio.wait_for(loop(), within)

    # -- gateway ------------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        conn = Connection(ws)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None}))
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            op = data.get("op")
            if op == 1:
                await ws.send_str(json.dumps({"op": 11, "d": None, "s": None, "t": None}))
            elif op == 2:
                await self._identify(conn, data["d"])
            elif op == 6:
                conn.session_id = data["d"]["session_id"]
                self.connections.append(conn)
                conn.identified.set()
                await self._send(conn, "RESUMED", {})
        if conn in self.connections:
            self.connections.remove(conn)
        return ws

    async def _identify(self, conn: Connection, data: dict[str, Any]) -> None:
        self.identifies.append(data)
        if data.get("token") != self.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        if self.close_identify_with is not None:
            await conn.ws.close(code=self.close_identify_with, message=b"Closed by the test.")
            return
        shard = data.get("shard") or [0, 1]
        conn.shard = (int(shard[0]), int(shard[1]))
        conn.session_id = f"session-{self.snowflake()}"
        guilds = [
            g for g in self.guilds.values() if self._shard_of(int(g["id"]), conn.shard[1]) == conn.shard[0]
        ]
        await self._send(
            conn,
            "READY",
            {
                "v": 10,
                "user": self.bot_user,
                "session_id": conn.session_id,
                "session_type": "normal",
                "resume_gateway_url": self.gateway_url,
                "shard": list(conn.shard),
                "guilds": [{"id": g["id"], "unavailable": True} for g in guilds],
                "private_channels": [],
                "relationships": [],
                "application": {"id": str(self.app_id), "flags": 1 << 19},
            },
        )
        for guild in guilds:
            await self._send(conn, "GUILD_CREATE", guild)
        self.connections.append(conn)
        conn.identified.set()
        await self._notify()

    @staticmethod
    def _shard_of(guild_id: int, count: int) -> int:
        return (guild_id >> 22) % count

    async def _send(self, conn: Connection, event: str, data: dict[str, Any]) -> None:
        conn.sequence += 1
        await conn.ws.send_str(json.dumps({"op": 0, "t": event, "s": conn.sequence, "d": data}))

    async def dispatch(
        self, event: str, data: dict[str, Any], *, guild_id: int | None = None, only: Connection | None = None
    ) -> None:
        """Send to every session of the event's shard (or to `only`); direct messages go to shard 0."""
        for conn in list(self.connections):
            shard = 0 if guild_id is None else self._shard_of(guild_id, conn.shard[1])
            if shard == conn.shard[0] and not conn.ws.closed and only in (None, conn):
                await self._send(conn, event, data)

    # -- what users do ------------------------------------------------------------------------

    def message_payload(
        self,
        channel_id: int,
        author: dict[str, Any],
        content: str,
        *,
        member: dict[str, Any] | None = None,
        guild_id: int | None = None,
        reply_to: int | None = None,
        attachments: list[dict[str, Any]] | None = None,
        mentions: list[dict[str, Any]] | None = None,
        mention_roles: list[int] | None = None,
        message_type: int | None = None,
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": str(self.snowflake()),
            "channel_id": str(channel_id),
            "author": author,
            "content": content,
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": mentions or [],
            "mention_roles": [str(r) for r in (mention_roles or [])],
            "attachments": attachments or [],
            "embeds": [],
            "pinned": False,
            "flags": 0,
            "type": message_type if message_type is not None else (19 if reply_to else 0),
        }
        if guild_id is not None:
            payload["guild_id"] = str(guild_id)
            if member is not None:
                payload["member"] = {k: v for k, v in member.items() if k != "user"}
        if reply_to is not None:
            payload["message_reference"] = {
                "type": 0,
                "message_id": str(reply_to),
                "channel_id": str(channel_id),
                "guild_id": str(guild_id) if guild_id else None,
            }
            referenced = self.messages.get(reply_to)
            if referenced is not None:
                payload["referenced_message"] = referenced
        return payload

    def _mentions_in(self, guild_id: int | None, content: str) -> tuple[list[dict[str, Any]], list[int]]:
        users: list[dict[str, Any]] = []
        for user_id in dict.fromkeys(int(m) for m in re.findall(r"<@!?(\d+)>", content)):
            user = self.bot_user if user_id == self.app_id else self.users.get(user_id)
            if user is None:
                continue
            entry = dict(user)
            if guild_id is not None:
                for member in self.guilds[guild_id]["members"]:
                    if member["user"]["id"] == user["id"]:
                        entry["member"] = {k: v for k, v in member.items() if k != "user"}
            users.append(entry)
        roles = [int(r) for r in dict.fromkeys(re.findall(r"<@&(\d+)>", content))]
        return users, roles

    async def say(
        self,
        who: dict[str, Any],
        content: str,
        *,
        channel_id: int | None = None,
        reply_to: int | None = None,
        attachments: list[dict[str, Any]] | None = None,
        message_type: int | None = None,
        only: Connection | None = None,
    ) -> dict[str, Any]:
        """`who` (from add_member or dm_user) posts a message; mentions are parsed from `<@id>` text.

        With `only`, just that gateway session hears of it (of two sessions on one shard).
        """
        guild_id = who["guild_id"]
        if guild_id is None:
            channel_id = self.dm_channels[int(who["user"]["id"])]
        assert channel_id is not None
        mentions, roles = self._mentions_in(guild_id, content)
        if reply_to is not None and reply_to in self.messages:
            author = self.messages[reply_to]["author"]
            if all(m["id"] != author["id"] for m in mentions):
                mentions.append(author)  # Discord adds the replied-to author when the reply pings
        payload = self.message_payload(
            channel_id,
            who["user"],
            content,
            member=who["member"],
            guild_id=guild_id,
            reply_to=reply_to,
            attachments=attachments,
            mentions=mentions,
            mention_roles=roles,
            message_type=message_type,
        )
        self._store(payload)
        await self.dispatch("MESSAGE_CREATE", payload, guild_id=guild_id, only=only)
        return payload

    async def interact(
        self,
        who: dict[str, Any],
        command: str,
        options: dict[str, Any] | None = None,
        *,
        channel_id: int | None = None,
        permissions: int = 0,
        autocomplete: str | None = None,
    ) -> int:
        """`who` runs `/command` with `options`; `autocomplete` names the option being typed."""
        guild_id = who["guild_id"]
        interaction_id = self.snowflake()
        token = f"itoken-{interaction_id}"
        opts = []
        for name, value in (options or {}).items():
            option: dict[str, Any] = {"name": name, "type": 3, "value": value}
            if name == autocomplete:
                option["focused"] = True
            opts.append(option)
        data = self._interaction(interaction_id, 4 if autocomplete else 2, token,
                                 {"id": str(self.snowflake()), "name": command, "type": 1, "options": opts})
        if guild_id is None:
            channel_id = self.dm_channels[int(who["user"]["id"])]
            data["user"] = who["user"]
            data["context"] = 1
            data["channel"] = {"id": str(channel_id), "type": 1, "recipients": [who["user"]]}
        else:
            assert channel_id is not None
            data["guild_id"] = str(guild_id)
            data["context"] = 0
            data["member"] = {**who["member"], "permissions": str(permissions)}
            data["channel"] = {"id": str(channel_id), "type": 0, "guild_id": str(guild_id)}
            data["guild_locale"] = "en-US"
        data["channel_id"] = str(channel_id)
        self.interaction_channel[interaction_id] = channel_id
        await self.dispatch("INTERACTION_CREATE", data, guild_id=guild_id)
        return interaction_id

    async def click(
        self, who: dict[str, Any], message_id: int, custom_id: str, *, permissions: int = 0
    ) -> int:
        """`who` clicks the button `custom_id` on a bot message (an INTERACTION_CREATE of type 3)."""
        message = self.messages[message_id]
        channel_id = int(message["channel_id"])
        guild_id = who.get("guild_id")
        interaction_id = self.snowflake()
        data = self._interaction(interaction_id, 3, f"itoken-{interaction_id}",
                                 {"custom_id": custom_id, "component_type": 2})
        data.update(message=message, channel_id=str(channel_id))
        channel = self.channel_payload(channel_id)
        if guild_id is None:
            data.update(user=who["user"], context=1,
                        channel={"id": str(channel_id), "type": 1, "recipients": [who["user"]]})
        else:
            data.update(guild_id=str(guild_id), context=0, guild_locale="en-US", channel=channel,
                        member={**who["member"], "permissions": str(permissions)})
        self.interaction_channel[interaction_id] = channel_id
        self.clicked[interaction_id] = message_id
        await self.dispatch("INTERACTION_CREATE", data, guild_id=guild_id)
        return interaction_id

    def _interaction(
        self, interaction_id: int, kind: int, token: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """What every INTERACTION_CREATE carries: `kind` 2 a command, 3 a click, 4 autocomplete."""
        return {
            "id": str(interaction_id),
            "application_id": str(self.app_id),
            "type": kind,
            "token": token,
            "version": 1,
            "locale": "en-US",
            "attachment_size_limit": 10 * 1024 * 1024,
            "app_permissions": str(ALL_PERMISSIONS),
            "entitlements": [],
            "authorizing_integration_owners": {},
            "data": body,
        }

    def channel_payload(self, channel_id: int) -> dict[str, Any]:
        """A guild channel or thread as an interaction carries it."""
        guild = self.guilds.get(self.channel_guild.get(channel_id, 0), {})
        for channel in (*guild.get("channels", []), *guild.get("threads", [])):
            if channel["id"] == str(channel_id):
                return channel
        return {"id": str(channel_id), "type": 0}

    async def delete_message(self, message_id: int) -> None:
        self.deleted.add(message_id)
        message = self.messages[message_id]
        await self.dispatch(
            "MESSAGE_DELETE",
            {"id": str(message_id), "channel_id": message["channel_id"]},
            guild_id=self.channel_guild.get(int(message["channel_id"])),
        )

    def fail_next(
        self,
        method: str,
        path_pattern: str,
        status: int,
        *,
        code: int = 0,
        message: str = "error",
        times: int = 1,
    ) -> None:
        """Answer the next `times` matching REST calls with this error instead."""
        body = {"message": message, "code": code}
        self.failures.append(Failure(method.upper(), re.compile(path_pattern), status, body, times))

    def drop_next(self, method: str, path_pattern: str, *, times: int = 1) -> None:
        """Close the connection instead of answering the next `times` matching REST calls."""
        self.failures.append(Failure(method.upper(), re.compile(path_pattern), 0, {}, times, drop=True))

    # -- what tests read -----------------------------------------------------------------------

    def bot_messages(self, channel_id: int | None = None) -> list[dict[str, Any]]:
        """Messages the bot posted (live ones only), oldest first."""
        ids = self.channel_log[channel_id] if channel_id is not None else sorted(self.messages)
        return [
            self.messages[i]
            for i in ids
            if self.messages[i]["author"]["id"] == str(self.app_id) and i not in self.deleted
        ]

    def replies_to(self, message_id: int) -> list[dict[str, Any]]:
        """The bot's messages answering one user message: the reply and its continuations."""
        channel_id = int(self.messages[message_id]["channel_id"])
        ids = self.channel_log[channel_id]
        out: list[dict[str, Any]] = []
        for mid in ids[ids.index(message_id) + 1 :]:
            msg = self.messages[mid]
            if msg["author"]["id"] != str(self.app_id):
                if out:
                    break
                continue
            if mid in self.deleted:
                continue
            ref = (msg.get("message_reference") or {}).get("message_id")
            if not out and ref != str(message_id):
                continue
            if out and ref is not None and ref != str(message_id):
                break
            out.append(msg)
        return out

    def rate_limited(self) -> list[tuple[int, str, dict[str, Any]]]:
        return [r for r in self.rejections if r[0] == 429]

    def edits_of(self, message_id: int) -> list[Edit]:
        return [e for e in self.edits if e.message_id == message_id]

    # -- REST ---------------------------------------------------------------------------------

    async def _cdn(self, request: web.Request) -> web.Response:
        found = self.files.get(request.path)
        if found is None:
            return web.Response(status=404)
        hold = self.held_files.get(request.path)
        if hold is not None:
            await hold.wait()
        data, content_type = found
        return web.Response(body=data, content_type=content_type)

    def _error(
        self, status: int, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> web.Response:
        self.rejections.append((status, path, body))
        return _json(body, status=status, headers=headers)

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        method = request.method
        body: Any = None
        if request.content_type == "application/json":
            body = await request.json()
        elif request.content_type.startswith("multipart/"):
            form = await request.post()
            body = json.loads(str(form.get("payload_json", "{}")))
        self.requests.append((method, path, body))
        try:
            if request.headers.get("Authorization") != f"Bot {self.token}" and not path.startswith(
                ("/interactions/", "/webhooks/")
            ):
                return self._error(401, path, {"message": "401: Unauthorized", "code": 0})
            for failure in self.failures:
                if failure.method == method and failure.pattern.search(path) and failure.times > 0:
                    failure.times -= 1
                    if failure.drop:
                        self.dropped.append((method, path))
                        assert request.transport is not None
                        request.transport.close()
                        return web.Response(status=204)  # never reaches the client
                    return self._error(failure.status, path, failure.body)
            return await self._route(method, path, body or {}, request)
        finally:
            await self._notify()

    async def _route(
        self, method: str, path: str, body: dict[str, Any], request: web.Request
    ) -> web.Response:
        parts = path.strip("/").split("/")
        if path == "/users/@me":
            return _json(self.bot_user)
        if path == "/oauth2/applications/@me":
            return _json(
                {
                    "id": str(self.app_id),
                    "name": "Qwen",
                    "description": "",
                    "icon": None,
                    "bot_public": True,
                    "bot_require_code_grant": False,
                    "owner": self.make_user("owner", user_id=self.app_id + 1),
                    "verify_key": "0" * 64,
                    "flags": 1 << 19,
                    "summary": "",
                    "team": None,
                    "interactions_endpoint_url": None,
                }
            )
        if path == "/gateway/bot":
            return _json(
                {
                    "url": self.gateway_url,
                    "shards": 1,
                    "session_start_limit": {
                        "total": 1000,
                        "remaining": 1000,
                        "reset_after": 0,
                        "max_concurrency": 1,
                    },
                }
            )
        if path == "/gateway":
            return _json({"url": self.gateway_url})
        if parts[0] == "applications" and method == "PUT" and parts[-1] == "commands":
            scope = f"guild:{parts[3]}" if "guilds" in parts else "global"
            self.command_syncs.append((scope, body if isinstance(body, list) else []))
            out = [
                {
                    **c,
                    "id": str(self.snowflake()),
                    "application_id": str(self.app_id),
                    "version": "1",
                    "default_member_permissions": c.get("default_member_permissions"),
                }
                for c in body
            ]
            return _json(out)
        if parts[0] == "applications" and method == "GET":
            return _json([])
        if parts[0] == "channels":
            return await self._channels(method, parts, body, path)
        if parts[0] == "interactions" and parts[-1] == "callback":
            return self._callback(int(parts[1]), parts[2], body, path)
        if parts[0] == "webhooks":
            return self._webhook(method, parts, body, path)
        return self._error(404, path, {"message": "404: Not Found", "code": 0})

    def _too_long(self, path: str, body: dict[str, Any]) -> web.Response | None:
        content = body.get("content")
        if isinstance(content, str) and len(content) > MAX_CONTENT:
            return self._error(
                400,
                path,
                {
                    "message": "Invalid Form Body",
                    "code": 50035,
                    "errors": {
                        "content": {
                            "_errors": [
                                {
                                    "code": "BASE_TYPE_MAX_LENGTH",
                                    "message": "Must be 2000 or fewer in length.",
                                }
                            ]
                        }
                    },
                },
            )
        return None

    def _edit_limited(self, channel_id: int, path: str) -> web.Response | None:
        now = time.monotonic()
        window = self._edit_times[channel_id]
        while window and window[0] <= now - self.edit_window:
            window.popleft()
        if len(window) >= self.edit_limit:
            retry = round(window[0] + self.edit_window - now, 3)
            return self._error(
                429,
                path,
                {
                    "message": "You are being rate limited.",
                    "retry_after": retry,
                    "global": False,
                    "code": 20028,
                },
                headers={"Retry-After": str(retry), "X-RateLimit-Scope": "user"},
            )
        window.append(now)
        return None

    def _pings(
        self, message: dict[str, Any], allowed: dict[str, Any] | None, replied_author: str | None
    ) -> None:
        """Record who this bot message would notify under Discord's allowed-mentions rules."""
        content = message.get("content") or ""
        parse = {"users", "roles", "everyone"} if allowed is None else set(allowed.get("parse") or [])
        users = set((allowed or {}).get("users") or [])
        roles = set((allowed or {}).get("roles") or [])
        mid = int(message["id"])
        for uid in re.findall(r"<@!?(\d+)>", content):
            if "users" in parse or uid in users:
                self.pings.append((mid, f"user:{uid}"))
        for rid in re.findall(r"<@&(\d+)>", content):
            if "roles" in parse or rid in roles:
                self.pings.append((mid, f"role:{rid}"))
        if ("@everyone" in content or "@here" in content) and "everyone" in parse:
            self.pings.append((mid, "everyone"))
        replied = True if allowed is None else allowed.get("replied_user", False)
        if replied_author and replied:
            self.pings.append((mid, f"user:{replied_author}"))

    def _store(self, message: dict[str, Any]) -> None:
        mid = int(message["id"])
        self.messages[mid] = message
        self.created_at[mid] = time.perf_counter()
        self.channel_log[int(message["channel_id"])].append(mid)

    def _bot_message(self, channel_id: int, body: dict[str, Any], *, flags: int = 0) -> dict[str, Any]:
        guild_id = self.channel_guild.get(channel_id)
        message = self.message_payload(
            channel_id, self.bot_user, body.get("content") or "", guild_id=guild_id
        )
        message["flags"] = flags | int(body.get("flags") or 0)
        message["components"] = body.get("components") or []
        reference = body.get("message_reference")
        replied_author = None
        if reference:
            ref_id = int(reference["message_id"])
            if ref_id in self.messages and ref_id not in self.deleted:
                message["type"] = 19
                message["message_reference"] = {
                    "type": 0,
                    "message_id": str(ref_id),
                    "channel_id": str(channel_id),
                }
                message["referenced_message"] = self.messages[ref_id]
                replied_author = self.messages[ref_id]["author"]["id"]
        self._store(message)
        self._pings(message, body.get("allowed_mentions"), replied_author)
        return message

    async def _channels(self, method: str, parts: list[str], body: dict[str, Any], path: str) -> web.Response:
        channel_id = int(parts[1])
        if len(parts) == 3 and parts[2] == "typing" and method == "POST":
            self.typing.append(channel_id)
            return web.Response(status=204)
        if len(parts) == 3 and parts[2] == "messages" and method == "POST":
            if (error := self._too_long(path, body)) is not None:
                return error
            if not (body.get("content") or "").strip() and not body.get("embeds"):
                return self._error(400, path, {"message": "Cannot send an empty message", "code": 50006})
            return _json(self._bot_message(channel_id, body))
        if len(parts) == 5 and parts[2] == "messages" and parts[4] == "threads" and method == "POST":
            return await self._start_thread(channel_id, int(parts[3]), body, path)
        if len(parts) == 4 and parts[2] == "messages":
            response = self._message(method, int(parts[3]), body, path)
            if response is not None:
                return response
        if len(parts) == 2 and method == "GET":
            return self._error(404, path, {"message": "Unknown Channel", "code": 10003})
        return self._error(404, path, {"message": "404: Not Found", "code": 0})

    async def _start_thread(
        self, channel_id: int, message_id: int, body: dict[str, Any], path: str
    ) -> web.Response:
        """A public thread from a message: its id is the message's, THREAD_CREATE tells the bots."""
        starter = self.messages.get(message_id)
        if starter is None or int(starter["channel_id"]) != channel_id or message_id in self.deleted:
            return self._error(404, path, {"message": "Unknown Message", "code": 10008})
        name = body.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            errors = {"name": {"_errors": [{"code": "BASE_TYPE_BAD_LENGTH"}]}}
            return self._error(400, path, {"message": "Invalid Form Body", "code": 50035, "errors": errors})
        if "thread" in starter:
            return self._error(400, path, {"message": "A thread has already been created for this message",
                                           "code": 160004})
        guild_id = self.channel_guild[channel_id]
        thread = self.thread_payload(guild_id, channel_id, self.app_id, name, thread_id=message_id)
        thread["thread_metadata"]["auto_archive_duration"] = body.get("auto_archive_duration") or 1440
        starter["thread"] = thread
        self.guilds[guild_id]["threads"].append(thread)
        await self.dispatch("THREAD_CREATE", {**thread, "newly_created": True}, guild_id=guild_id)
        return _json(thread)

    def threads_opened(self) -> list[dict[str, Any]]:
        """Threads the bot opened from messages, oldest first."""
        return [m["thread"] for m in self.messages.values() if "thread" in m]

    def _message(
        self, method: str, message_id: int, body: dict[str, Any], path: str
    ) -> web.Response | None:
        """GET, DELETE or PATCH one bot message, sent in a channel or as an interaction response."""
        message = self.messages.get(message_id)
        if message is None or message_id in self.deleted:
            return self._error(404, path, {"message": "Unknown Message", "code": 10008})
        if method == "GET":
            return _json(message)
        if method == "DELETE":
            self.deleted.add(message_id)
            return web.Response(status=204)
        if method == "PATCH":
            if (error := self._too_long(path, body)) is not None:
                return error
            if (error := self._edit_limited(int(message["channel_id"]), path)) is not None:
                return error
            return _json(self._apply_edit(message, body))
        return None

    def _apply_edit(self, message: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        if "content" in body:
            message["content"] = body["content"] or ""
        if "components" in body:
            message["components"] = body["components"] or []
        message["edited_timestamp"] = _now_iso()
        self.edits.append(
            Edit(int(message["channel_id"]), int(message["id"]), message["content"], time.monotonic())
        )
        self._pings(message, body.get("allowed_mentions"), None)
        return message

    def _callback(self, interaction_id: int, token: str, body: dict[str, Any], path: str) -> web.Response:
        self.callbacks[interaction_id].append(body)
        kind = body.get("type")
        data = body.get("data") or {}
        response: dict[str, Any] = {"interaction": {"id": str(interaction_id), "type": 2}}
        if kind == 7:  # update the clicked message
            message = self.messages[int(self.clicked[interaction_id])]
            response["resource"] = {"type": kind, "message": self._apply_edit(message, data)}
        if kind in (4, 5):
            if (error := self._too_long(path, data)) is not None:
                return error
            channel_id = self.interaction_channel.get(interaction_id, 0)
            message = self._bot_message(channel_id, data)
            message["interaction_token"] = token
            self.interaction_messages[token].append(int(message["id"]))
            response["interaction"].update(
                response_message_id=message["id"],
                response_message_loading=kind == 5,
                response_message_ephemeral=bool(message["flags"] & EPHEMERAL),
            )
            response["resource"] = {"type": kind, "message": message}
        return _json(response)

    def _webhook(self, method: str, parts: list[str], body: dict[str, Any], path: str) -> web.Response:
        token = parts[2]
        ids = self.interaction_messages.get(token)
        if not ids:
            return self._error(404, path, {"message": "Unknown Webhook", "code": 10015})
        if len(parts) == 3 and method == "POST":
            if (error := self._too_long(path, body)) is not None:
                return error
            channel_id = int(self.messages[ids[0]]["channel_id"])
            message = self._bot_message(channel_id, body)
            message["interaction_token"] = token
            ids.append(int(message["id"]))
            return _json(message)
        if len(parts) == 5 and parts[3] == "messages":
            message_id = ids[0] if parts[4] == "@original" else int(parts[4])
            response = self._message(method, message_id, body, path)
            if response is not None:
                return response
        return self._error(404, path, {"message": "404: Not Found", "code": 0})
