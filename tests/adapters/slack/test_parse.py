"""The pure translation of Slack payloads: which messages matter, where they belong, what they say."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapters.slack.parse import (
    decide,
    display_name,
    mentioned_users,
    parse_command,
    plain_text,
    read_message,
    thread_command,
)
from bot.types import ChannelMode, ConversationKey, Trigger

PAYLOADS = Path(__file__).parent / "payloads"
BOT = "UQWENBOT"
TEAM = "T0FAKE"


def payload(name: str) -> dict[str, Any]:
    return json.loads((PAYLOADS / f"{name}.json").read_text())


def read(name: str, **options: Any):  # type: ignore[no-untyped-def]
    body = payload(name)
    return read_message(body["event"], body["team_id"], bot_user_id=BOT, bot_id="BQWENBOT", **options)


@pytest.mark.parametrize("name", ["message_changed", "message_deleted", "own_message", "channel_join"])
def test_edits_deletions_joins_and_own_messages_are_not_read(name: str) -> None:
    assert read(name) is None


def test_other_bots_are_ignored_unless_configured() -> None:
    assert read("bot_message") is None
    message = read("bot_message", answer_bots=True)
    assert message is not None and message.is_bot and message.mentions_bot


def test_app_mention_is_read_with_its_channel_type_from_the_id() -> None:
    message = read("app_mention")
    assert message is not None
    assert (message.team, message.channel, message.ts, message.channel_type) == (
        TEAM, "C0GENERAL", "1700000000.000100", "channel")
    assert message.mentions_bot and not message.in_thread


def test_file_share_carries_its_files() -> None:
    message = read("file_share")
    assert message is not None and message.is_dm
    assert [f["name"] for f in message.files] == ["chart.png"]


def test_top_level_mention_starts_a_thread_keyed_by_its_own_ts() -> None:
    message = read("app_mention")
    decision = decide(message, bot_user_id=BOT, mode=ChannelMode.MENTION, thread_has_history=False)
    assert decision.trigger is Trigger.MENTION
    assert decision.key == ConversationKey("slack", TEAM, "C0GENERAL", "1700000000.000100")
    assert decision.reply_thread_ts == "1700000000.000100"


def test_dm_is_answered_without_a_mention_at_the_top_level() -> None:
    message = read("message_im")
    decision = decide(message, bot_user_id=BOT, mode=ChannelMode.MENTION, thread_has_history=False)
    assert decision.trigger is Trigger.DM
    assert decision.key == ConversationKey("slack", TEAM, "D0ALICE", None)
    assert decision.reply_thread_ts is None


def test_thread_reply_is_answered_only_in_threads_the_bot_takes_part_in() -> None:
    message = read("thread_reply")
    seen = decide(message, bot_user_id=BOT, mode=ChannelMode.MENTION, thread_has_history=True)
    unseen = decide(message, bot_user_id=BOT, mode=ChannelMode.MENTION, thread_has_history=False)
    assert seen.trigger is Trigger.THREAD
    assert seen.key == ConversationKey("slack", TEAM, "C0GENERAL", "1700000000.000100")
    assert unseen.trigger is Trigger.NONE


def test_thread_reply_addressed_to_a_colleague_is_context_not_a_question() -> None:
    body = payload("thread_reply")
    body["event"]["text"] = "<@U0ALICE> what do you think?"
    message = read_message(body["event"], TEAM, bot_user_id=BOT)
    decision = decide(message, bot_user_id=BOT, mode=ChannelMode.MENTION, thread_has_history=True)
    assert decision.trigger is Trigger.NONE


def test_always_mode_answers_top_level_messages_where_they_are() -> None:
    body = payload("thread_reply")
    del body["event"]["thread_ts"]
    message = read_message(body["event"], TEAM, bot_user_id=BOT)
    assert decide(message, bot_user_id=BOT, mode=ChannelMode.MENTION, thread_has_history=False).trigger \
        is Trigger.NONE
    decision = decide(message, bot_user_id=BOT, mode=ChannelMode.ALWAYS, thread_has_history=False)
    assert decision.trigger is Trigger.ALWAYS
    assert decision.key == ConversationKey("slack", TEAM, "C0GENERAL", None)
    assert decision.reply_thread_ts is None


def test_plain_text_resolves_mentions_links_channels_and_entities() -> None:
    message = read("app_mention")
    text = plain_text(message.text, {"U0BOB": "Bob"}, bot_user_id=BOT, bot_name="Qwen")
    assert text == ("what does @Bob mean by this link (https://example.com/a?b=1&c=2) in #random? "
                    "1 < 2 && @here")


def test_plain_text_keeps_a_mid_sentence_bot_mention_as_its_name() -> None:
    assert plain_text(f"ask <@{BOT}> please", {}, bot_user_id=BOT, bot_name="Qwen") == "ask @Qwen please"


def test_unknown_users_fall_back_to_the_label_or_id() -> None:
    assert plain_text("hi <@U9|zed> and <@U8>", {}) == "hi @zed and @U8"


def test_mentioned_users_are_listed_once_in_order() -> None:
    assert mentioned_users("<@U2> <@U1|x> <@U2>") == ["U2", "U1"]


def test_display_name_prefers_the_profile_display_name() -> None:
    named = {"name": "al", "profile": {"display_name": "Alice", "real_name": "Alice A"}}
    assert display_name(named) == "Alice"
    assert display_name({"name": "al", "profile": {"display_name": "", "real_name": "Alice A"}}) == "Alice A"
    assert display_name({"id": "U1", "name": "al", "profile": {}}) == "al"


@pytest.mark.parametrize(("text", "expected"), [
    ("reset", ("reset", "")),
    ("persona You are a pirate", ("persona", "You are a pirate")),
    ("MODEL qwen-plus", ("model", "qwen-plus")),
    ("forget_me", ("forget-me", "")),
    ("channel-mode always", ("channel-mode", "always")),
    ("what is a monad?", ("", "what is a monad?")),
    ("", ("", "")),
    ("help", ("help", "")),
    ("model qwen-nope", ("model", "qwen-nope")),  # one word: a command, answered "unknown model"
])
def test_slash_command_text_splits_into_subcommand_and_argument(text: str, expected: tuple[str, str]) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("reset", ("reset", "")),
    ("Usage", ("usage", "")),
    ("memory", ("memory", "")),
    ("persona Be brief.", ("persona", "Be brief.")),
    ("model qwen-plus", ("model", "qwen-plus")),
    ("model", ("model", "")),
    ("model this as a graph", None),
    ("reset the router, then what?", None),
    ("channel-mode always", None),
    ("what is a monad?", None),
])
def test_a_thread_command_is_a_mention_whose_whole_text_is_a_command(text, expected) -> None:
    assert thread_command(text, ["qwen-max", "qwen-plus"]) == expected


@pytest.mark.parametrize("text", [
    "reset my router password, how do I do that?",
    "help me write a haiku",
    "memory leaks in Rust: are they possible?",
    "usage of semicolons in English?",
    "model this system as a state machine",
    "channel-mode always or sometimes, which is better?",
])
def test_a_slash_question_that_starts_with_a_command_word_is_a_question(text: str) -> None:
    assert parse_command(text) == ("", text)


@pytest.mark.parametrize(("text", "expected"), [
    ("help", ("help", "")),
    ("help me", None),
])
def test_help_in_a_thread_stands_alone(text, expected) -> None:
    assert thread_command(text, ["qwen-max", "qwen-plus"]) == expected


@pytest.mark.parametrize("field", ["subtype", "channel_type"])
@pytest.mark.parametrize("value", [["file_share"], {"a": 1}])
def test_a_list_or_object_where_a_string_belongs_is_no_error(field: str, value: object) -> None:
    event = {**payload("message_im")["event"], field: value}
    message = read_message(event, "T0FAKE", bot_user_id="UQWENBOT")
    assert message is None or (isinstance(message.channel_type, str) and hash(message))
