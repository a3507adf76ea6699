"""Properties of Discord rendering and parsing on any input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import discord
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.discord import render
from adapters.discord.client import intents
from adapters.discord.parse import parse_message
from bot.render import open_fence, split
from tests.properties import BOUNDED, markdown_text, with_any_field

GOLDEN = Path(__file__).parent / "golden"
PAYLOADS: dict[str, Any] = json.loads((GOLDEN / "messages.json").read_text())
BOT_ID = 1000000000000000001


@BOUNDED
@given(markdown_text())
def test_every_message_fits_discord_and_has_balanced_fences(text: str) -> None:
    for message in render.messages(text):
        assert 0 < len(message) <= render.MESSAGE_LIMIT
        assert message.strip() and open_fence(message) is None


@BOUNDED
@given(markdown_text())
def test_the_messages_hold_all_the_visible_text(text: str) -> None:
    kept = "".join(piece.body for piece in split(text, render.MESSAGE_LIMIT) if piece.body.strip())
    assert "".join(kept.split()) == "".join(text.split())
    assert len(render.messages(text)) == sum(1 for p in split(text, render.MESSAGE_LIMIT) if p.body.strip())


@pytest.fixture(scope="module")
def state() -> Any:
    client = discord.Client(intents=intents())
    connection = client._connection
    connection.user = discord.ClientUser(state=connection, data={  # type: ignore[arg-type]
        "id": str(BOT_ID), "username": "qwen", "discriminator": "0", "global_name": "Qwen", "avatar": None,
        "bot": True,
    })
    guild = discord.Guild(data=json.loads((GOLDEN / "guild.json").read_text()), state=connection)
    connection._add_guild(guild)
    return connection


def messages_with_any_field() -> st.SearchStrategy[dict[str, Any]]:
    return st.sampled_from(sorted(PAYLOADS)).flatmap(lambda name: with_any_field(PAYLOADS[name]))


@BOUNDED
@given(data=messages_with_any_field())
def test_parsing_never_raises_on_any_json_value_in_any_field(state: Any, data: dict[str, Any]) -> None:
    try:
        channel, _ = state._get_guild_channel(data)
        message = discord.Message(state=state, channel=channel, data=data)  # type: ignore[arg-type]
    except Exception:
        return  # discord.py itself refuses the payload: it never reaches the bot
    for always in (False, True):
        parse_message(message, bot_id=BOT_ID, always=always, answer_bots=True)
