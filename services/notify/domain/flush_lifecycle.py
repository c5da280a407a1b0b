"""The flush lifecycle of one aggregation group, as a pure state machine.

`step(state, event)` gives the group's next state and the actions the service carries out, in
order (store writes, metrics); instants and everything read from the stores (ownership, the
notification log, firing alerts, silences, acknowledgements) come in with the event. The
service (`services/notify/flushing.py`) loads the state under the group's lock, feeds one
event and executes the actions; it decides nothing.

Phases (`phase`), from a group's creation by an alert (intake, `grouping.insert_alert`):

- WAITING: created, `group_wait` not over (an alert that started more than `group_wait` ago
  makes it due at once);
- DUE: `next_flush_at` reached; a `FlushTick` takes the flush: dedup against the log per
  integration, one pending notification per integration that needs one, `seq + 1`;
- IN_FLIGHT: a notification of the last flush is pending (the group does not flush again, as
  an Alertmanager group waits for its pipeline); each ends by `NotificationEnded`, a failure
  being marked first by `NotificationFailed`;
- ENDED: every notification ended, but the close that removes the flush's resolved alerts
  was not written (a crash in between); the next `FlushTick` closes it first, as of the
  flush's instant;
- INTERVAL: flushed, waiting for `group_interval` (the next flush repeats only after
  `repeat_interval`, which the log decides);
- CLOSED: no alerts left (all resolved and notified): the group is deleted.

A replica that no longer owns the group (fenced: the partition moved, or its epoch was taken)
gets no action from a `FlushTick`: only the owner flushes. Notifications are written before
the group (`AddPending` before `SaveFlush`): a crash in between leaves the group due with the
same `seq`, and the re-run finds the same notifications (same ids and webhook-ids).
"""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from services.notify.domain.acks import Acknowledgement
from services.notify.domain.alert import Alert
from services.notify.domain.config import RoutingConfig
from services.notify.domain.flush_records import (
    GroupRecord,
    Inflight,
    PendingNotification,
    pending_id,
)
from services.notify.domain.grouping import (
    GroupState,
    flush,
    flush_due,
    remove_notified_resolved,
)
from services.notify.domain.inhibit import inhibited
from services.notify.domain.nflog import LogEntry
from services.notify.domain.pipeline import Notification, prepare_notifications
from services.notify.domain.silences import Silence, silenced

# -- state ----------------------------------------------------------------------------------


class FlushPhase(StrEnum):
    WAITING = "waiting"
    DUE = "due"
    IN_FLIGHT = "in flight"
    ENDED = "ended"
    INTERVAL = "interval"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class GroupFlush:
    """A group as its owner sees it: the stored record (None once deleted) and which
    notifications of its last flush are still pending."""

    record: GroupRecord | None
    pending: frozenset[str] = frozenset()

    @classmethod
    def of(cls, record: GroupRecord | None, pending_ids: Container[str]) -> GroupFlush:
        inflight = None if record is None else record.inflight
        if inflight is None:
            return cls(record)
        return cls(record, frozenset(n for n in inflight.notifications if n in pending_ids))

    @property
    def open(self) -> bool:
        """A flush is in flight: one of its notifications is pending."""
        return bool(self.pending)


def phase(flush_state: GroupFlush, now: datetime) -> FlushPhase:
    record = flush_state.record
    if record is None or record.state.is_empty():
        return FlushPhase.CLOSED
    if flush_state.open:
        return FlushPhase.IN_FLIGHT
    if record.inflight is not None and record.inflight.snapshot:
        return FlushPhase.ENDED
    if flush_due(record.state, now):
        return FlushPhase.DUE
    return FlushPhase.INTERVAL if record.state.has_flushed else FlushPhase.WAITING


def wants_flush(flush_state: GroupFlush, now: datetime) -> bool:
    """Worth a `FlushTick` at `now` (the loop's filter before it takes the group's lock)."""
    record = flush_state.record
    return record is not None and not flush_state.open and flush_due(record.state, now)


def log_keys(config: RoutingConfig, record: GroupRecord) -> list[str]:
    """The integrations whose log entries a flush of `record` needs (its route's receiver's;
    none if the route left the routing file)."""
    route = config.routes_by_id.get(record.state.route_id)
    return [] if route is None else [i.key for i in config.integrations(route.receiver)]


# -- events ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FlushTick:
    """The loop found the group due at `now`. `owner`: the fencing check passed (assigned here
    and the stored epoch still ours). `log_entries`: the stored entries of the group's
    integrations (`log_keys`), by integration key; `firing`: every firing alert of every group
    (inhibition sources)."""

    now: datetime
    owner: bool
    config: RoutingConfig
    log_entries: Mapping[str, LogEntry]
    firing: Sequence[Alert]
    silences: Sequence[Silence]
    acks: Sequence[Acknowledgement]


