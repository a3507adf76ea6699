"""How answers reach Slack: native streaming, the edit fallback, long answers, and failures."""

from __future__ import annotations

import re

from adapters.slack.render import MESSAGE_LIMIT, STREAM_LIMIT, to_mrkdwn
from tests.adapters.slack.conftest import DM, GENERAL, RANDOM, eventually
from tests.fakes.qwen import Script

ANSWER = "Here is **bold**, *italic*, ~~old~~ and [a link](https://example.com). Hi <!channel> and <@U0BOB>!"


async def mention(slack, run, text: str = "question", **options) -> str:  # type: ignore[no-untyped-def]
    events = slack.mention(text, **options)
    await slack.deliver_all(events)
    await run.idle()
    return events[0]["ts"]


async def test_answer_streams_natively_into_the_thread(slack, qwen, start_bot) -> None:
    qwen.queue(Script("one two three four five six", delay=0.05))
    run = await start_bot()
    thread = await mention(slack, run)
    (message,) = slack.bot_messages(GENERAL, thread)
    assert message.markdown == "one two three four five six"
    assert not message.streaming
    assert slack.count("chat.appendStream") >= 1
    assert slack.count("chat.stopStream") == 1
    assert slack.count("chat.update") == 0
    start = slack.params("chat.startStream")[0]
    assert (start["recipient_user_id"], start["recipient_team_id"]) == ("U0ALICE", slack.team)


async def test_first_words_are_sent_without_waiting_for_a_buffer_to_fill(slack, qwen, start_bot) -> None:
    answer = " ".join(f"word{i}" for i in range(60))
    qwen.queue(Script(answer, delay=0.01, first_delay=0.05))
    run = await start_bot()
    await mention(slack, run)
    first = slack.params("chat.startStream")[0]["markdown_text"]
    assert answer.startswith(first)
    assert len(first) < 256  # slack-sdk's chat_stream helper would hold back the first 256 characters


class TokenScript(Script):
    """Chunks cut like a real model's tokens, each after the first leading with its space."""

    def pieces(self) -> list[str]:
        words = self.text.split(" ")
        return [words[0], *(" " + word for word in words[1:])]


async def test_first_word_is_streamed_before_the_next_token_arrives(slack, qwen, start_bot) -> None:
    qwen.queue(TokenScript("Hello there", delay=60))  # the second token never comes in this test
    await start_bot()
    await slack.deliver_all(slack.mention("hi"))
    await eventually(lambda: slack.params("chat.startStream"))
    assert slack.params("chat.startStream")[0]["markdown_text"] == "Hello"


async def test_streamed_markdown_pings_nobody(slack, qwen, start_bot) -> None:
    qwen.queue(Script(ANSWER))
    run = await start_bot()
    thread = await mention(slack, run)
    (message,) = slack.bot_messages(GENERAL, thread)
    assert "**bold**" in message.markdown
    assert not re.search(r"<[!@]", message.markdown)


async def test_without_the_streaming_scope_it_posts_and_edits_mrkdwn(slack, qwen, start_bot) -> None:
    slack.stream_error = "missing_scope"
    qwen.queue(Script(ANSWER), Script("second"))
    run = await start_bot()
    thread = await mention(slack, run)
    assert slack.texts(GENERAL, thread) == [to_mrkdwn(ANSWER)]
    text = slack.texts(GENERAL, thread)[0]
    assert "*bold*" in text and "_italic_" in text and "~old~" in text
    assert "<https://example.com|a link>" in text
    assert "&lt;!channel&gt;" in text and "&lt;@U0BOB&gt;" in text
    await mention(slack, run, "again", channel=RANDOM)
    assert slack.count("chat.startStream") == 1  # learned once, not retried for every answer
    assert slack.texts(RANDOM)[-1] == "second"


async def test_a_refused_stream_falls_back_for_that_answer_only(slack, qwen, start_bot) -> None:
    slack.stream_error = "missing_recipient_user_id"
    run = await start_bot()
    first = await mention(slack, run, "one")
    slack.stream_error = None
    second = await mention(slack, run, "two")
    assert slack.texts(GENERAL, first) == slack.texts(GENERAL, second) == ["Hello from fake Qwen."]
    assert slack.count("chat.startStream") == 2
    assert [m.markdown != "" for m in slack.bot_messages(GENERAL)] == [False, True]


