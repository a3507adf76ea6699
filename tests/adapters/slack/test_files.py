"""Files shared with a question: images to the vision model, text inlined, the rest noted as skipped."""

from __future__ import annotations

import base64
import logging

from tests.adapters.slack.conftest import DM

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def prompt(body) -> str:  # type: ignore[no-untyped-def]
    return str(body["messages"])


async def test_image_goes_to_the_vision_model(slack, qwen, start_bot) -> None:
    run = await start_bot()
    image = slack.add_file("F0PIC", "chart.png", "image/png", PNG)
    await slack.deliver(slack.message("what is in this chart?", channel=DM, files=[image]))
    await run.idle()
    request = qwen.chat_requests[-1]
    assert request["model"] == "qwen-vl-max"
    assert f"data:image/png;base64,{base64.b64encode(PNG).decode()}" in prompt(request)
    assert slack.texts(DM) == ["Hello from fake Qwen."]


async def test_text_file_is_inlined(slack, qwen, start_bot) -> None:
    run = await start_bot()
    source = slack.add_file("F0CODE", "main.py", "text/x-python", b"def answer():\n    return 42\n")
    await slack.deliver(slack.message("review this", channel=DM, files=[source]))
    await run.idle()
    text = prompt(qwen.chat_requests[-1])
    assert "[file main.py]" in text and "return 42" in text


async def test_other_files_get_a_one_line_note_and_are_not_downloaded(slack, qwen, start_bot) -> None:
    run = await start_bot()
    archive = slack.add_file("F0ZIP", "backup.zip", "application/zip", b"PK\x03\x04")
    await slack.deliver(slack.message("and this?", channel=DM, files=[archive]))
    await run.idle()
    texts = slack.texts(DM)
    assert any("Skipped backup.zip" in t for t in texts)
    assert texts[-1] == "Hello from fake Qwen."
    assert slack.file_requests == []


async def test_text_files_over_100_kb_are_skipped_without_downloading(slack, qwen, start_bot) -> None:
    run = await start_bot()
    big = slack.add_file("F0BIG", "huge.log", "text/plain", b"x" * (100 * 1024 + 1))
    await slack.deliver(slack.message("summarise", channel=DM, files=[big]))
    await run.idle()
    assert any("Skipped huge.log" in t for t in slack.texts(DM))
    assert slack.file_requests == []
    assert "xxxx" not in prompt(qwen.chat_requests[-1])


async def test_the_bot_token_is_never_sent_to_a_foreign_host(slack, qwen, start_bot) -> None:
    run = await start_bot()
    foreign = slack.add_file("F0EVIL", "notes.txt", "text/plain", b"secret notes")
    foreign["url_private"] = foreign["url_private_download"] = f"http://localhost:{slack.port}/files/F0EVIL"
    await slack.deliver(slack.message("read this", channel=DM, files=[foreign]))
    await run.idle()
    assert slack.file_requests == []
    assert any("Skipped notes.txt" in t for t in slack.texts(DM))


async def test_a_file_alone_is_enough_to_ask(slack, qwen, start_bot) -> None:
    run = await start_bot()
    source = slack.add_file("F0TXT", "todo.txt", "text/plain", b"buy milk")
    await slack.deliver(slack.message("", channel=DM, files=[source]))
    await run.idle()
    assert "buy milk" in prompt(qwen.chat_requests[-1])


async def test_an_unreadable_file_alone_is_explained_without_a_model_call(slack, qwen, start_bot) -> None:
    run = await start_bot()
    video = slack.add_file("F0MOV", "demo.mp4", "video/mp4", b"\0" * 10)
    await slack.deliver(slack.message("", channel=DM, files=[video]))
    await run.idle()
    assert qwen.requests == []
    assert slack.texts(DM) == ["Skipped demo.mp4: I can read images and text files only."]


async def test_a_redirect_loop_leaves_no_token_in_the_logs(slack, qwen, start_bot, caplog) -> None:
    caplog.set_level(logging.INFO)
    run = await start_bot()
    looping = slack.add_file("F0LOOP", "notes.txt", "text/plain", b"never served")
    slack.redirects["F0LOOP"] = "/files/F0LOOP"
    await slack.deliver(slack.message("read this", channel=DM, files=[looping]))
    await run.idle()
    assert any("Skipped notes.txt" in t for t in slack.texts(DM))
    logged = "\n".join(caplog.text.splitlines() + [r.getMessage() for r in caplog.records])
    assert slack.bot_token not in logged


async def test_a_redirect_off_slack_is_not_followed(slack, qwen, start_bot) -> None:
    run = await start_bot()
    moved = slack.add_file("F0MOVED", "notes.txt", "text/plain", b"secret notes")
    slack.add_file("F0ELSEWHERE", "notes.txt", "text/plain", b"secret notes")
    slack.redirects["F0MOVED"] = f"http://localhost:{slack.port}/files/F0ELSEWHERE"
    await slack.deliver(slack.message("read this", channel=DM, files=[moved]))
    await run.idle()
    assert slack.file_requests == ["F0MOVED"]
    assert any("Skipped notes.txt" in t for t in slack.texts(DM))


async def test_a_redirect_within_slack_is_followed(slack, qwen, start_bot) -> None:
    run = await start_bot()
    moved = slack.add_file("F0MOVED", "todo.txt", "text/plain", b"placeholder")
    slack.add_file("F0REAL", "todo.txt", "text/plain", b"buy milk")
    slack.redirects["F0MOVED"] = "/files/F0REAL"
    await slack.deliver(slack.message("read this", channel=DM, files=[moved]))
    await run.idle()
    assert slack.file_requests == ["F0MOVED", "F0REAL"]
    assert "buy milk" in prompt(qwen.chat_requests[-1])
