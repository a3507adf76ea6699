import asyncio

from bot.throttle import Throttle
from tests.conftest import RecordingReply
from tests.waiting import until


async def test_the_first_text_goes_out_at_once():
    reply = RecordingReply(update_interval=60)
    throttle = Throttle(reply)
    throttle.push("a")
    await until(lambda: reply.partials == ["a"])
    await throttle.close()


async def test_texts_pushed_within_the_interval_are_coalesced_into_the_latest():
    reply = RecordingReply(update_interval=0.2)
    throttle = Throttle(reply)
    for text in ("a", "ab", "abc", "abcd"):
        throttle.push(text)
        await asyncio.sleep(0)
    await until(lambda: reply.partials[-1:] == ["abcd"])
    await throttle.close()
    assert reply.partials == ["a", "abcd"]


async def test_nothing_is_sent_after_close():
    reply = RecordingReply(update_interval=60)
    throttle = Throttle(reply)
    throttle.push("a")
    await until(lambda: reply.partials == ["a"])
    throttle.push("ab")
    await throttle.close()
    await asyncio.sleep(0.05)
    assert reply.partials == ["a"]


async def test_a_partial_call_under_way_completes_before_close_returns():
    finished = []

    class Slow(RecordingReply):
        async def partial(self, text: str) -> None:
            await asyncio.sleep(0.1)
            finished.append(text)

    throttle = Throttle(Slow(update_interval=0))
    throttle.push("a")
    await asyncio.sleep(0.02)
    await throttle.close()
    assert finished == ["a"]
