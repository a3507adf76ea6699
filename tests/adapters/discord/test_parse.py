"""parse: gateway payloads (golden JSON captured in Discord's shape) to the core's Incoming."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import discord
import pytest

from adapters.discord.client import intents
from adapters.discord.parse import parse_message, resolve_mentions, thread_name, trigger_of
from bot.types import AttachmentKind, ConversationKey, Trigger

GOLDEN = Path(__file__).parent / "golden"
BOT_ID = 1000000000000000001
BOT_USER = {
    "id": str(BOT_ID),
    "username": "qwen",
    "discriminator": "0",
    "global_name": "Qwen",
    "avatar": None,
    "bot": True,
}
PAYLOADS: dict[str, Any] = json.loads((GOLDEN / "messages.json").read_text())


@pytest.fixture(scope="module")
def state() -> Any:
    """A real discord.py connection state holding the golden guild, as after READY and GUILD_CREATE."""
    client = discord.Client(intents=intents())
    connection = client._connection
    connection.user = discord.ClientUser(state=connection, data=BOT_USER)  # type: ignore[arg-type]
    guild = discord.Guild(data=json.loads((GOLDEN / "guild.json").read_text()), state=connection)
    connection._add_guild(guild)
    return connection


def message(state: Any, name: str) -> discord.Message:
    data = PAYLOADS[name]
    channel, _ = state._get_guild_channel(data)
    return discord.Message(state=state, channel=channel, data=data)


def test_a_mention_becomes_a_mention_trigger_with_names_resolved(state: Any) -> None:
    incoming = parse_message(message(state, "mention"), bot_id=BOT_ID)
    assert incoming is not None
    assert incoming.trigger is Trigger.MENTION
    assert incoming.text == "ask @Bobby and @Moderators about #random"
    assert incoming.author.name == "Ali"
    assert incoming.key == ConversationKey("discord", "1100000000000000001", "1100000000000000020")
    assert incoming.message_id == "1300000000000000001"


def test_mentioning_the_bots_managed_role_addresses_it(state: Any) -> None:
    incoming = parse_message(message(state, "role_mention"), bot_id=BOT_ID)
    assert incoming is not None and incoming.trigger is Trigger.MENTION
    assert incoming.text == "what is 2+2?"


def test_a_plain_guild_message_is_not_for_the_bot(state: Any) -> None:
    assert trigger_of(message(state, "plain"), BOT_ID) is Trigger.NONE
    assert parse_message(message(state, "plain"), bot_id=BOT_ID) is None


def test_a_plain_message_in_an_always_channel_is_answered(state: Any) -> None:
    incoming = parse_message(message(state, "plain"), bot_id=BOT_ID, always=True)
    assert incoming is not None and incoming.trigger is Trigger.ALWAYS
    assert incoming.text == "lunch anyone?"


def test_a_reply_to_the_bot_is_a_reply_trigger(state: Any) -> None:
    incoming = parse_message(message(state, "reply_to_bot"), bot_id=BOT_ID)
    assert incoming is not None and incoming.trigger is Trigger.REPLY


def test_a_thread_the_bot_created_is_its_own_conversation_and_answered(state: Any) -> None:
    incoming = parse_message(message(state, "in_bot_thread"), bot_id=BOT_ID)
    assert incoming is not None and incoming.trigger is Trigger.THREAD
    assert incoming.key == ConversationKey(
        "discord", "1100000000000000001", "1100000000000000020", "1100000000000000030"
    )


def test_someone_elses_thread_needs_a_mention(state: Any) -> None:
    assert parse_message(message(state, "in_other_thread"), bot_id=BOT_ID) is None


def test_a_thread_only_the_store_knows_as_the_bots_own_is_answered_in_its_conversation(state: Any) -> None:
    data = {**PAYLOADS["plain"], "channel_id": "1100000000000000099"}  # a channel not in the cache
    channel, _ = state._get_guild_channel(data)
    uncached = discord.Message(state=state, channel=channel, data=data)
    assert parse_message(uncached, bot_id=BOT_ID) is None
    own = ConversationKey("discord", "1100000000000000001", "1100000000000000020", "1100000000000000099")
    incoming = parse_message(uncached, bot_id=BOT_ID, own_thread=own)
    assert incoming is not None and incoming.trigger is Trigger.THREAD
    assert incoming.key == own


@pytest.mark.parametrize(("content", "name"), [
    ("<@1> what is a monad?", "what is a monad?"),
    ("<@!1>  ask <@2> and\n<@&3> in <#4>,  please", "ask and in , please"),
    ("@everyone @here look <:party:123> <a:wave:456>", "look :party: :wave:"),
    ("<@1>", "Question from Ann"),
    ("   ", "Question from Ann"),
])
def test_a_thread_is_named_after_its_question_without_mentions(content: str, name: str) -> None:
    assert thread_name(content, "Question from Ann") == name


def test_a_long_question_names_its_thread_up_to_a_whole_word_with_an_ellipsis() -> None:
    name = thread_name("why " * 30 + "tell me", "fallback")
    assert len(name) <= 100 and name.endswith("why…")
    assert thread_name("x" * 150, "fallback") == "x" * 99 + "…"


def test_a_dm_is_answered_and_files_are_sorted_before_download(state: Any) -> None:
    incoming = parse_message(message(state, "dm"), bot_id=BOT_ID)
    assert incoming is not None and incoming.trigger is Trigger.DM
    assert incoming.key == ConversationKey("discord", "dm", "1400000000000000001")
    assert [(a.name, a.kind, a.mime) for a in incoming.attachments] == [
        ("notes.md", AttachmentKind.TEXT, "text/markdown"),
        ("cat.png", AttachmentKind.IMAGE, "image/png"),
    ]
    assert all(a.data is None and a.url for a in incoming.attachments)
    assert len(incoming.skipped_notes) == 2
    assert "movie.mp4" in incoming.skipped_notes[0] and "huge.png" in incoming.skipped_notes[1]


def test_other_bots_are_ignored_unless_configured(state: Any) -> None:
    assert parse_message(message(state, "from_bot"), bot_id=BOT_ID) is None
    incoming = parse_message(message(state, "from_bot"), bot_id=BOT_ID, answer_bots=True)
    assert incoming is not None and incoming.author.is_bot and incoming.text == "beep"


def test_its_own_messages_are_ignored_even_when_configured_to_answer_bots(state: Any) -> None:
    assert parse_message(message(state, "own"), bot_id=BOT_ID, answer_bots=True, always=True) is None


def test_system_messages_are_ignored(state: Any) -> None:
    assert parse_message(message(state, "pin_notice"), bot_id=BOT_ID, always=True) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<@1> hello", "hello"),
        ("<@!1>, hello", "hello"),
        ("hello <@1>", "hello"),
        ("tell <@1> hi", "tell @Qwen hi"),
        ("<@&7> hi", "hi"),
        ("<@2> and <@3>", "@Bob and @unknown-user"),
        ("<@&8> <@&9> <#5> <#6>", "@Mods @unknown-role #general #unknown-channel"),
        ("@everyone look", "@everyone look"),
    ],
)
def test_resolve_mentions(text: str, expected: str) -> None:
    resolved = resolve_mentions(
        text,
        users={2: "Bob"},
        roles={8: "Mods"},
        channels={5: "general"},
        bot_id=1,
        bot_role_id=7,
        bot_name="Qwen",
    )
    assert resolved == expected
