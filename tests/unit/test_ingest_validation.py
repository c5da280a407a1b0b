"""Pure intake validation: every reason code, and what an accepted event becomes."""

from __future__ import annotations

import inspect
import sys
from datetime import UTC, date, datetime, timedelta

import pytest

from services.ingest.validation import (
    Accepted,
    Limits,
    Rejected,
    Verdict,
    content_hash,
    validate,
    validate_kafka,
)
from shared.accepted import AcceptedKind
from shared.contract.catalog_checks import earliest_as_of
from shared.contract.codec import encode_kafka_binary, encode_kafka_structured
from shared.contract.events import EventType, Unit, new_problem_step, new_tick
from shared.contract.parsing import RawEvent
from shared.contract.reasons import Reason
from shared.contract.signing import sign
from tests.unit.ingest_support import (
    NOW,
    agency_key,
    catalog,
    key_snapshot,
    private_key,
    raw_of,
    report,
    retraction,
)


def judge(raw: RawEvent, *, now: datetime = NOW, limits: Limits | None = None) -> Verdict:
    return validate(raw, catalog(), key_snapshot(), now, limits or Limits())


def reason_of(verdict: Verdict) -> Reason:
    assert isinstance(verdict, Rejected), verdict
    return verdict.reason


def test_a_valid_share_report_is_normalized() -> None:
    event = report(value=72.5)
    verdict = judge(raw_of(event))
    assert isinstance(verdict, Accepted)
    accepted = verdict.event
    assert accepted.event_id == "ev-1"
    assert accepted.kind is AcceptedKind.REPORT
    assert (accepted.plan, accepted.target, accepted.agency) == (
        "qingyuan-digital-economy-2021",
        "gov.mobile-services",
        "qy.gov-data",
    )
    assert accepted.value == 72.5 and accepted.unit == "percent" and accepted.stage is None
    assert accepted.as_of == date(2022, 3, 31)
    assert accepted.reported_at == datetime(2022, 4, 6, 1, 30, tzinfo=UTC)
    assert accepted.received_at == NOW
    assert accepted.key_id == "k1"
    assert accepted.content_hash == content_hash(raw_of(event))
    observation = accepted.to_observation()
    assert observation.value == 72.5 and not observation.is_retraction


def test_a_milestone_stage_becomes_its_index() -> None:
    event = report(agency="qy.miit", target="industry.mingpu-base", stage="under-construction")
    verdict = judge(raw_of(event))
    assert isinstance(verdict, Accepted)
    assert verdict.event.value == 2.0
    assert verdict.event.stage == "under-construction"
    assert verdict.event.unit == "stage"


def test_a_retraction_has_no_value() -> None:
    verdict = judge(raw_of(retraction()))
    assert isinstance(verdict, Accepted)
    assert verdict.event.kind is AcceptedKind.RETRACTION
    assert verdict.event.value is None
    assert verdict.event.to_observation().is_retraction


def test_group_members_and_co_owners_may_report_breakdowns() -> None:
    # carriers is a co-owner group of infra.5g-coverage; china-mobile is a member. Method v1.1:
    # it reports its county's figure (scoped), and the accepted record carries the scope.
    member = report(
        agency="carrier.china-mobile", target="infra.5g-coverage", value=40, scope="county.yingde"
    )
    verdict = judge(raw_of(member))
    assert isinstance(verdict, Accepted)
    assert verdict.event.scope == "county.yingde"
    assert verdict.event.to_observation().scope == "county.yingde"
    assert verdict.event.to_observation().agency == "carrier.china-mobile"
    assert b'"scope":"county.yingde"' in verdict.event.to_json()


def test_an_unscoped_record_reads_as_before_v1_1() -> None:
    verdict = judge(raw_of(report()))
    assert isinstance(verdict, Accepted)
    assert b"scope" not in verdict.event.to_json()  # consumers before v1.1 read it unchanged


def test_not_reporter_a_co_owner_may_not_report_or_retract_the_headline() -> None:
    headline = report(agency="carrier.china-mobile", target="infra.5g-coverage", value=40)
    verdict = judge(raw_of(headline))
    assert reason_of(verdict) is Reason.NOT_REPORTER
    assert "qy.miit" in verdict.message  # type: ignore[union-attr]
    retract = retraction(agency="carrier.china-mobile", target="infra.5g-coverage")
    assert reason_of(judge(raw_of(retract))) is Reason.NOT_REPORTER
    scoped = retraction(
        agency="carrier.china-mobile", target="infra.5g-coverage", scope="county.yingde"
    )
    assert isinstance(judge(raw_of(scoped)), Accepted)


def test_a_named_reporter_replaces_the_lead() -> None:
    # agri.traceability: lead qy.commerce, reported by qy.agriculture (the catalog's reporters).
    by_reporter = report(agency="qy.agriculture", target="agri.traceability", value=60)
    assert isinstance(judge(raw_of(by_reporter)), Accepted)
    by_lead = report(agency="qy.commerce", target="agri.traceability", value=60)
    assert reason_of(judge(raw_of(by_lead))) is Reason.NOT_REPORTER


