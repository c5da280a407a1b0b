"""Acknowledgements and escalation in the domain: the repeat rule, the chain, the routing
file's `escalation` key."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.notify.domain.acks import (
    AckError,
    Acknowledgement,
    acknowledged,
    all_acknowledged,
    validate_ack,
)
from services.notify.domain.config import RoutingConfigError, load_routing
from services.notify.domain.escalation import chain, due_escalations, escalation_key
from services.notify.domain.grouping import GroupState, flush, flush_due
from services.notify.domain.nflog import LogEntry, NotifyReason
from services.notify.domain.pipeline import dispatch, prepare_notifications
from services.notify.domain.routing import EscalationStep
from tests.unit.notify_fixtures import T0, at, make_alert

CONFIG = """\
route:
  receiver: lead
  group_by: [plan, agency, rule]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 1h
  escalation:
    - {after: 2h, receiver: coordinator}
    - {after: 1d, receiver: leadership}
  routes:
    - receiver: other
      matchers: ['agency="qy.other"']
      escalation: []
receivers:
  - name: lead
    webhook_configs: [{url: "https://h.example/a"}]
  - name: coordinator
    webhook_configs: [{url: "https://h.example/c"}]
  - name: leadership
    webhook_configs: [{url: "https://h.example/l"}]
  - name: other
    webhook_configs: [{url: "https://h.example/o"}]
