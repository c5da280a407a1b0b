"""The public event contract: CloudEvents 1.0 types for agency progress, problems raised and
followed on a target or task, and the clock.

Names and shapes here are a public contract that agency systems code against: change them
only by adding a new versioned type (`....v2`), never in place. See docs/contract.md.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

SPECVERSION: Final = "1.0"
DATACONTENTTYPE: Final = "application/json"
AGENCY_SOURCE_PREFIX: Final = "urn:planwatch:agency:"
CLOCK_SOURCE: Final = "urn:planwatch:clock"
MAX_NOTE_CHARS: Final = 1000
MAX_REASON_CHARS: Final = 500
MAX_URL_CHARS: Final = 2048
# Problems (docs/contract.md, "Problems"): what blocks a target or task, what it needs, from whom.
MAX_SUMMARY_CHARS: Final = 200
MAX_NEEDS_CHARS: Final = 1000
MAX_FROM_AGENCIES: Final = 16


class EventType(StrEnum):
    PROGRESS_REPORTED = "org.planwatch.progress.reported.v1"
    PROGRESS_RETRACTED = "org.planwatch.progress.retracted.v1"
    CLOCK_TICK = "org.planwatch.clock.tick.v1"
    PROBLEM_RAISED = "org.planwatch.problem.raised.v1"
    PROBLEM_ACKNOWLEDGED = "org.planwatch.problem.acknowledged.v1"
    PROBLEM_COMMENTED = "org.planwatch.problem.commented.v1"
    PROBLEM_RESOLVED = "org.planwatch.problem.resolved.v1"
    PROBLEM_CLOSED = "org.planwatch.problem.closed.v1"


#: The problem types: an agency raises, the coordinator acknowledges, comments on and resolves,
#: the raising agency may close. Their subject is the target (or task) the problem is on.
PROBLEM_TYPES: Final = frozenset(
    {
        EventType.PROBLEM_RAISED,
        EventType.PROBLEM_ACKNOWLEDGED,
        EventType.PROBLEM_COMMENTED,
        EventType.PROBLEM_RESOLVED,
        EventType.PROBLEM_CLOSED,
    }
)


class Unit(StrEnum):
    """The unit a target's kind fixes (see shared.domain.catalog.UNIT_BY_KIND)."""

    PERCENT = "percent"
    COUNT = "count"
    RANK = "rank"
    STAGE = "stage"
    AMOUNT = "amount"  # an indicator's quantity in its own unit (e.g. 亿元)


ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
KEY_ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
EXTENSION_NAME_PATTERN: Final = r"^[a-z0-9]{1,20}$"
AGENCY_SOURCE_PATTERN: Final = r"^urn:planwatch:agency:[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
RFC3339_PATTERN: Final = (
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)
DATE_PATTERN: Final = r"^\d{4}-\d{2}-\d{2}$"
URL_PATTERN: Final = r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#]+\S*$"
BASE64URL_PATTERN: Final = r"^[A-Za-z0-9_-]+$"
_AGENCY_SOURCE_RE: Final = re.compile(AGENCY_SOURCE_PATTERN)
_RFC3339_RE: Final = re.compile(RFC3339_PATTERN)
_DATE_RE: Final = re.compile(DATE_PATTERN)
_URL_RE: Final = re.compile(URL_PATTERN)
# Attribute values end up one per line in the signed bytes: no control characters.
_CONTROL_RE: Final = re.compile(r"[\x00-\x1f\x7f]")

Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]


def parse_rfc3339(text: str) -> datetime:
    """An RFC 3339 timestamp that must carry an offset (`Z` or `±hh:mm`) as an aware datetime."""
    if not _RFC3339_RE.fullmatch(text):
        raise ValueError(
            f"{text!r} is not an RFC 3339 timestamp with an offset (e.g. 2022-03-31T18:00:00+08:00)"
        )
    instant = datetime.fromisoformat(text.upper())
    if instant.tzinfo is None:  # unreachable given the pattern; kept as the contract's guard
        raise ValueError(f"{text!r} has no offset")
    return instant


def _check_rfc3339(text: str) -> str:
    parse_rfc3339(text)
    return text


