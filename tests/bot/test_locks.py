import asyncio

from bot.locks import KeyedLocks


async def test_holders_of_one_key_go_in_arrival_order():
    locks = KeyedLocks()
    order: list[int] = []

    async def worker(n: int) -> None:
        async with locks.hold("k"):
            await asyncio.sleep(0.01 * (3 - n))
            order.append(n)

    await asyncio.gather(*(worker(n) for n in range(3)))
    assert order == [0, 1, 2]


async def test_different_keys_do_not_wait_for_each_other():
    locks = KeyedLocks()
    async with locks.hold("a"):
        await asyncio.wait_for(_enter(locks, "b"), 1)


async def _enter(locks: KeyedLocks, key: str) -> None:
    async with locks.hold(key):
        pass


async def test_locks_are_dropped_when_nobody_needs_them():
    locks = KeyedLocks()
    async with locks.hold("a"):
        assert len(locks) == 1
    assert len(locks) == 0