async def test_expired_stream_is_finished_with_an_edit_holding_the_full_text(slack, qwen, start_bot) -> None:
    slack.stream_expires_after = 1
    answer = " ".join(f"part{i}" for i in range(30))
    qwen.queue(Script(answer, delay=0.02))
    run = await start_bot()
    thread = await mention(slack, run)
    assert slack.texts(GENERAL, thread) == [answer]
    assert slack.count("chat.update") >= 1


async def test_top_level_dm_answer_is_edited_at_most_once_a_second(slack, qwen, start_bot) -> None:
    answer = " ".join(f"w{i}" for i in range(60))
    qwen.queue(Script(answer, delay=0.03))
    run = await start_bot()
    await slack.deliver(slack.message("talk to me", channel=DM))
    await run.idle()
    assert slack.texts(DM, None) == [answer]
    assert slack.count("chat.startStream") == 0
    assert slack.rate_limited == []
    (message,) = slack.bot_messages(DM, None)
    assert len(message.versions) >= 2  # the first words showed before the end


async def test_rate_limited_edit_is_retried_after_retry_after(slack, qwen, start_bot) -> None:
    slack.forced_429["chat.update"] = 1
    qwen.queue(Script("final words here", delay=0.02))
    run = await start_bot()
    await slack.deliver(slack.message("hi", channel=DM))
    await run.idle()
    assert slack.rate_limited == ["chat.update"]
    assert slack.texts(DM) == ["final words here"]


async def test_workspace_edit_budget_is_shared_and_final_text_always_lands(slack, qwen, start_bot) -> None:
    qwen.responder = lambda body: Script(" ".join(f"x{i}" for i in range(40)), delay=0.05)
    run = await start_bot(slack_updates_per_minute=2)
    for n in range(4):
        await slack.deliver(slack.message(f"q{n}", channel=f"D0USER{n}", user=f"U0USER{n}"))
    await run.idle()
    finals = 4
    assert slack.count("chat.update") <= 2 + finals
    for n in range(4):
        assert slack.texts(f"D0USER{n}") == [" ".join(f"x{i}" for i in range(40))]


async def test_long_streamed_answer_continues_in_more_messages_with_code_intact(slack, qwen, start_bot):
    lines = [f"value_{i} = {i}  # a comment to make the line longer" for i in range(600)]
    code = "```python\n" + "\n".join(lines) + "\n```"
    answer = "Intro line.\n\n" + code + "\n\nThe end."
    qwen.queue(Script(answer, chunks=40))
    run = await start_bot()
    thread = await mention(slack, run)
    texts = slack.texts(GENERAL, thread)
    assert len(texts) >= 3
    assert all(len(t) <= STREAM_LIMIT and t.count("```") % 2 == 0 for t in texts)
    joined = "\n".join(texts)
    assert all(f"value_{i} = {i}" in joined for i in range(600))
    assert texts[0].startswith("Intro line.") and texts[-1].endswith("The end.")


async def test_slowly_streamed_long_answer_crosses_message_boundaries_cleanly(slack, qwen, start_bot):
    lines = [f"step_{i} = compute({i})  # keep going" for i in range(700)]
    answer = "Start.\n\n```python\n" + "\n".join(lines) + "\n```\n\nDone @here."
    qwen.queue(Script(answer, chunks=150, delay=0.004))
    run = await start_bot()
    thread = await mention(slack, run)
    texts = slack.texts(GENERAL, thread)
    assert len(texts) >= 3
    assert slack.count("chat.update") == 0  # streamed all the way, never rewritten
    assert slack.count("chat.startStream") == len(texts) == slack.count("chat.stopStream")
    assert all(len(t) <= STREAM_LIMIT and t.count("```") % 2 == 0 for t in texts)
    assert all(t.startswith("```python") for t in texts[1:-1])
    joined = "\n".join(texts)
    assert all(f"step_{i} = compute({i})" in joined for i in range(700))
    assert texts[-1].endswith("Done @\u2060here.")


async def test_long_answer_without_streaming_is_split_under_the_message_limit(slack, qwen, start_bot) -> None:
    slack.stream_error = "missing_scope"
    answer = "\n\n".join(f"Paragraph {i}. " + "lorem ipsum " * 50 for i in range(60))
    qwen.queue(Script(answer, chunks=20))
    run = await start_bot()
    thread = await mention(slack, run)
    texts = slack.texts(GENERAL, thread)
    assert len(texts) >= 8
    assert all(len(t) <= MESSAGE_LIMIT for t in texts)
    assert all(f"Paragraph {i}." in "\n".join(texts) for i in range(60))
    assert "chat.postMessage" not in slack.rate_limited


