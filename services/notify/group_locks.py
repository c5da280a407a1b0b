"""One lock per aggregation group (and per alert fingerprint), instead of one for them all.

Intake, a group's flush and the end of its deliveries each change a group's document by
read-modify-write, so they must not interleave on the same group; on different groups they
can run side by side. Locks are taken in sorted order, so two callers that need some of the
same keys cannot deadlock, and a lock is forgotten once nobody holds or awaits it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class KeyedLocks:
    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, *keys: str) -> AsyncIterator[None]:
        """Hold the locks of all `keys` (each once) for the block."""
        wanted = sorted(set(keys))
        for key in wanted:
            self._users[key] = self._users.get(key, 0) + 1
        held: list[asyncio.Lock] = []
        try:
            for key in wanted:
                lock = self._locks.setdefault(key, asyncio.Lock())
                await lock.acquire()
                held.append(lock)
            yield
        finally:
            for lock in held:
                lock.release()
            for key in wanted:
                self._users[key] -= 1
                if not self._users[key]:
                    del self._users[key]
                    del self._locks[key]

    def __len__(self) -> int:
        """How many keys are held or awaited now."""
        return len(self._locks)
