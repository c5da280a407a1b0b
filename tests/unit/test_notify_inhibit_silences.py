from __future__ import annotations

import pytest

from services.notify.domain.inhibit import InhibitRule, inhibited
from services.notify.domain.matchers import parse_matcher, parse_matchers
from services.notify.domain.silences import (
    Silence,
    SilenceError,
    SilenceState,
    silenced,
    validate_silence,
)
from tests.unit.notify_fixtures import T0, at, make_alert

RULE = InhibitRule(
    source_matchers=tuple(parse_matchers('alertname="report_overdue"')),
    target_matchers=tuple(parse_matchers('alertname=~"status_degraded|deadline_near"')),
    equal=("plan", "target"),
)


def test_overdue_mutes_status_and_deadline_on_same_target_only() -> None:
    overdue = make_alert("t1", rule="report_overdue")
    assert inhibited(make_alert("t1", rule="status_degraded"), [overdue], [RULE])
    assert inhibited(make_alert("t1", rule="deadline_near"), [overdue], [RULE])
    assert not inhibited(make_alert("t2", rule="status_degraded"), [overdue], [RULE])
    assert not inhibited(make_alert("t1", rule="regression"), [overdue], [RULE])
    other_plan = make_alert("t1", rule="status_degraded", plan="other")
    assert not inhibited(other_plan, [overdue], [RULE])


def test_source_must_be_firing_in_the_given_set() -> None:
    assert not inhibited(make_alert("t1", rule="status_degraded"), [], [RULE])


def test_missing_equal_label_counts_as_empty() -> None:
    rule = InhibitRule(
        tuple(parse_matchers('a="src"')), tuple(parse_matchers('a="dst"')), equal=("zone",)
    )
    src = make_alert().model_copy(update={"labels": {"a": "src"}, "fingerprint": "1"})
    dst = make_alert().model_copy(update={"labels": {"a": "dst"}, "fingerprint": "2"})
    assert inhibited(dst, [src], [rule])
    dst_zone = dst.model_copy(update={"labels": {"a": "dst", "zone": "x"}})
    assert not inhibited(dst_zone, [src], [rule])


def test_alert_matching_both_sides_is_not_muted_by_itself_or_its_like() -> None:
    rule = InhibitRule(
        tuple(parse_matchers('severity=~"warning|critical"')),
        tuple(parse_matchers('severity=~"warning|critical"')),
        equal=("target",),
    )
    a = make_alert("t1", severity="critical")
    b = make_alert("t1", rule="deadline_near", severity="warning")
    assert not inhibited(a, [a], [rule])
    assert not inhibited(a, [a, b], [rule])  # b matches both sides too


def silence(**kw: object) -> Silence:
    base: dict[str, object] = {
        "id": "s1",
        "matchers": tuple(parse_matchers('target="t1", severity=~"warning|info"')),
        "starts_at": at(100),
        "ends_at": at(200),
        "created_by": "ops@qy",
        "comment": "maintenance",
    }
    base.update(kw)
    return Silence.model_validate(base)


def test_silence_states_and_muting() -> None:
    s = silence()
    assert s.state(at(99)) is SilenceState.PENDING
    assert s.state(at(100)) is SilenceState.ACTIVE
    assert s.state(at(199)) is SilenceState.ACTIVE
    assert s.state(at(200)) is SilenceState.EXPIRED
    labels = make_alert("t1").labels
    assert silenced(labels, [s], at(150)) == ["s1"]
    assert silenced(labels, [s], at(50)) == []
    assert silenced(labels, [s], at(250)) == []
    assert silenced(make_alert("t1", severity="critical").labels, [s], at(150)) == []
    two = [silence(id="s2"), s]
    assert silenced(labels, two, at(150)) == ["s1", "s2"]


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        ({"matchers": ()}, "at least one matcher"),
        ({"ends_at": at(100)}, "end after it starts"),
        ({"ends_at": T0}, "end after it starts"),
        ({"matchers": (parse_matcher('a=~".*"'), parse_matcher('b=""'))}, "empty string"),
    ],
)
def test_silence_validation(kw: dict[str, object], words: str) -> None:
    with pytest.raises(SilenceError, match=words):
        validate_silence(silence(**kw))
    assert validate_silence(silence()) == silence()


def test_silence_round_trips_and_refuses_bad_regex() -> None:
    s = silence()
    assert Silence.model_validate(s.model_dump(mode="json")) == s
    doc = s.model_dump(mode="json")
    doc["matchers"] = [{"name": "a", "type": "=~", "value": "("}]
    with pytest.raises(ValueError, match="regular expression"):
        Silence.model_validate(doc)