"""


def ack(
    fp: str,
    receiver: str = "lead",
    *,
    by: str = "ops",
    start: float = 0,
    until: float | None = None,
) -> Acknowledgement:
    return Acknowledgement(
        fingerprint=fp,
        receiver=receiver,
        by=by,
        note="on it",
        at=at(start),
        until=None if until is None else at(until),
    )


# --- acknowledgements ---------------------------------------------------------------------


def test_ack_is_active_from_at_until_until() -> None:
    a = ack("f", start=10, until=20)
    assert not a.active(at(9)) and a.active(at(10)) and a.active(at(19.9)) and not a.active(at(20))
    assert ack("f", start=10).active(at(10**7))
    assert a.id == "f|lead|ops"


def test_ack_per_receiver_and_all_acknowledged() -> None:
    a1, a2 = make_alert("t1"), make_alert("t2")
    acks = [ack(a1.fingerprint), ack(a2.fingerprint, "coordinator")]
    assert acknowledged(a1, ["lead"], acks, at(1))
    assert not acknowledged(a2, ["lead"], acks, at(1))
    assert acknowledged(a2, ["lead", "coordinator"], acks, at(1))
    assert all_acknowledged([a1], "lead", acks, at(1))
    assert not all_acknowledged([a1, a2], "lead", acks, at(1))
    assert not all_acknowledged([], "lead", acks, at(1))


def test_an_ack_of_one_episode_does_not_cover_the_next() -> None:
    first = make_alert("t1")
    episode = ack(first.fingerprint).model_copy(update={"starts_at": first.starts_at})
    assert acknowledged(first, ["lead"], [episode], at(10))
    again = make_alert("t1", starts=at(5000))
    assert not acknowledged(again, ["lead"], [episode], at(6000))


def test_validate_ack_refuses_a_past_until_and_a_long_note() -> None:
    with pytest.raises(AckError, match="future"):
        validate_ack(ack("f", start=0, until=5), at(6))
    with pytest.raises(AckError, match="note"):
        validate_ack(ack("f").model_copy(update={"note": "x" * 2001}), at(0))
    assert validate_ack(ack("f", until=60), at(1)).until == at(60)


# --- the repeat rule ----------------------------------------------------------------------


def _repeat_flush(acks: list[Acknowledgement], now_s: float) -> list[NotifyReason]:
    cfg = load_routing(CONFIG)
    alerts = [make_alert("t1"), make_alert("t2")]
    groups: dict[str, GroupState] = {}
    for a in alerts:
        groups.update(dispatch(cfg, a, groups, T0))
    (group,) = groups.values()
    route = cfg.routes_by_id[group.route_id]
    group = group.model_copy(update={"flushed_at": None})
    now = at(now_s)
    assert flush_due(group, now)
    state, snapshot = flush(group, route, now)
    entry = LogEntry(
        group_key=state.key,
        integration="lead/webhook/0",
        firing=frozenset(a.fingerprint for a in alerts),
        resolved=frozenset(),
        timestamp=T0,
    )
    notes = prepare_notifications(
        cfg,
        state,
        route,
        snapshot,
        log_entries={"lead/webhook/0": entry},
        firing_alerts=alerts,
        silences=[],
        now=now,
        acks=acks,
    )
    return [n.reason for n in notes]


def test_repeat_skipped_when_every_firing_alert_is_acknowledged_for_the_receiver() -> None:
    fp1, fp2 = make_alert("t1").fingerprint, make_alert("t2").fingerprint
    later = 2 * 3600
    assert _repeat_flush([], later) == [NotifyReason.REPEAT_INTERVAL]
    assert _repeat_flush([ack(fp1)], later) == [NotifyReason.REPEAT_INTERVAL]  # one of two
    assert _repeat_flush([ack(fp1), ack(fp2)], later) == []
    # for another receiver, or expired: the reminder goes
    assert _repeat_flush([ack(fp1, "coordinator"), ack(fp2, "coordinator")], later) != []
    assert _repeat_flush([ack(fp1, until=60), ack(fp2)], later) == [NotifyReason.REPEAT_INTERVAL]


# --- escalation ---------------------------------------------------------------------------


def test_routing_file_escalation_is_inherited_and_cleared() -> None:
    cfg = load_routing(CONFIG)
    assert cfg.route.settings.escalation == (
        EscalationStep(timedelta(hours=2), "coordinator"),
        EscalationStep(timedelta(days=1), "leadership"),
    )
    assert cfg.route.routes[0].settings.escalation == ()
    assert chain(cfg.route) == ["lead", "coordinator", "leadership"]


@pytest.mark.parametrize(
    ("steps", "line", "reason"),
    [
        ("[{after: 1h, receiver: nobody}]", 7, "unknown receiver 'nobody'"),
        ("[{after: 0s, receiver: coordinator}]", 7, "must be greater than zero"),
        (
            "[{after: 2h, receiver: coordinator}, {after: 1h, receiver: leadership}]",
            7,
            "'after' must increase",
        ),
        ("[{after: 1h}]", 7, "'receiver' is required"),
        ("[{after: 1h, receiver: lead, when: x}]", 7, "unknown key 'when'"),
    ],
)
def test_routing_file_escalation_refusals_name_the_line(steps: str, line: int, reason: str) -> None:
    head, _, tail = CONFIG.partition("  escalation:\n")
    _, _, rest = tail.partition("  routes:\n")
    text = f"{head}  escalation: {steps}\n  routes:\n{rest}"
    with pytest.raises(RoutingConfigError) as caught:
        load_routing(text, "r.yaml")
    assert any(i.line == line and reason in i.message for i in caught.value.issues), (
        caught.value.issues
    )


def test_due_escalations_step_by_step_once_per_episode() -> None:
    cfg = load_routing(CONFIG)
    route = cfg.route
    a = make_alert("t1")
    assert due_escalations(route, [a], acks=[], sent=set(), now=at(2 * 3600 - 1)) == []
    (first,) = due_escalations(route, [a], acks=[], sent=set(), now=at(2 * 3600))
    assert (first.step, first.receiver, first.at) == (1, "coordinator", at(2 * 3600))
    assert first.key == escalation_key(route.id, a.fingerprint, T0, 1)
    assert first.group_key("g") == f"g/escalation/1/{a.fingerprint}"
    sent = {first.key}
    assert due_escalations(route, [a], acks=[], sent=sent, now=at(3 * 3600)) == []
    both = due_escalations(route, [a], acks=[], sent=set(), now=at(86400))
    assert [d.step for d in both] == [1, 2]
    # a new episode (a new start) escalates again
    again = make_alert("t1", starts=at(90000))
    assert [d.step for d in due_escalations(route, [again], acks=[], sent=sent, now=at(98000))] == [
        1
    ]


def test_an_acknowledgement_on_the_chain_stops_escalation() -> None:
    route = load_routing(CONFIG).route
    a = make_alert("t1")
    now = at(86400)
    for receiver in ("lead", "coordinator", "leadership"):
        assert (
            due_escalations(route, [a], acks=[ack(a.fingerprint, receiver)], sent=(), now=now) == []
        )
    assert due_escalations(route, [a], acks=[ack(a.fingerprint, "other")], sent=(), now=now)
    expired = ack(a.fingerprint, until=3600)
    assert len(due_escalations(route, [a], acks=[expired], sent=(), now=now)) == 2
    resolved = make_alert("t1", ends=at(100))
    assert due_escalations(route, [resolved], acks=[], sent=(), now=now) == []
