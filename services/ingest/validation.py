"""Pure intake checks: a decoded event, the catalog and a key snapshot in, a verdict out.

No I/O and no wall clock (import-linter enforces it): the intake instant is an argument.
Every refusal names one `Reason`; checks that need the store (duplicates, conflicts) are the
pipeline's. The order is: type, signature present, data well-formed, key known and active,
signature valid, then the catalog (plan, target, agency, responsibility), time, `as_of`,
value (`shared.contract.catalog_checks`, which `planwatch publish --file` runs too); for a
problem event, its subject and who may send it (`shared.contract.problem_checks`). So nothing
about the catalog is evaluated for an unauthenticated event.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from shared.accepted import AcceptedEvent, AcceptedKind
from shared.accepted_problem import ACTION_BY_TYPE, AcceptedProblemEvent, AnyAccepted
from shared.contract.catalog_checks import DEFAULT_CLOCK_SKEW, check_against_catalog
from shared.contract.codec import decode_kafka
from shared.contract.ed25519 import signature_valid
from shared.contract.events import (
    EventType,
    ProblemEvent,
    ProblemRaised,
    ProgressEvent,
    ProgressReported,
    ProgressRetracted,
)
from shared.contract.keys import AgencyKey, b64url_decode, public_key_from_text
from shared.contract.parsing import DEFAULT_MAX_BYTES, RawEvent, parse_event_canonical
from shared.contract.problem_checks import check_problem_against_catalog
from shared.contract.reasons import ContractError, Reason
from shared.contract.signing import canonical_bytes, require_key_id, signed_bytes
from shared.domain.catalog import Catalog

#: (agency id, key id) -> registry entry; the snapshot ingest validates against.
KeySnapshot = Mapping[tuple[str, str], AgencyKey]


@dataclass(frozen=True, slots=True)
class Limits:
    max_event_bytes: int = DEFAULT_MAX_BYTES
    # How far an event's `time` may lie ahead of the intake instant (clocks differ).
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW


@dataclass(frozen=True, slots=True)
class Accepted:
    """A report or retraction that passed."""

    event: AcceptedEvent
    raw: RawEvent


@dataclass(frozen=True, slots=True)
class AcceptedProblem:
    """A problem event that passed."""

    event: AcceptedProblemEvent
    raw: RawEvent


Passed = Accepted | AcceptedProblem


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: Reason
    message: str
    # Known once the envelope decoded (for logs and the dead-letter headers).
    event_id: str | None = None


Verdict = Accepted | AcceptedProblem | Rejected


def content_hash(raw: RawEvent) -> str:
    """SHA-256 (hex) of the signed canonical bytes: equal for a re-send in any wire mode."""
    return hashlib.sha256(canonical_bytes(raw.envelope, raw.data)).hexdigest()


@dataclass(frozen=True, slots=True)
class Unverified:
    """An event that passed every check before its signature's: what verifying it takes
    (`signature_valid(public_key, signature, signed)`) and what the checks after need."""

    raw: RawEvent
    event: ProgressEvent | ProblemEvent
    agency: str
    key_id: str
    public_key: bytes  # the raw 32-byte Ed25519 key
    signature: bytes  # b"" when the attribute is not base64url
    signed: bytes  # the canonical bytes the signature covers


def validate(
    raw: RawEvent,
    catalog: Catalog,
    keys: KeySnapshot,
    received_at: datetime,
    limits: Limits = Limits(),
) -> Verdict:
    """Accepted (with the normalized event) or Rejected (with a reason); never raises
    ContractError."""
    checked = check_before_signature(raw, keys)
    if isinstance(checked, Rejected):
        return checked
    valid = signature_valid(checked.public_key, checked.signature, checked.signed)
    return check_after_signature(checked, valid, catalog, received_at, limits)


def check_before_signature(raw: RawEvent, keys: KeySnapshot) -> Unverified | Rejected:
    """The first half of `validate`: every check before the signature's (type, signature
    present, data well-formed, key known and active), and the bytes to verify."""
    try:
        return _check_unverified(raw, keys)
    except ContractError as exc:
        return Rejected(exc.reason, exc.message, raw.envelope.id)


def check_after_signature(
    unverified: Unverified,
    signature_ok: bool,
    catalog: Catalog,
    received_at: datetime,
    limits: Limits = Limits(),
) -> Verdict:
    """The second half of `validate`, given whether the signature verified: `bad_signature`,
    or the catalog, time and value checks."""
    raw = unverified.raw
    try:
        if not signature_ok:
            raise _bad_signature(raw)
        passed = _check_verified(unverified, catalog, received_at, limits)
        if isinstance(passed, AcceptedProblemEvent):
            return AcceptedProblem(passed, raw)
        return Accepted(passed, raw)
    except ContractError as exc:
        return Rejected(exc.reason, exc.message, raw.envelope.id)


def validate_kafka(
    value: bytes | None,
    headers: Sequence[tuple[str, bytes | None]],
    catalog: Catalog,
    keys: KeySnapshot,
    received_at: datetime,
    *,
    limits: Limits = Limits(),
) -> Verdict:
    """Decode one Kafka record (binary or structured mode), then `validate`."""
    try:
        raw = decode_kafka(value, headers, max_bytes=limits.max_event_bytes)
    except ContractError as exc:
        return Rejected(exc.reason, exc.message)
    return validate(raw, catalog, keys, received_at, limits)


def _check_unverified(raw: RawEvent, keys: KeySnapshot) -> Unverified:
    envelope = raw.envelope
    if envelope.type is EventType.CLOCK_TICK:
        raise ContractError(
            Reason.UNKNOWN_TYPE,
            f"{EventType.CLOCK_TICK.value} is not an agency event; ingest does not take ticks",
        )
    key_id = require_key_id(envelope)
    parsed = parse_event_canonical(raw)
    event = parsed.event
    if not isinstance(event, ProgressEvent | ProblemEvent):  # ticks were refused above
        raise ContractError(Reason.UNKNOWN_TYPE, f"{envelope.type.value} is not an agency event")
    agency = envelope.agency
    if agency is None:  # the envelope ties progress types to agency sources; kept as a guard
        raise ContractError(Reason.MALFORMED, f"source {envelope.source!r} is not an agency")
    key = keys.get((agency, key_id))
    if key is None:
        raise ContractError(Reason.UNKNOWN_KEY, f"agency {agency!r} has no key {key_id!r}")
    if not key.is_active:
        when = f" at {key.revoked.isoformat()}" if key.revoked else ""
        raise ContractError(Reason.REVOKED_KEY, f"key {key_id!r} of {agency!r} was revoked{when}")
    # The signed bytes are computed once: they are also the content hash's input.
    if parsed.canonical_data is None:
        signed = canonical_bytes(envelope, raw.data)
    else:
        signed = signed_bytes(envelope, parsed.canonical_data)
    try:
        signature = b64url_decode(envelope.signature or "")
    except ValueError:
        signature = b""
    return Unverified(
        raw, event, agency, key_id, _raw_public_key(key.public_key), signature, signed
    )


def _bad_signature(raw: RawEvent) -> ContractError:
    envelope = raw.envelope
    return ContractError(
        Reason.BAD_SIGNATURE,
        f"signature does not verify with key {envelope.sigkeyid!r} of {envelope.source}",
    )


def _check_verified(
    unverified: Unverified, catalog: Catalog, received_at: datetime, limits: Limits
) -> AnyAccepted:
    envelope = unverified.raw.envelope
    event = unverified.event
    if not isinstance(event, ProgressReported | ProgressRetracted):
        return _check_problem(unverified, event, catalog, received_at, limits)
    fit = check_against_catalog(event, catalog, received_at, limits.clock_skew)
    if isinstance(event, ProgressReported):
        kind = AcceptedKind.REPORT
        stage = event.data.stage
    else:
        kind = AcceptedKind.RETRACTION
        stage = None
    return AcceptedEvent(
        event_id=envelope.id,
        kind=kind,
        plan=fit.plan.id,
        target=fit.target.id,
        agency=unverified.agency,
        as_of=event.data.as_of,
        reported_at=envelope.instant,
        value=fit.value,
        stage=stage,
        scope=event.data.scope,
        unit=fit.target.unit,
        evidence=event.data.evidence if isinstance(event, ProgressReported) else None,
        note=event.data.note if isinstance(event, ProgressReported) else event.data.reason,
        received_at=received_at,
        key_id=unverified.key_id,
        content_hash=hashlib.sha256(unverified.signed).hexdigest(),
    )


def _check_problem(
    unverified: Unverified,
    event: ProblemEvent,
    catalog: Catalog,
    received_at: datetime,
    limits: Limits,
) -> AcceptedProblemEvent:
    envelope = unverified.raw.envelope
    fit = check_problem_against_catalog(event, catalog, received_at, limits.clock_skew)
    raised = event.data if isinstance(event, ProblemRaised) else None
    return AcceptedProblemEvent(
        event_id=envelope.id,
        action=ACTION_BY_TYPE[envelope.type],
        plan=fit.plan.id,
        problem_id=event.data.problem_id,
        subject=envelope.subject or "",
        subject_kind=fit.subject_kind,
        task=fit.task,
        agency=unverified.agency,
        reported_at=envelope.instant,
        summary=raised.summary if raised else None,
        needs=raised.needs if raised else None,
        from_agencies=tuple(raised.from_agencies) if raised else None,
        note=event.data.note,
        evidence=raised.evidence if raised else None,
        received_at=received_at,
        key_id=unverified.key_id,
        content_hash=hashlib.sha256(unverified.signed).hexdigest(),
    )


@lru_cache(maxsize=1024)
def _raw_public_key(public_key: str) -> bytes:
    return public_key_from_text(public_key).public_bytes_raw()
