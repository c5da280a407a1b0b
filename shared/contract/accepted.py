"""The accepted event: what ingest publishes to `planwatch.accepted` and scoring consumes.

One JSON object per Kafka record (UTF-8, no CloudEvents envelope: the event was authenticated
and normalized by ingest), keyed by the target id so one target's events stay in order:

    {"event_id": "...", "kind": "report" | "retraction", "plan": "...", "target": "...",
     "agency": "<reporting agency id>", "as_of": "YYYY-MM-DD",
     "reported_at": RFC 3339 (the CloudEvents `time`), "value": <number in the target's unit,
     a milestone's stage index> | null (retraction), "received_at": RFC 3339 (ingest's intake)}

`reported_at` and `received_at` keep their full precision as RFC 3339 strings; the event's
place in the effective series depends on `(reported_at, event_id)`, so never round them.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Final

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    StringConstraints,
    ValidationError,
    model_validator,
)

from shared.contract.events import ID_PATTERN, ProgressEvent, ProgressReported
from shared.contract.observation import to_observation
from shared.domain.catalog import Plan
from shared.domain.observation import Observation

CONTENT_TYPE: Final = "application/json"

Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
EventId = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class AcceptedKind(StrEnum):
    REPORT = "report"
    RETRACTION = "retraction"


class AcceptedEventError(ValueError):
    """A record on the accepted topic is not an accepted event; the message says why."""


class AcceptedEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    event_id: EventId
    kind: AcceptedKind
    plan: Id
    target: Id
    agency: Id
    as_of: date
    reported_at: AwareDatetime
    value: float | None
    received_at: AwareDatetime

    @model_validator(mode="after")
    def _value_fits_kind(self) -> AcceptedEvent:
        if self.kind is AcceptedKind.REPORT and self.value is None:
            raise ValueError("a report needs a value")
        if self.kind is AcceptedKind.RETRACTION and self.value is not None:
            raise ValueError("a retraction has no value (null)")
        if self.value is not None and not math.isfinite(self.value):
            raise ValueError("value must be finite")
        return self

    def observation(self) -> Observation:
        """What scoring method v1 sees of it."""
        return Observation(
            event_id=self.event_id,
            target=self.target,
            as_of=self.as_of,
            reported_at=self.reported_at,
            value=self.value,
        )

    def key(self) -> bytes:
        """The Kafka key: the target id."""
        return self.target.encode("utf-8")


def encode_accepted(event: AcceptedEvent) -> bytes:
    return event.model_dump_json().encode("utf-8")


def decode_accepted(raw: bytes | None) -> AcceptedEvent:
    """Parse one record's value; AcceptedEventError names what is wrong."""
    if not raw:
        raise AcceptedEventError("empty record: an accepted event is a JSON object")
    try:
        return AcceptedEvent.model_validate_json(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<event>'}: {err['msg']}"
            for err in exc.errors(include_url=False)
        )
        raise AcceptedEventError(f"not an accepted event: {problems}") from None


def accepted_from_document(document: dict[str, Any]) -> AcceptedEvent:
    """An accepted event from a stored document holding its fields (extra fields ignored)."""
    fields = {name: document[name] for name in AcceptedEvent.model_fields if name in document}
    try:
        return AcceptedEvent.model_validate(fields)
    except ValidationError as exc:
        raise AcceptedEventError(
            f"document {document.get('_id')!r} is not an accepted event: {exc}"
        ) from None


def accepted_from_event(event: ProgressEvent, plan: Plan, received_at: datetime) -> AcceptedEvent:
    """The accepted event of an authenticated, valid progress event (ingest's last step).

    Raises shared.contract.reasons.ContractError for what cannot be converted (see
    shared.contract.observation.to_observation).
    """
    observation = to_observation(event, plan)
    agency = event.envelope.agency
    if agency is None:  # the envelope's validator makes this unreachable for progress events
        raise AcceptedEventError("a progress event's source names an agency")
    return AcceptedEvent(
        event_id=observation.event_id,
        kind=AcceptedKind.REPORT
        if isinstance(event, ProgressReported)
        else AcceptedKind.RETRACTION,
        plan=plan.id,
        target=observation.target,
        agency=agency,
        as_of=observation.as_of,
        reported_at=observation.reported_at,
        value=observation.value,
        received_at=received_at,
    )
