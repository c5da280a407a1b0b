"""The records on `planwatch.accepted`: what ingest passes on to scoring (docs/ingest.md).

One JSON object per accepted agency event, keyed by target id, already authenticated and
checked against the catalog. Scoring reads it with `AcceptedEvent.from_json` and turns it into
the method's input with `to_observation`. The form is versioned by `schema`; change it only by
adding a new version. Delivery is at least once: consumers must be idempotent by `event_id`.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.domain.observation import Observation

ACCEPTED_SCHEMA: Final = "planwatch.accepted.v1"
ACCEPTED_CONTENT_TYPE: Final = "application/json"


# Optional members added after v1 consumers existed: left out of the JSON when unset.
_WRITTEN_WHEN_SET: Final = ("scope", "evidence", "note")


class AcceptedKind(StrEnum):
    REPORT = "report"
    RETRACTION = "retraction"


class AcceptedEvent(BaseModel):
    """One accepted report or retraction, normalized to the target's unit."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        allow_inf_nan=False,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )

    schema_: Literal["planwatch.accepted.v1"] = Field(default=ACCEPTED_SCHEMA, alias="schema")
    event_id: str
    kind: AcceptedKind
    plan: str
    target: str
    agency: str  # the reporting agency (from the event's source)
    as_of: date  # the date the value describes
    reported_at: AwareDatetime  # the event's `time`, as the agency sent it
    # The value in the target's unit (a milestone's stage index); None for a retraction.
    value: float | None
    stage: str | None = None  # a milestone's stage id, beside its index in `value`
    # Method v1.1: the breakdown unit of a scoped report or retraction; written only when set,
    # so that an unscoped record is byte for byte what consumers before v1.1 read.
    scope: str | None = None
    unit: str  # percent | count | rank | stage | amount
    # The report's evidence link and note (a deliverable is done "with evidence"); written only
    # when set, like `scope`.
    evidence: str | None = None
    note: str | None = None
    received_at: AwareDatetime  # when ingest first accepted it (kept on re-deliveries)
    key_id: str  # the agency key that signed it
    content_hash: str  # SHA-256 (hex) of the signed canonical bytes

    def to_json(self) -> bytes:
        unset = {name for name in _WRITTEN_WHEN_SET if getattr(self, name) is None}
        return self.model_dump_json(exclude=unset).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes | str) -> AcceptedEvent:
        """Raises pydantic.ValidationError if `raw` is not an accepted event of this schema."""
        return cls.model_validate_json(raw)

    def to_observation(self) -> Observation:
        return Observation(
            event_id=self.event_id,
            target=self.target,
            as_of=self.as_of,
            reported_at=self.reported_at,
            value=self.value if self.kind is AcceptedKind.REPORT else None,
            agency=self.agency,
            scope=self.scope,
            evidence=self.evidence,
            note=self.note,
        )
