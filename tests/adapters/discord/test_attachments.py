"""Files: images to the vision model, text inlined with its name, anything else skipped with a note."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest

from adapters.discord import render
from tests.adapters.discord.conftest import answer_to, at, reply_texts
from tests.fakes.qwen import Script, last_user_text

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def answer(qwen: Any) -> None:
    qwen.responder = lambda body: Script("Seen.")


def user_parts(qwen: Any) -> Any:
    return qwen.chat_requests[-1]["messages"][-1]["content"]


async def test_an_image_goes_to_the_vision_model_as_an_image_part(bot, fake, world, qwen) -> None:
    image = fake.host_file("cat.png", PNG, "image/png")
    msg = await fake.say(
        world["alice"], f"{at(fake)} what is this?", channel_id=world["general"], attachments=[image]
    )
    await answer_to(fake, msg, "Seen.")
    assert qwen.chat_requests[-1]["model"] == "qwen-vl-max"
    urls = [p["image_url"]["url"] for p in user_parts(qwen) if p.get("type") == "image_url"]
    assert urls == ["data:image/png;base64," + base64.b64encode(PNG).decode()]


async def test_a_text_file_is_inlined_with_its_name(bot, fake, world, qwen) -> None:
    source = fake.host_file("main.py", b"print('hello from a file')\n", "text/x-python")
    msg = await fake.say(
        world["alice"], f"{at(fake)} review", channel_id=world["general"], attachments=[source]
    )
    await answer_to(fake, msg, "Seen.")
    sent = str(user_parts(qwen))
    assert "main.py" in sent and "print('hello from a file')" in sent


async def test_other_files_are_skipped_with_a_note_and_the_question_still_answered(
    bot, fake, world, qwen
) -> None:
    archive = fake.host_file("backup.zip", b"PK\x03\x04", "application/zip")
    msg = await fake.say(
        world["alice"], f"{at(fake)} look", channel_id=world["general"], attachments=[archive]
    )
    await fake.wait_for(lambda: "Seen." in reply_texts(fake, msg))
    notes = [t for t in reply_texts(fake, msg) if t.startswith("-# ")]
    assert len(notes) == 1 and "backup.zip" in notes[0]
    assert "backup.zip" not in str(user_parts(qwen))


async def test_a_file_larger_than_announced_is_refused_after_download(bot, fake, world, qwen) -> None:
    big = fake.host_file("notes.txt", b"x" * (150 * 1024), "text/plain", size=1000)
    msg = await fake.say(
        world["alice"], f"{at(fake)} read this", channel_id=world["general"], attachments=[big]
    )
    await fake.wait_for(lambda: "Seen." in reply_texts(fake, msg))
    assert any("notes.txt" in t and t.startswith("-# ") for t in reply_texts(fake, msg))
    assert "xxxxxxxx" not in str(user_parts(qwen))


async def test_only_an_unreadable_file_gets_the_note_and_no_model_call(bot, fake, world, qwen) -> None:
    video = fake.host_file("clip.mp4", b"\x00\x00\x00\x18ftyp", "video/mp4")
    msg = await fake.say(world["dave"], "", attachments=[video])
    await fake.wait_for(lambda: reply_texts(fake, msg))
    assert "clip.mp4" in reply_texts(fake, msg)[0]
    assert qwen.chat_requests == []


async def test_a_mention_with_nothing_to_say_gets_a_hint_not_a_model_call(bot, fake, world, qwen) -> None:
    msg = await fake.say(world["alice"], at(fake), channel_id=world["general"])
    await fake.wait_for(lambda: reply_texts(fake, msg))
    assert qwen.chat_requests == []
    assert render.MESSAGE_LIMIT > len(reply_texts(fake, msg)[0]) > 0


async def test_a_message_with_a_file_is_answered_before_the_message_after_it(bot, fake, world, qwen) -> None:
    download = asyncio.Event()
    source = fake.host_file("notes.txt", b"the file body\n", "text/plain", hold=download)
    first = await fake.say(
        world["alice"], f"{at(fake)} first question", channel_id=world["general"], attachments=[source]
    )
    second = await fake.say(world["alice"], f"{at(fake)} second question", channel_id=world["general"])
    # A DM answered while the file is held shows the bot has taken in both channel messages by then.
    probe = await fake.say(world["dave"], "are you there?")
    await answer_to(fake, probe, "Seen.")
    download.set()
    await answer_to(fake, first, "Seen.")
    await answer_to(fake, second, "Seen.")
    asked = [last_user_text(body) for body in qwen.chat_requests if "question" in str(body["messages"])]
    assert "first question" in asked[0] and "the file body" in asked[0]
    history = str(qwen.chat_requests[-1]["messages"])
    assert history.index("first question") < history.index("second question")
