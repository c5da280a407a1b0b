"""Pure intake checks: a decoded event, the catalog and a key snapshot in, a verdict out.

No I/O and no wall clock (import-linter enforces it): the intake instant is an argument.
Every refusal names one `Reason`; checks that need the store (duplicates, conflicts) are the
pipeline's. The order is: type, signature present, data well-formed, key known and active,
signature valid, then the catalog (plan, target, agency, responsibility), time, `as_of`,
value. So nothing about the catalog is evaluated for an unauthenticated event.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Final

from shared.accepted import AcceptedEvent, AcceptedKind
from shared.contract.codec import decode_kafka
from shared.contract.ed25519 import signature_valid
from shared.contract.events import EventType, ProgressReported, ProgressRetracted
from shared.contract.keys import AgencyKey, b64url_decode, public_key_from_text
from shared.contract.observation import report_value
from shared.contract.parsing import DEFAULT_MAX_BYTES, RawEvent, parse_event_canonical
from shared.contract.reasons import ContractError, Reason
from shared.contract.responsibility import check_sender
from shared.contract.signing import canonical_bytes, require_key_id, signed_bytes
from shared.domain.catalog import Catalog, Kind, Plan, Subject
from shared.domain.timebase import cst_date

DEFAULT_CLOCK_SKEW: Final = timedelta(minutes=5)

#: (agency id, key id) -> registry entry; the snapshot ingest validates against.
KeySnapshot = Mapping[tuple[str, str], AgencyKey]


@dataclass(frozen=True, slots=True)
class Limits:
    max_event_bytes: int = DEFAULT_MAX_BYTES
    # How far an event's `time` may lie ahead of the intake instant (clocks differ).
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW


@dataclass(frozen=True, slots=True)
class Accepted:
    event: AcceptedEvent
    raw: RawEvent


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: Reason
    message: str
    # Known once the envelope decoded (for logs and the dead-letter headers).
    event_id: str | None = None


Verdict = Accepted | Rejected


def content_hash(raw: RawEvent) -> str:
    """SHA-256 (hex) of the signed canonical bytes: equal for a re-send in any wire mode."""
    return hashlib.sha256(canonical_bytes(raw.envelope, raw.data)).hexdigest()


def earliest_as_of(plan: Plan) -> date:
    """The plan's issue date less one year (29 February falls back to the 28th)."""
    issued = plan.issued
    try:
        return issued.replace(year=issued.year - 1)
    except ValueError:
        return issued.replace(year=issued.year - 1, day=28)


@dataclass(frozen=True, slots=True)
class Unverified:
    """An event that passed every check before its signature's: what verifying it takes
    (`signature_valid(public_key, signature, signed)`) and what the checks after need."""

    raw: RawEvent
    event: ProgressReported | ProgressRetracted
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
        return Accepted(_check_verified(unverified, catalog, received_at, limits), raw)
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
    if not isinstance(event, ProgressReported | ProgressRetracted):  # ticks were refused above
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
) -> AcceptedEvent:
    envelope = unverified.raw.envelope
    event = unverified.event
    agency = unverified.agency
    data = event.data
    plan = catalog.plans.get(data.plan)
    if plan is None:
        raise ContractError(Reason.UNKNOWN_PLAN, f"no plan {data.plan!r}")
    target = plan.subject(data.target)  # a target, a deliverable or an indicator
    if target is None:
        raise ContractError(
            Reason.UNKNOWN_TARGET,
            f"plan {plan.id!r} has no target {data.target!r} (nor deliverable or indicator)",
        )
    if agency not in plan.agencies:
        raise ContractError(Reason.UNKNOWN_AGENCY, f"plan {plan.id!r} has no agency {agency!r}")
    check_sender(plan, target.id, agency, data.scope)

    reported_at = envelope.instant
    if reported_at > received_at + limits.clock_skew:
        raise ContractError(
            Reason.TIME_IN_FUTURE,
            f"time {envelope.time} is ahead of the intake instant {received_at.isoformat()} "
            f"by more than {limits.clock_skew.total_seconds():.0f} s",
        )
    _check_as_of(data.as_of, reported_at, plan)

    if isinstance(event, ProgressReported):
        value: float | None = report_value(event, target)  # unit_mismatch, unknown stage
        _check_value(event.data.value, target)
        kind = AcceptedKind.REPORT
    else:
        value = None
        kind = AcceptedKind.RETRACTION
    return AcceptedEvent(
        event_id=envelope.id,
        kind=kind,
        plan=plan.id,
        target=target.id,
        agency=agency,
        as_of=data.as_of,
        reported_at=reported_at,
        value=value,
        stage=event.data.stage if isinstance(event, ProgressReported) else None,
        scope=data.scope,
        unit=target.unit,
        evidence=event.data.evidence if isinstance(event, ProgressReported) else None,
        note=event.data.note if isinstance(event, ProgressReported) else event.data.reason,
        received_at=received_at,
        key_id=unverified.key_id,
        content_hash=hashlib.sha256(unverified.signed).hexdigest(),
    )


@lru_cache(maxsize=1024)
def _raw_public_key(public_key: str) -> bytes:
    return public_key_from_text(public_key).public_bytes_raw()


def _check_as_of(as_of: date, reported_at: datetime, plan: Plan) -> None:
    reported_day = cst_date(reported_at)
    if as_of > reported_day:
        raise ContractError(
            Reason.AS_OF_OUT_OF_RANGE,
            f"as_of {as_of.isoformat()} is after the report's date {reported_day.isoformat()} "
            "(CST): a value cannot describe a later day",
        )
    earliest = earliest_as_of(plan)
    if as_of < earliest:
        raise ContractError(
            Reason.AS_OF_OUT_OF_RANGE,
            f"as_of {as_of.isoformat()} is before {earliest.isoformat()} "
            f"(one year before plan {plan.id!r} was issued)",
        )


def _check_value(value: float | None, target: Subject) -> None:
    """Range checks of a plain value by the target's kind (milestones are checked by stage)."""
    if value is None or target.kind is Kind.MILESTONE:
        return
    if not math.isfinite(value):  # the contract refuses NaN/Infinity already; kept as a guard
        raise ContractError(Reason.VALUE_OUT_OF_RANGE, f"value {value} is not a finite number")
    where = f"{target.kind.value} target {target.id!r}"
    if target.kind is Kind.SHARE and not 0 <= value <= 100:
        raise ContractError(Reason.VALUE_OUT_OF_RANGE, f"{value} is not a percent in 0..100")
    if target.kind is Kind.COUNT and (value < 0 or not value.is_integer()):
        raise ContractError(
            Reason.VALUE_OUT_OF_RANGE, f"{where} takes a whole number >= 0, not {value}"
        )
    if target.kind is Kind.RANK:
        worst = target.rank_of
        if not value.is_integer() or value < 1 or (worst is not None and value > worst):
            span = f"1..{worst}" if worst is not None else "a whole number >= 1"
            raise ContractError(
                Reason.VALUE_OUT_OF_RANGE, f"{where} takes a rank {span}, not {value}"
            )
