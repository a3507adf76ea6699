"""Thinking and search on Slack: the assistant thread's status, or a status line where it is refused."""

from __future__ import annotations

from adapters.slack.render import to_mrkdwn
from bot import sentences
from tests.adapters.slack.conftest import GENERAL, eventually
from tests.fakes.qwen import Script

THINKING = {"qwen_model": "qwen3-max", "qwen_thinking": True}


async def ask(slack, run, text: str = "question", **options) -> str:  # type: ignore[no-untyped-def]
    events = slack.mention(text, **options)
    await slack.deliver_all(events)
    await run.idle()
    return events[0]["ts"]


async def test_while_the_model_thinks_the_thread_status_says_so_with_a_loading_message(
    slack, qwen, start_bot
) -> None:
    qwen.queue(Script(reasoning="hmm hmm", reasoning_delay=0.1, text="Yes."))
    run = await start_bot(core_settings=THINKING)
    thread = await ask(slack, run)
    assert slack.texts(GENERAL, thread) == ["Yes."]
    thinking = [s for s in slack.statuses if s.get("loading_messages")]
    assert thinking and thinking[0]["thread_ts"] == thread
    assert (thinking[0]["status"], thinking[0]["loading_messages"]) == ("is thinking…", ["Thinking…"])
    assert len(thinking) == 1  # set once per activity, not at every tick
    assert qwen.flags == [{"enable_thinking": True}]


async def test_while_it_searches_the_status_says_so_then_switches_to_thinking(slack, qwen, start_bot) -> None:
    qwen.queue(Script(first_delay=0.2, reasoning="found things", reasoning_delay=0.2, text="News."))
    run = await start_bot(core_settings={**THINKING, "qwen_dashscope": True, "qwen_search": True})
    await ask(slack, run)
    said = [(s["status"], s["loading_messages"]) for s in slack.statuses if s.get("loading_messages")]
    assert said == [("is searching the web…", ["Searching the web…"]), ("is thinking…", ["Thinking…"])]
    assert qwen.flags[0]["enable_search"] is True


async def test_where_the_status_is_refused_a_status_line_in_the_message_becomes_the_answer(
    slack, qwen, start_bot
) -> None:
    slack.status_error = "not_allowed"
    qwen.queue(Script(reasoning="ponder " * 4, reasoning_delay=0.1, text="Done."))
    run = await start_bot(core_settings=THINKING)
    thread = await ask(slack, run)
    first = slack.params("chat.postMessage")[0]
    assert first["text"] == to_mrkdwn("_Thinking… 0 s_")
    assert slack.texts(GENERAL, thread) == ["Done."]


async def test_asked_in_the_answers_thread_the_reasoning_command_answers_privately(
    slack, qwen, start_bot
) -> None:
    qwen.queue(Script(reasoning="deliberation", text="Sure."))
    run = await start_bot(core_settings=THINKING)
    thread = await ask(slack, run)
    await eventually(lambda: slack.count("chat.stopStream") == 1)  # the answer is finished
    await ask(slack, run, "reasoning", thread_ts=thread, user="U0BOB")
    await eventually(lambda: slack.ephemerals)
    [private] = slack.ephemerals
    assert (private["user"], private["thread_ts"]) == ("U0BOB", thread)
    assert private["text"] == to_mrkdwn(sentences.REASONING_SHOWN.format(text="deliberation"))
