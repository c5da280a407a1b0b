"""The scoring service's metrics (catalog ids such as area and agency are bounded label sets)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class ScoringMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.rescores = Counter(
            "planwatch_scoring_rescores_total",
            "Target rescores, by what triggered them.",
            ["trigger"],  # report | retraction | tick
            registry=registry,
        )
        self.rescore_duration = Histogram(
            "planwatch_scoring_rescore_duration_seconds",
            "Time to rescore one batch's targets and store the results.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.rollup_duration = Histogram(
            "planwatch_scoring_rollup_duration_seconds",
            "Time to roll the due plans up from their stored target documents and write their "
            "documents, per roll-up (at most one per SCORING_ROLLUP_INTERVAL_S, off the batch).",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.rollups = Counter(
            "planwatch_scoring_rollups_total",
            "Plans rolled up from their stored target documents (one per plan per roll-up).",
            registry=registry,
        )
        self.event_to_score = Histogram(
            "planwatch_scoring_event_to_score_seconds",
            "From a report's intake at ingest to its score stored.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.targets = Gauge(
            "planwatch_scoring_targets",
            "Targets this replica holds, by plan and current status.",
            ["plan", "status"],
            registry=registry,
        )
        self.alert_transitions = Counter(
            "planwatch_scoring_alert_transitions_total",
            "Alert transitions emitted.",
            ["plan", "rule", "severity", "transition"],
            registry=registry,
        )
        self.area_score = Gauge(
            "planwatch_scoring_area_score",
            "Current score of each area of the plan (-5..5; absent when unscored).",
            ["plan", "area"],
            registry=registry,
        )
        self.plan_score = Gauge(
            "planwatch_scoring_plan_score",
            "Current score of the plan (-5..5).",
            ["plan"],
            registry=registry,
        )
        self.agency_stale_targets = Gauge(
            "planwatch_scoring_agency_stale_targets",
            "Targets an agency leads in the plan whose reports are overdue.",
            ["plan", "agency"],
            registry=registry,
        )
        self.clock = Gauge(
            "planwatch_scoring_clock_timestamp_seconds",
            "The service's clock: the greatest report or tick time consumed (Unix seconds).",
            registry=registry,
        )
        self.last_tick = Gauge(
            "planwatch_scoring_last_tick_received_timestamp_seconds",
            "Wall-clock time at which the last clock tick was consumed (Unix seconds).",
            registry=registry,
        )
        self.dead_letters = Counter(
            "planwatch_scoring_dead_letters_total",
            "Consumed records sent to the scoring DLT, by reason.",
            ["reason"],
            registry=registry,
        )
        self.ticks_published = Counter(
            "planwatch_scoring_ticks_published_total",
            "Clock ticks published by the built-in scheduler.",
            registry=registry,
        )
        self.partitions_owned = Gauge(
            "planwatch_scoring_partitions_owned",
            "Input partitions this replica owns (its targets are the ones keyed to them).",
            registry=registry,
        )
        self.targets_loaded = Gauge(
            "planwatch_scoring_targets_loaded",
            "Targets whose state this replica holds (those of the partitions it owns).",
            registry=registry,
        )
        self.load_duration = Histogram(
            "planwatch_scoring_load_duration_seconds",
            "Time to claim the owned partitions and load their targets' state, per assignment.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.fenced_writes = Counter(
            "planwatch_scoring_fenced_writes_total",
            "Target writes refused because a newer owner holds the target (this replica was "
            "paused or overtaken and lost the partition).",
            registry=registry,
        )
        self.ticks_refused = Counter(
            "planwatch_scoring_ticks_refused_total",
            "Clock ticks refused, by reason: ahead of the wall clock by more than the allowed "
            "skew (tick_in_future), not signed by the platform clock (unsigned, unknown_key, "
            "bad_signature), or not a tick (malformed, ...).",
            ["reason"],
            registry=registry,
        )
        # Problems raised and followed (services/scoring/problem_metrics.py).
        self.problems_open = Gauge(
            "planwatch_scoring_problems_open",
            "Problems not yet resolved or closed, by plan and state (open, acknowledged), as "
            "the problems collection holds them: every replica counts the whole collection.",
            ["plan", "state"],
            registry=registry,
        )
        self.problem_events = Counter(
            "planwatch_scoring_problem_events_total",
            "Problem events folded into the problems collection, by action (raised, "
            "acknowledged, commented, resolved, closed); a redelivery counts again.",
            ["action"],
            registry=registry,
        )
        self.problems_escalated = Counter(
            "planwatch_scoring_problems_escalated_total",
            "problem_overdue alerts published for problems left open too long.",
            registry=registry,
        )