def _check_iso_date(value: Any) -> Any:
    """Dates travel as YYYY-MM-DD strings and nothing else (no datetimes, no numbers)."""
    if isinstance(value, str):
        if not _DATE_RE.fullmatch(value):
            raise ValueError(f"{value!r} is not a date of the form YYYY-MM-DD")
        return date.fromisoformat(value)
    return value


def _check_url(text: str) -> str:
    if not _URL_RE.fullmatch(text):
        raise ValueError(f"{text!r} is not an http(s) URL")
    return text


Rfc3339 = Annotated[str, AfterValidator(_check_rfc3339)]
IsoDate = Annotated[date, BeforeValidator(_check_iso_date)]
HttpUrlText = Annotated[
    str, StringConstraints(max_length=MAX_URL_CHARS), AfterValidator(_check_url)
]


class _Data(BaseModel):
    """Event data: strict types, no unknown fields, no NaN/Infinity, no explicit nulls."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, raw: Any) -> Any:
        if isinstance(raw, Mapping):
            nulls = sorted(str(k) for k, v in raw.items() if v is None)
            if nulls:
                raise ValueError(f"null is not allowed (omit the field instead): {nulls}")
        return raw


class ReportData(_Data):
    """A reported value: `value` for share/count/rank targets, `stage` for milestones."""

    plan: Id
    target: Id
    as_of: IsoDate
    # v1.1: a breakdown unit of the plan's catalog (a county or park); absent: the headline.
    scope: Id | None = None
    value: float | None = None
    stage: Id | None = None
    unit: Unit | None = None
    note: Annotated[str, StringConstraints(max_length=MAX_NOTE_CHARS)] | None = None
    evidence: HttpUrlText | None = None

    @model_validator(mode="after")
    def _value_xor_stage(self) -> ReportData:
        if (self.value is None) == (self.stage is None):
            raise ValueError(
                "exactly one of `value` (share/count/rank) and `stage` (milestone) is required"
            )
        return self


class RetractionData(_Data):
    """Withdraws the agency's report for (target, as_of), or for (target, scope, as_of)."""

    plan: Id
    target: Id
    as_of: IsoDate
    scope: Id | None = None
    reason: Annotated[str, StringConstraints(min_length=1, max_length=MAX_REASON_CHARS)]


class TickData(_Data):
    at: Rfc3339


Note = Annotated[str, StringConstraints(max_length=MAX_NOTE_CHARS)]


def _distinct(agencies: list[str]) -> list[str]:
    if len(set(agencies)) != len(agencies):
        raise ValueError("from_agencies names an agency more than once")
    return agencies


class ProblemRaisedData(_Data):
    """A problem raised on the subject (a target, deliverable, indicator or task): what blocks
    it (`summary`), what it needs, and from which agencies."""

    plan: Id
    problem_id: Id
    summary: Annotated[str, StringConstraints(min_length=1, max_length=MAX_SUMMARY_CHARS)]
    needs: Annotated[str, StringConstraints(min_length=1, max_length=MAX_NEEDS_CHARS)]
    from_agencies: Annotated[
        list[Id],
        Field(min_length=1, max_length=MAX_FROM_AGENCIES),
        AfterValidator(_distinct),
    ]
    note: Note | None = None
    evidence: HttpUrlText | None = None


class ProblemNoteData(_Data):
    """A step on a raised problem (acknowledged, resolved, closed), with an optional note."""

    plan: Id
    problem_id: Id
    note: Note | None = None


class ProblemCommentData(_Data):
    """A comment on a raised problem: the note is the comment."""

    plan: Id
    problem_id: Id
    note: Annotated[str, StringConstraints(min_length=1, max_length=MAX_NOTE_CHARS)]


RESERVED_ATTRIBUTES: Final = frozenset(
    {"specversion", "id", "source", "type", "subject", "time", "datacontenttype"}
    | {"sigkeyid", "signature", "data", "data_base64", "dataschema", "extensions"}
)


