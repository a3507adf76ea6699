"""Many conversations at once, and sharding across processes."""

from __future__ import annotations

import asyncio

from tests.adapters.discord.conftest import answer_to, at
from tests.fakes.qwen import Script, last_user_text


async def test_twenty_channels_are_answered_at_once_each_with_its_own_answer(
    world, fake, make_bot, qwen
) -> None:
    qwen.responder = lambda body: Script("answer for " + last_user_text(body).split(": ", 1)[-1], delay=0.01)
    channels = [fake.add_channel(world["guild"], f"room-{n}") for n in range(20)]
    people = [fake.add_member(world["guild"], f"User{n}") for n in range(20)]
    await make_bot(core={"max_concurrent_replies": 20})
    messages = await asyncio.gather(
        *(
            fake.say(people[n], f"{at(fake)} question {n}", channel_id=channel)
            for n, channel in enumerate(channels)
        )
    )
    await asyncio.gather(
        *(answer_to(fake, msg, f"answer for question {n}", within=20) for n, msg in enumerate(messages))
    )
    assert fake.rate_limited() == []
    assert len(qwen.chat_requests) == 20


async def test_shards_split_guilds_between_processes(fake, make_bot, qwen) -> None:
    qwen.responder = lambda body: Script("from my shard")
    guild = fake.add_guild_on_shard(1, 2)
    channel = fake.add_channel(guild, "general")
    alice = fake.add_member(guild, "Alice")
    await make_bot(shard_count=2, shard_ids="1")
    assert [i.get("shard") for i in fake.identifies] == [[1, 2]]
    msg = await fake.say(alice, f"{at(fake)} hi", channel_id=channel)
    await answer_to(fake, msg, "from my shard")


async def test_one_process_can_run_every_shard(fake, make_bot, qwen) -> None:
    qwen.responder = lambda body: Script("sharded")
    guilds = [fake.add_guild_on_shard(0, 2), fake.add_guild_on_shard(1, 2)]
    channels = [fake.add_channel(g, "general") for g in guilds]
    people = [fake.add_member(g, "Alice") for g in guilds]
    await make_bot(shard_count=2)
    assert sorted(i["shard"] for i in fake.identifies) == [[0, 2], [1, 2]]
    for who, channel in zip(people, channels, strict=True):
        msg = await fake.say(who, f"{at(fake)} hi", channel_id=channel)
        await answer_to(fake, msg, "sharded")
