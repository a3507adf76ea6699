"""Pure translation of Slack event payloads into the core's types.

Nothing here does IO: the app layer looks up display names and channel modes first and passes
them in, so every decision about whether and where to answer can be tested with plain dicts.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from adapters.slack.payloads import AppMentionEvent, FilePayload, MessageEvent, SlashCommandBody
from bot import commands
from bot.types import ChannelMode, ConversationKey, Trigger

PLATFORM = "slack"

#: Message subtypes that carry a person's words; every other subtype (edits, deletions, joins,
#: channel topic changes...) is ignored.
USER_SUBTYPES = {None, "file_share", "thread_broadcast", "me_message"}

_TOKEN = re.compile(r"<([^<>]+)>")
_USER_ID = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


@dataclass(frozen=True)
class SlackMessage:
    """The parts of a message event the bot cares about, in Slack's own terms."""

    team: str
    channel: str
    channel_type: str  # "im", "mpim", "channel" or "group"
    ts: str
    thread_ts: str | None
    user: str
    text: str  # raw Slack markup: <@U1>, <!here>, &amp; ...
    is_bot: bool = False
    mentions_bot: bool = False
    files: tuple[FilePayload, ...] = field(default_factory=tuple)
    user_team: str = ""  # the author's own workspace, which differs in Slack Connect channels

    @property
    def is_dm(self) -> bool:
        return self.channel_type == "im"

    @property
    def in_thread(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    @property
    def thread_key(self) -> ConversationKey:
        """The conversation this message belongs to if it is answered where it was written."""
        thread = self.thread_ts if self.in_thread else None
        return ConversationKey(PLATFORM, self.team, self.channel, thread)

    @property
    def conversation_key(self) -> ConversationKey:
        """The conversation an answer to this message would belong to (a top-level mention starts one)."""
        if self.mentions_bot and not self.is_dm and not self.in_thread:
            return ConversationKey(PLATFORM, self.team, self.channel, self.ts)
        return self.thread_key

    @property
    def channel_key(self) -> ConversationKey:
        """Where channel-wide settings (mode, default persona and model) live."""
        return ConversationKey(PLATFORM, self.team, self.channel)

    def mentions_others(self, bot_user_id: str) -> bool:
        return any(uid != bot_user_id for uid in _USER_ID.findall(self.text))


@dataclass(frozen=True)
class Decision:
    """Whether to answer, in which conversation, and where the answer goes (thread ts or top level)."""

    trigger: Trigger
    key: ConversationKey
    reply_thread_ts: str | None


def _text(value: object) -> str:
    """A payload field that should be a string; anything else counts as absent."""
    return value if isinstance(value, str) else ""


def read_message(
    event: MessageEvent | AppMentionEvent, team_id: str, *, bot_user_id: str,
    bot_id: str = "", answer_bots: bool = False,
) -> SlackMessage | None:
    """A `message` or `app_mention` event as a SlackMessage, or None when it is not for the bot.

    None for the bot's own messages, edits, deletions and other subtypes, and for other bots'
    messages unless `answer_bots` is set. A field of the wrong type counts as absent: a malformed
    event is ignored or read without that field, never an error.
    """
    if not isinstance(event, Mapping) or event.get("type") not in ("message", "app_mention"):
        return None
    subtype = event.get("subtype")
    if subtype is not None and not isinstance(subtype, str):
        return None
    sender_bot = _text(event.get("bot_id"))
    is_bot = bool(sender_bot) or subtype == "bot_message"
    if subtype not in USER_SUBTYPES and not (subtype == "bot_message" and answer_bots):
        return None
    user = _text(event.get("user")) or sender_bot
    if not user or user == bot_user_id or (bot_id and sender_bot == bot_id):
        return None
    if is_bot and not answer_bots:
        return None
    channel = _text(event.get("channel"))
    ts = _text(event.get("ts"))
    if not channel or not ts:
        return None
    text = _text(event.get("text"))
    files = event.get("files")
    return SlackMessage(
        team=team_id or _text(event.get("team")),
        channel=channel,
        channel_type=_text(event.get("channel_type")) or _channel_type(channel),
        ts=ts,
        thread_ts=_text(event.get("thread_ts")) or None,
        user=user,
        text=text,
        is_bot=is_bot,
        mentions_bot=bool(bot_user_id) and bot_user_id in _USER_ID.findall(text),
        files=_files(files),
        user_team=_text(event.get("user_team")),
    )


def _files(value: object) -> tuple[FilePayload, ...]:
    """A message's `files`, keeping only the entries that are objects."""
    if not isinstance(value, list):
        return ()
    return tuple(cast(FilePayload, item) for item in value if isinstance(item, dict))


@dataclass(frozen=True)
class SlackFile:
    """A shared file as the bot uses it: what to call it, what it is, and where to fetch it."""

    name: str
    mimetype: str
    size: int
    url: str  # "" when Slack gave none


def read_file(item: FilePayload) -> SlackFile:
    """One entry of a message's `files`; fields of the wrong type count as absent."""
    if not isinstance(item, Mapping):
        return SlackFile("file", "", 0, "")
    size = item.get("size")
    return SlackFile(
        name=_text(item.get("name")) or _text(item.get("title")) or "file",
        mimetype=_text(item.get("mimetype")),
        size=size if isinstance(size, int) and not isinstance(size, bool) and size > 0 else 0,
        url=_text(item.get("url_private_download")) or _text(item.get("url_private")),
    )


@dataclass(frozen=True)
class SlashCommand:
    """A `/qwen` request: where it was typed, by whom, and its text."""

    team: str
    channel: str
    user: str
    text: str


def read_command(body: SlashCommandBody, default_team: str = "") -> SlashCommand:
    """A slash command's form fields; fields of the wrong type count as absent."""
    if not isinstance(body, Mapping):
        return SlashCommand(default_team, "", "", "")
    return SlashCommand(
        team=_text(body.get("team_id")) or default_team,
        channel=_text(body.get("channel_id")),
        user=_text(body.get("user_id")),
        text=_text(body.get("text")),
    )


def _channel_type(channel: str) -> str:
    # app_mention events carry no channel_type; the id's first letter tells DMs apart.
    return {"D": "im", "G": "group"}.get(channel[:1], "channel")


def decide(
    message: SlackMessage, *, bot_user_id: str, mode: ChannelMode, thread_has_history: bool,
) -> Decision:
    """Why (or whether) the bot answers this message, the conversation it belongs to, and where to reply."""
    if message.is_bot and not message.mentions_bot:
        # Another bot is answered only when it addresses us, or two bots could talk forever.
        return Decision(Trigger.NONE, message.thread_key, message.thread_ts if message.in_thread else None)
    if message.is_dm:
        thread = message.thread_ts if message.in_thread else None
        return Decision(Trigger.DM, message.thread_key, thread)
    if message.mentions_bot:
        # A top-level mention starts a thread whose key is the mention's own ts.
        key = message.conversation_key
        return Decision(Trigger.MENTION, key, key.thread)
    if message.in_thread and thread_has_history:
        if message.mentions_others(bot_user_id):
            # Someone talking to a colleague inside the bot's thread: context, not a question.
            return Decision(Trigger.NONE, message.thread_key, message.thread_ts)
        return Decision(Trigger.THREAD, message.thread_key, message.thread_ts)
    if mode is ChannelMode.ALWAYS:
        thread = message.thread_ts if message.in_thread else None
        return Decision(Trigger.ALWAYS, message.thread_key, thread)
    return Decision(Trigger.NONE, message.thread_key, message.thread_ts if message.in_thread else None)


def mentioned_users(text: str) -> list[str]:
    """User ids mentioned in Slack markup, in order, without repeats."""
    return list(dict.fromkeys(_USER_ID.findall(text)))


def plain_text(text: str, names: Mapping[str, str], *, bot_user_id: str = "", bot_name: str = "Qwen") -> str:
    """Slack markup as readable text: mentions become @names, links their labels, entities decoded.

    A mention of the bot at the start is dropped ("<@BOT> what is X" asks "what is X").
    """
    stripped = text.lstrip()
    lead = re.match(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>[\s,:]*", stripped) if bot_user_id else None
    if lead:
        stripped = stripped[lead.end():]

    def token(match: re.Match[str]) -> str:
        body = match.group(1)
        target, _, label = body.partition("|")
        if target.startswith("@"):
            uid = target[1:]
            if uid == bot_user_id:
                return "@" + bot_name
            return "@" + (names.get(uid) or label or uid)
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!subteam^"):
            return label or "@group"
        if target.startswith("!date^"):
            return label
        if target.startswith("!"):
            return "@" + target[1:]
        if label and label != target:
            return f"{label} ({target.removeprefix('mailto:')})"
        return target.removeprefix("mailto:")

    return html.unescape(_TOKEN.sub(token, stripped)).strip()


def display_name(user: Mapping[str, Any]) -> str:
    """The name Slack shows for a `users.info` user object."""
    if not isinstance(user, Mapping):
        return "someone"
    profile = user.get("profile")
    if not isinstance(profile, Mapping):
        profile = {}
    for candidate in (profile.get("display_name"), profile.get("real_name"), user.get("real_name"),
                      user.get("name")):
        if _text(candidate).strip():
            return _text(candidate).strip()
    return _text(user.get("id")) or "someone"


def parse_command(text: str) -> tuple[str, str]:
    """`/qwen` text as (command name, argument); an empty name means a question (or nothing).

    Strict, so a question that merely starts with a command word ("reset my router password, how?",
    "help me write a haiku") stays a question: a command without an argument must stand alone,
    and a command with a fixed choice of values (or a model name) takes one word.
    """
    question = "", text.strip()
    command, arg = commands.split(text)
    if command is None:
        head, _, rest = text.strip().partition(" ")
        return ("help", "") if head.lower() == "help" and not rest.strip() else question
    if arg and command.arg is None:
        return question
    if arg and (command.choices or command.name == "model") and len(arg.split()) > 1:
        return question
    return command.name, arg


def thread_command(text: str, models: Sequence[str] = ()) -> tuple[str, str] | None:
    """`reset`, `memory`, `model qwen-plus`... when a mention's whole text is a command, else None.

    Stricter than the slash command, as a mention is conversation: a model must be one of
    `models` ("model this" stays a question), and a channel's own settings (channel mode) are set
    with the slash command, not in a thread.
    """
    name, arg = parse_command(text)
    command = commands.find(name) if name else None
    if name == "help":
        return "help", ""
    if command is None or command.channel_only:
        return None
    if command.name == "model" and arg and arg not in models:
        return None
    if command.name == "stop" and arg:
        return None  # "stop the bleeding" is a question
    return name, arg
