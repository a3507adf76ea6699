"""A conversation on Slack, as the operator's scraper sees it on the metrics port (both modes)."""

from __future__ import annotations

import aiohttp
import pytest

from bot.health import HealthServer
from tests.adapters.slack.conftest import DM, GENERAL, Running, StartBot
from tests.fakes.qwen import FakeQwen, Script
from tests.fakes.slack import FakeSlack
from tests.scrape import gain, scrape


async def metrics_port(run: Running) -> HealthServer:
    return await HealthServer(run.core.store, {"slack": run.adapter}).start("127.0.0.1", 0)


@pytest.mark.parametrize("mode", ["http", "socket"])
async def test_an_answer_its_tokens_and_its_latency_are_scraped(slack: FakeSlack, qwen: FakeQwen,
                                                               start_bot: StartBot, mode: str):
    run = await start_bot(mode)
    server = await metrics_port(run)
    try:
        before = await scrape(server.port)
        qwen.queue(Script("Kites fly on wind.", prompt_tokens=31, delay=0.01))
        events = slack.mention("why do kites fly?")
        await slack.deliver_all(events, via=mode)
        await run.idle()
        after = await scrape(server.port)
    finally:
        await server.stop()
    assert slack.texts(GENERAL, events[0]["ts"]) == ["Kites fly on wind."]
    assert gain(before, after, "qwenbot_answers_total", platform="slack", outcome="answered") == 1
    assert gain(before, after, "qwenbot_tokens_total", model="qwen-max", kind="prompt") == 31
    assert gain(before, after, "qwenbot_tokens_total", model="qwen-max", kind="completion") == 4
    for latency in ("qwenbot_first_text_seconds_count", "qwenbot_final_text_seconds_count"):
        assert gain(before, after, latency, platform="slack") == 1
    assert gain(before, after, "qwenbot_first_text_seconds_sum", platform="slack") > 0
    assert gain(before, after, "qwenbot_model_first_token_seconds_count", model="qwen-max") == 1


async def test_an_event_slack_delivers_again_is_counted_as_a_dropped_duplicate(slack: FakeSlack,
                                                                              start_bot: StartBot):
    run = await start_bot()
    server = await metrics_port(run)
    try:
        before = await scrape(server.port)
        event = slack.message("hello there", channel=DM)
        await slack.deliver(event, event_id="Ev0SAME")
        await run.idle()
        await slack.deliver(event, event_id="Ev0SAME", retry_num=1)
        await run.idle()
        after = await scrape(server.port)
    finally:
        await server.stop()
    assert gain(before, after, "qwenbot_duplicate_events_total", platform="slack") == 1
    assert gain(before, after, "qwenbot_answers_total", platform="slack", outcome="answered") == 1


async def test_each_429_from_slack_is_counted_whether_retried_or_not(slack: FakeSlack, start_bot: StartBot):
    run = await start_bot()
    server = await metrics_port(run)
    slack.retry_after = 0
    slack.forced_429["chat.postMessage"] = 2  # slack-sdk waits both out, then the answer goes through
    try:
        before = await scrape(server.port)
        await slack.deliver(slack.message("hello there", channel=DM))
        await run.idle()
        after = await scrape(server.port)
    finally:
        await server.stop()
    assert slack.rate_limited == ["chat.postMessage", "chat.postMessage"]
    assert gain(before, after, "qwenbot_platform_rate_limited_total", platform="slack") == 2


async def test_readyz_is_ready_while_socket_mode_is_connected_and_says_when_it_is_not(start_bot: StartBot):
    run = await start_bot("socket")
    server = await metrics_port(run)
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{server.port}/readyz") as response:
                assert (response.status, await response.text()) == (200, "ready\n")
            await run.bot.stop()
            async with session.get(f"http://127.0.0.1:{server.port}/readyz") as response:
                assert (response.status, await response.text()) == (503, "slack: not connected\n")
    finally:
        await server.stop()
