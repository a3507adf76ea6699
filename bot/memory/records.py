"""The records the memory hands out: plain frozen dataclasses, so the core never sees a database row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.types import ChannelMode, ConversationKey

Role = Literal["user", "assistant"]


@dataclass(frozen=True)
class Turn:
    role: Role
    author_id: str
    author_name: str
    text: str
    tokens: int
    message_id: str | None = None
    created_at: float = 0.0
    id: int = 0


@dataclass(frozen=True)
class ConversationSettings:
    persona: str | None = None
    model: str | None = None
    mode: ChannelMode = ChannelMode.MENTION
    thinking: bool | None = None  # None: the channel's choice, else QWEN_THINKING
    search: bool | None = None  # None: the channel's choice, else QWEN_SEARCH


@dataclass(frozen=True)
class KeptReasoning:
    """The reasoning behind a conversation's last answer (see bot/memory/reasoning.py)."""

    answer_to: str  # the message id of the question it answered
    text: str
    created_at: float


@dataclass(frozen=True)
class Summary:
    """Text standing in for every turn whose id is at most `upto_turn_id`.

    `version` counts the resets and forget-mes of the conversation: a summary written from turns
    read before one of those is refused, so deleted words never come back through it.
    `oldest_at` is when the oldest message it stands for was written, through every summary it
    was rolled from: retention clears it once that is past (0, unknown, counts as oldest of all).
    """

    text: str = ""
    upto_turn_id: int = 0
    version: int = 0
    oldest_at: float = 0.0


@dataclass(frozen=True)
class Snapshot:
    """What a turn reads before answering: settings, summary, and the turns after the summary."""

    settings: ConversationSettings
    summary: Summary
    turns: tuple[Turn, ...]


@dataclass(frozen=True)
class Tokens:
    prompt: int = 0
    completion: int = 0

    @property
    def total(self) -> int:
        return self.prompt + self.completion


@dataclass(frozen=True)
class UsageReport:
    conversation_today: Tokens
    conversation_total: Tokens
    space_today: Tokens
    space_total: Tokens
    user_today: Tokens


@dataclass(frozen=True)
class DailyTotals:
    """Tokens (prompt and completion) used on one day, as the daily budgets count them: in one
    conversation, in its server or workspace (0 in DMs, which belong to none), and by one user."""

    conversation: int
    space: int
    user: int


@dataclass(frozen=True)
class MemoryStats:
    turns: int
    tokens: int
    summarised_turns: int


@dataclass(frozen=True)
class Unfinished:
    """A journal entry: an answer a process began and has not ended (yet, or ever, if it died).

    `place` is the adapter's own JSON text saying where the answer goes and what of it is shown;
    `visible` whether anything of it has been shown; `text` the answer as last saved, a few
    seconds behind what was shown at most."""

    id: int
    key: ConversationKey
    message_id: str
    owner: str
    version: int
    visible: bool = False
    place: str = ""
    text: str = ""
    started_at: float = 0.0
    updated_at: float = 0.0
