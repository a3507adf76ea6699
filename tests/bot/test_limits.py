import pytest

from bot.limits import MemoryWindow, UserLimit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_messages_within_the_limit_are_allowed():
    limit = UserLimit.per_minute(6, Clock())
    assert all([(await limit.check("u")).allowed for _ in range(6)])


async def test_the_first_refusal_says_so_and_later_ones_stay_quiet():
    limit = UserLimit.per_minute(2, Clock())
    await limit.check("u")
    await limit.check("u")
    first, second = await limit.check("u"), await limit.check("u")
    assert (first.allowed, first.notify) == (False, True)
    assert (second.allowed, second.notify) == (False, False)


async def test_a_refusal_is_told_again_once_the_user_was_let_through_in_between():
    clock = Clock()
    limit = UserLimit.per_minute(1, clock)
    await limit.check("u")
    assert (await limit.check("u")).notify
    clock.now += 61
    assert (await limit.check("u")).allowed

    assert (await limit.check("u")).notify


async def test_a_quiet_refusal_does_not_use_up_the_told_one():
    window = MemoryWindow(1, 60, Clock())
    await window.try_acquire("u")
    assert not await window.try_acquire("u")

    assert (await window.admit("u")).notify


async def test_the_window_slides():
    clock = Clock()
    limit = UserLimit.per_minute(1, clock)
    assert (await limit.check("u")).allowed
    clock.now += 30
    assert not (await limit.check("u")).allowed
    clock.now += 31
    assert (await limit.check("u")).allowed


async def test_users_are_limited_separately():
    limit = UserLimit.per_minute(1, Clock())
    assert (await limit.check("a")).allowed
    assert (await limit.check("b")).allowed


async def test_zero_means_unlimited():
    limit = UserLimit.per_minute(0, Clock())
    assert all([(await limit.check("u")).allowed for _ in range(100)])


async def test_keys_idle_for_a_window_are_swept_once_many_are_tracked(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(MemoryWindow, "SWEEP_AT", 100)
    clock = Clock()
    window = MemoryWindow(5, 60, clock)
    for n in range(100):
        await window.try_acquire(f"user{n}")
    clock.now += 61
    await window.try_acquire("someone")
    assert len(window) == 1


async def test_time_until_free_is_when_the_oldest_counted_hit_leaves_the_window():
    clock = Clock()
    window = MemoryWindow(2, 5, clock)
    await window.try_acquire("c")
    clock.now += 1
    await window.try_acquire("c")
    assert await window.time_until_free("c") == pytest.approx(4)
    assert not await window.try_acquire("c")
    clock.now += 4
    assert await window.try_acquire("c")


async def test_acquire_with_no_wait_takes_a_hit_even_when_full():
    clock = Clock()
    window = MemoryWindow(1, 60, clock)
    await window.acquire("w", max_wait=0)
    clock.now += 30
    await window.acquire("w", max_wait=0)  # a write that must happen is counted all the same
    clock.now += 31
    assert await window.time_until_free("w") == pytest.approx(29)


async def test_acquire_waits_for_room():
    window = MemoryWindow(1, 0.05)
    await window.acquire("k")
    await window.acquire("k")
    assert len(window) == 1