@dataclass(frozen=True, slots=True)
class NotificationFailed:
    """A notification ended without success (dead letter, disabled, dropped), before its
    removal: a close must then keep the resolved alerts."""

    notification: str


@dataclass(frozen=True, slots=True)
class NotificationEnded:
    """A notification was removed from the pending ones at `now` (delivered or not)."""

    notification: str
    now: datetime


FlushEvent = FlushTick | NotificationFailed | NotificationEnded


# -- actions --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AddPending:
    """Write the notification unless one with its id exists (a re-run keeps the first)."""

    pending: PendingNotification


@dataclass(frozen=True, slots=True)
class SaveFlush:
    """Write the group's state, `seq` and flush in flight."""

    record: GroupRecord


@dataclass(frozen=True, slots=True)
class MarkFailed:
    """Mark the flush in flight of `record` failed."""

    record: GroupRecord


@dataclass(frozen=True, slots=True)
class CloseFlush:
    """Clear the flush in flight with the group's new `state` (deleted if empty); `forget`:
    fingerprints that left the group."""

    state: GroupState
    forget: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ForgetFlush:
    """The flush ended with nothing to write: drop whatever is remembered of it."""

    group_id: str


@dataclass(frozen=True, slots=True)
class CountMuted:
    """Alerts of the flush left out: silenced (checked first, as Alertmanager) or inhibited."""

    silenced: int
    inhibited: int


FlushAction = AddPending | SaveFlush | MarkFailed | CloseFlush | ForgetFlush | CountMuted


class FlushOutcome(StrEnum):
    FENCED = "fenced"  # not the owner: nothing done
    GONE = "gone"  # no such group (deleted meanwhile)
    IN_FLIGHT = "in flight"  # the last flush still has pending notifications
    NOT_DUE = "not due"
    ROUTE_GONE = "route gone"  # its route left the routing file: the group is dropped
    FLUSHED = "flushed"  # notifications to deliver
    NOTHING_SENT = "nothing sent"  # flushed; dedup (or muting) left nothing to send
    NOT_THIS_FLUSH = "not this flush"  # a notification of an older flush, or not a flush's
    STILL_OPEN = "still open"  # other notifications of the flush are pending
    MARKED_FAILED = "marked failed"
    UNCHANGED = "unchanged"  # already marked, or nothing to keep
    CLOSED = "closed"  # the flush's end written (or nothing to write)


@dataclass(frozen=True, slots=True)
class FlushTransition:
    state: GroupFlush
    actions: tuple[FlushAction, ...]
    outcome: FlushOutcome

    @property
    def made(self) -> list[PendingNotification]:
        return [a.pending for a in self.actions if isinstance(a, AddPending)]


# -- the machine ----------------------------------------------------------------------------


def step(flush_state: GroupFlush, event: FlushEvent) -> FlushTransition:
    if isinstance(event, FlushTick):
        return _tick(flush_state, event)
    if isinstance(event, NotificationFailed):
        return _failed(flush_state, event)
    return _ended(flush_state, event)


def _tick(flush_state: GroupFlush, event: FlushTick) -> FlushTransition:
    record = flush_state.record
    if not event.owner:
        return FlushTransition(flush_state, (), FlushOutcome.FENCED)  # its new owner flushes
    if record is None:
        return FlushTransition(flush_state, (), FlushOutcome.GONE)
    if flush_state.open:
        return FlushTransition(flush_state, (), FlushOutcome.IN_FLIGHT)
    actions: list[FlushAction] = []
    if record.inflight is not None and not record.inflight.snapshot:
        record = record.model_copy(update={"inflight": None})  # over: nothing to write
    elif record.inflight is not None:
        # Every notification of the last flush ended but its close was lost (a crash in
        # between): close it now, as of the flush's instant.
        closed = _close(record, record.inflight, at=record.inflight.at)
        actions.extend(closed.actions)
        record = closed.state.record
        if record is None:
            return FlushTransition(closed.state, tuple(actions), FlushOutcome.CLOSED)
    if not flush_due(record.state, event.now):
        return FlushTransition(GroupFlush(record), tuple(actions), FlushOutcome.NOT_DUE)
    route = event.config.routes_by_id.get(record.state.route_id)
    if route is None:
        actions.append(CloseFlush(record.state.model_copy(update={"alerts": {}}), ()))
        return FlushTransition(GroupFlush(None), tuple(actions), FlushOutcome.ROUTE_GONE)
    state, snapshot = flush(record.state, route, event.now)
    actions.append(_muted(snapshot, event))
    notes = prepare_notifications(
        event.config,
        state,
        route,
        snapshot,
        log_entries=event.log_entries,
        firing_alerts=event.firing,
        silences=event.silences,
        now=event.now,
        acks=event.acks,
    )
    pending = [_pending(record, note) for note in notes]
    actions.extend(AddPending(p) for p in pending)
    seq = record.seq + 1
    if not pending:
        saved = record.model_copy(update={"state": state, "seq": seq, "inflight": None})
        actions.append(SaveFlush(saved))
        done = Inflight(seq=record.seq, at=event.now, snapshot=snapshot, notifications=[])
        closed = _close(saved, done, at=event.now)
        actions.extend(closed.actions)
        return FlushTransition(closed.state, tuple(actions), FlushOutcome.NOTHING_SENT)
    # Only alerts with an end can leave the group when the flush closes
    # (remove_notified_resolved): the firing ones are not kept twice.
    ended = [a for a in snapshot if a.ends_at is not None]
    ids = [p.id for p in pending]
    inflight = Inflight(seq=record.seq, at=event.now, snapshot=ended, notifications=ids)
    saved = record.model_copy(update={"state": state, "seq": seq, "inflight": inflight})
    actions.append(SaveFlush(saved))
    return FlushTransition(GroupFlush(saved, frozenset(ids)), tuple(actions), FlushOutcome.FLUSHED)


