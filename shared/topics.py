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
