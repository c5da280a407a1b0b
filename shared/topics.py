"""Kafka topic names and partition counts: one place, so the services, CLI and manifests agree."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

PROGRESS = "planwatch.progress"  # agency events in (CloudEvents), keyed by target id
PROGRESS_DLT = "planwatch.progress.dlt"  # rejected agency events, original bytes + reason headers
ACCEPTED = "planwatch.accepted"  # normalized accepted events, keyed by target id, for scoring
CLOCK = "planwatch.clock"  # clock ticks
SCORES = "planwatch.scores"  # score updates, keyed by target id
ALERTS = "planwatch.alerts"  # alert transitions, keyed by target id
SCORING_DLT = "planwatch.scoring.dlt"  # accepted events scoring could not apply
# Internal: instants to which reports moved a scoring replica's clock, read whole by every replica.
SCORING_CLOCK = "planwatch.scoring.clock"
# Internal: (alert, group) pairs re-keyed by aggregation group id; a group's owner is the
# notify replica assigned its partition.
NOTIFY_GROUPS = "planwatch.notify.groups"
NOTIFICATIONS = "planwatch.notifications"  # notifications for downstream consumers
NOTIFICATIONS_DLT = "planwatch.notifications.dlt"  # notifications past their retry budget

# Topic configurations set when a topic is created (and in the Strimzi KafkaTopics).
# planwatch.progress takes outside bytes: the broker stores it uncompressed, so it decompresses
# every producer batch and checks the result against max.message.bytes. A gzip "bomb" (2 MB of
# zeros is 2 KB compressed) is then refused at the broker (MESSAGE_TOO_LARGE) instead of being
# inflated by ingest; what ingest fetches is bounded by its fetch limits as stored. 1 MiB per
# batch leaves room for batched 64 KiB events. Verified on the real broker by
# tests/integration/test_infra_kafka.py::test_the_progress_topic_refuses_a_decompression_bomb.
PROGRESS_CONFIG: Mapping[str, str] = MappingProxyType(
    {"compression.type": "uncompressed", "max.message.bytes": "1048576"}
)
CONFIGS: Mapping[str, Mapping[str, str]] = MappingProxyType({PROGRESS: PROGRESS_CONFIG})

PARTITIONS: Mapping[str, int] = MappingProxyType(
    {
        PROGRESS: 6,
        PROGRESS_DLT: 1,
        ACCEPTED: 6,
        CLOCK: 1,
        SCORES: 6,
        ALERTS: 6,
        SCORING_DLT: 1,
        SCORING_CLOCK: 1,
        NOTIFY_GROUPS: 6,
        NOTIFICATIONS: 3,
        NOTIFICATIONS_DLT: 1,
    }
)