def test_unknown_scope() -> None:
    event = report(agency="qy.gov-data", scope="county.atlantis")
    verdict = judge(raw_of(event))
    assert reason_of(verdict) is Reason.UNKNOWN_SCOPE
    assert "county.yingde" in verdict.message  # type: ignore[union-attr]


def test_the_same_event_in_binary_and_structured_mode_has_one_hash() -> None:
    event = report()
    binary = validate_kafka(*encode_kafka_binary(event)[1:], catalog(), key_snapshot(), NOW)
    structured = validate_kafka(*encode_kafka_structured(event)[1:], catalog(), key_snapshot(), NOW)
    assert isinstance(binary, Accepted) and isinstance(structured, Accepted)
    assert binary.event.content_hash == structured.event.content_hash


# --- each reason code ---------------------------------------------------------------------


def test_malformed_envelope() -> None:
    _, value, headers = encode_kafka_binary(report())
    without_id = [(n, v) for n, v in headers if n != "ce_id"]
    verdict = validate_kafka(value, without_id, catalog(), key_snapshot(), NOW)
    assert reason_of(verdict) is Reason.MALFORMED
    assert "id" in verdict.message  # type: ignore[union-attr]


def test_malformed_json_data() -> None:
    _, _, headers = encode_kafka_binary(report())
    verdict = validate_kafka(b'{"plan": ', headers, catalog(), key_snapshot(), NOW)
    assert reason_of(verdict) is Reason.MALFORMED


def test_malformed_nan_is_refused() -> None:
    _, _, headers = encode_kafka_binary(report())
    body = (
        b'{"as_of":"2022-03-31","plan":"qingyuan-digital-economy-2021",'
        b'"target":"gov.mobile-services","value":NaN}'
    )
    verdict = validate_kafka(body, headers, catalog(), key_snapshot(), NOW)
    assert reason_of(verdict) is Reason.MALFORMED


def test_oversized() -> None:
    event = report(note="x" * 900)
    _, value, headers = encode_kafka_binary(event)
    verdict = validate_kafka(
        value, headers, catalog(), key_snapshot(), NOW, limits=Limits(max_event_bytes=600)
    )
    assert reason_of(verdict) is Reason.OVERSIZED


def test_unknown_type() -> None:
    _, value, headers = encode_kafka_binary(report())
    changed = [
        (n, b"org.planwatch.progress.guessed.v1" if n == "ce_type" else v) for n, v in headers
    ]
    verdict = validate_kafka(value, changed, catalog(), key_snapshot(), NOW)
    assert reason_of(verdict) is Reason.UNKNOWN_TYPE


def test_a_clock_tick_is_not_an_agency_event() -> None:
    tick = new_tick(at="2022-04-06T00:00:00+08:00")
    _, value, headers = encode_kafka_binary(tick)
    verdict = validate_kafka(value, headers, catalog(), key_snapshot(), NOW)
    assert reason_of(verdict) is Reason.UNKNOWN_TYPE


def test_unsigned() -> None:
    event = report()
    bare = event.envelope.model_copy(update={"signature": None, "sigkeyid": None})
    assert reason_of(judge(RawEvent(bare, raw_of(event).data))) is Reason.UNSIGNED


def test_unknown_plan() -> None:
    assert reason_of(judge(raw_of(report(plan="another-plan")))) is Reason.UNKNOWN_PLAN


def test_unknown_target() -> None:
    assert reason_of(judge(raw_of(report(target="gov.unheard-of")))) is Reason.UNKNOWN_TARGET


def test_unknown_agency() -> None:
    # qy.nobody has a registered key but is no agency of the plan.
    assert reason_of(judge(raw_of(report(agency="qy.nobody")))) is Reason.UNKNOWN_AGENCY


def test_unknown_key() -> None:
    assert reason_of(judge(raw_of(report(key_id="k-unregistered")))) is Reason.UNKNOWN_KEY


def test_revoked_key() -> None:
    revoked = agency_key("qy.gov-data").revoke(datetime(2022, 1, 1, tzinfo=UTC))
    verdict = validate(raw_of(report()), catalog(), key_snapshot(revoked), NOW)
    assert reason_of(verdict) is Reason.REVOKED_KEY


def test_rotation_two_active_keys_both_verify() -> None:
    keys = key_snapshot(agency_key("qy.gov-data", "k1"), agency_key("qy.gov-data", "k2"))
    for key_id, event_id in (("k1", "a"), ("k2", "b")):
        event = report(key_id=key_id, event_id=event_id)
        assert isinstance(validate(raw_of(event), catalog(), keys, NOW), Accepted)


def test_bad_signature_after_tampering() -> None:
    event = report(value=72.5)
    tampered = raw_of(report(value=99.0)).data
    assert reason_of(judge(RawEvent(event.envelope, tampered))) is Reason.BAD_SIGNATURE


def test_bad_signature_with_another_agencys_key() -> None:
    # Signed with qy.miit's key, but claims qy.gov-data's key id k1.
    event = report()
    forged = sign(event, private_key("qy.miit"), "k1")
    assert reason_of(judge(raw_of(forged))) is Reason.BAD_SIGNATURE


