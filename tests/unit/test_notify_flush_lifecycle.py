"""The flush lifecycle of an aggregation group (services/notify/domain/flush_lifecycle.py), in
memory: each phase, and each event's next state and actions, table by table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import pytest

from services.notify.domain import flush_lifecycle as lifecycle
from services.notify.domain.acks import Acknowledgement
from services.notify.domain.alert import Alert
from services.notify.domain.flush_lifecycle import (
    AddPending,
    CloseFlush,
    CountMuted,
    FlushOutcome,
    FlushPhase,
    FlushTick,
    ForgetFlush,
    GroupFlush,
    MarkFailed,
    NotificationEnded,
    NotificationFailed,
    SaveFlush,
)
from services.notify.domain.flush_records import GroupRecord, Inflight
from services.notify.domain.grouping import GroupState
from services.notify.domain.matchers import parse_matcher
from services.notify.domain.nflog import LogEntry
from services.notify.domain.pipeline import dispatch
from services.notify.domain.silences import Silence
from tests.unit.notify_fixtures import FIRING, FLUSH_CONFIG, RESOLVED, T0, at, make_alert

LOUD, QUIET = "ops/kafka/0", "ops/kafka/1"


def record(*alerts: Alert, now: datetime = T0, **update: object) -> GroupRecord:
    """The group of `alerts` as intake stores it at `now` (arrived then)."""
    state: GroupState | None = None
    for alert in alerts:
        existing: dict[str, GroupState] = {} if state is None else {state.id: state}
        [state] = dispatch(FLUSH_CONFIG, alert, existing, now).values()
    assert state is not None
    made = GroupRecord(state=state, arrived={a.fingerprint: now for a in alerts})
    return made.model_copy(update=update)


def flushed(rec: GroupRecord, now: datetime, **update: object) -> GroupRecord:
    """`rec` after a flush at `now` that made one notification per integration."""
    state = rec.state.model_copy(
        update={"has_flushed": True, "next_flush_at": now + timedelta(minutes=5), **update}
    )
    ended = [a for a in rec.state.alerts.values() if a.ends_at is not None]
    ids = [f"{rec.id}:{rec.seq}:{key}" for key in (LOUD, QUIET)]
    inflight = Inflight(seq=rec.seq, at=now, snapshot=ended, notifications=ids)
    return rec.model_copy(update={"state": state, "seq": rec.seq + 1, "inflight": inflight})


def tick(
    now: datetime,
    *,
    owner: bool = True,
    entries: Mapping[str, LogEntry] | None = None,
    firing: Sequence[Alert] = (),
    silences: Sequence[Silence] = (),
    acks: Sequence[Acknowledgement] = (),
) -> FlushTick:
    return FlushTick(now, owner, FLUSH_CONFIG, entries or {}, firing, silences, acks)


def logged(rec: GroupRecord, *alerts: Alert, when: datetime, key: str = LOUD) -> LogEntry:
    firing = frozenset(a.fingerprint for a in alerts if not a.resolved_at(when))
    resolved = frozenset(a.fingerprint for a in alerts if a.resolved_at(when))
    return LogEntry(
        group_key=rec.state.key, integration=key, firing=firing, resolved=resolved, timestamp=when
    )


# -- phases -----------------------------------------------------------------------------------

FRESH = record(FIRING)
IN_FLIGHT = flushed(FRESH, at(30))


@pytest.mark.parametrize(
    ("flush_state", "now", "expected"),
    [
        (GroupFlush(None), at(30), FlushPhase.CLOSED),
        (
            GroupFlush(
                FRESH.model_copy(update={"state": FRESH.state.model_copy(update={"alerts": {}})})
            ),
            at(30),
            FlushPhase.CLOSED,
        ),
        (GroupFlush(FRESH), at(29), FlushPhase.WAITING),
        (GroupFlush(FRESH), at(30), FlushPhase.DUE),
        (GroupFlush.of(IN_FLIGHT, {f"{FRESH.id}:0:{LOUD}"}), at(400), FlushPhase.IN_FLIGHT),
        (GroupFlush.of(IN_FLIGHT, set()), at(31), FlushPhase.INTERVAL),
        (GroupFlush.of(IN_FLIGHT, set()), at(330), FlushPhase.DUE),
        (GroupFlush.of(flushed(record(RESOLVED), at(130)), set()), at(131), FlushPhase.ENDED),
    ],
    ids=["deleted", "empty", "group_wait", "due", "in flight", "interval", "due again", "ended"],
)
def test_phase(flush_state: GroupFlush, now: datetime, expected: FlushPhase) -> None:
    assert lifecycle.phase(flush_state, now) is expected


def test_an_alert_older_than_group_wait_makes_a_new_group_due_at_once() -> None:
    old = make_alert("t1", starts=T0 - timedelta(hours=1))
    assert lifecycle.phase(GroupFlush(record(old)), T0) is FlushPhase.DUE


def test_only_the_notifications_of_the_last_flush_that_are_pending_keep_it_open() -> None:
    state = GroupFlush.of(IN_FLIGHT, {f"{FRESH.id}:0:{QUIET}", "other:0:x"})
    assert state.pending == {f"{FRESH.id}:0:{QUIET}"}
    assert not lifecycle.wants_flush(state, at(400))
    assert lifecycle.wants_flush(GroupFlush.of(IN_FLIGHT, {"other:0:x"}), at(400))


# -- a flush tick -----------------------------------------------------------------------------


def test_a_due_group_is_flushed_into_one_pending_notification_per_integration() -> None:
    result = lifecycle.step(GroupFlush(FRESH), tick(at(30)))
    assert result.outcome is FlushOutcome.FLUSHED
    count, *adds, save = result.actions
    assert count == CountMuted(0, 0)
    assert [type(a) for a in adds] == [AddPending, AddPending]  # written before the group
    made = result.made
    assert [p.id for p in made] == [f"{FRESH.id}:0:{LOUD}", f"{FRESH.id}:0:{QUIET}"]
    assert {p.reason for p in made} == {"first notification"}
    assert all(p.alerts == [FIRING] and p.next_attempt_at == at(30) for p in made)
    assert all(p.arrived_at == T0 and p.entry.timestamp == at(30) for p in made)
    assert isinstance(save, SaveFlush)
    assert save.record.seq == 1
    assert save.record.state.next_flush_at == at(330) and save.record.state.has_flushed
    assert save.record.inflight == Inflight(
        seq=0, at=at(30), snapshot=[], notifications=[p.id for p in made]
    )
    assert lifecycle.phase(result.state, at(30)) is FlushPhase.IN_FLIGHT


def test_a_rerun_after_a_crash_before_the_group_was_saved_makes_the_same_notifications() -> None:
    first = lifecycle.step(GroupFlush(FRESH), tick(at(30)))
    again = lifecycle.step(GroupFlush(FRESH), tick(at(31)))  # same seq, a later tick
    assert [p.id for p in again.made] == [p.id for p in first.made]
    # The store keeps the first ones (same webhook-id); the ids are what it keys them by.


@pytest.mark.parametrize(
    ("flush_state", "event", "outcome"),
    [
        (GroupFlush(FRESH), tick(at(30), owner=False), FlushOutcome.FENCED),
        (GroupFlush.of(IN_FLIGHT, set()), tick(at(400), owner=False), FlushOutcome.FENCED),
        (GroupFlush(None), tick(at(30)), FlushOutcome.GONE),
        (GroupFlush(FRESH), tick(at(29)), FlushOutcome.NOT_DUE),
        (GroupFlush.of(IN_FLIGHT, {f"{FRESH.id}:0:{LOUD}"}), tick(at(400)), FlushOutcome.IN_FLIGHT),
    ],
    ids=["fenced", "fenced after a flush", "gone", "not due", "in flight"],
)
def test_ticks_that_do_nothing(
    flush_state: GroupFlush, event: FlushTick, outcome: FlushOutcome
) -> None:
    result = lifecycle.step(flush_state, event)
    assert result.outcome is outcome
    assert result.actions == ()
    assert result.state == flush_state


def test_a_flush_the_log_says_was_notified_sends_nothing_until_the_repeat_interval() -> None:
    rec = GroupFlush.of(IN_FLIGHT, set())
    entries = {k: logged(FRESH, FIRING, when=at(30), key=k) for k in (LOUD, QUIET)}
    quiet = lifecycle.step(rec, tick(at(330), entries=entries))
    assert quiet.outcome is FlushOutcome.NOTHING_SENT
    assert quiet.made == []
    save = next(a for a in quiet.actions if isinstance(a, SaveFlush))
    assert save.record.seq == 2 and save.record.inflight is None
    assert save.record.state.next_flush_at == at(630)
    assert lifecycle.phase(quiet.state, at(331)) is FlushPhase.INTERVAL

    later = lifecycle.step(rec, tick(at(3631), entries=entries))  # repeat_interval 1h passed
    assert later.outcome is FlushOutcome.FLUSHED
    assert {p.reason for p in later.made} == {"repeat interval elapsed"}


def test_an_acknowledged_alert_is_not_repeated() -> None:
    entries = {k: logged(FRESH, FIRING, when=at(30), key=k) for k in (LOUD, QUIET)}
    ack = Acknowledgement(
        fingerprint=FIRING.fingerprint,
        receiver="ops",
        by="a",
        at=at(60),
        starts_at=FIRING.starts_at,
    )
    result = lifecycle.step(
        GroupFlush.of(IN_FLIGHT, set()), tick(at(3631), entries=entries, acks=[ack])
    )
    assert result.outcome is FlushOutcome.NOTHING_SENT


def test_a_silenced_group_is_counted_and_sends_nothing() -> None:
    silence = Silence(
        id="s1",
        matchers=(parse_matcher('target="t1"'),),
        starts_at=T0,
        ends_at=at(3600),
        created_by="ops",
    )
    result = lifecycle.step(GroupFlush(FRESH), tick(at(30), silences=[silence]))
    assert result.outcome is FlushOutcome.NOTHING_SENT
    assert result.actions[0] == CountMuted(silenced=1, inhibited=0)
    assert result.made == []


def test_a_group_whose_route_left_the_routing_file_is_dropped() -> None:
    gone = FRESH.model_copy(update={"state": FRESH.state.model_copy(update={"route_id": "x"})})
    result = lifecycle.step(GroupFlush(gone), tick(at(30)))
    assert result.outcome is FlushOutcome.ROUTE_GONE
    [close] = result.actions
    assert isinstance(close, CloseFlush) and close.state.is_empty()
    assert result.state == GroupFlush(None)
    assert lifecycle.log_keys(FLUSH_CONFIG, gone) == []
    assert lifecycle.log_keys(FLUSH_CONFIG, FRESH) == [LOUD, QUIET]


def test_a_resolution_is_sent_where_send_resolved_and_only_recorded_elsewhere() -> None:
    notified = flushed(record(FIRING), at(30), alerts={RESOLVED.fingerprint: RESOLVED})
    rec = GroupFlush.of(notified, set())
    entries = {k: logged(FRESH, FIRING, when=at(30), key=k) for k in (LOUD, QUIET)}
    result = lifecycle.step(rec, tick(at(330), entries=entries))
    loud, quiet = result.made
    assert loud.reason == quiet.reason == "all alerts resolved"
    assert loud.alerts == [RESOLVED] and not loud.record_only
    assert quiet.alerts == [] and quiet.record_only  # the log is still written
    save = next(a for a in result.actions if isinstance(a, SaveFlush))
    assert save.record.inflight is not None and save.record.inflight.snapshot == [RESOLVED]


def test_resolved_alerts_that_were_never_notified_close_the_group_at_once() -> None:
    result = lifecycle.step(GroupFlush(record(RESOLVED)), tick(at(130)))
    assert result.outcome is FlushOutcome.NOTHING_SENT
    *_, save, close = result.actions
    assert isinstance(save, SaveFlush) and isinstance(close, CloseFlush)
    assert close.state.is_empty() and close.forget == (RESOLVED.fingerprint,)
    assert result.state == GroupFlush(None)


# -- the end of a flush -----------------------------------------------------------------------

RESOLVING = flushed(record(RESOLVED), at(130))
LOUD_ID, QUIET_ID = (f"{RESOLVING.id}:0:{k}" for k in (LOUD, QUIET))
BOTH = GroupFlush.of(RESOLVING, {LOUD_ID, QUIET_ID})


def test_a_flush_stays_open_until_its_last_notification_ends() -> None:
    first = lifecycle.step(BOTH, NotificationEnded(LOUD_ID, at(131)))
    assert first.outcome is FlushOutcome.STILL_OPEN and first.actions == ()
    assert first.state.pending == {QUIET_ID}
    last = lifecycle.step(first.state, NotificationEnded(QUIET_ID, at(132)))
    assert last.outcome is FlushOutcome.CLOSED
    assert last.actions == (
        CloseFlush(RESOLVING.state.model_copy(update={"alerts": {}}), (RESOLVED.fingerprint,)),
    )
    assert last.state == GroupFlush(None)  # empty: deleted


def test_a_flush_of_firing_alerts_ends_without_a_write() -> None:
    state = GroupFlush.of(IN_FLIGHT, {f"{FRESH.id}:0:{LOUD}"})
    result = lifecycle.step(state, NotificationEnded(f"{FRESH.id}:0:{LOUD}", at(31)))
    assert result.actions == (ForgetFlush(FRESH.id),)
    assert result.state.record is not None and result.state.record.inflight is None


def test_a_failure_is_marked_once_and_keeps_the_resolved_alerts() -> None:
    failed = lifecycle.step(BOTH, NotificationFailed(LOUD_ID))
    assert failed.outcome is FlushOutcome.MARKED_FAILED
    assert failed.actions == (MarkFailed(RESOLVING),)
    again = lifecycle.step(failed.state, NotificationFailed(QUIET_ID))
    assert again.outcome is FlushOutcome.UNCHANGED and again.actions == ()
    ended = lifecycle.step(failed.state, NotificationEnded(LOUD_ID, at(131)))
    closed = lifecycle.step(ended.state, NotificationEnded(QUIET_ID, at(131)))
    [close] = closed.actions
    assert isinstance(close, CloseFlush)
    assert close.state.alerts == RESOLVING.state.alerts and close.forget == ()
    assert lifecycle.phase(closed.state, at(131)) is FlushPhase.INTERVAL


def test_a_failure_of_a_flush_of_firing_alerts_changes_nothing() -> None:
    state = GroupFlush.of(IN_FLIGHT, {f"{FRESH.id}:0:{LOUD}"})
    result = lifecycle.step(state, NotificationFailed(f"{FRESH.id}:0:{LOUD}"))
    assert result.outcome is FlushOutcome.UNCHANGED and result.actions == ()


@pytest.mark.parametrize(
    "notification",
    [f"{RESOLVING.id}:escalation:k:{LOUD}", f"{RESOLVING.id}:7:{LOUD}"],
    ids=["an escalation", "an older flush"],
)
def test_notifications_not_of_the_last_flush_leave_it_alone(notification: str) -> None:
    for event in (NotificationFailed(notification), NotificationEnded(notification, at(131))):
        result = lifecycle.step(BOTH, event)
        assert result.outcome is FlushOutcome.NOT_THIS_FLUSH and result.actions == ()
    assert lifecycle.step(GroupFlush(None), NotificationEnded(LOUD_ID, at(1))).actions == ()


def test_a_resolved_alert_that_fired_again_since_the_flush_stays() -> None:
    again = make_alert("t1", starts=at(200))
    fired = RESOLVING.state.model_copy(update={"alerts": {again.fingerprint: again}})
    state = GroupFlush.of(RESOLVING.model_copy(update={"state": fired}), {LOUD_ID})
    result = lifecycle.step(state, NotificationEnded(LOUD_ID, at(201)))
    [close] = result.actions
    assert isinstance(close, CloseFlush) and close.state.alerts == {again.fingerprint: again}


def test_a_close_lost_in_a_crash_is_done_at_the_next_flush_as_of_the_flush() -> None:
    ended = GroupFlush.of(RESOLVING, set())  # both removed, the close never written
    assert lifecycle.phase(ended, at(131)) is FlushPhase.ENDED
    result = lifecycle.step(ended, tick(at(430)))
    assert result.outcome is FlushOutcome.CLOSED
    [close] = result.actions
    assert isinstance(close, CloseFlush) and close.state.is_empty()


def test_a_failed_flush_closed_late_keeps_its_alerts_and_flushes_them_again() -> None:
    assert RESOLVING.inflight is not None
    failed = RESOLVING.model_copy(
        update={"inflight": RESOLVING.inflight.model_copy(update={"failed": True})}
    )
    entries = {k: logged(FRESH, FIRING, when=at(30), key=k) for k in (LOUD, QUIET)}
    result = lifecycle.step(GroupFlush.of(failed, set()), tick(at(430), entries=entries))
    assert result.outcome is FlushOutcome.FLUSHED
    assert {p.reason for p in result.made} == {"all alerts resolved"}
    close, _count, *adds, save = result.actions
    assert isinstance(close, CloseFlush) and not close.state.is_empty()
    assert len(adds) == 2 and isinstance(save, SaveFlush) and save.record.seq == 2
    assert [p.id for p in result.made] == [f"{RESOLVING.id}:1:{k}" for k in (LOUD, QUIET)]
