"""Metrics every service exports beside its own (Prometheus naming: base units, `_total`)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Info


class RuntimeMetrics:
    def __init__(self, registry: CollectorRegistry, service: str) -> None:
        self.consumer_lag = Gauge(
            "planwatch_kafka_consumer_lag_messages",
            "Messages behind the high watermark on the topics this service consumes.",
            ["topic"],
            registry=registry,
        )
        self.batch_retries = Counter(
            "planwatch_batch_retries_total",
            "Batches retried after a failure (transient: a server unavailable).",
            ["kind"],
            registry=registry,
        )
        self.batches_rewound = Counter(
            "planwatch_batches_rewound_total",
            "Batches given back uncommitted after the retry budget, to be fetched again.",
            registry=registry,
        )
        Info("planwatch_build", "Service name and version.", registry=registry).info(
            {"service": service, "version": "0.1.0"}
        )
