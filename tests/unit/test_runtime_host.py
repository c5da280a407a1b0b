"""The service host's start-up can be stopped at any moment: a SIGTERM while it still retries
unreachable servers used to wait out the whole start-up timeout (about two minutes)."""

from __future__ import annotations

import asyncio

import pytest

from shared.runtime.host import ServiceHost, StartupAbortedError
from shared.runtime.settings import ServiceSettings

BOUND_S = 30.0  # generous: a busy machine; the abort itself takes one loop turn


def _host() -> ServiceHost:
    # Nothing connects: the hooks below fail or hang before the broker would start.
    host = ServiceHost.create("test", ServiceSettings())
    host.start_timeout_s = 3600.0  # so only the abort can end the start-up
    return host


async def test_an_abort_ends_a_start_up_that_keeps_retrying() -> None:
    host = _host()
    tries = 0
    retried = asyncio.Event()

    async def unreachable() -> None:
        nonlocal tries
        tries += 1
        if tries >= 2:
            retried.set()
        raise ConnectionError("nobody listens")

    host.on_start.append(unreachable)
    start = asyncio.create_task(host.start())
    await asyncio.wait_for(retried.wait(), BOUND_S)
    host.request_abort()
    with pytest.raises(StartupAbortedError):
        await asyncio.wait_for(start, BOUND_S)
    assert not host.started
    await host.mongo.close()


async def test_an_abort_cancels_a_step_that_hangs() -> None:
    host = _host()
    entered = asyncio.Event()
    cancelled = asyncio.Event()

    async def hangs() -> None:
        entered.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    host.on_start.append(hangs)
    start = asyncio.create_task(host.start())
    await asyncio.wait_for(entered.wait(), BOUND_S)
    host.request_abort()
    with pytest.raises(StartupAbortedError):
        await asyncio.wait_for(start, BOUND_S)
    assert cancelled.is_set()
    await host.mongo.close()


async def test_an_abort_asked_before_the_start_is_honoured() -> None:
    host = _host()
    calls = 0

    async def step() -> None:
        nonlocal calls
        calls += 1

    host.on_start.append(step)
    host.request_abort()
    with pytest.raises(StartupAbortedError):
        await asyncio.wait_for(host.start(), BOUND_S)
    assert calls == 0
    await host.mongo.close()
