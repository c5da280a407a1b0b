"""The ingest service's metrics (no event ids as labels: reasons and doors are bounded sets)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

BATCH_SIZE_BUCKETS = (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500)
AGE_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 30, 60, 300, 3600, 86400)


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ["door"]  # kafka | http
        self.received = Counter(
            "planwatch_ingest_events_received_total", "Events received.", labels, registry=registry
        )
        self.accepted = Counter(
            "planwatch_ingest_events_accepted_total",
            "Events accepted, stored and passed on.",
            labels,
            registry=registry,
        )
        self.duplicate = Counter(
            "planwatch_ingest_events_duplicate_total",
            "Repeats of a stored event id with the same content (acknowledged, not stored).",
            labels,
            registry=registry,
        )
        self.rejected = Counter(
            "planwatch_ingest_events_rejected_total",
            "Events rejected (dead-lettered), by reason code.",
            [*labels, "reason"],
            registry=registry,
        )
        self.batch_size = Histogram(
            "planwatch_ingest_batch_size_events",
            "Events per consumed batch.",
            buckets=BATCH_SIZE_BUCKETS,
            registry=registry,
        )
        self.batch_duration = Histogram(
            "planwatch_ingest_batch_duration_seconds",
            "Time to process one batch until its effects are durable.",
            registry=registry,
        )
        self.event_age = Histogram(
            "planwatch_ingest_event_age_seconds",
            "Age of an event at intake: intake time minus the event's `time`.",
            buckets=AGE_BUCKETS,
            registry=registry,
        )
        self.agency_keys = Gauge(
            "planwatch_ingest_agency_keys",
            "Agency keys in the snapshot ingest validates against, by status.",
            ["status"],
            registry=registry,
        )
        self.agency_keys_invalid = Gauge(
            "planwatch_ingest_agency_keys_invalid",
            "Registry entries left out of the last key snapshot because they are malformed.",
            registry=registry,
        )
        self.key_snapshot_at = Gauge(
            "planwatch_ingest_key_snapshot_timestamp_seconds",
            "When the key snapshot was last refreshed from the registry (Unix seconds).",
            registry=registry,
        )
        self.key_refresh_failures = Counter(
            "planwatch_ingest_key_refresh_failures_total",
            "Key snapshot refreshes that failed (the previous snapshot stays in use).",
            registry=registry,
        )
        self.http_requests = Counter(
            "planwatch_ingest_http_requests_total",
            "Requests to POST /v1/events, by response status code.",
            ["code"],
            registry=registry,
        )
