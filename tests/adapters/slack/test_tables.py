"""Answers with tables reach Slack as `markdown` blocks, streamed or not, long or short."""

from __future__ import annotations

import json

from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import recovery
from adapters.slack.blocks import rendered
from adapters.slack.render import to_stream_markdown
from bot.memory import Unfinished
from bot.sentences import INTERRUPTED_MARK
from bot.types import ConversationKey
from tests.adapters.slack.conftest import GENERAL
from tests.fakes.qwen import Script

TABLE = "Sizes:\n\n| Size | Inches |\n|---|---:|\n| S | 36 |\n| M | 40 |\n\nAsk for more."


async def mention(slack, run, text: str = "question") -> str:  # type: ignore[no-untyped-def]
    events = slack.mention(text)
    await slack.deliver_all(events)
    await run.idle()
    return events[0]["ts"]


def json_blocks(params: dict) -> list[dict]:
    """A call's blocks, whether sent as JSON or as a form field holding JSON."""
    blocks = params.get("blocks") or []
    return json.loads(blocks) if isinstance(blocks, str) else blocks


async def test_a_streamed_answer_with_a_table_ends_as_a_markdown_block(slack, qwen, start_bot) -> None:
    qwen.queue(Script(TABLE, delay=0.01))
    run = await start_bot()
    thread = await mention(slack, run)
    (message,) = slack.bot_messages(GENERAL, thread)
    assert message.blocks[0] == {"type": "markdown", "text": TABLE}
    assert [b["type"] for b in message.blocks[1:]] == ["context_actions"]  # 👍/👎 under it
    assert message.text == rendered(TABLE, final=True)[0].text  # the fallback for notifications
    assert slack.count("chat.startStream") == 1 and slack.count("chat.stopStream") == 1
    assert not message.streaming
    (update,) = slack.params("chat.update")
    assert json_blocks(update)[0] == {"type": "markdown", "text": TABLE}


async def test_an_edited_answer_with_a_table_ends_as_a_markdown_block(slack, qwen, start_bot) -> None:
    qwen.queue(Script(TABLE, delay=0.01))
    run = await start_bot(slack_streaming=False)
    thread = await mention(slack, run)
    (message,) = slack.bot_messages(GENERAL, thread)
    assert message.blocks[0] == {"type": "markdown", "text": TABLE}
    assert slack.count("chat.startStream") == 0


async def test_an_answer_without_a_table_carries_no_blocks(slack, qwen, start_bot) -> None:
    qwen.queue(Script("No table | here, just **text**.", delay=0.01))
    run = await start_bot(slack_streaming=False)
    thread = await mention(slack, run)
    (message,) = slack.bot_messages(GENERAL, thread)
    assert not message.block_markdown
    calls = slack.params("chat.postMessage") + slack.params("chat.update")
    assert not any(b.get("type") == "markdown" for p in calls for b in json_blocks(p))


async def test_a_long_streamed_table_is_several_block_messages_with_every_row(slack, qwen, start_bot) -> None:
    rows = [f"| {i} | {i * i} |" for i in range(2500)]
    answer = "| n | square |\n|---|---|\n" + "\n".join(rows)
    qwen.queue(Script(answer, chunks=10, delay=0.01))
    run = await start_bot()
    thread = await mention(slack, run)
    messages = slack.bot_messages(GENERAL, thread)
    assert len(messages) > 1
    assert all(m.blocks and not m.streaming for m in messages)
    shown = [line for m in messages for line in m.block_markdown.split("\n")]
    assert [line for line in shown if line not in ("| n | square |", "|---|---|")] == rows


async def test_an_answer_with_a_table_a_killed_process_left_is_finished_as_a_markdown_block(slack) -> None:
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    posted = await client.chat_postMessage(channel=GENERAL, thread_ts="1.0", text="Sizes:")
    shown = [{"ts": posted["ts"], "open": False}]
    place = json.dumps({"channel": GENERAL, "thread_ts": "1.0", "messages": shown})
    key = ConversationKey("slack", slack.team, GENERAL, "1.0")
    await recovery.finish(client, Unfinished(1, key, "1.0", "gone", 0, True, place, TABLE))
    (message,) = slack.bot_messages(GENERAL, "1.0")
    assert message.block_markdown == TABLE + to_stream_markdown(INTERRUPTED_MARK)