class Envelope(BaseModel):
    """The CloudEvents context attributes of one event, as sent (strings, exactly)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    specversion: Literal["1.0"]
    id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    source: str
    type: EventType
    subject: Id | None = None
    time: Rfc3339
    datacontenttype: Literal["application/json"]
    # Extension attributes of this contract.
    sigkeyid: Annotated[str, StringConstraints(pattern=KEY_ID_PATTERN)] | None = None
    signature: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None
    # Any other extension attribute (e.g. traceparent): carried, neither signed nor interpreted.
    extensions: Mapping[
        Annotated[str, StringConstraints(pattern=EXTENSION_NAME_PATTERN)],
        Annotated[str, StringConstraints(max_length=1024)],
    ] = Field(default_factory=dict)

    @field_validator("id", "source", "time")
    @classmethod
    def _no_control_characters(cls, value: str) -> str:
        if _CONTROL_RE.search(value):
            raise ValueError("control characters are not allowed")
        return value

    @field_validator("source")
    @classmethod
    def _known_source(cls, value: str) -> str:
        if value != CLOCK_SOURCE and not _AGENCY_SOURCE_RE.fullmatch(value):
            raise ValueError(
                f"{value!r} is neither {AGENCY_SOURCE_PREFIX}<agency id> nor {CLOCK_SOURCE}"
            )
        return value

    @field_validator("extensions")
    @classmethod
    def _not_reserved(cls, value: Mapping[str, str]) -> Mapping[str, str]:
        reserved = set(value) & RESERVED_ATTRIBUTES
        if reserved:
            raise ValueError(f"{sorted(reserved)} are attributes, not extensions")
        return value

    @model_validator(mode="after")
    def _source_and_subject_fit_type(self) -> Envelope:
        if self.type is EventType.CLOCK_TICK:
            if self.source != CLOCK_SOURCE:
                raise ValueError(f"a clock tick's source must be {CLOCK_SOURCE}")
            if self.subject is not None:
                raise ValueError("a clock tick has no subject")
        else:
            if not self.source.startswith(AGENCY_SOURCE_PREFIX):
                raise ValueError(f"a progress event's source must be {AGENCY_SOURCE_PREFIX}<id>")
            if self.subject is None and self.type in PROBLEM_TYPES:
                raise ValueError("a problem event's subject (its target or task id) is required")
            if self.subject is None:
                raise ValueError("a progress event's subject (the target id) is required")
        return self

    @property
    def agency(self) -> str | None:
        """The reporting agency's id, from `source`; None for the clock."""
        if self.source.startswith(AGENCY_SOURCE_PREFIX):
            return self.source[len(AGENCY_SOURCE_PREFIX) :]
        return None

    @property
    def instant(self) -> datetime:
        """`time` as an aware datetime."""
        return parse_rfc3339(self.time)

    def attributes(self) -> dict[str, str]:
        """All attributes by CloudEvents name (extensions flattened), omitting absent ones."""
        result = {
            "specversion": self.specversion,
            "id": self.id,
            "source": self.source,
            "type": self.type.value,
        }
        if self.subject is not None:
            result["subject"] = self.subject
        result["time"] = self.time
        result["datacontenttype"] = self.datacontenttype
        if self.sigkeyid is not None:
            result["sigkeyid"] = self.sigkeyid
        if self.signature is not None:
            result["signature"] = self.signature
        result.update(self.extensions)
        return result


def _check_fit(envelope: Envelope, expected: EventType, target: str | None) -> None:
    if envelope.type is not expected:
        raise ValueError(f"type {envelope.type.value} does not fit {expected.value} data")
    if target is not None and envelope.subject != target:
        raise ValueError(f"subject {envelope.subject!r} differs from data.target {target!r}")


