"""What the problem desk tells Prometheus: events folded (by action), escalations, and the
problems still open by plan and state, counted from the documents the desk reads anyway (every
open problem, on each escalation pass) so that no scrape waits on MongoDB."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from services.scoring.metrics import ScoringMetrics
from shared.domain.problems import ProblemState

OPEN_STATES = (ProblemState.OPEN.value, ProblemState.ACKNOWLEDGED.value)


def open_counts(docs: Iterable[Mapping[str, Any]]) -> Counter[tuple[str, str]]:
    """(plan, state) -> how many of `docs` are in that open state."""
    return Counter(
        (str(doc.get("plan")), str(doc.get("state")))
        for doc in docs
        if doc.get("state") in OPEN_STATES
    )


class ProblemMetrics:
    def __init__(self, metrics: ScoringMetrics, plans: Iterable[str]) -> None:
        self.metrics = metrics
        self.plans = sorted(plans)

    def folded(self, action: str) -> None:
        self.metrics.problem_events.labels(action).inc()

    def escalated(self, count: int) -> None:
        if count:
            self.metrics.problems_escalated.inc(count)

    def open_now(self, docs: Iterable[Mapping[str, Any]]) -> None:
        """Set the gauge from every open problem's document (each plan's states, zero too)."""
        counts = open_counts(docs)
        for plan in sorted({*self.plans, *(plan for plan, _ in counts)}):
            for state in OPEN_STATES:
                self.metrics.problems_open.labels(plan, state).set(counts[(plan, state)])
