"""Deliverables and indicators in the live service: tracked, never scored.

Their events reach the replica that owns their partition like a target's (the accepted topic is
keyed by the subject id). Each subject keeps its winners per (as_of, agency) on its own document
in the targets collection, fenced by the same epoch as the targets of its partition; a roll-up
reads them from the stored documents and derives the commitments' and indicators' state with the
pure `shared.domain.method_v1.tracked_state`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from shared.domain.catalog import Plan
from shared.domain.method_v1 import Tracked, supersedes, tracked_state
from shared.domain.observation import Observation

from .documents import iso, parse_instant, winner_from_doc, winner_to_doc

JSON = dict[str, Any]

MAX_TRACKED_DATES = 48  # per subject: four years of monthly figures (older ones are history)


def tracked_to_doc(observation: Observation) -> JSON:
    """A winner as kept in its subject's document: the points-log form without what the
    document already says (its `_id`, plan and subject)."""
    doc = winner_to_doc("", observation)
    for where in ("_id", "plan", "target"):
        del doc[where]
    return doc


def tracked_from_doc(subject: str, doc: Mapping[str, Any]) -> Observation:
    return winner_from_doc({**doc, "target": subject})


@dataclass
class TrackedSubject:
    """One deliverable's or indicator's winners, as this replica knows them."""

    plan: Plan
    subject: str
    key: str
    winners: dict[tuple[date, str], Observation] = field(default_factory=dict)
    latest_event_at: datetime | None = None

    def fold(self, observation: Observation) -> bool:
        """Fold one event; returns whether a winner changed. The latest MAX_TRACKED_DATES dates
        are kept (a bound on the document)."""
        if self.latest_event_at is None or observation.reported_at > self.latest_event_at:
            self.latest_event_at = observation.reported_at
        slot = (observation.as_of, observation.agency)
        current = self.winners.get(slot)
        if current is not None and not supersedes(observation, current):
            return False
        self.winners[slot] = observation
        dates = sorted({as_of for as_of, _ in self.winners})
        for old in dates[:-MAX_TRACKED_DATES]:
            for stale in [s for s in self.winners if s[0] == old]:
                del self.winners[stale]
        return True

    def document(self, at: datetime) -> JSON:
        return {
            "plan": self.plan.id,
            "target": self.subject,
            "tracked": [tracked_to_doc(w) for _, w in sorted(self.winners.items())],
            "latest_event_at": iso(self.latest_event_at) if self.latest_event_at else None,
            "clock": iso(at),
        }

    @classmethod
    def from_doc(cls, plan: Plan, subject: str, key: str, doc: Mapping[str, Any]) -> TrackedSubject:
        winners = [tracked_from_doc(subject, d) for d in doc.get("tracked") or []]
        latest = doc.get("latest_event_at")
        return cls(
            plan=plan,
            subject=subject,
            key=key,
            winners={(w.as_of, w.agency): w for w in winners},
            latest_event_at=parse_instant(latest) if latest else None,
        )


def tracked_of_docs(plan: Plan, docs: Iterable[Mapping[str, Any]], at: datetime) -> Tracked:
    """The plan's commitments and indicators at `at` from the stored subject documents."""
    observations: dict[str, Sequence[Observation]] = {}
    for doc in docs:
        subject = str(doc["target"])
        observations[subject] = [tracked_from_doc(subject, d) for d in doc.get("tracked") or []]
    return tracked_state(plan, observations, at)
