"""Applies problem events from `planwatch.accepted` to the `problems` collection and publishes
their alerts; escalates the problems left open too long as the service clock moves.

Per event: add its entry to the problem's history (idempotent), fold the history as stored
after that write (`shared.domain.problems.fold`), write the derived summary (only over one from
fewer entries) and publish `problem_raised` as the problem now is (firing or resolved), plus the
resolution of `problem_overdue` once a problem that was escalated ends. Per clock move: every
open problem of an owned subject that is now overdue (`shared.domain.problems.overdue`) and not
escalated yet gets `problem_overdue` firing, then is marked escalated.

No ownership is needed for correctness: a problem's state is the fold of its set of entries,
so replicas may apply its events in any order, any number of times (docs/scoring-service.md,
"Problems"). Ownership of the subject's partition only keeps two replicas from escalating the
same problem at once (a repeat would carry the same alert id, which notify drops).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.scoring.problem_alerts import overdue_alert, raised_alert
from services.scoring.problem_documents import (
    entry_field,
    entry_to_doc,
    problem_key,
    problem_of,
    summary_fields,
)
from services.scoring.problem_metrics import ProblemMetrics
from services.scoring.problem_store import ProblemQuery, ProblemStore
from shared import topics
from shared.accepted_problem import AcceptedProblemEvent
from shared.contract.alert_event import AlertEvent, encode_alert_event
from shared.domain.catalog import Catalog
from shared.domain.problems import Problem, ProblemState, has_room, overdue
from shared.runtime.logging import get_logger
from shared.runtime.publisher import Outbound, text_headers

log = get_logger("planwatch.scoring.problems")

Publisher = Callable[[Sequence[Outbound]], Awaitable[None]]
DEFAULT_ESCALATE_AFTER = timedelta(days=14)
_OPEN = (ProblemState.OPEN.value, ProblemState.ACKNOWLEDGED.value)


@dataclass(frozen=True, slots=True)
class DeskOutcome:
    applied: int
    alerts: tuple[AlertEvent, ...]


class ProblemDesk:
    def __init__(
        self,
        catalog: Catalog,
        store: ProblemStore,
        publish: Publisher,
        *,
        base_url: str,
        alerts_topic: str = topics.ALERTS,
        escalate_after: timedelta = DEFAULT_ESCALATE_AFTER,
        owns: Callable[[str], bool] = lambda subject: True,
        metrics: ProblemMetrics | None = None,
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.publish = publish
        self.base_url = base_url
        self.alerts_topic = alerts_topic
        self.escalate_after = escalate_after
        self.owns = owns
        self.metrics = metrics

    async def apply(
        self, events: Sequence[AcceptedProblemEvent], clock: datetime | None
    ) -> DeskOutcome:
        """Apply a batch's problem events (checked by ingest); idempotent."""
        alerts: list[AlertEvent] = []
        for event in sorted(events, key=lambda e: (e.reported_at, e.event_id)):
            plan = self.catalog.plans.get(event.plan)
            if plan is None:  # the catalog lost the plan since ingest accepted it
                log.warning("problem event of an unknown plan skipped", event_id=event.event_id)
                continue
            key = problem_key(event.plan, event.problem_id)
            if not await self._has_room(key, event.event_id):
                log.warning("problem history full: event left out", event_id=event.event_id)
                continue
            doc = await self.store.add_entry(
                key, event.plan, event.problem_id, entry_to_doc(event.entry())
            )
            if self.metrics is not None:
                self.metrics.folded(event.action.value)
            problem = problem_of(doc)
            entries = len(doc.get("history") or {})
            await self.store.write_summary(key, summary_fields(problem), entries)
            if problem is None:
                log.info("problem step before its raise kept", event_id=event.event_id, key=key)
                continue
            alerts.append(raised_alert(problem, plan, clock=clock, base_url=self.base_url))
            if problem.finished is not None and self._was_escalated(problem, doc, clock):
                alerts.append(self._overdue(problem, clock or problem.updated_at))
        await self._send(alerts)
        return DeskOutcome(len(events), tuple(alerts))

    async def escalate(self, clock: datetime) -> DeskOutcome:
        """`problem_overdue` for every owned open problem overdue at `clock` and not escalated
        yet; each is marked escalated once its alert is out."""
        docs = await self.store.problems(ProblemQuery(states=_OPEN))
        if self.metrics is not None:
            self.metrics.open_now(docs)
        candidates: list[tuple[Problem, str]] = []
        for doc in docs:
            if doc.get("escalated_at") is not None or not self.owns(str(doc.get("subject"))):
                continue
            problem = problem_of(doc)
            if problem is not None and problem.plan in self.catalog.plans:
                candidates.append((problem, str(doc["_id"])))
        due = overdue([p for p, _ in candidates], clock, self.escalate_after)
        keys = {id(p): key for p, key in candidates}
        alerts = [self._overdue(problem, clock) for problem in due]
        await self._send(alerts)
        for problem in due:
            await self.store.mark_escalated(keys[id(problem)], clock.isoformat())
        if self.metrics is not None:
            self.metrics.escalated(len(alerts))
        return DeskOutcome(0, tuple(alerts))

    async def _has_room(self, key: str, event_id: str) -> bool:
        """The problem's history may take this entry (already there, or under the bound)."""
        stored = await self.store.problem(key)
        history = (stored or {}).get("history") or {}
        return entry_field(event_id) in history or has_room(len(history))

    def _was_escalated(
        self, problem: Problem, doc: dict[str, object], clock: datetime | None
    ) -> bool:
        """Marked escalated, or overdue at the service clock (escalated then, by this replica
        or the subject's owner, even if the mark was lost to a crash after the alert left)."""
        # Its age stops at its resolution or closure: one that ended before it was due never
        # escalated, however far the clock has run ahead of the events being folded.
        due = clock is not None and problem.age(clock) >= self.escalate_after
        return doc.get("escalated_at") is not None or due

    def _overdue(self, problem: Problem, clock: datetime) -> AlertEvent:
        plan = self.catalog.plans[problem.plan]
        return overdue_alert(
            problem, plan, clock=clock, after=self.escalate_after, base_url=self.base_url
        )

    async def _send(self, alerts: Sequence[AlertEvent]) -> None:
        if not alerts:
            return
        await self.publish(
            [
                Outbound(
                    self.alerts_topic,
                    encode_alert_event(alert),
                    key=alert.labels.target.encode("utf-8"),
                    headers=text_headers(
                        {"content-type": "application/json", "alert-id": alert.id}
                    ),
                )
                for alert in alerts
            ]
        )
