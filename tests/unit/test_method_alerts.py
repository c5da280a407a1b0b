"""The six alert rules: firing, severity changes, resolution; fingerprints and transition ids."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date

from shared.domain.catalog import Cadence
from shared.domain.method_v1 import (
    AlertRule,
    Severity,
    Status,
    TransitionKind,
    alert_states,
    alert_transitions,
    fingerprint,
    firing_alerts,
)
from shared.domain.observation import Observation
from tests.unit.method_support import PLAN_ID, evaluate, make_target, obs

D = date
R = AlertRule
SHARE = make_target("t.share", target=80.0, deadline=D(2022, 12, 31), cadence=Cadence.QUARTERLY)
FIRST = obs(D(2021, 6, 30), 45, D(2021, 7, 5))


def states(events: Sequence[Observation], day: date) -> dict[AlertRule, Severity]:
    return alert_states(evaluate(SHARE, events, day))


def kinds(before: dict[AlertRule, Severity], after: dict[AlertRule, Severity]) -> dict[str, str]:
    return {
        t.rule.value: t.kind.value
        for t in alert_transitions(PLAN_ID, SHARE.id, before, after, "trigger")
    }


class TestStatusDegraded:
    def test_at_risk_warns_and_on_track_resolves(self) -> None:
        at_risk = [
            FIRST,
            obs(D(2021, 12, 31), 58, D(2022, 1, 6)),
            obs(D(2022, 6, 30), 66, D(2022, 7, 4)),
        ]
        before = states(at_risk, D(2022, 7, 4))
        assert before == {R.STATUS_DEGRADED: Severity.WARNING}
        # A correction to 75 (p = 30/35, R = 1.289): ON_TRACK.
        back = [*at_risk, obs(D(2022, 6, 30), 75, D(2022, 7, 10))]
        after = states(back, D(2022, 7, 10))
        assert evaluate(SHARE, back, D(2022, 7, 10)).status is Status.ON_TRACK
        assert R.STATUS_DEGRADED not in after
        assert kinds(before, after) == {"status_degraded": "resolved"}

    def test_off_track_turns_critical_180_days_before_the_deadline(self) -> None:
        off = [FIRST, obs(D(2021, 12, 31), 50, D(2022, 1, 6))]
        early = states(off, D(2022, 7, 3))  # days_left = 181
        late = states(off, D(2022, 7, 4))  # days_left = 180
        assert early[R.STATUS_DEGRADED] is Severity.WARNING
        assert late[R.STATUS_DEGRADED] is Severity.CRITICAL
        assert kinds(early, late) == {"status_degraded": "severity_changed"}

    def test_deteriorating_is_critical(self) -> None:
        away = [FIRST, obs(D(2021, 12, 31), 40, D(2022, 1, 6))]
        assert states(away, D(2022, 1, 6))[R.STATUS_DEGRADED] is Severity.CRITICAL

    def test_stays_firing_when_missed(self) -> None:
        missed = [FIRST, obs(D(2022, 12, 31), 70, D(2023, 1, 3))]
        result = evaluate(SHARE, missed, D(2023, 1, 5))
        assert (result.status, result.pace_status) == (Status.MISSED, Status.AT_RISK)
        assert alert_states(result)[R.STATUS_DEGRADED] is Severity.WARNING

    def test_not_firing_when_missed_from_on_track(self) -> None:
        # 78 at the deadline: R = (33/35) / 1 = 0.943 -> AT_RISK; 79: R = 0.971 -> ON_TRACK.
        missed = [FIRST, obs(D(2022, 12, 31), 79, D(2023, 1, 3))]
        result = evaluate(SHARE, missed, D(2023, 1, 5))
        assert (result.status, result.pace_status) == (Status.MISSED, Status.ON_TRACK)
        assert R.STATUS_DEGRADED not in alert_states(result)


class TestTargetMissedAndAchieved:
    def test_missed_then_late_data_achieves(self) -> None:
        missed = [FIRST, obs(D(2022, 12, 31), 70, D(2023, 1, 3))]
        before = states(missed, D(2023, 1, 5))
        assert before[R.TARGET_MISSED] is Severity.CRITICAL
        assert R.TARGET_ACHIEVED not in before
        corrected = [*missed, obs(D(2022, 12, 31), 81, D(2023, 2, 1))]
        after = states(corrected, D(2023, 2, 1))
        assert after == {R.TARGET_ACHIEVED: Severity.INFO}
        assert kinds(before, after) == {
            "status_degraded": "resolved",
            "target_missed": "resolved",
            "target_achieved": "firing",
        }

    def test_achieved_resolves_when_the_status_leaves_it(self) -> None:
        done = [FIRST, obs(D(2022, 3, 31), 80, D(2022, 4, 2))]
        before = states(done, D(2022, 4, 2))
        assert before == {R.TARGET_ACHIEVED: Severity.INFO}
        undone = [*done, obs(D(2022, 3, 31), 76, D(2022, 4, 9))]
        after = states(undone, D(2022, 4, 9))
        assert R.TARGET_ACHIEVED not in after
        assert kinds(before, after)["target_achieved"] == "resolved"


class TestDeadlineNear:
    AT_RISK = (FIRST, obs(D(2022, 6, 30), 66, D(2022, 7, 4)))

    def test_fires_within_90_days_unless_on_track(self) -> None:
        assert R.DEADLINE_NEAR not in states(self.AT_RISK, D(2022, 10, 1))  # 91 days left
        assert states(self.AT_RISK, D(2022, 10, 2))[R.DEADLINE_NEAR] is Severity.CRITICAL
        on_track = [FIRST, obs(D(2022, 9, 30), 78, D(2022, 10, 1))]
        assert R.DEADLINE_NEAR not in states(on_track, D(2022, 10, 2))

    def test_fires_without_data_and_resolves_when_the_deadline_passes(self) -> None:
        assert states([], D(2022, 12, 30))[R.DEADLINE_NEAR] is Severity.CRITICAL
        before = states(self.AT_RISK, D(2022, 12, 30))
        after = states(self.AT_RISK, D(2022, 12, 31))  # days_left = 0
        assert R.DEADLINE_NEAR in before and R.DEADLINE_NEAR not in after
        assert kinds(before, after)["deadline_near"] == "resolved"


class TestReportOverdue:
    def test_warning_then_critical_then_resolved_by_a_report(self) -> None:
        reports = [FIRST, obs(D(2021, 12, 31), 58, D(2022, 1, 6))]
        assert R.REPORT_OVERDUE not in states(reports, D(2022, 4, 28))  # 112 days
        warning = states(reports, D(2022, 4, 29))
        assert warning[R.REPORT_OVERDUE] is Severity.WARNING
        critical = states(reports, D(2022, 8, 19))  # 225 days > 2 * 112
        assert critical[R.REPORT_OVERDUE] is Severity.CRITICAL
        assert kinds(warning, critical)["report_overdue"] == "severity_changed"
        fresh = states([*reports, obs(D(2022, 6, 30), 66, D(2022, 8, 19))], D(2022, 8, 19))
        assert R.REPORT_OVERDUE not in fresh
        assert kinds(critical, fresh)["report_overdue"] == "resolved"


class TestRegression:
    def test_fires_on_a_step_away_and_resolves_on_a_step_toward(self) -> None:
        up = [FIRST, obs(D(2021, 9, 30), 55, D(2021, 10, 2))]
        down = [*up, obs(D(2021, 12, 31), 52, D(2022, 1, 3))]
        before = states(up, D(2022, 1, 3))
        fired = states(down, D(2022, 1, 3))
        assert R.REGRESSION not in before
        assert fired[R.REGRESSION] is Severity.WARNING
        assert kinds(before, fired)["regression"] == "firing"
        recovered = states([*down, obs(D(2022, 3, 31), 52.5, D(2022, 4, 2))], D(2022, 4, 2))
        assert R.REGRESSION not in recovered


class TestIdentity:
    def test_fingerprint_is_a_stable_hash_of_plan_target_and_rule(self) -> None:
        fp = fingerprint("p", "t", R.REGRESSION)
        expected = hashlib.sha256(b"p\x1ft\x1fregression").hexdigest()[:32]
        assert fp == expected
        assert len({fingerprint("p", "t", rule) for rule in AlertRule}) == len(AlertRule)
        assert fingerprint("p", "t2", R.REGRESSION) != fp

    def test_transitions_carry_deterministic_ids(self) -> None:
        before = {R.STATUS_DEGRADED: Severity.WARNING, R.REGRESSION: Severity.WARNING}
        after = {R.STATUS_DEGRADED: Severity.CRITICAL, R.TARGET_MISSED: Severity.CRITICAL}
        first = alert_transitions("p", "t", before, after, "ev-1")
        again = alert_transitions("p", "t", before, after, "ev-1")
        other = alert_transitions("p", "t", before, after, "ev-2")
        assert first == again
        assert [(t.rule, t.kind, t.severity, t.previous_severity) for t in first] == [
            (
                R.STATUS_DEGRADED,
                TransitionKind.SEVERITY_CHANGED,
                Severity.CRITICAL,
                Severity.WARNING,
            ),
            (R.TARGET_MISSED, TransitionKind.FIRING, Severity.CRITICAL, None),
            (R.REGRESSION, TransitionKind.RESOLVED, Severity.WARNING, Severity.WARNING),
        ]
        assert {t.id for t in first}.isdisjoint({t.id for t in other})
        assert len({t.id for t in first}) == 3
        t0 = first[0]
        assert (
            t0.id
            == hashlib.sha256(
                f"{t0.fingerprint}\x1fseverity_changed\x1fcritical\x1fev-1".encode()
            ).hexdigest()[:32]
        )
        assert alert_transitions("p", "t", after, after, "ev-3") == ()

    def test_firing_alerts_name_plan_target_and_fingerprint(self) -> None:
        result = evaluate(SHARE, [FIRST, obs(D(2021, 12, 31), 40, D(2022, 1, 6))], D(2022, 1, 6))
        alerts = firing_alerts(result)
        assert [(a.rule, a.severity) for a in alerts] == [
            (R.STATUS_DEGRADED, Severity.CRITICAL),
            (R.REGRESSION, Severity.WARNING),
        ]
        assert all(a.fingerprint == fingerprint(PLAN_ID, SHARE.id, a.rule) for a in alerts)
