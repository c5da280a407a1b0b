"""The delivery of one pending notification, as a pure state machine.

`step(delivery, event)` gives the next state and the actions the worker carries out in order;
what the worker learns (the stored log entry, the fencing check, the receiver's answer) comes
back as the next event. The worker (`services/notify/deliveries.py`) decides nothing.

Phases: PENDING (due at `next_attempt_at`: first try or a retry) → on `Begin`:

- a notification whose ending was decided (`final`) finishes it: FINAL → ENDED;
- an integration no longer in the routing file: dead letter;
- `record_only` (resolved alerts without `send_resolved`): the log entry is written, ENDED;
- not inserted by this process (a restart, or a retry after one): CHECKING_LOG, the log entry
  is read (`LogRead`): if it is the notification's own, the send was done and recorded before
  a crash: ENDED without sending again. A send done but not recorded is sent again, with the
  same webhook-id (at least once);
- a disabled integration (410 earlier): skipped, ENDED as failed;
- otherwise CHECKING_OWNER: under a send slot, the fencing check (`OwnerChecked`): a replica
  that no longer owns the group sends nothing (back to PENDING, for the new owner);
  the owner posts (SENDING), and the answer (`Answered`) decides: success → the log entry
  first, then the attempt, ENDED; a retry → the attempt, back to PENDING at the backoff's
  instant; a permanent failure, a spent budget or 410 → FINAL (marked on the notification
  before the Kafka record, so a crash finishes it instead of attempting again) → ENDED.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from services.notify.domain.delivery import (
    Outcome,
    OutcomeKind,
    RetryPolicy,
    StepKind,
    next_step,
)
from services.notify.domain.flush_records import (
    FINAL_DEAD,
    FINAL_DISABLED,
    PendingNotification,
)
from services.notify.domain.nflog import LogEntry

UNKNOWN_INTEGRATION = "the integration is no longer in the routing file"
SKIPPED_DISABLED = "skipped: disabled"


class DeliveryPhase(StrEnum):
    PENDING = "pending"
    CHECKING_LOG = "checking log"
    CHECKING_OWNER = "checking owner"
    SENDING = "sending"
    FINAL = "final"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class Delivery:
    item: PendingNotification
    phase: DeliveryPhase = DeliveryPhase.PENDING
    disabled: bool = False  # the integration was disabled when the attempt began
    first_attempt_at: datetime | None = None  # of this attempt's budget


# -- events ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Begin:
    """The notification is due at `now`. `first_try`: this process inserted it and never tried
    it (no earlier process can have sent it, so the log need not be read)."""

    now: datetime
    integration_known: bool
    first_try: bool
    disabled: bool


@dataclass(frozen=True, slots=True)
class LogRead:
    entry: LogEntry | None


@dataclass(frozen=True, slots=True)
class OwnerChecked:
    owner: bool


@dataclass(frozen=True, slots=True)
class Answered:
    """The receiver's answer (`status`: HTTP status, if any) at `now`, `elapsed_s` after the
    request went out; `rng` draws the jitter of a retry."""

    outcome: Outcome
    status: int | None
    now: datetime
    policy: RetryPolicy
    rng: random.Random | float
    elapsed_s: float = 0.0


DeliveryEvent = Begin | LogRead | OwnerChecked | Answered


# -- actions --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReadLogEntry:
    """Read the stored log entry of the notification's group and integration → `LogRead`."""


@dataclass(frozen=True, slots=True)
class CheckOwner:
    """Take a send slot and run the fencing check → `OwnerChecked`."""


@dataclass(frozen=True, slots=True)
class Post:
    """Send the notification (still holding the slot) → `Answered`."""


@dataclass(frozen=True, slots=True)
class PutLogEntry:
    entry: LogEntry


@dataclass(frozen=True, slots=True)
class RecordAttempt:
    """An attempt in the delivery log (`number` counts from 1; `step`: what followed)."""

    number: int
    status: int | None
    reason: str
    step: str = "done"
    elapsed_s: float = 0.0


@dataclass(frozen=True, slots=True)
class UpdatePending:
    item: PendingNotification


@dataclass(frozen=True, slots=True)
class FinishFinal:
    """Carry out the decided ending (`item.final`): publish the dead letter, or disable the
    integration and publish the operational alert."""

    item: PendingNotification


@dataclass(frozen=True, slots=True)
class End:
    """The notification is over: its flush learns it (a failure first), then it is removed."""

    succeeded: bool


DeliveryAction = (
    ReadLogEntry
    | CheckOwner
    | Post
    | PutLogEntry
    | RecordAttempt
    | UpdatePending
    | FinishFinal
    | End
)


class DeliveryOutcome(StrEnum):
    FINISHING = "finishing"  # an ending decided earlier is carried out
    UNKNOWN_INTEGRATION = "unknown integration"
    RECORDED = "recorded"  # record_only: the log written, nothing sent
    CHECK_LOG = "check log"
    ALREADY_DELIVERED = "already delivered"  # sent and logged before a crash
    SKIPPED_DISABLED = "skipped disabled"
    CHECK_OWNER = "check owner"
    FENCED = "fenced"
    POSTING = "posting"
    DELIVERED = "delivered"
    RETRY = "retry"
    DEAD_LETTERED = "dead lettered"
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class DeliveryTransition:
    state: Delivery
    actions: tuple[DeliveryAction, ...]
    outcome: DeliveryOutcome


# -- the machine ----------------------------------------------------------------------------


def step(delivery: Delivery, event: DeliveryEvent) -> DeliveryTransition:
    expected = _EXPECTED[type(event)]
    if delivery.phase is not expected:
        raise ValueError(f"{type(event).__name__} in phase {delivery.phase}, not {expected}")
    if isinstance(event, Begin):
        return _begin(delivery, event)
    if isinstance(event, LogRead):
        return _log_read(delivery, event)
    if isinstance(event, OwnerChecked):
        return _owner_checked(delivery, event)
    return _answered(delivery, event)


