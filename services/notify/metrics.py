"""The notify service's metrics (receiver names come from the routing file: a bounded set)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)


class NotifyMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.notifications = Counter(
            "planwatch_notify_notifications_total",
            "Notifications by receiver and final outcome.",
            ["receiver", "outcome"],  # delivered | failed | dead_lettered | disabled
            registry=registry,
        )
        self.attempts = Counter(
            "planwatch_notify_delivery_attempts_total",
            "Delivery attempts by receiver and result.",
            ["receiver", "result"],  # success | retry | permanent
            registry=registry,
        )
        self.delivery_latency = Histogram(
            "planwatch_notify_delivery_latency_seconds",
            "From an alert transition's arrival to its notification delivered.",
            ["receiver"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.silenced = Counter(
            "planwatch_notify_alerts_silenced_total",
            "Alerts not sent because a silence matched.",
            registry=registry,
        )
        self.inhibited = Counter(
            "planwatch_notify_alerts_inhibited_total",
            "Alerts not sent because an inhibition rule muted them.",
            registry=registry,
        )
        self.groups_active = Gauge(
            "planwatch_notify_groups_active",
            "Aggregation groups holding at least one alert.",
            registry=registry,
        )
        self.dead_lettered = Counter(
            "planwatch_notify_dead_lettered_total",
            "Notifications sent to the dead-letter topic after the retry budget.",
            ["receiver"],
            registry=registry,
        )
        self.receivers_disabled = Gauge(
            "planwatch_notify_receivers_disabled",
            "Receivers disabled after answering 410 Gone.",
            registry=registry,
        )
        self.alerts_received = Counter(
            "planwatch_notify_alerts_received_total",
            "Alert transitions consumed, by result.",
            ["result"],  # applied | duplicate | stale | rejected
            registry=registry,
        )
        self.pending = Gauge(
            "planwatch_notify_notifications_pending",
            "Notifications stored and not yet delivered (including those waiting to retry).",
            registry=registry,
        )
        self.pruned = Counter(
            "planwatch_notify_pruned_total",
            "Records deleted by the retention, by kind.",
            ["kind"],  # log_entries | silences | attempts | rejected_alerts | acks | escalations
            registry=registry,
        )
        self.operational_alerts = Counter(
            "planwatch_notify_operational_alerts_total",
            "Operational records published to the notifications topic, by kind.",
            ["kind"],  # integration_disabled
            registry=registry,
        )
        self.fenced = Counter(
            "planwatch_notify_fenced_sends_total",
            "Notifications not sent because their group's partition moved to another replica.",
            registry=registry,
        )
        self.partitions_owned = Gauge(
            "planwatch_notify_partitions_owned",
            "Partitions of the internal groups topic this replica owns (their groups).",
            registry=registry,
        )
        self.loop_steps = Counter(
            "planwatch_notify_loop_steps_total",
            "Steps of the flush loop (flush due groups, start due deliveries, prune): it runs "
            "every NOTIFY_TICK_S while the service is healthy.",
            registry=registry,
        )
