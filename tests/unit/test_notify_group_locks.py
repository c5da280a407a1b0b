"""Per-group locks: the same group serializes, different groups run side by side."""

from __future__ import annotations

import asyncio

from services.notify.group_locks import KeyedLocks


async def test_the_same_key_waits_and_other_keys_do_not() -> None:
    locks = KeyedLocks()
    order: list[str] = []
    release = asyncio.Event()

    async def hold(name: str, *keys: str) -> None:
        async with locks.hold(*keys):
            order.append(f"{name} in")
            await release.wait()
            order.append(f"{name} out")

    first = asyncio.create_task(hold("a", "g1"))
    await asyncio.sleep(0)
    same = asyncio.create_task(hold("b", "g1", "g2"))
    other = asyncio.create_task(hold("c", "g3"))
    await asyncio.sleep(0)
    assert order == ["a in", "c in"]  # b waits for g1; c needs nothing a holds
    release.set()
    await asyncio.gather(first, same, other)
    assert order.index("b in") > order.index("a out")


async def test_keys_are_taken_in_order_so_overlapping_holders_do_not_deadlock() -> None:
    locks = KeyedLocks()

    async def hold(*keys: str) -> None:
        async with locks.hold(*keys):
            await asyncio.sleep(0)

    await asyncio.wait_for(
        asyncio.gather(*(hold("x", "y") if n % 2 else hold("y", "x") for n in range(20))), 5
    )
    assert len(locks) == 0  # nothing held or awaited: every lock was forgotten


async def test_a_cancelled_waiter_leaves_no_lock_behind() -> None:
    locks = KeyedLocks()
    release = asyncio.Event()

    async def hold() -> None:
        async with locks.hold("g"):
            await release.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiter.cancel()
    release.set()
    await holder
    await asyncio.gather(waiter, return_exceptions=True)
    assert len(locks) == 0