_EXPECTED: dict[type, DeliveryPhase] = {
    Begin: DeliveryPhase.PENDING,
    LogRead: DeliveryPhase.CHECKING_LOG,
    OwnerChecked: DeliveryPhase.CHECKING_OWNER,
    Answered: DeliveryPhase.SENDING,
}


def _begin(delivery: Delivery, event: Begin) -> DeliveryTransition:
    item = delivery.item
    if item.final is not None:
        ended = replace(delivery, phase=DeliveryPhase.ENDED)
        return DeliveryTransition(
            ended, (FinishFinal(item), End(succeeded=False)), DeliveryOutcome.FINISHING
        )
    if not event.integration_known:
        return _final(delivery, item, FINAL_DEAD, UNKNOWN_INTEGRATION, ())
    if item.record_only:  # nothing to send (resolved alerts without send_resolved)
        ended = replace(delivery, phase=DeliveryPhase.ENDED)
        actions = (PutLogEntry(item.entry), End(succeeded=True))
        return DeliveryTransition(ended, actions, DeliveryOutcome.RECORDED)
    delivery = replace(
        delivery,
        disabled=event.disabled,
        first_attempt_at=item.first_attempt_at or event.now,
    )
    if not event.first_try:
        checking = replace(delivery, phase=DeliveryPhase.CHECKING_LOG)
        return DeliveryTransition(checking, (ReadLogEntry(),), DeliveryOutcome.CHECK_LOG)
    return _unless_disabled(delivery)


def _log_read(delivery: Delivery, event: LogRead) -> DeliveryTransition:
    if event.entry == delivery.item.entry:  # delivered and logged before a crash
        ended = replace(delivery, phase=DeliveryPhase.ENDED)
        return DeliveryTransition(ended, (End(succeeded=True),), DeliveryOutcome.ALREADY_DELIVERED)
    return _unless_disabled(delivery)


def _unless_disabled(delivery: Delivery) -> DeliveryTransition:
    item = delivery.item
    if delivery.disabled:
        ended = replace(delivery, phase=DeliveryPhase.ENDED)
        record = RecordAttempt(item.attempts, None, SKIPPED_DISABLED)
        return DeliveryTransition(
            ended, (record, End(succeeded=False)), DeliveryOutcome.SKIPPED_DISABLED
        )
    checking = replace(delivery, phase=DeliveryPhase.CHECKING_OWNER)
    return DeliveryTransition(checking, (CheckOwner(),), DeliveryOutcome.CHECK_OWNER)


def _owner_checked(delivery: Delivery, event: OwnerChecked) -> DeliveryTransition:
    if not event.owner:
        # Fenced: the group's partition moved to another replica (this one was paused past
        # its session, or a rebalance overtook it). Its owner sends; nothing changes here.
        back = replace(delivery, phase=DeliveryPhase.PENDING)
        return DeliveryTransition(back, (), DeliveryOutcome.FENCED)
    sending = replace(delivery, phase=DeliveryPhase.SENDING)
    return DeliveryTransition(sending, (Post(),), DeliveryOutcome.POSTING)


def _answered(delivery: Delivery, event: Answered) -> DeliveryTransition:
    item = delivery.item
    number = item.attempts + 1
    outcome = event.outcome
    if outcome.kind is OutcomeKind.SUCCESS:
        ended = replace(delivery, phase=DeliveryPhase.ENDED)
        actions: tuple[DeliveryAction, ...] = (
            PutLogEntry(item.entry),  # first, before anything else: no resend after a crash
            RecordAttempt(number, event.status, outcome.reason, elapsed_s=event.elapsed_s),
            End(succeeded=True),
        )
        return DeliveryTransition(ended, actions, DeliveryOutcome.DELIVERED)
    first = delivery.first_attempt_at or event.now
    decided = next_step(
        event.policy, outcome, attempt=number, first_attempt_at=first, now=event.now, rng=event.rng
    )
    record = RecordAttempt(
        number, event.status, outcome.reason, decided.kind.value, elapsed_s=event.elapsed_s
    )
    tried = {"attempts": number, "first_attempt_at": first, "last_reason": outcome.reason}
    if decided.kind is StepKind.RETRY and decided.retry_at is not None:
        retry = item.model_copy(update={**tried, "next_attempt_at": decided.retry_at})
        back = Delivery(retry, DeliveryPhase.PENDING)
        return DeliveryTransition(back, (record, UpdatePending(retry)), DeliveryOutcome.RETRY)
    final = FINAL_DISABLED if decided.kind is StepKind.DISABLE else FINAL_DEAD
    return _final(delivery, item.model_copy(update=tried), final, decided.reason, (record,))


def _final(
    delivery: Delivery,
    item: PendingNotification,
    final: str,
    reason: str,
    before: tuple[DeliveryAction, ...],
) -> DeliveryTransition:
    """Decide the ending: marked on the notification first, then carried out, then over."""
    item = item.model_copy(update={"final": final, "final_reason": reason})
    ended = replace(delivery, item=item, phase=DeliveryPhase.ENDED)
    actions = (*before, UpdatePending(item), FinishFinal(item), End(succeeded=False))
    if final == FINAL_DISABLED:
        return DeliveryTransition(ended, actions, DeliveryOutcome.DISABLED)
    if not before:  # decided before any attempt: the integration is gone
        return DeliveryTransition(ended, actions, DeliveryOutcome.UNKNOWN_INTEGRATION)
    return DeliveryTransition(ended, actions, DeliveryOutcome.DEAD_LETTERED)
