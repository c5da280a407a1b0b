"""The report of the simulator's demo feed equals `planwatch score` at several days."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from planwatch.report_cli import report_app
from planwatch.score_cli import score_app
from planwatch.simulate.feed import write_jsonl
from planwatch.simulate.scenario import build_scenario
from shared.catalog import load_catalog

runner = CliRunner()


@pytest.fixture(scope="module")
def feed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    plan = next(iter(load_catalog().plans.values()))
    path = tmp_path_factory.mktemp("sim") / "demo.jsonl"
    assert write_jsonl(path, build_scenario(plan)) > 100
    return path


def embedded(html: str, element_id: str) -> Any:
    match = re.search(
        rf'<script type="application/json" id="{element_id}">(.*?)</script>', html, re.S
    )
    assert match is not None
    return json.loads(match.group(1))


@pytest.mark.parametrize("day", ["2021-09-30", "2022-06-30", "2023-04-15"])
def test_report_of_the_demo_feed_equals_score(feed: Path, tmp_path: Path, day: str) -> None:
    scored = runner.invoke(score_app, ["--events", str(feed), "--at", day])
    assert scored.exit_code == 0, scored.output
    out = tmp_path / "report.html"
    made = runner.invoke(report_app, ["--events", str(feed), "--at", day, "--out", str(out)])
    assert made.exit_code == 0, made.output
    html = out.read_text(encoding="utf-8")
    state = embedded(html, "planwatch-state")
    assert state == json.loads(scored.stdout)
    # The feed is a realistic one: by mid-2022 several statuses are in play, and reported.
    if day == "2022-06-30":
        assert len({t["status"] for t in state["targets"].values()}) >= 3
        assert embedded(html, "planwatch-transitions")
    for target_id, result in state["targets"].items():
        assert f'data-target="{target_id}" data-status="{result["status"]}"' in html
    # Method v1.1 breakdowns: every target's figures by county or park, where reported, and
    # every commitment's deliverables done as the state says.
    cards = re.findall(
        r'<section class="card target" data-target="([^"]+)"(.*?)</section>', html, re.S
    )
    assert len(cards) == len(state["targets"])
    scopes = {
        (target_id, scope)
        for target_id, card in cards
        for scope in re.findall(r'<li data-scope="([^"]+)"', card)
    }
    assert scopes == {(t, s) for t, figures in state["breakdowns"].items() for s in figures}
    if day == "2023-04-15":
        assert scopes  # the demo's co-owners report their counties and parks
    done = dict(re.findall(r'data-deliverable="([^"]+)" data-done="(true|false)"', html))
    assert done == {
        d: str(item["done"]).lower()
        for c in state["tracked"]["commitments"].values()
        for d, item in c["deliverables"].items()
    }