def test_not_responsible() -> None:
    event = report(agency="qy.health", target="gov.mobile-services")
    verdict = judge(raw_of(event))
    assert reason_of(verdict) is Reason.NOT_RESPONSIBLE
    assert "qy.gov-data" in verdict.message  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("agency", "target", "value"),
    [
        ("qy.gov-data", "gov.mobile-services", 100.5),  # share above 100
        ("qy.gov-data", "gov.mobile-services", -0.1),  # share below 0
        ("qy.miit", "industry.digital-bases", -1),  # negative count
        ("qy.miit", "industry.digital-bases", 2.5),  # fractional count
        ("qy.miit", "industry.eit-rank", 0),  # rank below 1
        ("qy.miit", "industry.eit-rank", 13),  # rank beyond rank_of (12)
        ("qy.miit", "industry.eit-rank", 3.5),  # fractional rank
    ],
)
def test_value_out_of_range(agency: str, target: str, value: float) -> None:
    verdict = judge(raw_of(report(agency=agency, target=target, value=value)))
    assert reason_of(verdict) is Reason.VALUE_OUT_OF_RANGE


@pytest.mark.parametrize(
    ("agency", "target", "value"),
    [
        ("qy.gov-data", "gov.mobile-services", 0),
        ("qy.gov-data", "gov.mobile-services", 100),
        ("qy.miit", "industry.digital-bases", 0),
        ("qy.miit", "industry.eit-rank", 1),
        ("qy.miit", "industry.eit-rank", 12),
    ],
)
def test_values_at_the_edges_are_accepted(agency: str, target: str, value: float) -> None:
    assert isinstance(judge(raw_of(report(agency=agency, target=target, value=value))), Accepted)


def test_unknown_milestone_stage_is_out_of_range() -> None:
    event = report(agency="qy.miit", target="industry.mingpu-base", stage="demolished")
    assert reason_of(judge(raw_of(event))) is Reason.VALUE_OUT_OF_RANGE


def test_unit_mismatch() -> None:
    assert reason_of(judge(raw_of(report(unit=Unit.COUNT)))) is Reason.UNIT_MISMATCH
    # A stage for a share target, a value for a milestone: both are the wrong unit.
    assert reason_of(judge(raw_of(report(stage="planned")))) is Reason.UNIT_MISMATCH
    milestone = report(agency="qy.miit", target="industry.mingpu-base", value=2)
    assert reason_of(judge(raw_of(milestone))) is Reason.UNIT_MISMATCH


def test_as_of_after_the_report_date_in_cst() -> None:
    # 2022-04-05T20:00Z is 2022-04-06 in CST: as_of 04-06 fits, 04-07 does not.
    late_utc = "2022-04-05T20:00:00Z"
    assert isinstance(judge(raw_of(report(time=late_utc, as_of=date(2022, 4, 6)))), Accepted)
    verdict = judge(raw_of(report(time=late_utc, as_of=date(2022, 4, 7))))
    assert reason_of(verdict) is Reason.AS_OF_OUT_OF_RANGE


def test_as_of_before_the_plan_issue_date_less_one_year() -> None:
    plan = catalog().plans["qingyuan-digital-economy-2021"]
    earliest = earliest_as_of(plan)
    assert earliest == date(2020, 5, 11)
    assert isinstance(judge(raw_of(report(as_of=earliest))), Accepted)
    verdict = judge(raw_of(report(as_of=earliest - timedelta(days=1))))
    assert reason_of(verdict) is Reason.AS_OF_OUT_OF_RANGE


def test_time_in_future_beyond_the_skew() -> None:
    limits = Limits(clock_skew=timedelta(minutes=5))
    within = report(time=NOW + timedelta(minutes=4), as_of=date(2022, 4, 1))
    beyond = report(time=NOW + timedelta(minutes=6), as_of=date(2022, 4, 1))
    assert isinstance(judge(raw_of(within), limits=limits), Accepted)
    assert reason_of(judge(raw_of(beyond), limits=limits)) is Reason.TIME_IN_FUTURE


def test_every_reason_but_conflict_is_produced_by_validation() -> None:
    """Guards this file: a new reason code needs a test here (conflict needs the store)."""
    source = inspect.getsource(sys.modules[__name__])
    missing = [r for r in Reason if r is not Reason.CONFLICT and f"Reason.{r.name}" not in source]
    assert missing == []


def test_a_problem_resolved_by_another_agency_than_the_coordinator() -> None:
    """Problem events' refusals: tests/unit/test_ingest_problems.py."""
    event = new_problem_step(
        EventType.PROBLEM_RESOLVED,
        agency="qy.gov-data",
        plan="qingyuan-digital-economy-2021",
        subject="gov.mobile-services",
        problem_id="p-1",
        time="2022-04-06T09:30:00+08:00",
        event_id="s-1",
    )
    signed = sign(event, private_key("qy.gov-data"), "k1")
    assert reason_of(judge(raw_of(signed))) is Reason.NOT_COORDINATOR
