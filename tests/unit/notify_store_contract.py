"""The NotifyStore contract, run against the in-memory fake (unit) and MongoDB/FerretDB
(integration): the semantics notify's intake, flusher, delivery worker, pruner and APIs rely on.

Subclass `NotifyStoreContract` and provide an async `store` fixture (an empty store).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.notify.domain.acks import Acknowledgement
from services.notify.domain.alert import Alert
from services.notify.domain.grouping import GroupState
from services.notify.domain.matchers import parse_matcher
from services.notify.domain.nflog import LogEntry
from services.notify.domain.silences import Silence
from services.notify.records import (
    FingerprintRecord,
    GroupRecord,
    Inflight,
    PendingNotification,
    pending_id,
)
from services.notify.store import NotifyStore
from tests.unit.notify_fixtures import T0, at, make_alert

FIRING = make_alert("t1", "status_degraded")
RESOLVED = make_alert("t2", "report_overdue", ends=at(30))


def group_state(gid: str = "g1", *alerts: Alert) -> GroupState:
    chosen = alerts or (FIRING,)
    return GroupState(
        id=gid,
        key=f"{{}}:{{target={gid!r}}}",
        route_id="{}",
        receiver="miit",
        labels={"target": gid},
        alerts={a.fingerprint: a for a in chosen},
        created_at=T0,
        next_flush_at=at(30),
    )


def log_entry(group_key: str = "gk", when: datetime = T0) -> LogEntry:
    return LogEntry(
        group_key=group_key,
        integration="miit/webhook/0",
        firing=frozenset({FIRING.fingerprint}),
        resolved=frozenset(),
        timestamp=when,
    )


def pending(gid: str = "g1", seq: int = 1, **changes: object) -> PendingNotification:
    made = PendingNotification(
        id=pending_id(gid, seq, "miit/webhook/0"),
        webhook_id=f"msg_{gid}_{seq}",
        group_id=gid,
        group_key=f"key-{gid}",
        group_labels={"target": gid},
        receiver="miit",
        integration="miit/webhook/0",
        reason="first",
        alerts=[FIRING],
        record_only=False,
        entry=log_entry(f"key-{gid}"),
        created_at=at(30),
        next_attempt_at=at(30),
    )
    return made.model_copy(update=changes)


def silence(sid: str = "s1", comment: str = "") -> Silence:
    return Silence(
        id=sid,
        matchers=(parse_matcher('target="t1"'),),
        starts_at=T0,
        ends_at=T0 + timedelta(hours=1),
        created_by="ops",
        comment=comment,
    )


def attempt(aid: str, notification: str, when: datetime) -> dict[str, object]:
    return {"_id": aid, "notification": notification, "attempt": 1, "at": when, "status": 200}


class NotifyStoreContract:
    async def test_an_empty_store_is_empty(self, store: NotifyStore) -> None:
        assert await store.groups() == []
        assert await store.group("g1") is None
        assert await store.pending() == []
        assert list(await store.pending_ids()) == []
        assert await store.log_entries() == []
        assert await store.log_entry("gk", "miit/webhook/0") is None
        assert await store.attempts() == []
        assert await store.disabled() == {}
        assert await store.silences() == []
        assert await store.silence("s1") is None
        assert await store.entries() == []
        assert await store.epoch(0) is None
        assert await store.fingerprint("fp") == FingerprintRecord(fingerprint="fp")

    async def test_epochs_count_up_per_partition(self, store: NotifyStore) -> None:
        assert [await store.next_epoch(2) for _ in range(3)] == [1, 2, 3]
        assert await store.epoch(2) == 3
        assert await store.next_epoch(5) == 1
        assert await store.epoch(4) is None

    # -- groups -------------------------------------------------------------------------------

    async def test_an_alert_creates_its_group_and_records_its_arrival(
        self, store: NotifyStore
    ) -> None:
        state = group_state("g1")
        await store.save_alert_state(state, FIRING.fingerprint, at(5))
        record = await store.group("g1")
        assert record == GroupRecord(state=state, arrived={FIRING.fingerprint: at(5)})
        assert record.seq == 0 and record.inflight is None
        assert await store.groups() == [record]
        assert await store.flushing_group("g1") == record

    async def test_a_flush_is_kept_and_an_alert_leaves_it_alone(self, store: NotifyStore) -> None:
        state = group_state("g1", FIRING, RESOLVED)
        await store.save_alert_state(state, FIRING.fingerprint, at(5))
        inflight = Inflight(seq=1, at=at(30), snapshot=[RESOLVED], notifications=["n1"])
        read = await store.group("g1")  # the caller reads the record under the group's lock
        assert read is not None
        flushed = read.model_copy(update={"seq": 1, "inflight": inflight})
        await store.save_flush(flushed)
        assert await store.flushing_group("g1") == flushed
        assert await store.group("g1") == flushed
        # A later alert rewrites the state and its arrival, not the flush bookkeeping.
        await store.save_alert_state(state, RESOLVED.fingerprint, at(40))
        record = await store.group("g1")
        assert record is not None and record.seq == 1 and record.inflight == inflight
        assert record.arrived == {FIRING.fingerprint: at(5), RESOLVED.fingerprint: at(40)}

    async def test_a_flush_of_a_group_that_is_gone_writes_nothing(self, store: NotifyStore) -> None:
        await store.save_flush(GroupRecord(state=group_state("g1"), seq=1))
        assert await store.group("g1") is None

    async def test_a_failed_flush_is_marked(self, store: NotifyStore) -> None:
        state = group_state("g1")
        await store.save_alert_state(state, FIRING.fingerprint, at(5))
        inflight = Inflight(seq=1, at=at(30), snapshot=[], notifications=["n1"])
        await store.save_flush(GroupRecord(state=state, seq=1, inflight=inflight))
        record = await store.flushing_group("g1")
        assert record is not None
        await store.mark_inflight_failed(record)
        marked = await store.flushing_group("g1")
        assert marked is not None and marked.inflight is not None and marked.inflight.failed
        again = await store.group("g1")
        assert again is not None and again.inflight is not None and again.inflight.failed
        # Without a flush in flight there is nothing to mark.
        await store.mark_inflight_failed(GroupRecord(state=state))
        assert await store.group("g1") == again

    async def test_finishing_a_flush_clears_it_and_forgets_gone_alerts(
        self, store: NotifyStore
    ) -> None:
        state = group_state("g1", FIRING, RESOLVED)
        await store.save_alert_state(state, FIRING.fingerprint, at(5))
        await store.save_alert_state(state, RESOLVED.fingerprint, at(6))
        inflight = Inflight(seq=1, at=at(30), snapshot=[RESOLVED], notifications=["n1"])
        await store.save_flush(GroupRecord(state=state, seq=1, inflight=inflight))
        remaining = group_state("g1", FIRING)
        await store.finish_flush(remaining, [RESOLVED.fingerprint])
        store.flush_closed("g1")
        record = await store.flushing_group("g1")
        assert record == GroupRecord(
            state=remaining, seq=1, inflight=None, arrived={FIRING.fingerprint: at(5)}
        )

    async def test_an_empty_group_is_deleted_at_the_end_of_its_flush(
        self, store: NotifyStore
    ) -> None:
        state = group_state("g1", RESOLVED)
        await store.save_alert_state(state, RESOLVED.fingerprint, at(5))
        await store.finish_flush(state.model_copy(update={"alerts": {}}), [RESOLVED.fingerprint])
        assert await store.group("g1") is None
        assert await store.groups() == []

    # -- fingerprints and the notification log ------------------------------------------------

    async def test_fingerprint_records_are_replaced_whole(self, store: NotifyStore) -> None:
        first = FingerprintRecord(fingerprint="fp", groups=["g1"], applied_at=at(1), ids=["a"])
        await store.save_fingerprint(first)
        assert await store.fingerprint("fp") == first
        second = FingerprintRecord(fingerprint="fp", groups=["g1", "g2"], ids=["a", "b"])
        await store.save_fingerprint(second)
        assert await store.fingerprint("fp") == second

    async def test_log_entries_upsert_per_group_and_integration(self, store: NotifyStore) -> None:
        await store.put_log_entry(log_entry("gk", at(1)))
        await store.put_log_entry(log_entry("gk", at(2)))
        await store.put_log_entry(log_entry("other", at(3)))
        assert await store.log_entry("gk", "miit/webhook/0") == log_entry("gk", at(2))
        assert await store.log_entry("gk", "ops/webhook/0") is None
        assert sorted(e.group_key for e in await store.log_entries()) == ["gk", "other"]

    async def test_a_log_entry_written_again_since_it_was_read_is_not_forgotten(
        self, store: NotifyStore
    ) -> None:
        await store.put_log_entry(log_entry("gk", at(1)))
        await store.put_log_entry(log_entry("other", at(1)))
        read = await store.log_entries()
        await store.put_log_entry(log_entry("gk", at(9)))  # written again after the read
        assert await store.forget_log_entries(read) == 1
        assert await store.log_entries() == [log_entry("gk", at(9))]

    # -- pending notifications and their attempts ---------------------------------------------

    async def test_a_pending_notification_is_added_once(self, store: NotifyStore) -> None:
        first = pending("g1", reason="first")
        await store.add_pending(first)
        await store.add_pending(pending("g1", reason="again"))  # a re-run flush keeps the first
        assert await store.pending() == [first]
        assert set(await store.pending_ids()) == {first.id}

    async def test_the_first_try_here_is_told_once_and_not_after_a_change_of_owner(
        self, store: NotifyStore
    ) -> None:
        a, b = pending("g1"), pending("g2")
        await store.add_pending(a)
        await store.add_pending(b)
        assert store.first_try_here(a.id)
        assert not store.first_try_here(a.id)
        store.forget_caches()  # another owner may have tried b meanwhile
        assert not store.first_try_here(b.id)
        assert sorted(p.id for p in await store.pending()) == sorted([a.id, b.id])

    async def test_pending_notifications_are_updated_and_deleted(self, store: NotifyStore) -> None:
        item = pending("g1")
        await store.add_pending(item)
        tried = item.model_copy(update={"attempts": 1, "last_reason": "HTTP 503"})
        await store.update_pending(tried)
        assert await store.pending() == [tried]
        await store.delete_pending(item.id)
        assert await store.pending() == []
        assert not store.first_try_here(item.id)
        await store.update_pending(tried)  # deleted meanwhile: it stays deleted
        assert await store.pending() == []

    async def test_the_pending_ids_are_a_live_view(self, store: NotifyStore) -> None:
        view = await store.pending_ids()
        await store.add_pending(pending("g1"))
        assert list(view) == [pending("g1").id]

    async def test_attempts_are_kept_by_id_and_a_rerun_step_replaces_its_record(
        self, store: NotifyStore
    ) -> None:
        await store.record_attempt(attempt("n1#1", "n1", at(1)))
        await store.record_attempt(attempt("n2#1", "n2", at(2)))
        rerun = {**attempt("n1#1", "n1", at(3)), "status": 503}
        await store.record_attempt(rerun)
        [only] = await store.attempts("n1")
        assert only["status"] == 503 and only["at"] == at(3)
        assert sorted(d["_id"] for d in await store.attempts()) == ["n1#1", "n2#1"]

    async def test_the_delivery_log_is_forgotten_before_an_instant(
        self, store: NotifyStore
    ) -> None:
        await store.record_attempt(attempt("old#1", "old", at(0)))
        await store.record_attempt(attempt("new#1", "new", at(100)))
        await store.record_rejected("r-old", b"{bad", "not_json", at(0))
        await store.record_rejected("r-new", b"\xff", "not_utf8", at(100))
        assert await store.forget_delivery_log(at(50)) == (1, 1)
        assert [d["_id"] for d in await store.attempts()] == ["new#1"]
        assert await store.forget_delivery_log(at(50)) == (0, 0)
        assert await store.forget_delivery_log(at(101)) == (1, 1)

    async def test_instants_come_back_aware_to_the_millisecond(self, store: NotifyStore) -> None:
        when = datetime(2022, 6, 1, 8, 0, 0, 123456, tzinfo=UTC)
        await store.record_attempt(attempt("n1#1", "n1", when))
        [doc] = await store.attempts()
        assert doc["at"] == when.replace(microsecond=123000)
        assert doc["at"].utcoffset() == timedelta(0)

    # -- disabled integrations, silences, the audit log ---------------------------------------

    async def test_integrations_are_disabled_and_enabled(self, store: NotifyStore) -> None:
        await store.disable("miit/webhook/0", "miit", "HTTP 410", at(1))
        disabled = await store.disabled()
        assert list(disabled) == ["miit/webhook/0"]
        assert disabled["miit/webhook/0"]["reason"] == "HTTP 410"
        assert disabled["miit/webhook/0"]["receiver"] == "miit"
        assert await store.enable("miit/webhook/0")
        assert not await store.enable("miit/webhook/0")
        assert await store.disabled() == {}

    async def test_silences_are_replaced_whole_with_their_update_time(
        self, store: NotifyStore
    ) -> None:
        await store.put_silence(silence("s1", "first"), at(1))
        await store.put_silence(silence("s1", "edited"), at(2))
        assert await store.silence("s1") == (silence("s1", "edited"), at(2))
        assert await store.silences() == [(silence("s1", "edited"), at(2))]

    async def test_a_silence_updated_since_it_was_read_is_not_forgotten(
        self, store: NotifyStore
    ) -> None:
        await store.put_silence(silence("s1"), at(1))
        await store.put_silence(silence("s2"), at(1))
        read = await store.silences()
        await store.put_silence(silence("s1", "edited"), at(5))
        assert await store.forget_silences(read) == 1
        assert await store.silences() == [(silence("s1", "edited"), at(5))]

    async def test_the_audit_log_answers_newest_first(self, store: NotifyStore) -> None:
        await store.record("ops", "silence.create", "s1", {"comment": "maintenance"}, at(1))
        await store.record("lead", "silence.expire", "s1", {}, at(2))
        entries = await store.entries()
        assert [(e["actor"], e["action"]) for e in entries] == [
            ("lead", "silence.expire"),
            ("ops", "silence.create"),
        ]
        assert entries[1]["details"] == {"comment": "maintenance"} and entries[1]["id"]
        assert [e["actor"] for e in await store.entries(limit=1)] == ["lead"]

    async def test_acknowledgements_are_one_per_alert_receiver_and_person(
        self, store: NotifyStore
    ) -> None:
        first = Acknowledgement(fingerprint="f1", receiver="lead", by="ops", note="a", at=at(1))
        await store.put_ack(first)
        again = first.model_copy(update={"note": "b", "until": at(100)})
        await store.put_ack(again)
        other = first.model_copy(update={"by": "lead"})
        await store.put_ack(other)
        assert sorted(await store.acks(), key=lambda a: a.id) == [other, again]
        assert await store.delete_ack(again.id) == again
        assert await store.delete_ack(again.id) is None
        assert await store.acks() == [other]

    async def test_escalation_steps_are_marked_once_sent(self, store: NotifyStore) -> None:
        assert await store.escalated([]) == set()
        assert await store.escalated(["r|f|t|1"]) == set()
        await store.mark_escalated("r|f|t|1", at(5))
        await store.mark_escalated("r|f|t|1", at(6))  # a re-run: still one
        assert await store.escalated(["r|f|t|1", "r|f|t|2"]) == {"r|f|t|1"}

    async def test_acknowledgements_given_again_since_they_were_read_are_not_forgotten(
        self, store: NotifyStore
    ) -> None:
        assert await store.forget_acks([]) == 0
        first = Acknowledgement(fingerprint="f1", receiver="lead", by="ops", at=at(1))
        other = first.model_copy(update={"fingerprint": "f2"})
        await store.put_ack(first)
        await store.put_ack(other)
        read = await store.acks()
        again = first.model_copy(update={"at": at(9), "note": "still on it"})
        await store.put_ack(again)  # given again after the read
        assert await store.forget_acks(read) == 1
        assert await store.acks() == [again]
        assert await store.forget_acks(read) == 0

    async def test_escalation_steps_sent_are_listed_and_forgotten(self, store: NotifyStore) -> None:
        assert await store.escalation_marks() == {}
        assert await store.forget_escalations([]) == 0
        await store.mark_escalated("r|f|t|1", at(5))
        await store.mark_escalated("r|f|t|2", at(65))
        assert await store.escalation_marks() == {"r|f|t|1": at(5), "r|f|t|2": at(65)}
        assert await store.forget_escalations(["r|f|t|1", "r|f|t|1", "r|f|t|9"]) == 1
        assert await store.escalation_marks() == {"r|f|t|2": at(65)}
        assert await store.escalated(["r|f|t|1", "r|f|t|2"]) == {"r|f|t|2"}
