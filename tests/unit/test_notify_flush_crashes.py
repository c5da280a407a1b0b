"""The flush and delivery lifecycles together, against an in-memory world that can crash after
any write: a group fires, is notified, resolves, is notified and closes. For every crash point
the restarted process ends in the same place, every notification went out at least once and
the only one sent twice is a send that was done but not yet logged when the process died. A
replica that is not the owner never sends and never writes. (The adapters, a real crash and
chaos are the integration suite's.)"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import pytest

from services.notify.domain import delivery_lifecycle as delivery
from services.notify.domain import flush_lifecycle as flush
from services.notify.domain.alert import Alert
from services.notify.domain.delivery import RetryPolicy, classify_response
from services.notify.domain.delivery_lifecycle import (
    Answered,
    Begin,
    CheckOwner,
    Delivery,
    DeliveryEvent,
    End,
    LogRead,
    OwnerChecked,
    PutLogEntry,
    ReadLogEntry,
    RecordAttempt,
    UpdatePending,
)
from services.notify.domain.flush_lifecycle import (
    AddPending,
    CloseFlush,
    FlushAction,
    FlushEvent,
    FlushTick,
    GroupFlush,
    MarkFailed,
    NotificationEnded,
    NotificationFailed,
    SaveFlush,
)
from services.notify.domain.flush_records import GroupRecord, PendingNotification
from services.notify.domain.nflog import LogEntry
from services.notify.domain.pipeline import dispatch
from tests.unit.notify_fixtures import FIRING, FLUSH_CONFIG, RESOLVED, T0, at

# (instant, alert arriving then or None for a tick of the loop)
SCRIPT: list[tuple[datetime, Alert | None]] = [
    (T0, FIRING),
    (at(30), None),
    (at(100), RESOLVED),
    (at(330), None),
    (at(630), None),
]


class CrashError(Exception):
    """The process dies here."""


@dataclass
class World:
    """The stores, the receiver, and one process's memory (`inserted_here`)."""

    crash_after: int | None = None  # writes and sends allowed before the process dies
    owner: bool = True
    groups: dict[str, GroupRecord] = field(default_factory=dict)
    pending: dict[str, PendingNotification] = field(default_factory=dict)
    log: dict[tuple[str, str], LogEntry] = field(default_factory=dict)
    posts: list[str] = field(default_factory=list)  # webhook ids, as the receiver saw them
    effects: list[str] = field(default_factory=list)
    inserted_here: set[str] = field(default_factory=set)

    def effect(self, what: str) -> None:
        if self.crash_after is not None and len(self.effects) >= self.crash_after:
            raise CrashError(what)
        self.effects.append(what)

    def restart(self) -> None:
        self.crash_after = None
        self.inserted_here.clear()

    # -- intake (not a crash point here: redelivery repairs it) --------------------------------

    def arrive(self, alert: Alert, now: datetime) -> None:
        existing = {gid: r.state for gid, r in self.groups.items()}
        for gid, state in dispatch(FLUSH_CONFIG, alert, existing, now).items():
            stored = self.groups.get(gid) or GroupRecord(state=state)
            arrived = {**stored.arrived, alert.fingerprint: now}
            self.groups[gid] = stored.model_copy(update={"state": state, "arrived": arrived})

    # -- the flusher ---------------------------------------------------------------------------

    def tick(self, now: datetime) -> None:
        for gid in list(self.groups):
            record = self.groups[gid]
            state = GroupFlush.of(record, self.pending.keys())
            if not flush.wants_flush(state, now):
                continue
            entries = {
                key: self.log[(record.state.key, key)]
                for key in flush.log_keys(FLUSH_CONFIG, record)
                if (record.state.key, key) in self.log
            }
            firing = [a for a in record.state.alerts.values() if not a.resolved_at(now)]
            self.group_event(gid, FlushTick(now, self.owner, FLUSH_CONFIG, entries, firing, (), ()))
        for item in sorted(self.pending.values(), key=lambda p: p.id):
            if item.next_attempt_at <= now:
                self.deliver(item, now)

    def group_event(self, gid: str, event: FlushEvent) -> None:
        state = GroupFlush.of(self.groups.get(gid), self.pending.keys())
        for action in flush.step(state, event).actions:
            self.carry_out(gid, action)

    def carry_out(self, gid: str, action: FlushAction) -> None:
        match action:
            case AddPending(pending=p):
                self.effect(f"add {p.id}")
                if p.id not in self.pending:
                    self.pending[p.id] = p
                    self.inserted_here.add(p.id)
            case SaveFlush(record=record):
                self.effect(f"save {gid}")
                self.groups[gid] = record
            case MarkFailed(record=record):
                self.effect(f"mark failed {gid}")
                assert record.inflight is not None
                failed = record.inflight.model_copy(update={"failed": True})
                self.groups[gid] = record.model_copy(update={"inflight": failed})
            case CloseFlush(state=state, forget=forget):
                self.effect(f"close {gid}")
                if state.is_empty():
                    del self.groups[gid]
                else:
                    stored = self.groups[gid]
                    arrived = {f: t for f, t in stored.arrived.items() if f not in forget}
                    update = {"state": state, "inflight": None, "arrived": arrived}
                    self.groups[gid] = stored.model_copy(update=update)
            case _:
                pass  # CountMuted, ForgetFlush: nothing stored

    # -- the delivery worker -------------------------------------------------------------------

    def deliver(self, item: PendingNotification, now: datetime) -> None:
        first_try = item.id in self.inserted_here
        self.inserted_here.discard(item.id)
        state = Delivery(item)
        event: DeliveryEvent | None = Begin(now, True, first_try=first_try, disabled=False)
        while event is not None:
            transition = delivery.step(state, event)
            state, event = transition.state, None
            for action in transition.actions:
                match action:
                    case ReadLogEntry():
                        event = LogRead(self.log.get((item.group_key, item.integration)))
                    case CheckOwner():
                        checked = delivery.step(state, OwnerChecked(self.owner))
                        state = checked.state
                        if checked.actions:  # Post
                            self.effect(f"post {item.id}")
                            self.posts.append(item.webhook_id)
                            ok = classify_response(200, None, now)
                            event = Answered(ok, 200, now, RetryPolicy(), 0.5)
                    case PutLogEntry(entry=entry):
                        self.effect(f"log {item.id}")
                        self.log[(entry.group_key, entry.integration)] = entry
                    case RecordAttempt():
                        self.effect(f"attempt {item.id}")
                    case UpdatePending(item=updated):
                        self.effect(f"update {item.id}")
                        self.pending[item.id] = updated
                    case End(succeeded=succeeded):
                        if not succeeded:
                            self.group_event(item.group_id, NotificationFailed(item.id))
                        self.effect(f"remove {item.id}")
                        del self.pending[item.id]
                        self.group_event(item.group_id, NotificationEnded(item.id, now))
                    case _:
                        raise AssertionError(f"unexpected {action}")


