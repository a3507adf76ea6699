"""Text a database refuses (NUL, lone surrogates) is cleaned at the core's boundary and stored."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.config import Settings
from bot.core import ConversationCore, Outcome
from bot.text import storable
from bot.types import Author, ConversationKey, Incoming, Trigger
from tests.bot.memory.backends import backend_named
from tests.conftest import RecordingReply
from tests.fakes.qwen import FakeQwen, Script

KEY = ConversationKey("test", "space", "channel")


@pytest.fixture(params=["sqlite", "postgres"])
async def core_on(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings], tmp_path: Path
) -> AsyncIterator[ConversationCore]:
    async with backend_named(request.param, tmp_path) as db:
        core = await ConversationCore.start(make_settings(database_url=db.url))
        yield core
        await core.close()


def message(text: str, n: int = 1) -> Incoming:
    return Incoming(KEY, f"m{n}", Author("u1", "Ann\x00"), text, trigger=Trigger.DM)


def test_storable_drops_nul_and_lone_surrogates_and_keeps_everything_else() -> None:
    assert storable("a\x00b\ud800c\udfffd 中文 🙂") == "abcd 中文 🙂"


@pytest.mark.parametrize("text", ["hello\x00world", "broken \ud800 surrogate", "\x00\ud800 both"])
async def test_a_message_with_unstorable_characters_is_answered_and_remembered(
    core_on: ConversationCore, qwen: FakeQwen, text: str
) -> None:
    reply = RecordingReply()
    assert await core_on.handle(message(text), reply) is Outcome.ANSWERED
    turns = (await core_on.store.load(KEY)).turns
    assert [t.role for t in turns] == ["user", "assistant"]
    assert turns[0].text == storable(text)
    sent = qwen.chat_requests[-1]["messages"][-1]["content"]
    assert "\x00" not in sent and storable(text) in sent


async def test_an_answer_with_a_nul_is_shown_and_remembered_once(
    core_on: ConversationCore, qwen: FakeQwen
) -> None:
    qwen.queue(Script("before\x00after"))
    reply = RecordingReply()
    assert await core_on.handle(message("hi"), reply) is Outcome.ANSWERED
    assert reply.final == "beforeafter" and reply.failure is None
    assert (await core_on.store.load(KEY)).turns[-1].text == "beforeafter"
