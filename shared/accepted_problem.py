"""The problem records on `planwatch.accepted`: what ingest passes on to scoring for each
accepted problem event (raised, acknowledged, commented, resolved, closed; docs/ingest.md).

One JSON object per event, beside the progress records of `shared.accepted` on the same topic
and keyed like them by the subject id (the target or task the problem is on), so one problem's
events stay in order on one partition. Told apart by `schema`: `planwatch.problem.v1` here,
`planwatch.accepted.v1` for reports and retractions (`accepted_from_json` reads either).
Delivery is at least once: consumers must be idempotent by `event_id`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.accepted import AcceptedEvent
from shared.contract.events import EventType
from shared.domain.problems import ProblemAction, ProblemEntry, SubjectKind

PROBLEM_SCHEMA: Final = "planwatch.problem.v1"

# Optional members: left out of the JSON when unset.
_WRITTEN_WHEN_SET: Final = ("summary", "needs", "from_agencies", "note", "evidence")


ACTION_BY_TYPE: Final = {
    EventType.PROBLEM_RAISED: ProblemAction.RAISED,
    EventType.PROBLEM_ACKNOWLEDGED: ProblemAction.ACKNOWLEDGED,
    EventType.PROBLEM_COMMENTED: ProblemAction.COMMENTED,
    EventType.PROBLEM_RESOLVED: ProblemAction.RESOLVED,
    EventType.PROBLEM_CLOSED: ProblemAction.CLOSED,
}


class AcceptedProblemEvent(BaseModel):
    """One accepted problem event, authenticated and checked against the catalog."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )

    schema_: Literal["planwatch.problem.v1"] = Field(default=PROBLEM_SCHEMA, alias="schema")
    event_id: str
    action: ProblemAction
    plan: str
    problem_id: str
    subject: str  # the event's subject: the target, deliverable, indicator or task id
    subject_kind: SubjectKind
    task: str  # the task of the subject (the subject itself for a task)
    agency: str  # the sending agency (from the event's source)
    reported_at: AwareDatetime  # the event's `time`
    # raised only: what blocks the subject, what it needs, from which agencies.
    summary: str | None = None
    needs: str | None = None
    from_agencies: tuple[str, ...] | None = None
    note: str | None = None
    evidence: str | None = None
    received_at: AwareDatetime  # when ingest first accepted it (kept on re-deliveries)
    key_id: str  # the agency key that signed it
    content_hash: str  # SHA-256 (hex) of the signed canonical bytes

    def entry(self) -> ProblemEntry:
        """The event as an entry of its problem's history (`shared.domain.problems`)."""
        return ProblemEntry(
            event_id=self.event_id,
            action=self.action,
            agency=self.agency,
            at=self.reported_at,
            subject=self.subject,
            subject_kind=self.subject_kind,
            task=self.task,
            note=self.note,
            summary=self.summary,
            needs=self.needs,
            from_agencies=self.from_agencies or (),
            evidence=self.evidence,
        )

    @property
    def key(self) -> str:
        """The record key on `planwatch.accepted`: the subject, as a target's reports."""
        return self.subject

    def to_json(self) -> bytes:
        unset = {name for name in _WRITTEN_WHEN_SET if getattr(self, name) is None}
        return self.model_dump_json(exclude=unset).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes | str) -> AcceptedProblemEvent:
        """Raises pydantic.ValidationError if `raw` is not a problem record of this schema."""
        return cls.model_validate_json(raw)


AnyAccepted = AcceptedEvent | AcceptedProblemEvent


def schema_of(raw: bytes | str) -> str | None:
    """The `schema` member of an accepted record, or None when it is not a JSON object."""
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    found = value.get("schema") if isinstance(value, dict) else None
    return found if isinstance(found, str) else None


_MARK: Final = f'"{PROBLEM_SCHEMA}"'


def accepted_from_json(raw: bytes | str) -> AnyAccepted:
    """A record of `planwatch.accepted`, by its `schema`; raises ValueError (pydantic's
    ValidationError) when it is neither. Progress records are parsed once, as before: only a
    record that names the problem schema somewhere is looked at twice."""
    marked = _MARK.encode("utf-8") in raw if isinstance(raw, bytes) else _MARK in raw
    if marked and schema_of(raw) == PROBLEM_SCHEMA:
        return AcceptedProblemEvent.from_json(raw)
    return AcceptedEvent.from_json(raw)


def accepted_from_fields(fields: Mapping[str, Any]) -> AnyAccepted:
    """An accepted event from stored fields (ingest's `reports` documents), by `schema`."""
    if fields.get("schema") == PROBLEM_SCHEMA:
        return AcceptedProblemEvent.model_validate(fields)
    return AcceptedEvent.model_validate(fields)


def is_problem_document(fields: Mapping[str, Any]) -> bool:
    """Whether a stored document of ingest's `reports` is a problem event's."""
    return fields.get("schema") == PROBLEM_SCHEMA
