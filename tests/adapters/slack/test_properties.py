"""Properties of Slack rendering and parsing on any input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from adapters.slack.parse import (
    decide,
    display_name,
    parse_command,
    plain_text,
    read_command,
    read_file,
    read_message,
    thread_command,
)
from adapters.slack.render import MESSAGE_LIMIT, mrkdwn_pieces, to_mrkdwn
from bot.render import open_fence, split
from bot.types import ChannelMode
from tests.properties import BOUNDED, json_values, markdown_text, with_any_field

PAYLOADS = Path(__file__).parent / "payloads"
EVENTS = {path.stem: json.loads(path.read_text())["event"] for path in PAYLOADS.glob("*.json")}
COMMAND = {"command": "/qwen", "text": "reset", "team_id": "T0FAKE", "channel_id": "C0GENERAL",
           "user_id": "U0ALICE", "response_url": "https://hooks.slack.com/commands/x"}


@BOUNDED
@given(markdown_text())
def test_every_piece_fits_slack_and_has_balanced_fences(markdown: str) -> None:
    for piece in mrkdwn_pieces(markdown):
        assert len(piece) <= MESSAGE_LIMIT and open_fence(piece) is None


@BOUNDED
@given(markdown_text())
def test_the_pieces_hold_the_whole_rendered_answer(markdown: str) -> None:
    rendered = to_mrkdwn(markdown)
    assert "".join(piece.body + piece.joint for piece in split(rendered, MESSAGE_LIMIT)) == rendered


def events_with_any_field() -> st.SearchStrategy[dict[str, Any]]:
    return st.sampled_from(sorted(EVENTS)).flatmap(lambda name: with_any_field(EVENTS[name]))


@BOUNDED
@given(events_with_any_field())
def test_reading_an_event_never_raises_on_any_json_value_in_any_field(event: dict[str, Any]) -> None:
    for answer_bots in (False, True):
        message = read_message(event, "T0FAKE", bot_user_id="UQWENBOT", bot_id="B0QWEN",
                               answer_bots=answer_bots)
        if message is not None:
            assert isinstance(message.text, str) and isinstance(message.channel_type, str)
            decide(message, bot_user_id="UQWENBOT", mode=ChannelMode.ALWAYS, thread_has_history=True)
            plain_text(message.text, {}, bot_user_id="UQWENBOT")
            for item in message.files:
                read_file(item)


@BOUNDED
@given(json_values())
def test_reading_a_file_never_raises_on_any_json_value(item: Any) -> None:
    found = read_file(item)
    assert isinstance(found.name, str) and found.name and isinstance(found.size, int)


@BOUNDED
@given(with_any_field(EVENTS["file_share"]["files"][0]))
def test_reading_a_file_never_raises_on_any_json_value_in_any_field(item: dict[str, Any]) -> None:
    found = read_file(item)
    assert isinstance(found.mimetype, str) and isinstance(found.url, str) and found.size >= 0


@BOUNDED
@given(with_any_field(COMMAND))
def test_reading_a_slash_command_never_raises_on_any_json_value_in_any_field(body: dict[str, Any]) -> None:
    command = read_command(body, "T0FAKE")
    fields = (command.team, command.channel, command.user, command.text)
    assert all(isinstance(value, str) for value in fields)
    parse_command(command.text)
    thread_command(command.text, ("qwen-max",))


@BOUNDED
@given(json_values())
def test_a_display_name_is_found_in_any_json_value(user: Any) -> None:
    assert isinstance(display_name(user), str)
    assert isinstance(display_name({"profile": user, "real_name": user}), str)
