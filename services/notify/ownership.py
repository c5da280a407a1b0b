"""Which aggregation groups this replica owns, and the fencing check before it acts for one.

Intake re-keys every (alert, group) to the group's id on the internal groups topic; Kafka's
consumer group assigns that topic's partitions to the replicas, and the owner of a partition
owns its groups: their timers (flushes), notification log and pending notifications. On
assignment the replica takes each partition's next epoch (`notify_owners`); before flushing a
group or sending one of its notifications it checks that the partition is still assigned here
and that no newer owner has taken the epoch since (a replica paused past its session resumes
with its old belief).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from aiokafka import TopicPartition

from shared.runtime.kafka import key_partition


class EpochStore(Protocol):
    async def next_epoch(self, partition: int) -> int: ...

    async def epoch(self, partition: int) -> int | None: ...


class OwnedStore(EpochStore, Protocol):
    def forget_caches(self) -> None: ...


class GroupOwnership:
    """`owned` None: every group (a lone process, the in-process test harness)."""

    def __init__(self, partitions: int, owned: frozenset[int] | None = None) -> None:
        self.partitions = partitions
        self.owned = owned
        self.epochs: dict[int, int] = {}

    def partition_of(self, group_id: str) -> int:
        return key_partition(group_id.encode("utf-8"), self.partitions)

    def owns(self, group_id: str) -> bool:
        return self.owned is None or self.partition_of(group_id) in self.owned

    async def assign(self, partitions: Iterable[int], store: EpochStore) -> None:
        wanted = sorted(set(partitions))
        self.epochs = {p: await store.next_epoch(p) for p in wanted}
        self.owned = frozenset(wanted)

    def revoke(self, partitions: Iterable[int]) -> None:
        gone = set(partitions)
        self.owned = (self.owned or frozenset()) - gone
        for p in gone:
            self.epochs.pop(p, None)

    async def still_owner(self, group_id: str, store: EpochStore) -> bool:
        """The fencing check: assigned here, and the stored epoch is still the one taken."""
        if self.owned is None:
            return True
        partition = self.partition_of(group_id)
        mine = self.epochs.get(partition)
        return mine is not None and await store.epoch(partition) == mine


class OwnershipListener:
    """Kafka's rebalance callbacks for the groups topic (other topics' partitions ignored):
    on assignment new epochs (fencing the previous owners) and the store's caches dropped,
    since the previous owner changed what they remember; on revocation the same, forgotten."""

    def __init__(
        self,
        ownership: GroupOwnership,
        store: OwnedStore,
        topic: str,
        report: Callable[[int], None] = lambda owned: None,
    ) -> None:
        self.ownership = ownership
        self.store = store
        self.topic = topic
        self.report = report

    def _partitions(self, tps: frozenset[TopicPartition]) -> set[int]:
        return {tp.partition for tp in tps if tp.topic == self.topic}

    async def assigned(self, tps: frozenset[TopicPartition]) -> None:
        partitions = self._partitions(tps)
        if partitions:
            await self.ownership.assign(partitions, self.store)
            self.store.forget_caches()
            self.report(len(self.ownership.owned or ()))

    async def revoked(self, tps: frozenset[TopicPartition]) -> None:
        partitions = self._partitions(tps)
        if partitions:
            self.ownership.revoke(partitions)
            self.store.forget_caches()
            self.report(len(self.ownership.owned or ()))
