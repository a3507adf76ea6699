"""CallSlots: a FIFO limit on model calls that a stalled call does not hold."""

import asyncio

import pytest

from bot.slots import CallSlots
from tests.waiting import until


async def hold(slots: CallSlots, release: asyncio.Event, *, start: bool = True) -> None:
    async with slots.call() as call:
        if start:
            call.started()
        await release.wait()


async def test_calls_up_to_the_limit_run_and_the_rest_wait():
    slots, release = CallSlots(2, stall_grace=60), asyncio.Event()
    tasks = [asyncio.create_task(hold(slots, release)) for _ in range(3)]
    await until(lambda: slots.in_flight == 2 and slots.waiting == 1, message="two in, one waiting")
    release.set()
    await asyncio.gather(*tasks)
    assert (slots.in_flight, slots.waiting, slots.stalled) == (0, 0, 0)


async def test_waiting_calls_are_admitted_in_arrival_order():
    slots, order = CallSlots(1, stall_grace=60), []
    gate = asyncio.Event()

    async def call(name: str) -> None:
        async with slots.call() as slot:
            slot.started()
            order.append(name)
            await gate.wait()

    first = asyncio.create_task(call("first"))
    await until(lambda: slots.in_flight == 1)
    rest = [asyncio.create_task(call(name)) for name in ("second", "third")]
    await until(lambda: slots.waiting == 2)
    gate.set()
    await asyncio.gather(first, *rest)
    assert order == ["first", "second", "third"]


async def test_a_call_without_a_first_token_stops_counting_after_the_grace():
    slots, release = CallSlots(1, stall_grace=0.05), asyncio.Event()
    stalled = asyncio.create_task(hold(slots, release, start=False))
    await until(lambda: slots.stalled == 1, message="the call to stall")
    assert slots.in_flight == 0
    healthy_done = asyncio.Event()

    async def healthy() -> None:
        async with slots.call() as call:
            call.started()
        healthy_done.set()

    await asyncio.wait_for(healthy(), 5)
    release.set()
    await stalled
    assert (slots.in_flight, slots.waiting, slots.stalled) == (0, 0, 0)


async def test_a_stalled_call_that_starts_answering_counts_again():
    slots = CallSlots(1, stall_grace=0.05)
    async with slots.call() as call:
        await until(lambda: slots.stalled == 1)
        call.started()
        assert (slots.in_flight, slots.stalled) == (1, 0)
    assert slots.in_flight == 0


async def test_a_call_that_started_in_time_never_stalls():
    slots = CallSlots(1, stall_grace=0.05)
    async with slots.call() as call:
        call.started()
        await asyncio.sleep(0.1)
        assert (slots.in_flight, slots.stalled) == (1, 0)


async def test_a_waiter_cancelled_while_queued_leaves_no_trace():
    slots, release = CallSlots(1, stall_grace=60), asyncio.Event()
    holder = asyncio.create_task(hold(slots, release))
    await until(lambda: slots.in_flight == 1)
    waiter = asyncio.create_task(hold(slots, release))
    await until(lambda: slots.waiting == 1)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert slots.waiting == 0
    release.set()
    await holder
    assert slots.in_flight == 0
    async with slots.call():  # the slot is free again
        assert slots.in_flight == 1


async def test_an_error_inside_a_call_gives_its_slot_back():
    slots = CallSlots(1, stall_grace=60)
    with pytest.raises(RuntimeError):
        async with slots.call():
            raise RuntimeError("model failed")
    assert slots.in_flight == 0
