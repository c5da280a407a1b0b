"""The feed sender: pacing in wall time from event offsets, wire forms, the JSONL output."""

from __future__ import annotations

from pathlib import Path

import chinese_calendar
import pytest
from typer.testing import CliRunner

from planwatch.events_file import read_events
from planwatch.simulate.feed import (
    DEFAULT_SPEED,
    DryRunTransport,
    FeedError,
    KafkaTransport,
    kafka_record,
    run_feed,
    structured_lines,
    wall_seconds,
    write_jsonl,
)
from planwatch.simulate.scenario import Outcome, RawBytes, Role, Scenario, build_scenario
from planwatch.simulate_cli import simulate_app
from shared.catalog import load_catalog
from shared.contract.codec import decode_kafka
from shared.contract.events import ClockTick
from shared.contract.reasons import ContractError, Reason
from shared.domain.timebase import cst_date

PLAN_ID = "qingyuan-digital-economy-2021"


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return build_scenario(load_catalog().plan(PLAN_ID), seed=5)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_the_default_speed_plays_the_whole_period_in_about_two_minutes(
    scenario: Scenario,
) -> None:
    assert 100 <= wall_seconds(scenario.items[-1], DEFAULT_SPEED) <= 140
    assert wall_seconds(scenario.items[-1], 0) == 0.0


async def test_items_are_sent_in_order_no_earlier_than_their_paced_time(
    scenario: Scenario,
) -> None:
    clock = FakeClock()
    sent_at: list[float] = []
    transport = DryRunTransport()
    items = scenario.items[:200]
    state = await run_feed(
        items,
        transport,
        speed=20.0,
        on_item=lambda _state, _item: sent_at.append(clock.now),
        clock=clock,
        sleep=clock.sleep,
    )
    assert transport.sent == list(items)
    assert state.sent == 200 and state.done
    assert state.sim_at == items[-1].at
    for item, when in zip(items, sent_at, strict=True):
        assert when - 100.0 >= wall_seconds(item, 20.0) - 1e-9
    # It sleeps rather than spins, and never longer than to the next item.
    assert clock.now - 100.0 == pytest.approx(wall_seconds(items[-1], 20.0))
    assert sum(state.expected.values()) == 200


async def test_progress_counts_agency_events_and_ticks_apart(scenario: Scenario) -> None:
    state = await run_feed(scenario.items, DryRunTransport(), speed=0)
    ticks = sum(isinstance(i.payload, ClockTick) for i in scenario.items)
    assert state.expected[Outcome.TICK.value] == ticks
    assert state.reports == len(scenario.items) - ticks
    assert state.expected == scenario.expected_counts()


def test_kafka_records_are_binary_mode_events_keyed_by_target(scenario: Scenario) -> None:
    for item in scenario.items:
        key, value, headers = kafka_record(item)
        if isinstance(item.payload, RawBytes):
            assert value == item.payload.body
            with pytest.raises(ContractError) as refused:
                decode_kafka(value, headers)
            assert refused.value.reason is Reason.MALFORMED
            continue
        raw = decode_kafka(value, headers)
        assert raw.envelope == item.payload.envelope
        if isinstance(item.payload, ClockTick):
            assert key is None and item.topic == "planwatch.clock"
        else:
            assert key == (item.target or item.payload.envelope.subject or "").encode()
            assert item.topic == "planwatch.progress"


def test_the_jsonl_output_scores_offline_without_a_bad_line(
    scenario: Scenario, tmp_path: Path
) -> None:
    path = tmp_path / "feed.jsonl"
    count = write_jsonl(path, scenario)
    accepted = scenario.expected_counts()[Outcome.ACCEPTED.value]
    assert count == accepted
    catalog = load_catalog()
    result = read_events(path.read_bytes().splitlines(), catalog, catalog.plan(PLAN_ID))
    assert result.bad == []
    # The problems raised and followed are in the file too, read by the report (not scored).
    problems = len(scenario.of_role(Role.PROBLEM))
    assert problems and result.problems == problems
    assert len(result.observations) == accepted - problems
    # Targets, commitments' deliverables and clause 3.6's indicators, all sent on workdays.
    plan = catalog.plan(PLAN_ID)
    subjects = {o.target for o in result.observations}
    assert subjects == set(plan.targets) | set(plan.deliverables) | set(plan.indicators)
    assert all(chinese_calendar.is_workday(cst_date(o.reported_at)) for o in result.observations)
    with_ticks = list(structured_lines(scenario, include_ticks=True))
    assert len(with_ticks) == accepted + scenario.expected_counts()[Outcome.TICK.value]


def test_the_cli_writes_jsonl_and_keys_without_sending(tmp_path: Path) -> None:
    out, keys = tmp_path / "f.jsonl", tmp_path / "keys.jsonl"
    result = CliRunner().invoke(
        simulate_app, ["--seed", "5", "--out", str(out), "--keys-file", str(keys)]
    )
    assert result.exit_code == 0, result.output
    assert "nothing sent" in result.output
    assert len(out.read_bytes().splitlines()) > 250
    assert len(keys.read_text().splitlines()) == len(load_catalog().plan(PLAN_ID).agencies)


def test_the_cli_refuses_an_unknown_plan() -> None:
    result = CliRunner().invoke(simulate_app, ["--dry-run", "--plan", "nope"])
    assert result.exit_code == 2
    assert "unknown plan" in result.output


@pytest.mark.parametrize("via", ["kafka", "http"])
def test_the_cli_builds_its_transport_inside_the_event_loop(
    via: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # aiokafka's producer refuses to be created outside a running loop: both ways of sending
    # used to crash at once with a RuntimeError. Now the real transport is built and started;
    # only the connection itself is replaced by a refusal, which the CLI reports as a sentence.
    async def refuse(self: KafkaTransport) -> None:
        raise FeedError("cannot connect to Kafka: refused (test)")

    monkeypatch.setattr(KafkaTransport, "start", refuse)
    result = CliRunner().invoke(
        simulate_app, ["--via", via, "--no-register-keys", "--until", "2021-08-01"]
    )
    assert result.exit_code == 1, result.output
    assert "error: cannot connect to Kafka: refused (test)" in result.output


@pytest.mark.parametrize("database", ["planwatch", "prod", "demo_planwatch"])
def test_the_demo_keys_go_only_to_a_demo_database(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the demo keys derive from a public seed: registered in a real registry, anyone could sign
    # as any agency. Refused before any connection is made (the URI points nowhere).
    monkeypatch.setenv("MONGODB_URI", "mongodb://127.0.0.1:9/")
    monkeypatch.setenv("MONGODB_DATABASE", database)
    result = CliRunner().invoke(simulate_app, ["--until", "2021-08-01"])
    assert result.exit_code == 1, result.output
    assert f"refusing to register the demo keys in database {database!r}" in result.output