def play(world: World) -> World:
    """Run the script; on a crash, restart and go on from the step that crashed."""
    index = 0
    while index < len(SCRIPT):
        now, alert = SCRIPT[index]
        try:
            if alert is None:
                world.tick(now)
            else:
                world.arrive(alert, now)
        except CrashError:
            world.restart()
            continue
        index += 1
    return world


def test_without_a_crash_each_notification_goes_once_and_the_group_closes() -> None:
    world = play(World())
    assert world.groups == {} and world.pending == {}
    assert len(world.posts) == len(set(world.posts)) == 3  # firing ×2, resolution ×1 (quiet)
    assert all(not e.firing for e in world.log.values()) and len(world.log) == 2


def test_at_every_crash_point_notifications_go_at_least_once_and_twice_only_if_unlogged() -> None:
    reference = play(World())
    kinds = [effect.split(" ")[0] for effect in reference.effects]
    sent = ["post", "log", "attempt", "remove"]  # the log entry right after the send
    recorded = ["log", "remove"]  # the quiet integration's resolution: nothing to send
    flushed = ["add", "add", "save"]
    assert kinds == [*flushed, *sent, *sent, *flushed, *sent, *recorded, "close"]
    for crash_after in range(len(reference.effects)):
        world = play(World(crash_after=crash_after))
        where = f"crash after {reference.effects[:crash_after][-1:]}"
        assert world.groups == {} and world.pending == {}, where
        assert world.log == reference.log, where
        assert set(world.posts) == set(reference.posts), where
        sent_twice = {wid for wid, n in Counter(world.posts).items() if n > 1}
        last = reference.effects[crash_after - 1] if crash_after else ""
        if last.startswith("post "):  # sent, then the process died before logging it
            assert len(sent_twice) == 1, where
        else:
            assert sent_twice == set(), where


def test_a_fenced_replica_never_sends_nor_writes() -> None:
    world = World(owner=False)
    world.arrive(FIRING, T0)
    world.tick(at(30))
    world.tick(at(400))
    assert world.effects == [] and world.posts == []


def test_after_a_move_the_old_owner_sends_nothing_and_the_new_one_sends_once() -> None:
    world = World(crash_after=2)  # flushed (two notifications written), then paused
    world.arrive(FIRING, T0)
    with pytest.raises(CrashError):
        world.tick(at(30))
    world.crash_after, world.owner = None, False  # resumes, but the partition moved
    world.tick(at(31))
    assert world.posts == [] and len(world.pending) == 2
    world.restart()  # the new owner: nothing inserted by this process
    world.owner = True
    world.tick(at(32))
    assert len(world.posts) == 2 and world.pending == {}
