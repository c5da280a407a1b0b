"""The scoring state's stored forms: points, windows, results, alert states, messages. Pure.

Instants are stored as RFC 3339 strings (BSON dates keep only milliseconds, and a point's
place depends on `(reported_at, event_id)` exactly); dates as `YYYY-MM-DD`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from shared.domain.method_v1 import (
    AlertRule,
    SeriesPoint,
    Severity,
    Slot,
    TargetResult,
    fold_observation,
    target_to_json,
)
from shared.domain.observation import Observation

from .window import SeriesWindow

JSON = dict[str, Any]

# Figures that move with the clock alone; a change of only these is not a "change of result"
# for the score history and the scores topic (the stored result still follows them).
CLOCK_FIGURES = ("days_left", "days_since_report", "required_per_month")


def target_key(plan: str, target: str) -> str:
    return f"{plan}:{target}"


def target_id_range(plan: str, target: str, below: str | None = None) -> tuple[str, str]:
    """The `[low, high)` bounds of the `_id`s a target owns in the points log and the history
    (both begin "plan:target:"; ids contain no ':'), or, with `below`, of its points dated
    before that ISO date: a range the `_id` index bounds, never a scan of the collection."""
    prefix = f"{plan}:{target}:"
    return prefix, prefix + below if below is not None else f"{plan}:{target};"


def point_id(plan: str, target: str, as_of: date, agency: str, event_id: str) -> str:
    """A points-log `_id`: one document per winner a (target, as_of, agency) has had (event ids
    are unique per agency, so the agency is part of it)."""
    return f"{plan}:{target}:{as_of.isoformat()}:{agency}|{event_id}"


def iso(instant: datetime) -> str:
    return instant.isoformat()


def parse_instant(text: str) -> datetime:
    instant = datetime.fromisoformat(text)
    if instant.tzinfo is None:
        raise ValueError(f"stored instant {text!r} has no offset")
    return instant


def point_to_doc(point: SeriesPoint) -> JSON:
    return {
        "as_of": point.as_of.isoformat(),
        "value": point.value,
        "reported_at": iso(point.reported_at),
        "event_id": point.event_id,
        "agency": point.agency,
    }


def point_from_doc(doc: Mapping[str, Any]) -> SeriesPoint:
    return SeriesPoint(
        as_of=date.fromisoformat(doc["as_of"]),
        value=float(doc["value"]),
        reported_at=parse_instant(doc["reported_at"]),
        event_id=str(doc["event_id"]),
        agency=str(doc.get("agency", "")),  # stored before v1.1: no agency
    )


def winner_to_doc(plan: str, observation: Observation) -> JSON:
    """A points-log document: an event that became the winner of its (target, as_of, agency).
    The current winner of a slot is the greatest of its documents by `(reported_at, event_id)`.
    The report's `evidence` link and `note` are kept only when set (shown, never scored)."""
    doc: JSON = {
        "_id": point_id(
            plan,
            observation.target,
            observation.as_of,
            observation.agency,
            observation.event_id,
        ),
        "plan": plan,
        "target": observation.target,
        "as_of": observation.as_of.isoformat(),
        "agency": observation.agency,
        "value": observation.value,
        "reported_at": iso(observation.reported_at),
        "event_id": observation.event_id,
    }
    if observation.evidence is not None:
        doc["evidence"] = observation.evidence
    if observation.note is not None:
        doc["note"] = observation.note
    return doc


def scoped_to_doc(observation: Observation) -> JSON:
    """A breakdown winner as kept in its target document (method v1.1 `scope`)."""
    return {
        "scope": observation.scope,
        "as_of": observation.as_of.isoformat(),
        "agency": observation.agency,
        "value": observation.value,
        "reported_at": iso(observation.reported_at),
        "event_id": observation.event_id,
    }


def scoped_from_doc(target: str, doc: Mapping[str, Any]) -> Observation:
    return replace(winner_from_doc({**doc, "target": target}), scope=str(doc["scope"]))