async def test_model_failure_shows_the_cores_short_sentence(slack, qwen, start_bot) -> None:
    qwen.queue(Script(status=429, error_code="Throttling", retry_after=0))
    run = await start_bot()
    thread = await mention(slack, run)
    (text,) = slack.texts(GENERAL, thread)
    assert "rate-limiting" in text and text.startswith("⚠️")


async def test_stream_cut_by_the_model_ends_with_the_interrupted_mark(slack, qwen, start_bot) -> None:
    qwen.queue(Script("a b c d e f g h", cut_after=3, delay=0.02))
    run = await start_bot()
    thread = await mention(slack, run)
    (text,) = slack.texts(GENERAL, thread)
    assert text.startswith("a b c") and "reply interrupted" in text


async def test_slack_errors_never_stop_the_app(slack, qwen, start_bot) -> None:
    slack.gone_channels.add(RANDOM)
    run = await start_bot()
    await mention(slack, run, "into the void", channel=RANDOM)
    thread = await mention(slack, run, "still alive?")
    assert slack.texts(GENERAL, thread) == ["Hello from fake Qwen."]
    assert not run.task.done()


def code_lines(start: str, end: str, width: int) -> str:
    """`start`, numbered code lines, then `end`: exactly `width` characters."""
    body = "".join(f"x_{i} = {i}\n" for i in range(width))[: width - len(start) - len(end)]
    body = body.rsplit("\n", 1)[0] + "\n"
    return start + body + "#" * (width - len(start) - len(body) - len(end) - 1) + "\n" + end


async def test_message_filled_to_the_brim_continues_in_a_new_one_when_code_begins(slack, qwen, start_bot):
    # Three equal parts, paced so that each reaches Slack as its own update: prose that leaves no
    # room for a code block's closer, then a code block opening, then its end.
    prose = "word " * 2197 + "wor\n"
    opening = code_lines("```python\n", "", len(prose))
    ending = code_lines("", "```\nend.", len(prose))
    answer = prose + opening + ending
    qwen.queue(Script(answer, chunks=3, delay=0.5))
    run = await start_bot()
    thread = await mention(slack, run)
    texts = slack.texts(GENERAL, thread)
    assert slack.count("chat.update") == 0  # streamed all the way, never refused as too long
    assert all(len(t) <= STREAM_LIMIT and t.count("```") % 2 == 0 for t in texts)
    assert texts[0] == prose
    # Each later message but the last closes the code block with ``` and the next reopens it.
    assert "".join(texts[1:]).replace("``````python\n", "") == opening + ending


async def test_rate_limited_final_edit_is_retried_until_it_lands(slack, qwen, start_bot) -> None:
    answer = " ".join(f"w{i}" for i in range(20))
    qwen.queue(Script(answer, delay=0.02))
    run = await start_bot()
    slack.retry_after = 0
    slack.forced_429["chat.update"] = 5  # more than slack-sdk's own three retries
    await slack.deliver(slack.message("hi", channel=DM))
    await run.idle()
    assert slack.rate_limited == ["chat.update"] * 5
    assert slack.texts(DM) == [answer]


async def test_final_edit_that_slack_refuses_is_posted_as_a_new_message(slack, qwen, start_bot) -> None:
    answer = " ".join(f"w{i}" for i in range(20))
    qwen.queue(Script(answer, delay=0.02))
    run = await start_bot()
    slack.update_error = "cant_update_message"
    await slack.deliver(slack.message("hi", channel=DM))
    await run.idle()
    shown, rest = slack.texts(DM)
    assert f"{shown} {rest}" == answer


async def test_slack_connect_author_is_the_streams_recipient(slack, qwen, start_bot) -> None:
    run = await start_bot()
    events = slack.mention("hello from a partner workspace", user="U0PARTNER")
    for event in events:
        event["user_team"] = "T0PARTNER"
    await slack.deliver_all(events)
    await run.idle()
    start = slack.params("chat.startStream")[0]
    assert (start["recipient_user_id"], start["recipient_team_id"]) == ("U0PARTNER", "T0PARTNER")
