"""Platform-neutral values that flow from an adapter into the core.

Adapters build these from platform payloads; nothing here knows about Discord or Slack.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


@dataclass(frozen=True)
class ConversationKey:
    """Where a conversation lives: one channel, thread or DM on one platform."""

    platform: str  # "discord", "slack", "terminal"
    space: str  # guild id, team id, or "dm"
    channel: str
    thread: str | None = None

    def __str__(self) -> str:
        parts = [self.platform, self.space, self.channel]
        if self.thread:
            parts.append(self.thread)
        return ":".join(parts)


@dataclass(frozen=True)
class Author:
    id: str
    name: str
    is_bot: bool = False


class AttachmentKind(StrEnum):
    IMAGE = "image"
    TEXT = "text"
    OTHER = "other"


@dataclass(frozen=True)
class Attachment:
    """A file that came with a message. Images go to the vision model, text is inlined."""

    kind: AttachmentKind
    name: str
    mime: str = ""
    size: int = 0
    data: bytes | None = None
    url: str | None = None


class Trigger(StrEnum):
    """Why the bot is answering (or, for NONE, that it was not addressed)."""

    MENTION = "mention"
    DM = "dm"
    REPLY = "reply"
    THREAD = "thread"
    ALWAYS = "always"
    COMMAND = "command"
    NONE = "none"


@dataclass(frozen=True)
class Incoming:
    """One user message, already translated from the platform's shape.

    `text` has mentions resolved to readable names. `message_id` is the platform's id for the
    message and is unique within its conversation: the core stores a message at most once.
    """

    key: ConversationKey
    message_id: str
    author: Author
    text: str
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)
    trigger: Trigger = Trigger.MENTION
    skipped_notes: tuple[str, ...] = field(default_factory=tuple)
    #: Material for this answer only (e.g. the recent messages of a channel the user asked about),
    #: sent to the model after the persona and summary and never stored as a turn.
    briefing: str = ""

    @property
    def addressed(self) -> bool:
        return self.trigger is not Trigger.NONE


class ChannelMode(StrEnum):
    """Whether the bot answers only when addressed, every message, or each question in a thread of its own."""

    MENTION = "mention"
    ALWAYS = "always"
    #: A mention at the top of the channel opens a public thread, answered without mentions from then on.
    THREAD = "thread"