def _failed(flush_state: GroupFlush, event: NotificationFailed) -> FlushTransition:
    inflight = _flush_of(flush_state, event.notification)
    record = flush_state.record
    if inflight is None or record is None:
        return FlushTransition(flush_state, (), FlushOutcome.NOT_THIS_FLUSH)
    if not inflight.snapshot or inflight.failed:
        return FlushTransition(flush_state, (), FlushOutcome.UNCHANGED)
    marked = record.model_copy(update={"inflight": inflight.model_copy(update={"failed": True})})
    return FlushTransition(
        GroupFlush(marked, flush_state.pending), (MarkFailed(record),), FlushOutcome.MARKED_FAILED
    )


def _ended(flush_state: GroupFlush, event: NotificationEnded) -> FlushTransition:
    inflight = _flush_of(flush_state, event.notification)
    record = flush_state.record
    if inflight is None or record is None:
        return FlushTransition(flush_state, (), FlushOutcome.NOT_THIS_FLUSH)
    pending = flush_state.pending - {event.notification}
    if pending:
        return FlushTransition(GroupFlush(record, pending), (), FlushOutcome.STILL_OPEN)
    if not inflight.snapshot:  # nothing in the group changes
        done = GroupFlush(record.model_copy(update={"inflight": None}))
        return FlushTransition(done, (ForgetFlush(record.id),), FlushOutcome.CLOSED)
    return _close(record, inflight, at=event.now)


def _flush_of(flush_state: GroupFlush, notification: str) -> Inflight | None:
    """The group's recorded flush, if it made `notification` (None if the group is gone or
    flushed since)."""
    record = flush_state.record
    inflight = None if record is None else record.inflight
    if inflight is None or notification not in inflight.notifications:
        return None
    return inflight


def _close(record: GroupRecord, inflight: Inflight, *, at: datetime) -> FlushTransition:
    """End a flush: if every notification succeeded, its resolved alerts leave the group
    (unless they changed since); an empty group is deleted."""
    state = record.state
    if not inflight.failed:
        state = remove_notified_resolved(state, inflight.snapshot, at)
    forget = tuple(fp for fp in record.state.alerts if fp not in state.alerts)
    action = CloseFlush(state, forget)
    if state.is_empty():
        return FlushTransition(GroupFlush(None), (action,), FlushOutcome.CLOSED)
    arrived = {fp: t for fp, t in record.arrived.items() if fp not in forget}
    closed = record.model_copy(update={"state": state, "inflight": None, "arrived": arrived})
    return FlushTransition(GroupFlush(closed), (action,), FlushOutcome.CLOSED)


def _muted(snapshot: Sequence[Alert], event: FlushTick) -> CountMuted:
    silenced_count = inhibited_count = 0
    for alert in snapshot:
        if silenced(alert.labels, event.silences, event.now):
            silenced_count += 1
        elif inhibited(alert, event.firing, event.config.inhibit_rules):
            inhibited_count += 1
    return CountMuted(silenced_count, inhibited_count)


def _pending(record: GroupRecord, note: Notification) -> PendingNotification:
    arrivals = [
        record.arrived[a.fingerprint] for a in note.alerts if a.fingerprint in record.arrived
    ]
    return PendingNotification(
        id=pending_id(record.id, record.seq, note.integration.key),
        webhook_id=note.id,
        group_id=note.group_id,
        group_key=note.group_key,
        group_labels=note.group_labels,
        receiver=note.receiver,
        integration=note.integration.key,
        reason=note.reason.value,
        alerts=list(note.alerts),
        record_only=note.record_only,
        entry=note.entry,
        created_at=note.created_at,
        arrived_at=max(arrivals) if arrivals else None,
        next_attempt_at=note.created_at,
    )
