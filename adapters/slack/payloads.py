"""The shapes of the Slack payloads the bot reads, as Slack documents them.

Typed for the checker, as discord.py types Discord's raw payloads in `discord.types`: every key is
optional (`total=False`) because Slack omits many of them by event and by workspace. A TypedDict
is a promise about shape, not a check: `parse` still verifies each value's type before using it,
since nothing stops a payload from carrying a list where a string is documented.
"""

from __future__ import annotations

from typing import TypedDict


class FilePayload(TypedDict, total=False):
    """One entry of a message's `files` (https://api.slack.com/types/file)."""

    id: str
    name: str
    title: str
    mimetype: str
    filetype: str
    size: int
    url_private: str
    url_private_download: str


class AppMentionEvent(TypedDict, total=False):
    """An `app_mention` event; a message event has the same fields and a few more."""

    type: str  # "app_mention" or "message"
    channel: str
    user: str
    bot_id: str
    text: str
    ts: str
    thread_ts: str
    event_ts: str
    team: str
    user_team: str  # the author's own workspace (Slack Connect)
    files: list[FilePayload]


class MessageEvent(AppMentionEvent, total=False):
    """A `message` event, or a message as `conversations.replies` lists it."""

    subtype: str  # absent for a plain message; "file_share", "bot_message", "message_changed"...
    channel_type: str  # "im", "mpim", "channel" or "group"


class EventCallback(TypedDict, total=False):
    """The envelope around an event in the Events API."""

    type: str  # "event_callback"
    team_id: str
    api_app_id: str
    event_id: str
    event_time: int
    event: MessageEvent | AppMentionEvent


class SlashCommandBody(TypedDict, total=False):
    """The form fields of a slash command request (https://api.slack.com/interactivity/slash-commands)."""

    command: str
    text: str
    team_id: str
    channel_id: str
    user_id: str
    user_name: str
    response_url: str
    trigger_id: str


class ContextEntity(TypedDict, total=False):
    """One thing the user is looking at, most relevant first (`slack#/types/channel_id`, ...)."""

    type: str
    value: object  # a channel id string, or {"channel_id", "message_ts"} for a message_context
    team_id: str


class AppContext(TypedDict, total=False):
    """`context` of `app_context_changed` (and of `app_home_opened` where Slack includes it); `{}`
    when the user is looking at nothing an app can use."""

    entities: list[ContextEntity]


class AgentEvent(TypedDict, total=False):
    """`app_home_opened` and `app_context_changed` (agent view), as documented in 2026."""

    type: str  # "app_home_opened" or "app_context_changed"
    user: str  # absent from some app_context_changed examples: see `authorizations`
    channel: str  # app_home_opened: the DM between the user and the app
    tab: str  # app_home_opened: "home" or "messages"
    context: AppContext
    event_ts: str


class AssistantThreadContext(TypedDict, total=False):
    channel_id: str
    team_id: str
    enterprise_id: str | None


class AssistantThread(TypedDict, total=False):
    user_id: str
    context: AssistantThreadContext
    channel_id: str  # the DM
    thread_ts: str


class AssistantThreadEvent(TypedDict, total=False):
    """`assistant_thread_started` / `assistant_thread_context_changed` (the older assistant view)."""

    type: str
    assistant_thread: AssistantThread
    event_ts: str


class Authorization(TypedDict, total=False):
    team_id: str
    user_id: str
    is_bot: bool


class AgentEventCallback(TypedDict, total=False):
    """The envelope around an agent-view event."""

    type: str
    team_id: str
    event_id: str
    event: AgentEvent | AssistantThreadEvent
    authorizations: list[Authorization]
