"""Group commit: concurrent submissions share one write, and each caller sees its outcome."""

from __future__ import annotations

import asyncio

import pytest

from services.notify.group_commit import GroupCommit


class Recorder:
    """A write that records its batches; it blocks until released, so submissions pile up."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.batches: list[list[str]] = []
        self.fail_on = fail_on
        self.release = asyncio.Event()

    async def write(self, items: list[str]) -> None:
        self.batches.append(list(items))
        await self.release.wait()
        if self.fail_on in items:
            raise ConnectionError(f"lost while writing {self.fail_on}")


async def test_submissions_made_while_a_write_is_in_flight_go_out_together() -> None:
    recorder = Recorder()
    commit = GroupCommit(recorder.write)
    first = asyncio.create_task(commit.submit("a"))
    await asyncio.sleep(0)  # "a" goes out alone, at once
    rest = [asyncio.create_task(commit.submit(x)) for x in "bcd"]
    await asyncio.sleep(0)
    assert not first.done()
    recorder.release.set()
    await asyncio.gather(first, *rest)
    assert recorder.batches == [["a"], ["b", "c", "d"]]


async def test_a_batch_is_capped() -> None:
    recorder = Recorder()
    recorder.release.set()
    commit = GroupCommit(recorder.write, max_batch=2)
    await asyncio.gather(*(commit.submit(x) for x in "abcde"))
    assert recorder.batches == [["a", "b"], ["c", "d"], ["e"]]


async def test_every_caller_of_a_failed_batch_sees_the_error_and_later_ones_do_not() -> None:
    recorder = Recorder(fail_on="b")
    commit = GroupCommit(recorder.write)
    first = asyncio.create_task(commit.submit("a"))
    await asyncio.sleep(0)
    failing = [asyncio.create_task(commit.submit(x)) for x in "bc"]
    await asyncio.sleep(0)
    recorder.release.set()
    await first
    results = await asyncio.gather(*failing, return_exceptions=True)
    assert [type(r) for r in results] == [ConnectionError, ConnectionError]
    await commit.submit("d")  # the next batch is written normally
    assert recorder.batches[-1] == ["d"]


async def test_a_cancelled_caller_does_not_cancel_the_write_of_the_others() -> None:
    recorder = Recorder()
    commit = GroupCommit(recorder.write)
    first = asyncio.create_task(commit.submit("a"))
    second = asyncio.create_task(commit.submit("b"))
    await asyncio.sleep(0)
    first.cancel()
    recorder.release.set()
    await second
    with pytest.raises(asyncio.CancelledError):
        await first
    assert recorder.batches == [["a", "b"]]