def winner_from_doc(doc: Mapping[str, Any]) -> Observation:
    value = doc.get("value")
    return Observation(
        event_id=str(doc["event_id"]),
        target=str(doc["target"]),
        as_of=date.fromisoformat(doc["as_of"]),
        reported_at=parse_instant(doc["reported_at"]),
        value=float(value) if value is not None else None,
        agency=str(doc.get("agency", "")),  # stored before v1.1: no agency
        evidence=_optional_text(doc.get("evidence")),
        note=_optional_text(doc.get("note")),
    )


def _optional_text(value: Any) -> str | None:
    return None if value is None else str(value)


def fold_winners(docs: Iterable[Mapping[str, Any]]) -> dict[Slot, Observation]:
    """The current winner of each (date, agency) from points-log documents (the method's fold)."""
    winners: dict[Slot, Observation] = {}
    for doc in docs:
        winners = dict(fold_observation(winners, winner_from_doc(doc)))
    return winners


def date_winners(docs: Iterable[Mapping[str, Any]]) -> dict[str, Observation]:
    """One date's winners by agency, from that date's points-log documents."""
    return {agency: w for (_as_of, agency), w in fold_winners(docs).items()}


def as_observation(target: str, point: SeriesPoint) -> Observation:
    return Observation(
        point.event_id, target, point.as_of, point.reported_at, point.value, point.agency
    )


def window_to_doc(window: SeriesWindow) -> JSON:
    return {
        "first": point_to_doc(window.first) if window.first is not None else None,
        "tail": [point_to_doc(p) for p in window.tail],
        "count": window.count,
        "max_as_of": window.max_as_of.isoformat() if window.max_as_of is not None else None,
    }


def window_from_doc(doc: Mapping[str, Any] | None) -> SeriesWindow:
    if not doc:
        return SeriesWindow()
    first = doc.get("first")
    max_as_of = doc.get("max_as_of")
    return SeriesWindow(
        first=point_from_doc(first) if first else None,
        tail=tuple(point_from_doc(p) for p in doc.get("tail", [])),
        count=int(doc.get("count", 0)),
        max_as_of=date.fromisoformat(max_as_of) if max_as_of else None,
    )


def result_json(result: TargetResult) -> JSON:
    """The stored and served form of a target's result: the CLI's names plus the instant."""
    return {"method": result.method, "at": result.day.isoformat(), **target_to_json(result)}


def result_signature(result: JSON | None) -> JSON | None:
    """What counts as a change of result: everything but the clock-driven figures."""
    if result is None:
        return None
    return {k: v for k, v in result.items() if k not in CLOCK_FIGURES and k != "at"}


AlertStates = dict[AlertRule, tuple[Severity, str]]  # rule -> (severity, since: RFC 3339)


def alerts_to_doc(states: AlertStates) -> JSON:
    return {
        rule.value: {"severity": sev.value, "since": since} for rule, (sev, since) in states.items()
    }


def alerts_from_doc(doc: Mapping[str, Any] | None) -> AlertStates:
    if not doc:
        return {}
    return {
        AlertRule(rule): (Severity(entry["severity"]), str(entry["since"]))
        for rule, entry in doc.items()
    }


def history_record(
    *,
    plan: str,
    target: str,
    trigger: str,
    at: datetime,
    before: JSON | None,
    after: JSON,
    seq: int,
) -> JSON:
    """One change of a target's result; `_id` from plan, target and trigger (deterministic).
    `seq` numbers a target's changes (the clock alone does not order them: a batch of events
    reported before the clock leaves it where it was)."""
    return {
        "_id": f"{plan}:{target}:{trigger}",
        "plan": plan,
        "target": target,
        "seq": seq,
        "method": after.get("method"),
        "trigger": trigger,
        "at": iso(at),
        "before": before,
        "after": after,
    }


def score_message(
    *, plan: str, target: str, trigger: str, at: datetime, before: JSON | None, after: JSON
) -> JSON:
    """The score update published to `planwatch.scores` (keyed by target)."""
    return {
        "id": f"{plan}:{target}:{trigger}",
        "plan": plan,
        "target": target,
        "method": after.get("method"),
        "trigger": trigger,
        "at": iso(at),
        "previous_status": before.get("status") if before else None,
        "result": after,
    }