class _Event(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    envelope: Envelope

    @property
    def id(self) -> str:
        return self.envelope.id


class ProgressReported(_Event):
    data: ReportData

    @model_validator(mode="after")
    def _fits(self) -> ProgressReported:
        _check_fit(self.envelope, EventType.PROGRESS_REPORTED, self.data.target)
        return self


class ProgressRetracted(_Event):
    data: RetractionData

    @model_validator(mode="after")
    def _fits(self) -> ProgressRetracted:
        _check_fit(self.envelope, EventType.PROGRESS_RETRACTED, self.data.target)
        return self


class ClockTick(_Event):
    data: TickData

    @model_validator(mode="after")
    def _fits(self) -> ClockTick:
        _check_fit(self.envelope, EventType.CLOCK_TICK, None)
        return self


class ProblemRaised(_Event):
    data: ProblemRaisedData

    @model_validator(mode="after")
    def _fits(self) -> ProblemRaised:
        _check_fit(self.envelope, EventType.PROBLEM_RAISED, None)
        return self


class ProblemAcknowledged(_Event):
    data: ProblemNoteData

    @model_validator(mode="after")
    def _fits(self) -> ProblemAcknowledged:
        _check_fit(self.envelope, EventType.PROBLEM_ACKNOWLEDGED, None)
        return self


class ProblemCommented(_Event):
    data: ProblemCommentData

    @model_validator(mode="after")
    def _fits(self) -> ProblemCommented:
        _check_fit(self.envelope, EventType.PROBLEM_COMMENTED, None)
        return self


class ProblemResolved(_Event):
    data: ProblemNoteData

    @model_validator(mode="after")
    def _fits(self) -> ProblemResolved:
        _check_fit(self.envelope, EventType.PROBLEM_RESOLVED, None)
        return self


class ProblemClosed(_Event):
    data: ProblemNoteData

    @model_validator(mode="after")
    def _fits(self) -> ProblemClosed:
        _check_fit(self.envelope, EventType.PROBLEM_CLOSED, None)
        return self


ProgressEvent = ProgressReported | ProgressRetracted
ProblemEvent = (
    ProblemRaised | ProblemAcknowledged | ProblemCommented | ProblemResolved | ProblemClosed
)
AgencyEvent = ProgressReported | ProgressRetracted | ClockTick | ProblemEvent

DATA_MODEL_BY_TYPE: Final[Mapping[EventType, type[_Data]]] = {
    EventType.PROGRESS_REPORTED: ReportData,
    EventType.PROGRESS_RETRACTED: RetractionData,
    EventType.CLOCK_TICK: TickData,
    EventType.PROBLEM_RAISED: ProblemRaisedData,
    EventType.PROBLEM_ACKNOWLEDGED: ProblemNoteData,
    EventType.PROBLEM_COMMENTED: ProblemCommentData,
    EventType.PROBLEM_RESOLVED: ProblemNoteData,
    EventType.PROBLEM_CLOSED: ProblemNoteData,
}
EVENT_MODEL_BY_TYPE: Final[Mapping[EventType, type[_Event]]] = {
    EventType.PROGRESS_REPORTED: ProgressReported,
    EventType.PROGRESS_RETRACTED: ProgressRetracted,
    EventType.CLOCK_TICK: ClockTick,
    EventType.PROBLEM_RAISED: ProblemRaised,
    EventType.PROBLEM_ACKNOWLEDGED: ProblemAcknowledged,
    EventType.PROBLEM_COMMENTED: ProblemCommented,
    EventType.PROBLEM_RESOLVED: ProblemResolved,
    EventType.PROBLEM_CLOSED: ProblemClosed,
}


def time_ordered_id(time: datetime | str) -> str:
    """A fresh event id that sorts after the ids of earlier times: the UTC instant to the
    microsecond, then 64 random bits. The method breaks a tie between two events reported the
    same day by the greater id, so a same-day correction made with these ids wins."""
    instant = parse_rfc3339(time) if isinstance(time, str) else time
    utc = instant.astimezone(UTC) if instant.tzinfo is not None else instant
    return f"{utc:%Y%m%dT%H%M%S%f}Z-{uuid.uuid4().hex[:16]}"


def _envelope(
    event_type: EventType, source: str, subject: str | None, time: datetime | str, event_id: str
) -> Envelope:
    text = time if isinstance(time, str) else time.isoformat()
    return Envelope(
        specversion=SPECVERSION,
        id=event_id,
        source=source,
        type=event_type,
        subject=subject,
        time=text,
        datacontenttype=DATACONTENTTYPE,
    )


def new_report(
    *,
    agency: str,
    plan: str,
    target: str,
    as_of: date,
    time: datetime | str,
    value: float | None = None,
    stage: str | None = None,
    unit: Unit | None = None,
    note: str | None = None,
    evidence: str | None = None,
    scope: str | None = None,
    event_id: str | None = None,
) -> ProgressReported:
    """Build an unsigned report (sign it with shared.contract.signing.sign)."""
    optional = {
        "value": value,
        "stage": stage,
        "unit": unit,
        "note": note,
        "evidence": evidence,
        "scope": scope,
    }
    fields: dict[str, object] = {"plan": plan, "target": target, "as_of": as_of}
    fields.update((name, given) for name, given in optional.items() if given is not None)
    data = ReportData.model_validate(fields)
    envelope = _envelope(
        EventType.PROGRESS_REPORTED,
        AGENCY_SOURCE_PREFIX + agency,
        target,
        time,
        event_id or time_ordered_id(time),
    )
    return ProgressReported(envelope=envelope, data=data)


def new_retraction(
    *,
    agency: str,
    plan: str,
    target: str,
    as_of: date,
    reason: str,
    time: datetime | str,
    scope: str | None = None,
    event_id: str | None = None,
) -> ProgressRetracted:
    fields: dict[str, object] = {"plan": plan, "target": target, "as_of": as_of, "reason": reason}
    if scope is not None:
        fields["scope"] = scope
    data = RetractionData.model_validate(fields)
    envelope = _envelope(
        EventType.PROGRESS_RETRACTED,
        AGENCY_SOURCE_PREFIX + agency,
        target,
        time,
        event_id or time_ordered_id(time),
    )
    return ProgressRetracted(envelope=envelope, data=data)


def new_tick(*, at: datetime | str, event_id: str | None = None) -> ClockTick:
    text = at if isinstance(at, str) else at.isoformat()
    envelope = _envelope(EventType.CLOCK_TICK, CLOCK_SOURCE, None, text, event_id or text)
    return ClockTick(envelope=envelope, data=TickData(at=text))


def new_problem_id(time: datetime | str) -> str:
    """A fresh problem id: the UTC day it was raised, then 48 random bits
    (`20220406-3f1c2a9e0b7d`)."""
    instant = parse_rfc3339(time) if isinstance(time, str) else time
    utc = instant.astimezone(UTC) if instant.tzinfo is not None else instant
    return f"{utc:%Y%m%d}-{uuid.uuid4().hex[:12]}"


def new_problem_raised(
    *,
    agency: str,
    plan: str,
    subject: str,
    problem_id: str,
    summary: str,
    needs: str,
    from_agencies: tuple[str, ...] | list[str],
    time: datetime | str,
    note: str | None = None,
    evidence: str | None = None,
    event_id: str | None = None,
) -> ProblemRaised:
    """Build an unsigned problem raised on `subject` (a target, deliverable, indicator or task
    id); sign it with shared.contract.signing.sign like a report."""
    fields: dict[str, object] = {
        "plan": plan,
        "problem_id": problem_id,
        "summary": summary,
        "needs": needs,
        "from_agencies": list(from_agencies),
    }
    fields.update((k, v) for k, v in (("note", note), ("evidence", evidence)) if v is not None)
    data = ProblemRaisedData.model_validate(fields)
    envelope = _envelope(
        EventType.PROBLEM_RAISED,
        AGENCY_SOURCE_PREFIX + agency,
        subject,
        time,
        event_id or time_ordered_id(time),
    )
    return ProblemRaised(envelope=envelope, data=data)


ProblemStep = ProblemAcknowledged | ProblemCommented | ProblemResolved | ProblemClosed
_STEP_MODELS: Final[Mapping[EventType, type[ProblemStep]]] = {
    EventType.PROBLEM_ACKNOWLEDGED: ProblemAcknowledged,
    EventType.PROBLEM_COMMENTED: ProblemCommented,
    EventType.PROBLEM_RESOLVED: ProblemResolved,
    EventType.PROBLEM_CLOSED: ProblemClosed,
}


def new_problem_step(
    event_type: EventType,
    *,
    agency: str,
    plan: str,
    subject: str,
    problem_id: str,
    time: datetime | str,
    note: str | None = None,
    event_id: str | None = None,
) -> ProblemStep:
    """Build an unsigned acknowledgement, comment (`note` required), resolution or closure of
    the problem `problem_id` raised on `subject`."""
    model = _STEP_MODELS.get(event_type)
    if model is None:
        raise ValueError(f"{event_type.value} is not a step on a raised problem")
    fields: dict[str, object] = {"plan": plan, "problem_id": problem_id}
    if note is not None:
        fields["note"] = note
    data_model = DATA_MODEL_BY_TYPE[event_type]
    data = data_model.model_validate(fields)
    envelope = _envelope(
        event_type, AGENCY_SOURCE_PREFIX + agency, subject, time, event_id or time_ordered_id(time)
    )
    return model.model_validate({"envelope": envelope, "data": data})
