"""Latency of the Discord adapter over loopback fakes: run `python bench/discord_latency.py`.

Measures, over 50 replies, (1) the time from the user's message being dispatched by the gateway to
the model request arriving at the fake Qwen, and (2) the time from the model's first token to the
first visible text in the channel (the reply message being created on the fake Discord).
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import discord  # noqa: E402
import yarl  # noqa: E402

from adapters.discord import DiscordAdapter, DiscordSettings  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.core import ConversationCore  # noqa: E402
from tests.fakes.discord import FakeDiscord  # noqa: E402
from tests.fakes.qwen import FakeQwen, Script  # noqa: E402

REPLIES = 50


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def main() -> None:
    fake = await FakeDiscord().start()
    qwen = await FakeQwen().start()
    qwen.responder = lambda body: Script("A short streamed answer of a dozen words or so, like most.",
                                         first_delay=0.2, delay=0.02)
    discord.http.Route.BASE = fake.api_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    guild = fake.add_guild()
    # One channel per question: this measures the adapter, not the per-channel write budget.
    channels = [fake.add_channel(guild, f"room-{n}") for n in range(REPLIES)]
    alice = fake.add_member(guild, "Alice")
    with tempfile.TemporaryDirectory() as tmp:
        core = await ConversationCore.start(Settings(
            qwen_api_key="sk-bench", qwen_base_url=qwen.base_url, database_url=f"sqlite:///{tmp}/bench.db",
            qwen_max_retries=0, user_rate_limit=0,
        ))
        settings = DiscordSettings(discord_token=fake.token, discord_api_url=fake.api_url)
        adapter = DiscordAdapter(settings, guild_ready_timeout=0.05)
        task = asyncio.create_task(adapter.serve(core))
        await asyncio.wait_for(adapter.ready.wait(), 15)

        to_request: list[float] = []
        to_visible: list[float] = []
        for n in range(REPLIES):
            sent_at = time.perf_counter()
            msg = await fake.say(alice, f"<@{fake.app_id}> question {n}", channel_id=channels[n])
            replies = await fake.wait_for(lambda m=msg: fake.replies_to(int(m["id"])))
            to_request.append(qwen.request_times[-1] - sent_at)
            to_visible.append(fake.created_at[int(replies[0]["id"])] - qwen.first_token_times[-1])
            # Let the answer finish before the next question, as in a conversation.
            await fake.wait_for(lambda m=msg: [r["content"] for r in fake.replies_to(int(m["id"]))]
                                == ["A short streamed answer of a dozen words or so, like most."])

        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await core.close()
    await qwen.stop()
    await fake.stop()

    print(f"Discord adapter latency over loopback fakes, {REPLIES} replies")
    for name, values in (("user message -> model request", to_request),
                         ("first token -> first visible text", to_visible)):
        ms = [v * 1000 for v in values]
        print(f"  {name:36s} p50 {statistics.median(ms):7.1f} ms   p95 {percentile(ms, 0.95):7.1f} ms")


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main())
