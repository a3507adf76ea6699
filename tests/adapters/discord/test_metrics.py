"""A conversation on Discord, as the operator's scraper sees it on the metrics port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.health import HealthServer
from tests.adapters.discord.conftest import Bot, answer_to, at
from tests.fakes.qwen import Script
from tests.scrape import Samples, gain, scrape
from tests.waiting import until


@pytest.fixture
async def port(bot: Bot) -> AsyncIterator[int]:
    assert bot.core is not None and bot.adapter is not None
    server = await HealthServer(bot.core.store, {"discord": bot.adapter}).start("127.0.0.1", 0)
    yield server.port
    await server.stop()


async def test_an_answer_its_tokens_and_its_latency_are_scraped(bot: Bot, port: int, fake, world, qwen):
    before = await scrape(port)
    qwen.queue(Script("Kites fly on wind.", prompt_tokens=57, delay=0.01))
    msg = await fake.say(world["alice"], f"{at(fake)} why do kites fly?", channel_id=world["general"])
    await answer_to(fake, msg, "Kites fly on wind.")

    await until(lambda: answered(before, port), message="the answer counted")
    after = await scrape(port)
    assert gain(before, after, "qwenbot_tokens_total", model="qwen-max", kind="prompt") == 57
    assert gain(before, after, "qwenbot_tokens_total", model="qwen-max", kind="completion") == 4
    for latency in ("qwenbot_first_text_seconds_count", "qwenbot_final_text_seconds_count"):
        assert gain(before, after, latency, platform="discord") == 1
    assert gain(before, after, "qwenbot_first_text_seconds_sum", platform="discord") > 0
    assert gain(before, after, "qwenbot_model_first_token_seconds_count", model="qwen-max") == 1


async def answered(before: Samples, port: int) -> bool:
    """Whether one more answer has ended (the core counts it once the answer is stored)."""
    after = await scrape(port)
    return gain(before, after, "qwenbot_answers_total", platform="discord", outcome="answered") == 1


class TestRateLimits:
    @pytest.fixture
    def fake_limits(self) -> dict[str, Any]:
        return {"edit_limit": 2, "edit_window": 0.3}

    async def test_each_429_from_discord_is_counted(self, fake, world, make_bot, qwen):
        # Pacing looser than the fake's limit, so that Discord answers some writes with 429.
        bot = await make_bot(discord_edit_interval=0.01, discord_channel_edits=100, discord_edit_window=0.3)
        server = await HealthServer(bot.core.store, {"discord": bot.adapter}).start("127.0.0.1", 0)
        try:
            before = await scrape(server.port)
            answer = " ".join(f"word{i}" for i in range(30))
            qwen.queue(Script(answer, delay=0.02))
            await fake.say(world["alice"], f"{at(fake)} stream fast", channel_id=world["general"])
            await until(lambda: answered(before, server.port), within=30, message="the answer counted")
            after = await scrape(server.port)
        finally:
            await server.stop()
        assert fake.rate_limited()
        assert gain(before, after, "qwenbot_platform_rate_limited_total", platform="discord") == len(
            fake.rate_limited())


async def test_readyz_is_ready_while_the_gateway_is_connected_and_says_when_it_is_not(bot: Bot, port: int):
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
            assert (response.status, await response.text()) == (200, "ready\n")
        await bot.client.close()
        async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
            assert (response.status, await response.text()) == (503, "discord: not connected\n")
