"""Group commit: concurrent writes of one kind coalesced into one database call.

Each caller still waits until its own write is durable (and sees its error), so the crash
ordering of the delivery steps is unchanged; what changes is that 32 deliveries finishing at
about the same time take one write slot in turn instead of 32 writes competing for FerretDB's
single SQLite writer (and an insert of them all is one command and one transaction). No
timer: the first write goes out at once, and whatever queues up while it is in flight goes
out together next.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class GroupCommit(Generic[T]):
    def __init__(
        self, write: Callable[[list[T]], Awaitable[None]], *, max_batch: int = 256
    ) -> None:
        self._write = write
        self._max_batch = max_batch
        self._queue: list[tuple[T, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> None:
        """Return once `item` is written (raises what the batch's write raised)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_all(), name="group commit")
        await asyncio.shield(future)  # a cancelled caller must not cancel the others' write

    async def _flush_all(self) -> None:
        while self._queue:
            batch = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
            try:
                await self._write([item for item, _ in batch])
            except BaseException as exc:  # every caller of this batch sees the failure
                failure = exc if isinstance(exc, Exception) else ConnectionAbortedError(repr(exc))
                _settle(batch, failure)
                if not isinstance(exc, Exception):
                    _settle(self._queue, failure)  # cancelled at shutdown: nobody waits forever
                    self._queue.clear()
                    raise
            else:
                _settle(batch, None)


def _settle(batch: list[tuple[T, asyncio.Future[None]]], failure: Exception | None) -> None:
    for _, future in batch:
        if future.done():
            continue
        if failure is None:
            future.set_result(None)
        else:
            future.set_exception(failure)
            future.add_done_callback(_retrieved)  # a caller cancelled meanwhile never reads it


def _retrieved(future: asyncio.Future[None]) -> None:
    future.exception()
